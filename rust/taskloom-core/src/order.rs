//! Ordering, culling and cycle detection in one iterative depth-first pass.
//!
//! Policy: starting from the requested outputs in the order given, visit each
//! task's dependencies in the order the task mentions them and number tasks in
//! post-order. Executing by that number finishes one subtree before starting
//! the next (what `dask.order` aims at) so few intermediate results are alive
//! at once; it costs O(V + E), unlike `dask.order`'s superlinear passes.
//! Tasks the outputs do not reach are never visited: that is culling. A
//! dependency found on the current DFS path is a cycle, reported with its path
//! before anything runs. The DFS keeps an explicit stack, so a chain of 10^6
//! tasks uses 8 MB of heap, not the call stack. [`build_and_order`] builds a
//! graph and orders it at once, deriving its consumers on a second thread.

use crate::graph::{Graph, GraphBuilder, GraphError, TaskId};
use crate::mem::join;
use std::fmt;

/// Priority of a task the outputs do not need.
pub const NOT_NEEDED: u32 = u32::MAX;

/// The result of [`order`].
#[derive(Debug, Clone)]
pub struct Order {
    /// Per task: its position in `sequence`, or [`NOT_NEEDED`].
    pub priority: Vec<u32>,
    /// The needed tasks, dependencies before consumers, subtree by subtree.
    pub sequence: Vec<TaskId>,
    /// Per task: the user's priority (Dask's `priority` annotation; higher runs
    /// first among ready tasks), or empty when the user gave none. See
    /// [`Order::with_user_priority`].
    pub user: Vec<f64>,
}

impl Order {
    /// Whether the outputs need task `t`.
    #[inline]
    pub fn is_needed(&self, t: TaskId) -> bool {
        self.priority[t as usize] != NOT_NEEDED
    }

    /// This order with the user's priorities, one per task (0 where none was
    /// given): the [`Scheduler`](crate::Scheduler) then hands out the ready task
    /// of highest user priority first, and the depth-first order decides only
    /// among equals.
    ///
    /// Panics if `user` does not hold one number per task, or holds a NaN (the
    /// binding checks both first).
    pub fn with_user_priority(mut self, mut user: Vec<f64>) -> Self {
        assert_eq!(user.len(), self.priority.len(), "one priority per task");
        assert!(user.iter().all(|p| !p.is_nan()), "a NaN priority");
        // -0.0 is the priority 0 (the scheduler's heap orders by `total_cmp`,
        // which puts -0.0 below 0.0): `-0.0 + 0.0` is `0.0`.
        for p in &mut user {
            *p += 0.0;
        }
        self.user = user;
        self
    }
}

/// `graph` and `order` renumbered so that task ids follow the execution order:
/// the needed tasks alone, the `i`-th of `order.sequence` becoming task `i`.
/// Returns the new graph and order, and per old task its new id (or
/// [`NO_TASK`](crate::NO_TASK) for a task the outputs do not need).
///
/// Why: every per-task array (results, counters, the binding's code) is then
/// read front to back as tasks run, whatever order the user's dict had; a
/// graph given in random order otherwise reads them at random, a cache miss
/// per access at 10^6 tasks. User priorities, if any, follow their tasks.
pub fn renumber(graph: &Graph, order: &Order) -> (Graph, Order, Vec<TaskId>) {
    let (renumbered, new_id) = graph.renumbered(&order.sequence);
    let m = order.sequence.len() as TaskId;
    let user = if order.user.is_empty() {
        Vec::new()
    } else {
        order
            .sequence
            .iter()
            .map(|&t| order.user[t as usize])
            .collect()
    };
    let order = Order {
        priority: (0..m).collect(),
        sequence: (0..m).collect(),
        user,
    };
    (renumbered, order, new_id)
}

/// Whether renumbering (see [`renumber`]) pays for itself: the run would read
/// per-task arrays at random, and renumbering would make a task's reads of its
/// dependencies local. Both hold for a graph whose dict order was shuffled;
/// neither for graphs built in execution order (chains, fan-ins); a tree built
/// level by level reads a few sequential streams, which the hardware
/// prefetches, and a random DAG or a shuffle's map-reduce read their
/// dependencies far back in any numbering, so renumbering (0.1-0.2 us a task)
/// would buy nothing there.
///
/// Judged on up to [`SAMPLES`] tasks spread evenly over the sequence, so it
/// costs microseconds at any size. Graphs of fewer than [`MIN_TASKS`] tasks
/// are left alone: their per-task arrays stay in cache in any order.
pub fn renumbering_pays(graph: &Graph, order: &Order) -> bool {
    let seq = &order.sequence;
    if seq.len() < MIN_TASKS {
        return false;
    }
    let step = (seq.len() / SAMPLES).max(1);
    let (mut steps, mut jumps, mut deps, mut local_after) = (0usize, 0usize, 0usize, 0usize);
    for i in (0..seq.len() - 1).step_by(step) {
        let (t, next) = (seq[i], seq[i + 1]);
        steps += 1;
        jumps += usize::from(t.abs_diff(next) > NEAR);
        for &d in graph.deps(t) {
            deps += 1;
            let far_now = t.abs_diff(d) > NEAR;
            let near_after =
                order.priority[t as usize].abs_diff(order.priority[d as usize]) <= NEAR;
            local_after += usize::from(far_now && near_after);
        }
    }
    jumps * 10 > steps * 9 && local_after * 2 > deps
}

/// Below this many tasks (about 1 MB of per-task arrays, a core's L2 cache),
/// renumbering is not worth its cost.
pub const MIN_TASKS: usize = 1 << 14;

/// How many tasks [`renumbering_pays`] looks at.
const SAMPLES: usize = 4096;

/// Ids closer than this are read from memory already fetched or prefetched.
const NEAR: u32 = 64;

/// A dependency cycle: each task depends on the next, the last on the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub path: Vec<TaskId>,
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cycle through tasks {:?}", self.path)
    }
}

impl std::error::Error for Cycle {}

const WHITE: u8 = 0;
const ON_PATH: u8 = 1;
const DONE: u8 = 2;

/// Order the tasks `outputs` need; fails on the first cycle found.
///
/// Panics if an output id is out of range (the binding checks keys first).
pub fn order(graph: &Graph, outputs: &[TaskId]) -> Result<Order, Cycle> {
    let n = graph.len();
    let mut state = vec![WHITE; n];
    let mut priority = vec![NOT_NEEDED; n];
    let mut sequence = Vec::with_capacity(n);
    // (task, index of the next dependency to visit)
    let mut stack: Vec<(TaskId, u32)> = Vec::new();

    for &root in outputs {
        if state[root as usize] != WHITE {
            continue;
        }
        state[root as usize] = ON_PATH;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (t, next) = *top;
            // The first dependency comes with the count (one cache miss per
            // task where tasks are not numbered in the order they run).
            let (count, first) = graph.dep_head(t);
            if next < count {
                top.1 += 1;
                let d = if next == 0 {
                    first
                } else {
                    graph.deps(t)[next as usize]
                };
                match state[d as usize] {
                    WHITE => {
                        state[d as usize] = ON_PATH;
                        stack.push((d, 0));
                    }
                    ON_PATH => {
                        let start = stack.iter().rposition(|&(s, _)| s == d).unwrap();
                        let path = stack[start..].iter().map(|&(s, _)| s).collect();
                        return Err(Cycle { path });
                    }
                    _ => {}
                }
            } else {
                stack.pop();
                state[t as usize] = DONE;
                priority[t as usize] = sequence.len() as u32;
                sequence.push(t);
            }
        }
    }
    Ok(Order {
        priority,
        sequence,
        user: Vec::new(),
    })
}

/// Build the graph `builder` holds and order the tasks `outputs` need, as
/// [`GraphBuilder::build`] then [`order`] would. The consumer adjacency,
/// which ordering does not read, is derived on another thread meanwhile for
/// graphs of [`OVERLAP_FROM`] tasks and edges or more: with a core to spare
/// (the sync scheduler's runs leave one idle), ordering a 10^6-task graph no
/// longer waits for it (3-20 ms).
pub fn build_and_order(
    builder: GraphBuilder,
    outputs: &[TaskId],
) -> Result<(Graph, Result<Order, Cycle>), GraphError> {
    let mut graph = builder.build_deps()?;
    let g = &graph;
    let (ordered, consumers) = join(
        g.len() + g.edge_count() >= OVERLAP_FROM,
        || order(g, outputs),
        || g.consumers_of_deps(),
    );
    graph.add_consumers(consumers);
    Ok((graph, ordered))
}

/// Tasks plus edges from which [`build_and_order`] derives consumers on
/// another thread: a thread costs tens of microseconds, about what deriving
/// them takes at this size.
pub const OVERLAP_FROM: usize = 1 << 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_order_finishes_subtrees_first() {
        // 0 = f(1, 2); 1 = g(3); 2 = h(4); 3, 4 leaves
        let g = Graph::from_deps([vec![1, 2], vec![3], vec![4], vec![], vec![]]).unwrap();
        let o = order(&g, &[0]).unwrap();
        assert_eq!(o.sequence, vec![3, 1, 4, 2, 0]);
        assert_eq!(o.priority, vec![4, 1, 3, 0, 2]);
    }

    /// A chain of `n` tasks, task `ids[i]` being link `i`.
    fn chain_numbered(ids: &[TaskId]) -> (Graph, TaskId) {
        let mut deps = vec![vec![]; ids.len()];
        for i in 1..ids.len() {
            deps[ids[i] as usize] = vec![ids[i - 1]];
        }
        (Graph::from_deps(deps).unwrap(), *ids.last().unwrap())
    }

    #[test]
    fn renumbering_pays_for_a_shuffled_chain_only() {
        let n = 2 * MIN_TASKS as u32;
        let in_order: Vec<TaskId> = (0..n).collect();
        let shuffled: Vec<TaskId> = (0..n).map(|i| (i * 7919) % n).collect();
        for (ids, pays) in [(&in_order, false), (&shuffled, true)] {
            let (g, out) = chain_numbered(ids);
            let o = order(&g, &[out]).unwrap();
            assert_eq!(renumbering_pays(&g, &o), pays);
        }
        // Each task reads one far back at random: scattered in any numbering.
        let deps: Vec<Vec<TaskId>> = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![(i * 7919) % i] })
            .collect();
        let g = Graph::from_deps(deps).unwrap();
        let outputs: Vec<TaskId> = (0..n).collect();
        assert!(!renumbering_pays(&g, &order(&g, &outputs).unwrap()));
        let small: Vec<TaskId> = (0..1000).map(|i| (i * 7919) % 1000).collect();
        let (g, out) = chain_numbered(&small);
        assert!(!renumbering_pays(&g, &order(&g, &[out]).unwrap()));
    }

    #[test]
    fn culls_what_outputs_do_not_need() {
        // 2 depends on 0; 1 is unrelated
        let g = Graph::from_deps([vec![], vec![], vec![0]]).unwrap();
        let o = order(&g, &[2]).unwrap();
        assert_eq!(o.sequence, vec![0, 2]);
        assert!(!o.is_needed(1));
        assert!(o.is_needed(0));
    }

    #[test]
    fn repeated_and_shared_outputs_are_ordered_once() {
        let g = Graph::from_deps([vec![], vec![0], vec![0]]).unwrap();
        let o = order(&g, &[1, 2, 1]).unwrap();
        assert_eq!(o.sequence, vec![0, 1, 2]);
    }

    #[test]
    fn finds_cycles_with_their_path() {
        // 0 -> 1 -> 2 -> 1
        let g = Graph::from_deps([vec![1], vec![2], vec![1]]).unwrap();
        let c = order(&g, &[0]).unwrap_err();
        assert_eq!(c.path, vec![1, 2]);
        let self_loop = Graph::from_deps([vec![0]]).unwrap();
        assert_eq!(order(&self_loop, &[0]).unwrap_err().path, vec![0]);
    }

    #[test]
    fn build_and_order_finds_cycles_and_unknown_ids_as_build_and_order_do() {
        // A chain past `OVERLAP_FROM` whose first link reads the last.
        let n = OVERLAP_FROM as TaskId;
        let mut deps: Vec<Vec<TaskId>> = (0..n).map(|i| vec![i.wrapping_sub(1)]).collect();
        deps[0] = vec![n - 1];
        let builder = |deps: &[Vec<TaskId>]| GraphBuilder::of_deps(deps.iter().cloned());
        let (graph, ordered) = build_and_order(builder(&deps), &[n - 1]).unwrap();
        let expected = Graph::from_deps(deps.clone()).unwrap();
        assert_eq!(
            ordered.unwrap_err(),
            order(&expected, &[n - 1]).unwrap_err()
        );
        assert_eq!(graph.consumers(n - 1), &[0]);
        deps[5] = vec![n];
        assert_eq!(
            build_and_order(builder(&deps), &[0]).unwrap_err(),
            GraphError::UnknownDependency { task: 5, dep: n }
        );
    }

    #[test]
    fn cycle_outside_the_needed_part_is_not_an_error() {
        let g = Graph::from_deps([vec![], vec![2], vec![1]]).unwrap();
        assert_eq!(order(&g, &[0]).unwrap().sequence, vec![0]);
    }

    #[test]
    fn million_task_chain_does_not_recurse() {
        let n = 1_000_000u32;
        let g =
            Graph::from_deps((0..n).map(|i| if i == 0 { vec![] } else { vec![i - 1] })).unwrap();
        let o = order(&g, &[n - 1]).unwrap();
        assert_eq!(o.sequence.len(), n as usize);
        assert_eq!(o.sequence[0], 0);
        assert_eq!(*o.sequence.last().unwrap(), n - 1);
    }
}
