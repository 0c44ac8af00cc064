//! The dependency graph between catalog images, from `control` and from the
//! images each template names through `image_tag`; the problems between the
//! two, unknown parents, cycles, and a parents-first order.

use std::collections::{BTreeMap, BTreeSet};

pub use dockyard_api::EdgeSource as Source;
pub use dockyard_api::GraphProblem as Problem;

/// Edges child → parent with their source.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Graph {
    pub nodes: BTreeSet<String>,
    /// child → (parent → source)
    pub parents: BTreeMap<String, BTreeMap<String, Source>>,
    pub problems: Vec<Problem>,
}

/// What one image declares and uses.
pub struct ImageDeps<'a> {
    pub name: &'a str,
    pub control: Vec<&'a str>,
    pub template: Vec<&'a str>,
}

impl Graph {
    /// Builds the graph; `base_names` are short names of images that exist
    /// outside the catalog and are never reported as unknown.
    pub fn build<'a>(images: impl IntoIterator<Item = ImageDeps<'a>>, base_names: &BTreeSet<String>) -> Graph {
        let images: Vec<ImageDeps<'a>> = images.into_iter().collect();
        let nodes: BTreeSet<String> = images.iter().map(|i| i.name.to_owned()).collect();
        let mut g = Graph { nodes, ..Default::default() };
        for img in &images {
            let control: BTreeSet<&str> = img.control.iter().copied().collect();
            // A template naming its own image is not a dependency.
            let template: BTreeSet<&str> = img.template.iter().copied().filter(|t| *t != img.name).collect();
            let edges = g.parents.entry(img.name.to_owned()).or_default();
            for &p in control.union(&template) {
                let known = g.nodes.contains(p);
                let source = match (control.contains(p), template.contains(p)) {
                    (true, true) => Source::Both,
                    (true, false) => Source::Control,
                    _ => Source::Template,
                };
                if !known {
                    if !base_names.contains(p) && source != Source::Template {
                        g.problems.push(Problem::UnknownParent { image: img.name.into(), parent: p.into() });
                    }
                    continue;
                }
                edges.insert(p.to_owned(), source);
                match source {
                    Source::Control => {
                        g.problems.push(Problem::ControlOnly { image: img.name.into(), parent: p.into() })
                    }
                    Source::Template => {
                        g.problems.push(Problem::TemplateOnly { image: img.name.into(), parent: p.into() })
                    }
                    Source::Both => {}
                }
            }
        }
        for cycle in g.cycles() {
            g.problems.push(Problem::Cycle { images: cycle });
        }
        g.problems.sort();
        g
    }

    /// Every cycle as one strongly connected component, named by a path
    /// through it that returns to its start.
    fn cycles(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for comp in self.components() {
            let self_loop = comp.len() == 1 && self.parents.get(&comp[0]).is_some_and(|p| p.contains_key(&comp[0]));
            if comp.len() > 1 || self_loop {
                out.push(self.cycle_path(&comp));
            }
        }
        out
    }

    /// A cycle inside a strongly connected component, from its smallest name.
    fn cycle_path(&self, comp: &[String]) -> Vec<String> {
        let members: BTreeSet<&str> = comp.iter().map(String::as_str).collect();
        let start = comp.iter().min().cloned().unwrap_or_default();
        let mut path = vec![start.clone()];
        let mut on_path: BTreeSet<String> = [start.clone()].into();
        let mut cur = start.clone();
        loop {
            let next = self.parents[&cur]
                .keys()
                .find(|p| members.contains(p.as_str()) && (**p == start || !on_path.contains(*p)));
            match next {
                Some(n) if *n == start => {
                    path.push(start);
                    return path;
                }
                Some(n) => {
                    on_path.insert(n.clone());
                    path.push(n.clone());
                    cur = n.clone();
                }
                None => {
                    // Dead end inside the component: fall back to listing it.
                    path = comp.to_vec();
                    path.push(start);
                    return path;
                }
            }
        }
    }

    /// Tarjan's strongly connected components (iterative).
    fn components(&self) -> Vec<Vec<String>> {
        let names: Vec<&String> = self.nodes.iter().collect();
        let index_of: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        let succ: Vec<Vec<usize>> = names
            .iter()
            .map(|n| {
                self.parents
                    .get(*n)
                    .map(|p| p.keys().filter_map(|k| index_of.get(k.as_str()).copied()).collect())
                    .unwrap_or_default()
            })
            .collect();
        let n = names.len();
        let (mut index, mut low, mut on_stack) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
        let (mut stack, mut comps, mut next) = (Vec::new(), Vec::new(), 0);
        for root in 0..n {
            if index[root] != usize::MAX {
                continue;
            }
            let mut work = vec![(root, 0usize)];
            while let Some(&mut (v, ref mut child)) = work.last_mut() {
                if *child == 0 {
                    index[v] = next;
                    low[v] = next;
                    next += 1;
                    stack.push(v);
                    on_stack[v] = true;
                }
                if *child < succ[v].len() {
                    let w = succ[v][*child];
                    *child += 1;
                    if index[w] == usize::MAX {
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(names[w].clone());
                        if w == v {
                            break;
                        }
                    }
                    comp.sort();
                    comps.push(comp);
                }
            }
        }
        comps
    }

    /// Parents before children; images in a cycle are left out.
    pub fn topo_order(&self) -> Vec<String> {
        let mut remaining: BTreeMap<&str, BTreeSet<&str>> = self
            .nodes
            .iter()
            .map(|n| {
                (n.as_str(), self.parents.get(n).map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default())
            })
            .collect();
        let mut order = Vec::new();
        loop {
            let ready: Vec<&str> = remaining.iter().filter(|(_, p)| p.is_empty()).map(|(n, _)| *n).collect();
            if ready.is_empty() {
                return order;
            }
            for r in &ready {
                remaining.remove(r);
                order.push((*r).to_owned());
            }
            for parents in remaining.values_mut() {
                for r in &ready {
                    parents.remove(r);
                }
            }
        }
    }

    /// The graph as the API shows it.
    pub fn to_api(&self) -> dockyard_api::GraphReport {
        let mut edges: Vec<dockyard_api::GraphEdge> = self
            .parents
            .iter()
            .flat_map(|(child, ps)| {
                ps.iter().map(move |(parent, source)| dockyard_api::GraphEdge {
                    parent: parent.clone(),
                    child: child.clone(),
                    source: *source,
                })
            })
            .collect();
        edges.sort_by(|a, b| a.child.cmp(&b.child).then(a.parent.cmp(&b.parent)));
        dockyard_api::GraphReport {
            nodes: self.nodes.iter().cloned().collect(),
            edges,
            problems: self.problems.clone(),
        }
    }

    /// Direct children of every image.
    pub fn children(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (child, parents) in &self.parents {
            for p in parents.keys() {
                out.entry(p.as_str()).or_default().push(child.as_str());
            }
        }
        out
    }

    /// Images `name` (transitively) builds on.
    pub fn ancestors(&self, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut frontier = vec![name.to_owned()];
        while let Some(cur) = frontier.pop() {
            for p in self.parents.get(&cur).into_iter().flat_map(|p| p.keys()) {
                if out.insert(p.clone()) {
                    frontier.push(p.clone());
                }
            }
        }
        out
    }

    /// Images that (transitively) have `name` as a parent.
    pub fn descendants(&self, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut frontier = vec![name.to_owned()];
        while let Some(cur) = frontier.pop() {
            for (child, parents) in &self.parents {
                if parents.contains_key(&cur) && out.insert(child.clone()) {
                    frontier.push(child.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(spec: &[(&'static str, &[&'static str], &[&'static str])]) -> Graph {
        Graph::build(
            spec.iter().map(|(n, c, t)| ImageDeps { name: n, control: c.to_vec(), template: t.to_vec() }),
            &["bullseye".to_owned()].into(),
        )
    }

    #[test]
    fn disagreements_and_unknown_parents() {
        let graph = g(&[("base", &[], &["bullseye"]), ("a", &["base", "ghost"], &[]), ("b", &[], &["base", "b"])]);
        let shown: Vec<String> = graph.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "a: control depends on `base` but the template does not use `\"base\" | image_tag`",
                "b: the template uses `\"base\" | image_tag` but control does not depend on it",
                "a: parent `ghost` is not in the catalog",
            ]
        );
        assert_eq!(graph.topo_order(), ["base", "a", "b"]);
        assert_eq!(graph.descendants("base"), ["a".to_owned(), "b".to_owned()].into());
    }

    #[test]
    fn names_cycles() {
        let graph = g(&[
            ("x", &["z"], &["z"]),
            ("y", &["x"], &["x"]),
            ("z", &["y"], &["y"]),
            ("ok", &[], &[]),
            ("self", &["self"], &[]),
        ]);
        let cycles: Vec<String> = graph.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            cycles,
            [
                "self: control depends on `self` but the template does not use `\"self\" | image_tag`",
                "dependency cycle: self -> self",
                "dependency cycle: x -> z -> y -> x"
            ]
        );
        assert_eq!(graph.topo_order(), ["ok"]);
    }
}
