//! The dependency graph laid out in layers for drawing: parents above
//! children (longest-path layering), each layer ordered by the barycentre of
//! its neighbours over a few sweeps down and up (fewer crossings), wide
//! layers folded into rows so that a catalog of 136 images stays readable,
//! and every edge as an SVG path. Pure: the SVG itself is drawn by the
//! dashboard (and `print::svg` for the download).

use dockyard_api::{GraphLayout, LayoutEdge, LayoutNode};
use std::collections::BTreeMap;

/// Geometry, in SVG user units.
const CHAR_W: f64 = 7.2;
const NODE_H: f64 = 28.0;
const PAD_X: f64 = 14.0;
const GAP_X: f64 = 18.0;
const ROW_GAP: f64 = 56.0;
const MARGIN: f64 = 16.0;
/// Nodes per row before a layer folds: six keep the corpus's 85 images
/// about 1,000 units wide, so that a 1366-pixel window draws their 12-unit
/// labels above 11 px (twelve per row drew them at 7.6 px).
const MAX_PER_ROW: usize = 6;

/// Lays out `nodes` with `edges` (parent, child).
pub fn layout(nodes: &[String], edges: &[(String, String)]) -> GraphLayout {
    let index: BTreeMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let n = nodes.len();
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (p, c) in edges {
        if let (Some(&pi), Some(&ci)) = (index.get(p.as_str()), index.get(c.as_str()))
            && pi != ci
        {
            parents[ci].push(pi);
            children[pi].push(ci);
        }
    }
    // Longest-path layers; nodes in cycles keep the layer they had when the
    // bound (n) stops the relaxation.
    let mut layer = vec![0usize; n];
    for _ in 0..n {
        let mut changed = false;
        for c in 0..n {
            let want = parents[c].iter().map(|&p| layer[p] + 1).max().unwrap_or(0).min(n);
            if want > layer[c] {
                layer[c] = want;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let depth = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (i, &l) in layer.iter().enumerate() {
        layers[l].push(i);
    }
    for l in &mut layers {
        l.sort_by(|a, b| nodes[*a].cmp(&nodes[*b]));
    }
    // Barycentre sweeps.
    let mut pos = vec![0.0f64; n];
    let place = |layers: &Vec<Vec<usize>>, pos: &mut Vec<f64>| {
        for l in layers {
            for (k, &i) in l.iter().enumerate() {
                pos[i] = k as f64;
            }
        }
    };
    place(&layers, &mut pos);
    for sweep in 0..8 {
        let down = sweep % 2 == 0;
        let order: Vec<usize> = if down { (1..depth).collect() } else { (0..depth.saturating_sub(1)).rev().collect() };
        for l in order {
            let mut keyed: Vec<(f64, usize)> = layers[l]
                .iter()
                .map(|&i| {
                    let nb = if down { &parents[i] } else { &children[i] };
                    let bc =
                        if nb.is_empty() { pos[i] } else { nb.iter().map(|&j| pos[j]).sum::<f64>() / nb.len() as f64 };
                    (bc, i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| nodes[a.1].cmp(&nodes[b.1])));
            layers[l] = keyed.into_iter().map(|(_, i)| i).collect();
            for (k, &i) in layers[l].iter().enumerate() {
                pos[i] = k as f64;
            }
        }
    }
    // Rows: each layer folds into rows of at most MAX_PER_ROW nodes.
    let width_of = |i: usize| nodes[i].chars().count() as f64 * CHAR_W + 2.0 * PAD_X;
    let mut placed: Vec<Option<LayoutNode>> = vec![None; n];
    let mut y = MARGIN;
    let mut max_w: f64 = 0.0;
    let mut rows: Vec<(f64, Vec<usize>)> = Vec::new();
    for (l, members) in layers.iter().enumerate() {
        for chunk in members.chunks(MAX_PER_ROW) {
            rows.push((y, chunk.to_vec()));
            let w: f64 =
                chunk.iter().map(|&i| width_of(i)).sum::<f64>() + GAP_X * (chunk.len().saturating_sub(1)) as f64;
            max_w = max_w.max(w);
            y += NODE_H + ROW_GAP;
            let _ = l;
        }
    }
    for (ry, members) in &rows {
        let w: f64 =
            members.iter().map(|&i| width_of(i)).sum::<f64>() + GAP_X * (members.len().saturating_sub(1)) as f64;
        let mut x = MARGIN + (max_w - w) / 2.0;
        for &i in members {
            let nw = width_of(i);
            placed[i] = Some(LayoutNode { name: nodes[i].clone(), x, y: *ry, w: nw, h: NODE_H, layer: layer[i] });
            x += nw + GAP_X;
        }
    }
    let nodes_out: Vec<LayoutNode> = placed.into_iter().flatten().collect();
    let at: BTreeMap<&str, &LayoutNode> = nodes_out.iter().map(|l| (l.name.as_str(), l)).collect();
    let mut edges_out = Vec::new();
    for (p, c) in edges {
        let (Some(a), Some(b)) = (at.get(p.as_str()), at.get(c.as_str())) else { continue };
        let (x1, y1) = (a.x + a.w / 2.0, a.y + a.h);
        let (x2, y2) = (b.x + b.w / 2.0, b.y);
        let mid = (y1 + y2) / 2.0;
        edges_out.push(LayoutEdge {
            parent: p.clone(),
            child: c.clone(),
            path: format!("M{x1:.1},{y1:.1} C{x1:.1},{mid:.1} {x2:.1},{mid:.1} {x2:.1},{y2:.1}"),
        });
    }
    GraphLayout { width: max_w + 2.0 * MARGIN, height: y - ROW_GAP + MARGIN, nodes: nodes_out, edges: edges_out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_above_children_and_no_overlap() {
        let nodes: Vec<String> = ["base", "a", "b", "d", "c"].iter().map(|s| (*s).to_owned()).collect();
        let e = |p: &str, c: &str| (p.to_owned(), c.to_owned());
        let l = layout(&nodes, &[e("base", "a"), e("base", "b"), e("a", "d"), e("b", "d"), e("base", "c")]);
        let y = |n: &str| l.nodes.iter().find(|x| x.name == n).unwrap().y;
        assert!(y("base") < y("a") && y("a") < y("d"));
        assert_eq!(y("a"), y("b"));
        for a in &l.nodes {
            for b in &l.nodes {
                if a.name != b.name && a.y == b.y {
                    assert!(a.x + a.w <= b.x || b.x + b.w <= a.x, "{} overlaps {}", a.name, b.name);
                }
            }
        }
        assert_eq!(l.edges.len(), 5);
        // 136 images in one layer fold into rows.
        let many: Vec<String> = (0..136).map(|i| format!("image-{i}")).collect();
        let l = layout(&many, &[]);
        assert!(l.width < 2000.0, "{}", l.width);
    }
}
