//! The run loop's decisions, without Docker: which image starts next and
//! where, what a failure skips, what a lost engine gives back. Like cargo's
//! `DependencyQueue`: an image is ready when every parent with work in the
//! run is done; a failure skips everything below it while the rest goes on.
//!
//! Placement: an image goes to the live engine that built most of its
//! parents, then the least loaded, then the first; at most `per_host` at
//! once on each. An image that may only run where the plan was made (a
//! publish of the engine's own copy, or a parent only that engine has) goes
//! to engine 0 or waits for it, and fails when engine 0 is lost.
//!
//! Pure: the async loop (`service::build`) asks, runs, and reports back.

use std::collections::{BTreeMap, BTreeSet};

/// One item of the plan, as the queue sees it.
#[derive(Debug, Clone, Default)]
pub struct Item {
    /// Indices of its parents in the plan (any action).
    pub parents: Vec<usize>,
    /// Whether the run does something with it (build, publish, …).
    pub work: bool,
    /// Whether it may run on any engine (a build whose parents are all
    /// built in this run or in the registry); else only on engine 0.
    pub anywhere: bool,
}

/// What the loop must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Start `item` on `host`.
    Start { item: usize, host: usize },
    /// `item` cannot run anywhere any more: it failed, with this reason.
    Fail { item: usize, why: String },
    /// `item` is skipped: `parent` failed.
    Skip { item: usize, parent: usize },
}

/// The queue of one run.
#[derive(Debug)]
pub struct Queue {
    items: Vec<Item>,
    children: BTreeMap<usize, Vec<usize>>,
    /// Work parents not yet done, per waiting item.
    waiting: BTreeMap<usize, usize>,
    ready: BTreeSet<usize>,
    done: BTreeSet<usize>,
    running: BTreeMap<usize, usize>,
    built_on: BTreeMap<usize, usize>,
    load: Vec<usize>,
    dead: BTreeSet<usize>,
    per_host: usize,
}

impl Queue {
    /// A queue over `items` (in plan order) for `hosts` engines.
    pub fn new(items: Vec<Item>, hosts: usize, per_host: usize) -> Queue {
        let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut waiting = BTreeMap::new();
        for (i, it) in items.iter().enumerate().filter(|(_, it)| it.work) {
            let work_parents: Vec<usize> = it.parents.iter().copied().filter(|p| items[*p].work).collect();
            for &p in &work_parents {
                children.entry(p).or_default().push(i);
            }
            waiting.insert(i, work_parents.len());
        }
        let ready = waiting.iter().filter(|(_, n)| **n == 0).map(|(i, _)| *i).collect();
        Queue {
            items,
            children,
            waiting,
            ready,
            done: BTreeSet::new(),
            running: BTreeMap::new(),
            built_on: BTreeMap::new(),
            load: vec![0; hosts.max(1)],
            dead: BTreeSet::new(),
            per_host: per_host.max(1),
        }
    }

    /// What can start now, in plan order, each on its best engine; items
    /// that can never run fail (and skip what is below them).
    pub fn start_what_can(&mut self) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut deferred = Vec::new();
        while let Some(i) = self.ready.pop_first() {
            let anywhere = self.items[i].anywhere;
            let candidates: Vec<usize> = (0..self.load.len())
                .filter(|h| !self.dead.contains(h) && self.load[*h] < self.per_host && (anywhere || *h == 0))
                .collect();
            let parents = &self.items[i].parents;
            let best = candidates.iter().copied().max_by_key(|h| {
                let near = parents.iter().filter(|p| self.built_on.get(p) == Some(h)).count();
                (near, std::cmp::Reverse(self.load[*h]), std::cmp::Reverse(*h))
            });
            match best {
                Some(h) => {
                    self.load[h] += 1;
                    self.running.insert(i, h);
                    steps.push(Step::Start { item: i, host: h });
                }
                None if !anywhere && self.dead.contains(&0) => {
                    steps.push(Step::Fail {
                        item: i,
                        why: "only the first engine could build it, and it is gone".into(),
                    });
                    self.done.insert(i);
                    steps.extend(self.skip_below(i));
                }
                None => deferred.push(i),
            }
        }
        self.ready.extend(deferred);
        steps
    }

    /// `item` succeeded on `host`: its children may become ready.
    pub fn succeeded(&mut self, item: usize, host: usize) {
        self.finish(item, host);
        self.built_on.insert(item, host);
        for c in self.children.get(&item).cloned().unwrap_or_default() {
            let w = self.waiting.entry(c).or_default();
            *w = w.saturating_sub(1);
            if *w == 0 && !self.done.contains(&c) && !self.running.contains_key(&c) {
                self.ready.insert(c);
            }
        }
    }

    /// `item` failed on `host`: everything below it is skipped.
    pub fn failed(&mut self, item: usize, host: usize) -> Vec<Step> {
        self.finish(item, host);
        self.skip_below(item)
    }

    /// `host` stopped answering: nothing more goes there.
    pub fn lose_host(&mut self, host: usize) {
        self.dead.insert(host);
    }

    /// Whether `host` was lost.
    pub fn is_lost(&self, host: usize) -> bool {
        self.dead.contains(&host)
    }

    /// Whether an engine is still alive.
    pub fn any_host_left(&self) -> bool {
        self.dead.len() < self.load.len()
    }

    /// `item` was lost with its engine: it is ready again, for another one.
    pub fn requeue(&mut self, item: usize, host: usize) {
        if self.running.remove(&item).is_some() {
            self.load[host] = self.load[host].saturating_sub(1);
        }
        self.ready.insert(item);
    }

    /// Nothing runs and nothing can start.
    pub fn is_finished(&self) -> bool {
        self.running.is_empty() && self.ready.is_empty()
    }

    fn finish(&mut self, item: usize, host: usize) {
        if self.running.remove(&item).is_some() {
            self.load[host] = self.load[host].saturating_sub(1);
        }
        self.done.insert(item);
    }

    fn skip_below(&mut self, item: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut stack = self.children.get(&item).cloned().unwrap_or_default();
        while let Some(c) = stack.pop() {
            if !self.done.insert(c) {
                continue;
            }
            self.ready.remove(&c);
            steps.push(Step::Skip { item: c, parent: item });
            stack.extend(self.children.get(&c).cloned().unwrap_or_default());
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(parents: &[usize]) -> Item {
        Item { parents: parents.to_vec(), work: true, anywhere: true }
    }

    fn starts(steps: &[Step]) -> Vec<(usize, usize)> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Start { item, host } => Some((*item, *host)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn parents_first_and_a_failure_skips_only_what_is_below() {
        // 0 ← 1 ← 2, 0 ← 3; 4 alone.
        let mut q = Queue::new(vec![item(&[]), item(&[0]), item(&[1]), item(&[0]), item(&[])], 1, 2);
        assert_eq!(starts(&q.start_what_can()), [(0, 0), (4, 0)]);
        assert_eq!(starts(&q.start_what_can()), []);
        q.succeeded(0, 0);
        assert_eq!(starts(&q.start_what_can()), [(1, 0)]);
        q.succeeded(4, 0);
        assert_eq!(starts(&q.start_what_can()), [(3, 0)]);
        let skipped = q.failed(1, 0);
        assert_eq!(skipped, [Step::Skip { item: 2, parent: 1 }]);
        q.succeeded(3, 0);
        assert!(q.start_what_can().is_empty());
        assert!(q.is_finished());
    }

    #[test]
    fn items_without_work_do_not_wait_anyone() {
        let mut q = Queue::new(vec![Item { work: false, ..item(&[]) }, item(&[0])], 1, 1);
        assert_eq!(starts(&q.start_what_can()), [(1, 0)]);
    }

    #[test]
    fn placement_follows_the_parents_then_the_load() {
        // Two engines, one build each at a time.
        let mut q = Queue::new(vec![item(&[]), item(&[]), item(&[0]), item(&[1])], 2, 1);
        // 0 and 1 spread over both engines (the first is preferred on a tie).
        assert_eq!(starts(&q.start_what_can()), [(0, 0), (1, 1)]);
        q.succeeded(1, 1);
        q.succeeded(0, 0);
        // Each child goes where its parent was built.
        assert_eq!(starts(&q.start_what_can()), [(2, 0), (3, 1)]);
    }

    #[test]
    fn a_lost_engine_gives_its_images_back_to_the_others() {
        let mut q = Queue::new(vec![item(&[]), item(&[]), item(&[0])], 2, 1);
        assert_eq!(starts(&q.start_what_can()), [(0, 0), (1, 1)]);
        // Engine 1 is lost during image 1: it goes to engine 0 once that is free.
        q.lose_host(1);
        q.requeue(1, 1);
        assert_eq!(starts(&q.start_what_can()), []);
        q.succeeded(0, 0);
        assert_eq!(starts(&q.start_what_can()), [(1, 0)]);
        q.succeeded(1, 0);
        assert_eq!(starts(&q.start_what_can()), [(2, 0)]);
    }

    #[test]
    fn what_only_the_first_engine_can_do_fails_when_it_is_lost() {
        let only_first = Item { anywhere: false, ..item(&[]) };
        let mut q = Queue::new(vec![item(&[]), only_first, item(&[1])], 2, 1);
        assert_eq!(starts(&q.start_what_can()), [(0, 0)]);
        q.lose_host(0);
        q.requeue(0, 0);
        let steps = q.start_what_can();
        assert_eq!(starts(&steps), [(0, 1)]);
        assert!(
            steps.contains(&Step::Fail { item: 1, why: "only the first engine could build it, and it is gone".into() })
        );
        assert!(steps.contains(&Step::Skip { item: 2, parent: 1 }));
    }
}
