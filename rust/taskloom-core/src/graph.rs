//! Graph topology as two CSR adjacency arrays indexed by task id.
//!
//! `deps(t)` lists the distinct tasks whose results `t` reads, in the order the
//! task first mentions them (so a task's "local dependency index" is stable and
//! the binding can encode argument references as small integers). The reverse
//! adjacency, `consumers(t)`, is derived once in [`GraphBuilder::build`] by a
//! counting sort. About 12 bytes per task plus 8 per edge.
//!
//! A task's entry in the dependency index holds its first dependency next to
//! its offset ([`Span`]): a walk that follows dependencies through tasks
//! numbered in another order than they run (a dict inserted in any order) then
//! waits for one cache miss per task, not two in a row (offset, then list):
//! [`order`](crate::order) on a shuffled chain of 10^6 tasks took half the time.
//!
//! Invariant: both offset arrays hold one entry more than there are tasks (a
//! leading 0), so `len()` is `dep_spans.len() - 1` without a branch. Every
//! way to make a [`Graph`] or a [`GraphBuilder`], `Default` included, starts
//! from one entry at offset 0; nothing here checks for an empty offset array later.

use crate::mem::{prefetch, AHEAD};
use std::fmt;

/// Dense task identifier: the index of a task in every per-task array.
pub type TaskId = u32;

/// Where a task's dependencies start in the list of all of them, and the first
/// of them (`NO_FIRST` if it has none; the entry past the last task too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    first: TaskId,
}

const NO_FIRST: TaskId = TaskId::MAX;

/// Dependencies a task may list before [`GraphBuilder::add_late_deps`] indexes
/// them instead of scanning them.
const SCAN_DEPS: usize = 16;

impl Span {
    const EMPTY: Span = Span {
        start: 0,
        first: NO_FIRST,
    };
}

/// A built, immutable task graph.
#[derive(Debug, Clone)]
pub struct Graph {
    dep_spans: Vec<Span>,
    deps: Vec<TaskId>,
    consumer_offsets: Vec<u32>,
    consumers: Vec<TaskId>,
}

/// Errors found while building a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphError {
    /// A task named a dependency id that no task has.
    UnknownDependency { task: TaskId, dep: TaskId },
    /// More tasks or edges than `u32` indices can address.
    TooLarge,
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::UnknownDependency { task, dep } => {
                write!(f, "task {task} depends on unknown task {dep}")
            }
            GraphError::TooLarge => write!(f, "graph has more than 2^32 - 1 tasks or edges"),
        }
    }
}

impl std::error::Error for GraphError {}

/// The empty graph (no tasks), as [`GraphBuilder::build`] makes it.
impl Default for Graph {
    fn default() -> Self {
        // Not derived: a derived Default would leave the offset arrays empty
        // and `len()` would underflow (issue #12).
        Graph {
            dep_spans: vec![Span::EMPTY],
            deps: Vec::new(),
            consumer_offsets: vec![0],
            consumers: Vec::new(),
        }
    }
}

impl Graph {
    /// Number of tasks.
    #[inline]
    pub fn len(&self) -> usize {
        self.dep_spans.len() - 1
    }

    /// True when the graph has no tasks.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The distinct dependencies of `t`, in first-mention order.
    #[inline]
    pub fn deps(&self, t: TaskId) -> &[TaskId] {
        let t = t as usize;
        &self.deps[self.dep_spans[t].start as usize..self.dep_spans[t + 1].start as usize]
    }

    /// How many dependencies `t` has, and the first of them (meaningless when
    /// none): read from one place, where [`deps`](Self::deps) reads two.
    #[inline]
    pub fn dep_head(&self, t: TaskId) -> (u32, TaskId) {
        let t = t as usize;
        let span = self.dep_spans[t];
        (self.dep_spans[t + 1].start - span.start, span.first)
    }

    /// The tasks that read the result of `t`.
    #[inline]
    pub fn consumers(&self, t: TaskId) -> &[TaskId] {
        let t = t as usize;
        &self.consumers[self.consumer_offsets[t] as usize..self.consumer_offsets[t + 1] as usize]
    }

    /// Total number of (deduplicated) dependency edges.
    pub fn edge_count(&self) -> usize {
        self.deps.len()
    }

    /// The tasks `sequence` lists, task `sequence[i]` renumbered `i`, each with its
    /// dependencies in the same order (so local dependency indices still hold).
    /// `sequence` must list every dependency of the tasks it lists, each task
    /// once, as an [`Order`](crate::Order)'s sequence does. Also returns, per
    /// task of `self`, its new id, or [`NO_TASK`](crate::NO_TASK) if left out.
    pub fn renumbered(&self, sequence: &[TaskId]) -> (Graph, Vec<TaskId>) {
        let mut new_id = vec![crate::NO_TASK; self.len()];
        for (i, &t) in sequence.iter().enumerate() {
            new_id[t as usize] = i as TaskId;
        }
        let mut builder = GraphBuilder::with_capacity(sequence.len(), self.deps.len());
        for (i, &t) in sequence.iter().enumerate() {
            // The sequence reads the arrays at random: fetch ahead, in steps
            // (a task's span, then its dependency list, then their new ids).
            if let Some(&ahead) = sequence.get(i + AHEAD) {
                prefetch(&self.dep_spans[ahead as usize]);
            }
            if let Some(&ahead) = sequence.get(i + AHEAD / 2) {
                let span = self.dep_spans[ahead as usize];
                prefetch(self.deps.as_ptr().wrapping_add(span.start as usize));
                prefetch(new_id.as_ptr().wrapping_add(span.first as usize));
            }
            if let Some(&ahead) = sequence.get(i + AHEAD / 4) {
                for &d in self.deps(ahead).iter().skip(1).take(3) {
                    prefetch(&new_id[d as usize]);
                }
            }
            // Dependencies are distinct already: no folding needed.
            builder
                .deps
                .extend(self.deps(t).iter().map(|&d| new_id[d as usize]));
            builder.end_task();
        }
        // A dependency left out of `sequence` is NO_TASK, past every id: refused.
        let graph = builder
            .build()
            .expect("a sequence lists every dependency of its tasks");
        (graph, new_id)
    }

    /// Build a graph from one dependency list per task (convenient in tests).
    pub fn from_deps<I, D>(tasks: I) -> Result<Graph, GraphError>
    where
        I: IntoIterator<Item = D>,
        D: IntoIterator<Item = TaskId>,
    {
        GraphBuilder::of_deps(tasks).build()
    }
}

/// Builds a [`Graph`] one task at a time, in id order.
///
/// Call [`add_dep`](Self::add_dep) for each dependency the current task
/// mentions (repeats are folded, and the returned local index tells the caller
/// where in `deps(t)` the dependency sits), then [`end_task`](Self::end_task).
/// A dependency may name a task that has not been added yet; ids are checked
/// in [`build`](Self::build).
#[derive(Debug)]
pub struct GraphBuilder {
    dep_spans: Vec<Span>,
    deps: Vec<TaskId>,
    // For dedup without scanning: `seen_by[d] == current + 1` means the current
    // task already lists `d`, at local index `local_index[d]`. O(1) per edge,
    // so a task reading a million inputs stays linear.
    seen_by: Vec<u32>,
    local_index: Vec<u32>,
}

/// An empty builder; same as `with_capacity(0, 0)`.
impl Default for GraphBuilder {
    fn default() -> Self {
        // Not derived, for the offsets invariant in the module documentation.
        GraphBuilder::with_capacity(0, 0)
    }
}

impl GraphBuilder {
    /// A builder holding `tasks`, each the ids it reads, in id order (as
    /// [`Graph::from_deps`] takes them, before any check).
    pub fn of_deps<I, D>(tasks: I) -> GraphBuilder
    where
        I: IntoIterator<Item = D>,
        D: IntoIterator<Item = TaskId>,
    {
        let mut b = GraphBuilder::default();
        for deps in tasks {
            for d in deps {
                b.add_dep(d);
            }
            b.end_task();
        }
        b
    }

    /// A builder with room for `tasks` tasks and `edges` edges.
    pub fn with_capacity(tasks: usize, edges: usize) -> Self {
        let mut dep_spans = Vec::with_capacity(tasks + 1);
        dep_spans.push(Span::EMPTY);
        GraphBuilder {
            dep_spans,
            deps: Vec::with_capacity(edges),
            seen_by: Vec::with_capacity(tasks),
            local_index: Vec::with_capacity(tasks),
        }
    }

    /// Id the next [`end_task`](Self::end_task) will close.
    #[inline]
    pub fn current(&self) -> TaskId {
        (self.dep_spans.len() - 1) as TaskId
    }

    /// Record that the current task reads `dep`; returns its local index.
    #[inline]
    pub fn add_dep(&mut self, dep: TaskId) -> u32 {
        let d = dep as usize;
        if d >= self.seen_by.len() {
            let n = (d + 1).max(self.seen_by.len() * 2);
            self.seen_by.resize(n, 0);
            self.local_index.resize(n, 0);
        }
        let stamp = self.current() + 1;
        if self.seen_by[d] == stamp {
            return self.local_index[d];
        }
        let start = self.dep_spans.last().unwrap().start as usize;
        let local = (self.deps.len() - start) as u32;
        self.seen_by[d] = stamp;
        self.local_index[d] = local;
        self.deps.push(dep);
        local
    }

    /// Close the current task; returns its id.
    #[inline]
    pub fn end_task(&mut self) -> TaskId {
        let id = self.current();
        let end = self.deps.len() as u32;
        let span = self.dep_spans.last_mut().unwrap();
        if end > span.start {
            span.first = self.deps[span.start as usize];
        }
        self.dep_spans.push(Span {
            start: end,
            first: NO_FIRST,
        });
        id
    }

    /// Record dependencies found after their tasks ended (a converter that
    /// resolves a few references at the end, in one pass, instead of building
    /// a lookup table for them). `late` lists `(task, dep)` pairs sorted by
    /// task, each task already ended; returns, per pair, the dependency's
    /// local index in its task: the existing one if the task lists `dep`
    /// already, else the next free one. Rewrites the dependency list once,
    /// O(tasks + edges + late); call it between tasks (none open with
    /// dependencies).
    pub fn add_late_deps(&mut self, late: &[(TaskId, TaskId)]) -> Vec<u32> {
        let ended = self.current();
        assert!(
            self.deps.len() == self.dep_spans[ended as usize].start as usize,
            "late dependencies are added between tasks"
        );
        assert!(
            late.windows(2).all(|w| w[0].0 <= w[1].0) && late.iter().all(|&(t, _)| t < ended),
            "late dependencies are sorted by task, of tasks ended"
        );
        let mut locals = Vec::with_capacity(late.len());
        // Per task given late ones: its id and how many of them are new.
        let mut grown: Vec<(TaskId, u32)> = Vec::new();
        let mut added: Vec<TaskId> = Vec::new();
        // A task's dependencies by value, once it lists many: a scan per late
        // one would be quadratic in a call with thousands of arguments.
        let mut index: std::collections::HashMap<TaskId, u32> = Default::default();
        for group in late.chunk_by(|a, b| a.0 == b.0) {
            let t = group[0].0 as usize;
            let own =
                &self.deps[self.dep_spans[t].start as usize..self.dep_spans[t + 1].start as usize];
            let from = added.len();
            let indexed = own.len() + group.len() > SCAN_DEPS;
            if indexed {
                index.clear();
                index.extend(own.iter().enumerate().rev().map(|(i, &d)| (d, i as u32)));
            }
            for &(_, d) in group {
                let found = if indexed {
                    index.get(&d).copied()
                } else {
                    let new = &added[from..];
                    own.iter()
                        .chain(new)
                        .position(|&x| x == d)
                        .map(|i| i as u32)
                };
                let local = found.unwrap_or_else(|| {
                    let local = (own.len() + added.len() - from) as u32;
                    added.push(d);
                    if indexed {
                        index.insert(d, local);
                    }
                    local
                });
                locals.push(local);
            }
            if added.len() > from {
                grown.push((t as TaskId, (added.len() - from) as u32));
            }
        }
        // Open a gap after each grown task, moving what follows once, from the
        // back: a copy of the list, not a pass per task.
        let old_len = self.deps.len();
        self.deps.resize(old_len + added.len(), 0);
        let mut shift = added.len();
        let (mut upper, mut upper_task) = (old_len, ended as usize);
        let mut new_end = added.len();
        for &(t, k) in grown.iter().rev() {
            let t = t as usize;
            let end = self.dep_spans[t + 1].start as usize;
            self.deps.copy_within(end..upper, end + shift);
            for s in &mut self.dep_spans[t + 1..=upper_task] {
                s.start += shift as u32;
            }
            (upper, upper_task) = (end, t);
            shift -= k as usize;
            let new = &added[new_end - k as usize..new_end];
            self.deps[end + shift..end + shift + k as usize].copy_from_slice(new);
            new_end -= k as usize;
            if self.dep_spans[t].first == NO_FIRST {
                self.dep_spans[t].first = new[0];
            }
        }
        locals
    }

    /// Validate ids and derive the consumer adjacency.
    pub fn build(self) -> Result<Graph, GraphError> {
        let mut graph = self.build_deps()?;
        graph.add_consumers(graph.consumers_of_deps());
        Ok(graph)
    }

    /// The graph with its ids checked and no consumers yet: a [`Graph`] only
    /// once [`Graph::add_consumers`] gave it them (see
    /// [`build_and_order`](crate::build_and_order), which derives them while
    /// it orders the tasks).
    pub(crate) fn build_deps(mut self) -> Result<Graph, GraphError> {
        let n = self.dep_spans.len() - 1;
        if n >= u32::MAX as usize || self.deps.len() >= u32::MAX as usize {
            return Err(GraphError::TooLarge);
        }
        // Dependencies of a task never ended belong to no task: left out.
        self.deps.truncate(self.dep_spans[n].start as usize);
        if let Some(at) = self.deps.iter().position(|&d| d as usize >= n) {
            // The task whose span holds the first unknown id.
            let task = self.dep_spans.partition_point(|s| s.start as usize <= at) - 1;
            return Err(GraphError::UnknownDependency {
                task: task as TaskId,
                dep: self.deps[at],
            });
        }
        Ok(Graph {
            dep_spans: self.dep_spans,
            deps: self.deps,
            consumer_offsets: Vec::new(),
            consumers: Vec::new(),
        })
    }
}

/// A graph's consumer adjacency: offsets (one per task and one more) and ids.
pub(crate) type Consumers = (Vec<u32>, Vec<TaskId>);

impl Graph {
    /// Derive the consumer adjacency from the dependency lists, by a counting
    /// sort (ids checked: see [`GraphBuilder::build_deps`]).
    pub(crate) fn consumers_of_deps(&self) -> Consumers {
        let n = self.len();
        let mut counts = vec![0u32; n + 1];
        for &d in &self.deps {
            counts[d as usize + 1] += 1;
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let consumer_offsets = counts.clone();
        let mut fill = counts;
        let mut consumers = vec![0; self.deps.len()];
        for t in 0..n {
            for &d in self.deps(t as TaskId) {
                let slot = &mut fill[d as usize];
                consumers[*slot as usize] = t as TaskId;
                *slot += 1;
            }
        }
        (consumer_offsets, consumers)
    }

    /// Give a graph from [`GraphBuilder::build_deps`] its consumers.
    pub(crate) fn add_consumers(&mut self, (offsets, consumers): Consumers) {
        (self.consumer_offsets, self.consumers) = (offsets, consumers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deps_are_deduplicated_in_first_mention_order() {
        let mut b = GraphBuilder::default();
        b.end_task(); // 0
        b.end_task(); // 1
        assert_eq!(b.add_dep(1), 0);
        assert_eq!(b.add_dep(0), 1);
        assert_eq!(b.add_dep(1), 0);
        assert_eq!(b.end_task(), 2);
        assert_eq!(b.add_dep(1), 0, "dedup marks are per task");
        b.end_task();
        let g = b.build().unwrap();
        assert_eq!(g.len(), 4);
        assert_eq!(g.deps(2), &[1, 0]);
        assert_eq!(g.deps(3), &[1]);
        assert_eq!(g.consumers(1), &[2, 3]);
        assert_eq!(g.consumers(0), &[2]);
        assert_eq!(g.consumers(3), &[] as &[TaskId]);
        assert_eq!(g.edge_count(), 3);
    }

    proptest::proptest! {
        /// Dependencies added late land where adding them in place, after the
        /// task's others, would have put them: same lists, same local indices
        /// (repeats folded), same consumers. Up to 40 a task, past the scan.
        #[test]
        fn late_deps_are_added_as_in_place(
            tasks in proptest::collection::vec(
                (proptest::collection::vec(0u32..30, 0..40), proptest::collection::vec(0u32..30, 0..6)),
                1..30,
            ),
        ) {
            let n = tasks.len() as TaskId;
            let (mut inplace, mut later) = (GraphBuilder::default(), GraphBuilder::default());
            let (mut expected, mut late) = (Vec::new(), Vec::new());
            for (t, (deps, extra)) in tasks.iter().enumerate() {
                for &d in deps {
                    inplace.add_dep(d % n);
                    later.add_dep(d % n);
                }
                for &d in extra {
                    expected.push(inplace.add_dep(d % n));
                    late.push((t as TaskId, d % n));
                }
                inplace.end_task();
                later.end_task();
            }
            proptest::prop_assert_eq!(later.add_late_deps(&late), expected);
            let (a, b) = (inplace.build().unwrap(), later.build().unwrap());
            proptest::prop_assert_eq!(&a.dep_spans, &b.dep_spans);
            proptest::prop_assert_eq!(&a.deps, &b.deps);
            proptest::prop_assert_eq!(&a.consumers, &b.consumers);
        }
    }

    #[test]
    #[should_panic(expected = "between tasks")]
    fn late_deps_refuse_an_open_task() {
        let mut b = GraphBuilder::default();
        b.end_task();
        b.add_dep(0);
        b.add_late_deps(&[(0, 0)]);
    }

    #[test]
    fn forward_references_are_allowed_and_checked() {
        let g = Graph::from_deps([vec![1], vec![]]).unwrap();
        assert_eq!(g.consumers(1), &[0]);
        let err = Graph::from_deps([vec![5]]).unwrap_err();
        assert_eq!(err, GraphError::UnknownDependency { task: 0, dep: 5 });
        // A task left open is no task, nor are its dependencies.
        let mut b = GraphBuilder::default();
        b.end_task();
        b.add_dep(0);
        b.add_dep(7);
        let g = b.build().unwrap();
        assert_eq!((g.len(), g.consumers(0)), (1, &[][..]));
        // The first unknown id names its task, past tasks with no dependencies.
        let err = Graph::from_deps([vec![], vec![0], vec![], vec![], vec![1, 9], vec![7]]);
        assert_eq!(
            err.unwrap_err(),
            GraphError::UnknownDependency { task: 4, dep: 9 }
        );
    }

    /// Every way to make an empty graph gives the same valid one (issue #12:
    /// a derived `Default` had empty offset arrays and `len()` underflowed).
    #[test]
    fn empty_graph() {
        let graphs = [
            Graph::default(),
            GraphBuilder::default().build().unwrap(),
            GraphBuilder::with_capacity(0, 0).build().unwrap(),
            GraphBuilder::with_capacity(10, 10).build().unwrap(),
            Graph::from_deps(Vec::<Vec<TaskId>>::new()).unwrap(),
        ];
        for g in &graphs {
            assert_eq!(g.len(), 0);
            assert!(g.is_empty());
            assert_eq!(g.edge_count(), 0);
            assert_eq!(g.dep_spans, [Span::EMPTY]);
            assert_eq!(g.consumer_offsets, [0]);
            assert!(g.deps.is_empty() && g.consumers.is_empty());
        }
        assert_eq!(GraphBuilder::default().current(), 0);
    }

    #[test]
    fn default_builder_builds_like_a_sized_one() {
        let mut b = GraphBuilder::default();
        assert_eq!(b.current(), 0);
        assert_eq!(b.add_dep(1), 0, "first dependency before any end_task");
        assert_eq!(b.end_task(), 0);
        assert_eq!(b.current(), 1);
        assert_eq!(b.end_task(), 1);
        let g = b.build().unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g.deps(0), &[1]);
        assert_eq!(g.consumers(1), &[0]);
        assert_eq!(g.consumers(0), &[] as &[TaskId]);
    }

    #[test]
    fn empty_graph_orders_and_schedules() {
        let g = Graph::default();
        let o = crate::order(&g, &[]).unwrap();
        assert!(o.sequence.is_empty());
        let mut s = crate::Scheduler::new(&g, o, &[], true);
        assert!(s.is_done());
        assert_eq!(s.pop(), None);
    }
}
