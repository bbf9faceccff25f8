//! The ready-queue state machine that an executor drives.
//!
//! State, per task: how many dependencies are still unfinished (`waiting`) and
//! how many needed consumers have still to run (`remaining`, plus a permanent
//! pin for outputs). The executor calls [`Scheduler::pop`] for the next task
//! to run and [`Scheduler::finish`] when it has run; `finish` reports, through
//! a callback, every result that no remaining task reads so the executor can
//! free it at once. Memory therefore follows the graph's width, not its size.
//!
//! Selection order: the ready set is a LIFO stack. Tasks made ready by the same
//! completion are pushed so the one with the lowest [`order`](crate::order)
//! priority is popped first, and initially ready tasks are pushed in priority
//! order too; a finished task's consumer is therefore run before unrelated
//! work, which completes subtrees depth-first (a 10^6-task binary reduction
//! holds about log2(10^6) intermediate results). Push and pop are O(1); there
//! is no heap.
//!
//! Linear-chain fusion (optional): a task whose only needed consumer reads
//! nothing else, and which is not an output, is fused with that consumer.
//! [`Scheduler::finish`] then hands the consumer straight back instead of
//! queueing it, so an executor runs a chain as one unit: inline without
//! touching the ready stack, on a worker as one job instead of one handoff per
//! task ([`Scheduler::continuation`] tells which tasks a unit holds).

use crate::graph::{Graph, TaskId};
use crate::order::{Order, NOT_NEEDED};
use std::ops::Deref;

/// Execution state for one run of a graph, which it borrows (`&Graph`) or owns
/// (`Box<Graph>`, for a driver that outlives the caller's stack frame).
#[derive(Debug)]
pub struct Scheduler<G: Deref<Target = Graph>> {
    graph: G,
    priority: Vec<u32>,
    waiting: Vec<u32>,
    remaining: Vec<u32>,
    ready: Vec<TaskId>,
    unfinished: usize,
    scratch: Vec<TaskId>,
    /// Per task: the consumer fused after it, or [`NO_TASK`]; empty without fusion.
    next: Vec<TaskId>,
}

/// No task: the end of a fused chain.
pub const NO_TASK: TaskId = u32::MAX;

impl<G: Deref<Target = Graph>> Scheduler<G> {
    /// Start a run of the tasks `order` marks as needed; `outputs` are never released.
    /// With `fuse`, linear chains run as units (see the module documentation).
    pub fn new(graph: G, order: Order, outputs: &[TaskId], fuse: bool) -> Self {
        let n = graph.len();
        let Order { priority, sequence } = order;
        let mut waiting = vec![0u32; n];
        let mut remaining = vec![0u32; n];
        for &t in &sequence {
            let deps = graph.deps(t);
            waiting[t as usize] = deps.len() as u32;
            for &d in deps {
                remaining[d as usize] += 1;
            }
        }
        for &o in outputs {
            // A pin that no consumer removes; `u32::MAX / 2` leaves room for
            // the real consumer count and survives duplicate outputs.
            if remaining[o as usize] < u32::MAX / 2 {
                remaining[o as usize] += u32::MAX / 2;
            }
        }
        let ready = sequence
            .iter()
            .rev()
            .copied()
            .filter(|&t| waiting[t as usize] == 0)
            .collect();
        let next = if fuse {
            fusion(&graph, &sequence, &priority, &remaining)
        } else {
            Vec::new()
        };
        Scheduler {
            graph,
            priority,
            waiting,
            remaining,
            ready,
            unfinished: sequence.len(),
            scratch: Vec::new(),
            next,
        }
    }

    /// The graph being run.
    #[inline]
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The task fused after `t`, if any: it runs as soon as `t` finishes.
    #[inline]
    pub fn continuation(&self, t: TaskId) -> Option<TaskId> {
        match self.next.get(t as usize) {
            Some(&c) if c != NO_TASK => Some(c),
            _ => None,
        }
    }

    /// The next task to run, if any is ready.
    #[inline]
    pub fn pop(&mut self) -> Option<TaskId> {
        self.ready.pop()
    }

    /// Put back a task taken by [`pop`](Self::pop) that could not start yet.
    #[inline]
    pub fn push_back(&mut self, t: TaskId) {
        self.ready.push(t);
    }

    /// The task's position in the depth-first order: lower runs first.
    #[inline]
    pub fn priority(&self, t: TaskId) -> u32 {
        self.priority[t as usize]
    }

    /// Number of tasks ready to run.
    #[inline]
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// Needed tasks that have not finished.
    #[inline]
    pub fn unfinished(&self) -> usize {
        self.unfinished
    }

    /// True once every needed task has finished.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.unfinished == 0
    }

    /// Record that `t` ran; `release` is called for each result no longer read.
    ///
    /// Returns the task fused after `t`, now ready, which the caller must run
    /// next (it is not put on the ready stack).
    #[inline]
    pub fn finish(&mut self, t: TaskId, mut release: impl FnMut(TaskId)) -> Option<TaskId> {
        self.unfinished -= 1;
        let graph: &Graph = &self.graph;
        for &d in graph.deps(t) {
            let r = &mut self.remaining[d as usize];
            *r -= 1;
            if *r == 0 {
                release(d);
            }
        }
        if self.remaining[t as usize] == 0 {
            release(t);
        }
        if let Some(c) = self.continuation(t) {
            self.waiting[c as usize] = 0;
            return Some(c);
        }
        let consumers = graph.consumers(t);
        if consumers.len() == 1 {
            // The common case (chains, trees): no scratch, no sort.
            let c = consumers[0];
            if self.priority[c as usize] != NOT_NEEDED {
                let w = &mut self.waiting[c as usize];
                *w -= 1;
                if *w == 0 {
                    self.ready.push(c);
                }
            }
            return None;
        }
        for &c in consumers {
            if self.priority[c as usize] == NOT_NEEDED {
                continue;
            }
            let w = &mut self.waiting[c as usize];
            *w -= 1;
            if *w == 0 {
                self.scratch.push(c);
            }
        }
        if self.scratch.len() > 1 {
            let priority = &self.priority;
            self.scratch
                .sort_unstable_by_key(|&c| std::cmp::Reverse(priority[c as usize]));
        }
        self.ready.append(&mut self.scratch);
        None
    }
}

/// Per task, the consumer fused after it ([`NO_TASK`] if none): what
/// [`Scheduler`] runs as chains, for callers that only want to know.
pub fn fused_successors(graph: &Graph, order: &Order, outputs: &[TaskId]) -> Vec<TaskId> {
    let mut remaining = vec![0u32; graph.len()];
    for &t in &order.sequence {
        for &d in graph.deps(t) {
            remaining[d as usize] += 1;
        }
    }
    for &o in outputs {
        remaining[o as usize] = u32::MAX / 2;
    }
    fusion(graph, &order.sequence, &order.priority, &remaining)
}

/// `next[t]` = the consumer fused after `t`: `t` is needed, not an output, has
/// exactly one needed consumer `c`, and `c` reads nothing but `t`.
fn fusion(graph: &Graph, sequence: &[TaskId], priority: &[u32], remaining: &[u32]) -> Vec<TaskId> {
    let mut next = vec![NO_TASK; graph.len()];
    for &t in sequence {
        // `remaining` counts needed consumers, plus a large pin for outputs.
        if remaining[t as usize] != 1 {
            continue;
        }
        let mut needed = graph
            .consumers(t)
            .iter()
            .copied()
            .filter(|&c| priority[c as usize] != NOT_NEEDED);
        if let (Some(c), None) = (needed.next(), needed.next()) {
            if graph.deps(c).len() == 1 {
                next[t as usize] = c;
            }
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::order;

    /// Run the graph to completion, returning execution order, release order
    /// and the largest number of results alive at once.
    fn run(graph: &Graph, outputs: &[TaskId]) -> (Vec<TaskId>, Vec<TaskId>, usize) {
        run_with(graph, outputs, false)
    }

    fn run_with(
        graph: &Graph,
        outputs: &[TaskId],
        fuse: bool,
    ) -> (Vec<TaskId>, Vec<TaskId>, usize) {
        let o = order(graph, outputs).unwrap();
        let mut s = Scheduler::new(graph, o, outputs, fuse);
        let (mut ran, mut released) = (vec![], vec![]);
        let (mut has_run, mut is_freed) = (vec![false; graph.len()], vec![false; graph.len()]);
        let (mut alive, mut peak) = (0usize, 0usize);
        let mut next = None;
        while let Some(t) = next.take().or_else(|| s.pop()) {
            for &d in graph.deps(t) {
                assert!(has_run[d as usize], "{t} ran before its dependency {d}");
                assert!(!is_freed[d as usize], "{d} released before {t} read it");
            }
            ran.push(t);
            has_run[t as usize] = true;
            alive += 1;
            peak = peak.max(alive);
            next = s.finish(t, |r| {
                released.push(r);
                is_freed[r as usize] = true;
                alive -= 1;
            });
        }
        assert!(s.is_done());
        (ran, released, peak)
    }

    #[test]
    fn results_are_released_after_their_last_consumer() {
        // 0 and 1 leaves; 2 = f(0, 1); 3 = g(0, 2)
        let g = Graph::from_deps([vec![], vec![], vec![0, 1], vec![0, 2]]).unwrap();
        let (ran, released, _) = run(&g, &[3]);
        assert_eq!(ran, vec![0, 1, 2, 3]);
        // 1 is free after 2; 0 and 2 after 3; output 3 never.
        assert_eq!(released, vec![1, 0, 2]);
    }

    #[test]
    fn outputs_are_never_released_even_when_consumed() {
        let g = Graph::from_deps([vec![], vec![0]]).unwrap();
        let (_, released, _) = run(&g, &[1, 0, 0]);
        assert!(released.is_empty());
    }

    #[test]
    fn culled_consumers_do_not_pin_results() {
        // 1 and 2 both read 0; only 1 is needed.
        let g = Graph::from_deps([vec![], vec![0], vec![0]]).unwrap();
        let (ran, released, _) = run(&g, &[1]);
        assert_eq!(ran, vec![0, 1]);
        assert_eq!(released, vec![0]);
    }

    #[test]
    fn binary_reduction_keeps_few_results_alive() {
        // Leaves 0..n, then pairwise sums, built bottom-up.
        let n = 1 << 16;
        let mut tasks: Vec<Vec<TaskId>> = (0..n).map(|_| vec![]).collect();
        let mut level: Vec<TaskId> = (0..n as TaskId).collect();
        while level.len() > 1 {
            let mut next = vec![];
            for pair in level.chunks(2) {
                tasks.push(pair.to_vec());
                next.push((tasks.len() - 1) as TaskId);
            }
            level = next;
        }
        let g = Graph::from_deps(tasks).unwrap();
        let (ran, _, peak) = run(&g, &[level[0]]);
        assert_eq!(ran.len(), 2 * n - 1);
        assert!(peak <= 2 * 17 + 2, "peak {peak} results alive");
    }

    #[test]
    fn fan_in_keeps_all_inputs_until_the_sum() {
        let n = 1000u32;
        let mut tasks: Vec<Vec<TaskId>> = (0..n).map(|_| vec![]).collect();
        tasks.push((0..n).collect());
        let g = Graph::from_deps(tasks).unwrap();
        let (ran, released, peak) = run(&g, &[n]);
        assert_eq!(ran.len() as u32, n + 1);
        assert_eq!(released.len() as u32, n);
        assert_eq!(peak as u32, n + 1);
    }

    #[test]
    fn fusion_hands_back_chain_members_in_order() {
        // 0 -> 1 -> 2 is a chain; 3 reads 2 and 4; 4 is a leaf.
        let g = Graph::from_deps([vec![], vec![0], vec![1], vec![2, 4], vec![]]).unwrap();
        let o = order(&g, &[3]).unwrap();
        let mut s = Scheduler::new(&g, o, &[3], true);
        assert_eq!(s.continuation(0), Some(1));
        assert_eq!(s.continuation(1), Some(2));
        assert_eq!(s.continuation(2), None, "3 reads two tasks");
        assert_eq!(s.continuation(4), None);
        assert_eq!(s.pop(), Some(0));
        assert_eq!(s.finish(0, |_| {}), Some(1));
        assert_eq!(s.ready_len(), 1, "the chain member was not queued");
        assert_eq!(s.finish(1, |_| {}), Some(2));
        assert_eq!(s.finish(2, |_| {}), None);
        let (ran, released, _) = run_with(&g, &[3], true);
        assert_eq!(ran.len(), 5);
        assert_eq!(released.len(), 4);
    }

    #[test]
    fn outputs_and_shared_results_are_not_fused() {
        // 1 is an output; 2 has two consumers.
        let g = Graph::from_deps([vec![], vec![0], vec![1], vec![2], vec![2]]).unwrap();
        let o = order(&g, &[1, 3, 4]).unwrap();
        let s = Scheduler::new(&g, o, &[1, 3, 4], true);
        assert_eq!(s.continuation(0), Some(1));
        assert_eq!(s.continuation(1), None);
        assert_eq!(s.continuation(2), None);
        let without = Scheduler::new(&g, order(&g, &[3]).unwrap(), &[3], false);
        assert_eq!(without.continuation(0), None);
    }

    #[test]
    fn fused_and_unfused_runs_agree() {
        let g = Graph::from_deps([vec![], vec![0], vec![1], vec![], vec![3], vec![2, 4]]).unwrap();
        let (a, ra, _) = run_with(&g, &[5], false);
        let (b, rb, _) = run_with(&g, &[5], true);
        assert_eq!(a.len(), b.len());
        assert_eq!(ra.len(), rb.len());
    }

    #[test]
    fn diamond_runs_each_task_once() {
        let g = Graph::from_deps([vec![], vec![0], vec![0], vec![1, 2]]).unwrap();
        let (ran, released, _) = run(&g, &[3]);
        assert_eq!(ran.len(), 4);
        assert_eq!(released.len(), 3);
    }
}
