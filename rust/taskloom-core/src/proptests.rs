//! Property tests: the scheduler and the orderer against an independent oracle
//! on random graphs.
//!
//! Graphs: up to 200 tasks, each reading up to four tasks (repeats allowed,
//! half of them among the three just before it, so chains and therefore fusion
//! are common), with one to five outputs, repeats allowed, half of them among
//! the last quarter of the tasks (which need more). Deps point to earlier
//! ids, or, after a random relabelling, anywhere (forward references).
//!
//! The oracle computes what the outputs need by its own walk over `deps` and
//! counts each result's needed readers itself; it trusts nothing the crate
//! computes. Drives are randomised like real executors: one to four tasks in
//! flight, finished in any order, the continuation `finish` returns run next
//! or put back on the queue, popped tasks sometimes put back.
//!
//! Case counts stay small enough that `cargo test` in debug takes a few
//! seconds; raise them with `PROPTEST_CASES` for a longer hunt.

use crate::graph::{Graph, GraphBuilder, TaskId};
use crate::order::{build_and_order, order, renumber, NOT_NEEDED, OVERLAP_FROM};
use crate::schedule::{CheckedScheduler, ScheduleError, Scheduler, TaskState, NO_TASK};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

const MAX_TASKS: usize = 200;

/// A DAG as one dependency list per task, plus the requested outputs.
#[derive(Debug, Clone)]
struct Dag {
    deps: Vec<Vec<TaskId>>,
    outputs: Vec<TaskId>,
}

impl Dag {
    fn graph(&self) -> Graph {
        Graph::from_deps(self.deps.iter().map(|d| d.iter().copied())).unwrap()
    }

    /// The same graph with task `i` renamed `perm[i]`.
    fn relabel(&self, perm: &[TaskId]) -> Dag {
        let mut deps = vec![Vec::new(); self.deps.len()];
        for (i, d) in self.deps.iter().enumerate() {
            deps[perm[i] as usize] = d.iter().map(|&x| perm[x as usize]).collect();
        }
        let outputs = self.outputs.iter().map(|&o| perm[o as usize]).collect();
        Dag { deps, outputs }
    }
}

/// A DAG whose dependencies all point to earlier ids.
fn backward_dag(min_tasks: usize) -> impl Strategy<Value = Dag> {
    (min_tasks..=MAX_TASKS)
        .prop_flat_map(|n| {
            let task = prop::collection::vec((any::<bool>(), any::<Index>()), 0..5);
            (
                prop::collection::vec(task, n),
                prop::collection::vec((any::<bool>(), any::<Index>()), 1..6),
            )
        })
        .prop_map(|(picks, outs)| {
            let n = picks.len();
            let deps = picks
                .iter()
                .enumerate()
                .map(|(i, picks)| {
                    if i == 0 {
                        return vec![];
                    }
                    let dep = |&(near, ix): &(bool, Index)| {
                        if near {
                            i - 1 - ix.index(i.min(3))
                        } else {
                            ix.index(i)
                        }
                    };
                    picks.iter().map(|p| dep(p) as TaskId).collect()
                })
                .collect();
            // Half the outputs among the last quarter, which reach far more.
            let output = |&(late, ix): &(bool, Index)| match late {
                true => n - 1 - ix.index(n.div_ceil(4)),
                false => ix.index(n),
            };
            let outputs = match n {
                0 => vec![],
                _ => outs.iter().map(|o| output(o) as TaskId).collect(),
            };
            Dag { deps, outputs }
        })
}

/// `dag` with its ids shuffled, so dependencies also point forward.
fn shuffled(dag: Dag) -> impl Strategy<Value = Dag> {
    let ids: Vec<TaskId> = (0..dag.deps.len() as TaskId).collect();
    Just(ids)
        .prop_shuffle()
        .prop_map(move |perm| dag.relabel(&perm))
}

/// Backward-only DAGs and relabelled ones, half each.
fn any_dag() -> impl Strategy<Value = Dag> {
    prop_oneof![backward_dag(0), backward_dag(0).prop_flat_map(shuffled)]
}

/// A small deterministic generator for the executor's choices (splitmix64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// What a correct run must look like, computed without the crate's help.
struct Oracle<'g> {
    graph: &'g Graph,
    needed: Vec<bool>,
    output: Vec<bool>,
    /// Needed readers of each result that have not finished.
    readers_left: Vec<u32>,
    issued: Vec<bool>,
    finished: Vec<bool>,
    released: Vec<bool>,
}

impl<'g> Oracle<'g> {
    fn new(graph: &'g Graph, outputs: &[TaskId]) -> Self {
        let n = graph.len();
        let mut needed = vec![false; n];
        let mut output = vec![false; n];
        let mut stack: Vec<TaskId> = outputs.to_vec();
        for &o in outputs {
            output[o as usize] = true;
        }
        while let Some(t) = stack.pop() {
            if !std::mem::replace(&mut needed[t as usize], true) {
                stack.extend_from_slice(graph.deps(t));
            }
        }
        let mut readers_left = vec![0u32; n];
        for t in (0..n).filter(|&t| needed[t]) {
            for &d in graph.deps(t as TaskId) {
                readers_left[d as usize] += 1;
            }
        }
        Oracle {
            graph,
            needed,
            output,
            readers_left,
            issued: vec![false; n],
            finished: vec![false; n],
            released: vec![false; n],
        }
    }

    fn unfinished_deps(&self, t: TaskId) -> u32 {
        let deps = self.graph.deps(t);
        deps.iter().filter(|&&d| !self.finished[d as usize]).count() as u32
    }

    /// The scheduler handed out `t` (by `pop`, or by `finish` as a continuation).
    fn issue(&mut self, t: TaskId) -> Result<(), TestCaseError> {
        let i = t as usize;
        prop_assert!(i < self.needed.len(), "handed out unknown task {}", t);
        prop_assert!(self.needed[i], "handed out culled task {}", t);
        prop_assert!(!self.issued[i], "handed out {} twice", t);
        prop_assert!(!self.finished[i], "handed out finished task {}", t);
        prop_assert_eq!(self.unfinished_deps(t), 0, "{} handed out early", t);
        self.issued[i] = true;
        Ok(())
    }

    /// The executor put `t` back unstarted.
    fn unissue(&mut self, t: TaskId) {
        assert!(std::mem::replace(&mut self.issued[t as usize], false));
    }

    /// Finish `t` through `call`, which runs the scheduler's `finish` with the
    /// release callback it is given; checks every release and the continuation.
    fn finish(
        &mut self,
        t: TaskId,
        call: impl FnOnce(&mut dyn FnMut(TaskId)) -> Option<TaskId>,
    ) -> Result<Option<TaskId>, TestCaseError> {
        prop_assert!(self.issued[t as usize]);
        let graph = self.graph;
        for &d in graph.deps(t) {
            self.readers_left[d as usize] -= 1;
        }
        let mut released = vec![];
        let next = call(&mut |r| released.push(r));
        self.issued[t as usize] = false;
        self.finished[t as usize] = true;
        for r in released {
            let i = r as usize;
            prop_assert!(self.needed[i], "released culled result {}", r);
            prop_assert!(!self.output[i], "released output {}", r);
            prop_assert!(!self.released[i], "released {} twice", r);
            prop_assert!(self.finished[i], "released {} before it ran", r);
            prop_assert_eq!(self.readers_left[i], 0, "released {} early", r);
            self.released[i] = true;
        }
        for &d in graph.deps(t) {
            let i = d as usize;
            if !self.output[i] && self.readers_left[i] == 0 {
                prop_assert!(self.released[i], "{} not released with its last reader", d);
            }
        }
        if let Some(c) = next {
            prop_assert_eq!(graph.deps(c), &[t][..], "continuation {} of {}", c, t);
            self.issue(c)?;
        }
        Ok(next)
    }

    /// The run is over: everything needed ran, everything else stayed put.
    fn end(&self) -> Result<(), TestCaseError> {
        for i in 0..self.needed.len() {
            prop_assert_eq!(self.finished[i], self.needed[i], "task {} ran?", i);
            let releasable = self.needed[i] && !self.output[i];
            prop_assert_eq!(self.released[i], releasable, "task {} released?", i);
        }
        Ok(())
    }

    /// What `CheckedScheduler::finish(t)` must answer, `None` if `t` is issued.
    fn refusal(&self, t: TaskId) -> Option<ScheduleError> {
        let task = t;
        let i = t as usize;
        Some(if i >= self.needed.len() {
            ScheduleError::UnknownTask {
                task,
                tasks: self.needed.len(),
            }
        } else if !self.needed[i] {
            ScheduleError::NotNeeded { task }
        } else if self.finished[i] {
            ScheduleError::AlreadyFinished { task }
        } else if self.issued[i] {
            return None;
        } else if self.unfinished_deps(t) > 0 {
            ScheduleError::NotReady {
                task,
                unfinished_deps: self.unfinished_deps(t),
            }
        } else {
            ScheduleError::NotIssued { task }
        })
    }

    fn state(&self, t: TaskId) -> TaskState {
        match self.refusal(t) {
            None => TaskState::Issued,
            Some(ScheduleError::NotNeeded { .. }) => TaskState::NotNeeded,
            Some(ScheduleError::AlreadyFinished { .. }) => TaskState::Finished,
            Some(ScheduleError::NotReady { .. }) => TaskState::Waiting,
            Some(ScheduleError::NotIssued { .. }) => TaskState::Ready,
            Some(ScheduleError::UnknownTask { .. }) => unreachable!(),
        }
    }
}

/// The calls an executor makes, so one drive serves both schedulers.
trait Drive {
    fn pop(&mut self) -> Option<TaskId>;
    fn push_back(&mut self, t: TaskId);
    fn finish(&mut self, t: TaskId, release: &mut dyn FnMut(TaskId)) -> Option<TaskId>;
    fn continuation(&self, t: TaskId) -> Option<TaskId>;
    fn unfinished(&self) -> usize;
    fn is_done(&self) -> bool;
}

impl Drive for Scheduler<&Graph> {
    fn pop(&mut self) -> Option<TaskId> {
        Scheduler::pop(self)
    }
    fn push_back(&mut self, t: TaskId) {
        Scheduler::push_back(self, t)
    }
    fn finish(&mut self, t: TaskId, release: &mut dyn FnMut(TaskId)) -> Option<TaskId> {
        Scheduler::finish(self, t, release)
    }
    fn continuation(&self, t: TaskId) -> Option<TaskId> {
        Scheduler::continuation(self, t)
    }
    fn unfinished(&self) -> usize {
        Scheduler::unfinished(self)
    }
    fn is_done(&self) -> bool {
        Scheduler::is_done(self)
    }
}

/// A correct drive is never refused, so a refusal here is a failure.
impl Drive for CheckedScheduler<&Graph> {
    fn pop(&mut self) -> Option<TaskId> {
        CheckedScheduler::pop(self)
    }
    fn push_back(&mut self, t: TaskId) {
        CheckedScheduler::push_back(self, t).unwrap()
    }
    fn finish(&mut self, t: TaskId, release: &mut dyn FnMut(TaskId)) -> Option<TaskId> {
        CheckedScheduler::finish(self, t, release).unwrap()
    }
    fn continuation(&self, t: TaskId) -> Option<TaskId> {
        CheckedScheduler::continuation(self, t)
    }
    fn unfinished(&self) -> usize {
        CheckedScheduler::unfinished(self)
    }
    fn is_done(&self) -> bool {
        CheckedScheduler::is_done(self)
    }
}

/// Run `s` to the end as a randomised executor would, checking every step
/// against `oracle`; `between` runs before each step (the misuse hook).
fn drive<S: Drive>(
    s: &mut S,
    oracle: &mut Oracle,
    fuse: bool,
    rng: &mut Rng,
    mut between: impl FnMut(&mut S, &Oracle, &mut Rng) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let width = 1 + rng.below(4);
    let mut in_flight: Vec<TaskId> = vec![];
    loop {
        between(s, oracle, rng)?;
        if in_flight.is_empty() || (in_flight.len() < width && rng.below(4) != 0) {
            if let Some(t) = s.pop() {
                oracle.issue(t)?;
                if rng.below(8) == 0 {
                    // Could not start it yet (no free worker, say).
                    s.push_back(t);
                    oracle.unissue(t);
                } else {
                    in_flight.push(t);
                }
                continue;
            }
        }
        if in_flight.is_empty() {
            break;
        }
        let t = in_flight.swap_remove(rng.below(in_flight.len()));
        let next = oracle.finish(t, |release| s.finish(t, release))?;
        prop_assert_eq!(next, s.continuation(t));
        prop_assert!(fuse || next.is_none(), "continuation without fusion");
        if let Some(c) = next {
            if rng.below(4) == 0 {
                // As the threaded executor does: queue it like any ready task.
                s.push_back(c);
                oracle.unissue(c);
            } else {
                in_flight.push(c);
            }
        }
    }
    prop_assert!(s.is_done());
    prop_assert_eq!(s.unfinished(), 0);
    oracle.end()
}

/// `order` on an acyclic graph: exactly the needed tasks, dependencies first.
fn check_order(dag: &Dag, graph: &Graph, oracle: &Oracle) -> Result<(), TestCaseError> {
    let o = order(graph, &dag.outputs);
    prop_assert!(o.is_ok(), "acyclic graph reported {:?}", o.err());
    let o = o.unwrap();
    let mut position = vec![usize::MAX; graph.len()];
    for (i, &t) in o.sequence.iter().enumerate() {
        prop_assert_eq!(position[t as usize], usize::MAX, "{} ordered twice", t);
        position[t as usize] = i;
        prop_assert_eq!(o.priority[t as usize], i as u32);
    }
    for t in 0..graph.len() {
        prop_assert_eq!(o.is_needed(t as TaskId), oracle.needed[t]);
        prop_assert_eq!(position[t] != usize::MAX, oracle.needed[t]);
        for &d in graph.deps(t as TaskId).iter().filter(|_| oracle.needed[t]) {
            prop_assert!(position[d as usize] < position[t], "{} before {}", t, d);
        }
    }
    Ok(())
}

/// 192 cases per property (about 0.2 s each in debug, so `cargo test` stays
/// quick), unless `PROPTEST_CASES` asks for more or fewer.
/// `dep_head` (count and first dependency, read from one place) agrees with `deps`.
fn check_heads(graph: &Graph) -> Result<(), TestCaseError> {
    for t in 0..graph.len() as TaskId {
        let (count, first) = graph.dep_head(t);
        let deps = graph.deps(t);
        prop_assert_eq!(count as usize, deps.len());
        if let Some(&d) = deps.first() {
            prop_assert_eq!(first, d);
        }
    }
    Ok(())
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 192;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    /// Every needed task runs once, after its deps; nothing else runs; every
    /// non-output result is released once, exactly when its last reader
    /// finishes; continuations are single-reader chain members.
    #[test]
    fn scheduler_runs_what_is_needed_and_releases_on_time(
        dag in any_dag(),
        fuse in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let graph = dag.graph();
        let mut oracle = Oracle::new(&graph, &dag.outputs);
        check_order(&dag, &graph, &oracle)?;
        let o = order(&graph, &dag.outputs).unwrap();
        let mut s = Scheduler::new(&graph, o, &dag.outputs, fuse);
        drive(&mut s, &mut oracle, fuse, &mut Rng(seed), |_, _, _| Ok(()))?;
    }

    /// Fusion pairs exactly the tasks the definition names: `t` needed, not an
    /// output, read by one needed task, which reads nothing else.
    #[test]
    fn fusion_pairs_single_reader_chain_links(dag in any_dag()) {
        let graph = dag.graph();
        let oracle = Oracle::new(&graph, &dag.outputs);
        let o = order(&graph, &dag.outputs).unwrap();
        let next = crate::schedule::fused_successors(&graph, &o, &dag.outputs);
        for (t, &fused) in next.iter().enumerate() {
            let readers: Vec<TaskId> = (0..graph.len() as TaskId)
                .filter(|&c| oracle.needed[c as usize] && graph.deps(c).contains(&(t as TaskId)))
                .collect();
            let expected = match readers[..] {
                [c] if oracle.needed[t] && !oracle.output[t] && graph.deps(c).len() == 1 => c,
                _ => NO_TASK,
            };
            prop_assert_eq!(fused, expected, "task {}", t);
        }
    }

    /// With user priorities the run is as correct (fusion turns itself off),
    /// and, run one task at a time, every pop is a ready task of the highest
    /// user priority among the ready ones.
    #[test]
    fn user_priorities_pick_the_highest_ready_task(
        dag in any_dag(),
        seed in any::<u64>(),
    ) {
        let graph = dag.graph();
        let mut rng = Rng(seed);
        let user: Vec<f64> = (0..graph.len()).map(|_| rng.below(4) as f64).collect();
        let prioritized = || order(&graph, &dag.outputs).unwrap().with_user_priority(user.clone());
        let mut oracle = Oracle::new(&graph, &dag.outputs);
        let mut s = Scheduler::new(&graph, prioritized(), &dag.outputs, true);
        drive(&mut s, &mut oracle, false, &mut rng, |_, _, _| Ok(()))?;

        let mut s = CheckedScheduler::new(&graph, prioritized(), &dag.outputs, true);
        loop {
            let best = (0..graph.len() as TaskId)
                .filter(|&t| s.state(t) == Some(TaskState::Ready))
                .map(|t| user[t as usize])
                .fold(f64::NEG_INFINITY, f64::max);
            let Some(t) = s.pop() else { break };
            prop_assert_eq!(user[t as usize], best, "popped {} below the best ready", t);
            prop_assert_eq!(s.finish(t, |_| {}), Ok(None));
        }
        prop_assert!(s.is_done());
    }

    /// Popped one at a time, the stack hands tasks out in a model's order:
    /// each completion pushes the needed consumers it made ready, the lowest
    /// order priority on top (culled readers of a task with several never
    /// run); a fused consumer runs at once. The oracle above checks what runs,
    /// not in which order: only this notices a change to the order.
    #[test]
    fn the_stack_pops_in_the_models_order(dag in any_dag(), fuse in any::<bool>()) {
        let graph = dag.graph();
        let o = order(&graph, &dag.outputs).unwrap();
        let priority = o.priority.clone();
        let mut model: Vec<TaskId> = o
            .sequence
            .iter()
            .rev()
            .copied()
            .filter(|&t| graph.deps(t).is_empty())
            .collect();
        let mut s = Scheduler::new(&graph, o, &dag.outputs, fuse);
        let mut done = vec![false; graph.len()];
        let mut next = None;
        loop {
            let t = match next.take() {
                Some(c) => c,
                None => {
                    let t = s.pop();
                    prop_assert_eq!(t, model.pop());
                    match t {
                        Some(t) => t,
                        None => break,
                    }
                }
            };
            done[t as usize] = true;
            next = s.finish(t, |_| {});
            if next.is_some() {
                continue;
            }
            let mut ready: Vec<TaskId> = graph
                .consumers(t)
                .iter()
                .copied()
                .filter(|&c| {
                    priority[c as usize] != NOT_NEEDED
                        && graph.deps(c).iter().all(|&d| done[d as usize])
                })
                .collect();
            ready.sort_by_key(|&c| std::cmp::Reverse(priority[c as usize]));
            model.extend(ready);
        }
        prop_assert!(s.is_done());
    }

    /// `build_and_order` builds and orders as `build` then `order` do: the
    /// same dependencies, consumers and order, on one thread or, tiled past
    /// [`OVERLAP_FROM`], with the consumers derived on another.
    #[test]
    fn build_and_order_is_build_then_order(dag in any_dag(), tiled in any::<bool>()) {
        let (mut deps, mut outputs) = (dag.deps.clone(), dag.outputs.clone());
        if tiled {
            let n = deps.len().max(1);
            let size = n + deps.iter().map(Vec::len).sum::<usize>();
            for copy in 1..=OVERLAP_FROM / size {
                let at = (copy * n) as TaskId;
                deps.extend(dag.deps.iter().map(|d| d.iter().map(|&x| x + at).collect()));
                deps.resize(((copy + 1) * n).max(deps.len()), Vec::new());
                outputs.extend(dag.outputs.iter().map(|&o| o + at));
            }
        }
        let expected = Graph::from_deps(deps.iter().map(|d| d.iter().copied())).unwrap();
        let builder = GraphBuilder::of_deps(deps.iter().map(|d| d.iter().copied()));
        let (graph, ordered) = build_and_order(builder, &outputs).unwrap();
        let ordered = ordered.unwrap();
        let want = order(&expected, &outputs).unwrap();
        prop_assert_eq!(graph.len(), expected.len());
        for t in 0..graph.len() as TaskId {
            prop_assert_eq!(graph.deps(t), expected.deps(t));
            prop_assert_eq!(graph.consumers(t), expected.consumers(t));
        }
        prop_assert_eq!(&ordered.sequence, &want.sequence);
        prop_assert_eq!(&ordered.priority, &want.priority);
    }

    /// Renumbering keeps exactly the needed tasks, each with its dependencies
    /// in the same order under their new ids, all earlier than the task; the
    /// renumbered run is as correct as the original's. Both graphs' spans
    /// (made by the builder and by renumbering) agree with their lists.
    #[test]
    fn renumbering_keeps_the_needed_graph(
        dag in any_dag(),
        seed in any::<u64>(),
        user in prop::option::of(prop::collection::vec(-3i8..3, 1..200)),
    ) {
        let graph = dag.graph();
        let mut o = order(&graph, &dag.outputs).unwrap();
        if let Some(user) = &user {
            let n = graph.len();
            o = o.with_user_priority((0..n).map(|t| f64::from(user[t % user.len()])).collect());
        }
        let (g, o2, new_id) = renumber(&graph, &o);
        check_heads(&graph)?;
        check_heads(&g)?;
        // User priorities follow their tasks.
        let moved: Vec<f64> = o.sequence.iter().filter_map(|&t| o.user.get(t as usize).copied()).collect();
        prop_assert_eq!(&o2.user, &moved);
        prop_assert_eq!(g.len(), o.sequence.len());
        prop_assert_eq!(&o2.sequence, &(0..g.len() as TaskId).collect::<Vec<_>>());
        for (i, &t) in o.sequence.iter().enumerate() {
            prop_assert_eq!(new_id[t as usize], i as TaskId);
            let mapped: Vec<TaskId> = graph.deps(t).iter().map(|&d| new_id[d as usize]).collect();
            prop_assert_eq!(g.deps(i as TaskId), &mapped[..]);
            prop_assert!(mapped.iter().all(|&d| d < i as TaskId));
        }
        for t in 0..graph.len() as TaskId {
            prop_assert_eq!(new_id[t as usize] == NO_TASK, !o.is_needed(t));
        }
        let outputs: Vec<TaskId> = dag.outputs.iter().map(|&t| new_id[t as usize]).collect();
        let mut oracle = Oracle::new(&g, &outputs);
        let mut s = Scheduler::new(&g, o2, &outputs, true);
        drive(&mut s, &mut oracle, true, &mut Rng(seed), |_, _, _| Ok(()))?;
    }

    /// Random wrong `finish` and `push_back` calls between the steps of a
    /// correct drive are refused with the right error, change nothing (same
    /// states, counts and queue length, no release), and the run still
    /// satisfies everything the plain scheduler's does.
    #[test]
    fn checked_scheduler_refuses_misuse_without_corruption(
        dag in any_dag(),
        fuse in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let graph = dag.graph();
        let n = graph.len();
        let mut oracle = Oracle::new(&graph, &dag.outputs);
        let o = order(&graph, &dag.outputs).unwrap();
        let mut s = CheckedScheduler::new(&graph, o, &dag.outputs, fuse);
        let misuse = |s: &mut CheckedScheduler<&Graph>, oracle: &Oracle, rng: &mut Rng| {
            for _ in 0..rng.below(3) {
                let t = match rng.below(16) {
                    0 => NO_TASK,
                    _ => rng.below(n + 2) as TaskId,
                };
                let Some(expected) = oracle.refusal(t) else { continue };
                let states: Vec<_> = (0..n as TaskId).map(|t| s.state(t)).collect();
                let before = (s.unfinished(), s.ready_len(), states);
                let got = if rng.below(2) == 0 {
                    s.finish(t, |r| panic!("refused finish({t}) released {r}"))
                        .map(|_| ())
                } else {
                    s.push_back(t)
                };
                prop_assert_eq!(got, Err(expected));
                let states: Vec<_> = (0..n as TaskId).map(|t| s.state(t)).collect();
                prop_assert_eq!(&(s.unfinished(), s.ready_len(), states), &before);
            }
            for t in 0..n as TaskId {
                prop_assert_eq!(s.state(t), Some(oracle.state(t)), "state of {}", t);
            }
            Ok(())
        };
        drive(&mut s, &mut oracle, fuse, &mut Rng(seed), misuse)?;
    }

    /// A back edge from a task to one that (transitively) reads it makes a
    /// cycle; `order` reports one whose every task depends on the next, the
    /// last on the first.
    #[test]
    fn order_reports_a_real_cycle(
        dag in backward_dag(1),
        from in any::<Index>(),
        to in any::<Index>(),
        at in any::<Index>(),
        relabel in any::<bool>(),
        perm_seed in any::<u64>(),
    ) {
        let mut dag = dag;
        let n = dag.deps.len();
        // `reader` and everything it reads, transitively (itself included).
        let reader = from.index(n) as TaskId;
        let mut reached = vec![false; n];
        let mut stack = vec![reader];
        while let Some(t) = stack.pop() {
            if !std::mem::replace(&mut reached[t as usize], true) {
                stack.extend_from_slice(&dag.deps[t as usize]);
            }
        }
        let reached: Vec<TaskId> = (0..n as TaskId).filter(|&t| reached[t as usize]).collect();
        // Make a task that `reader` reaches read `reader`: a cycle, perhaps a self-loop.
        let closer = reached[to.index(reached.len())];
        dag.deps[closer as usize].push(reader);
        let i = at.index(dag.outputs.len() + 1);
        dag.outputs.insert(i, closer);
        if relabel {
            let mut perm: Vec<TaskId> = (0..n as TaskId).collect();
            let mut rng = Rng(perm_seed);
            for i in (1..n).rev() {
                perm.swap(i, rng.below(i + 1));
            }
            dag = dag.relabel(&perm);
        }
        let graph = dag.graph();
        let cycle = order(&graph, &dag.outputs);
        prop_assert!(cycle.is_err(), "no cycle found");
        let path = cycle.unwrap_err().path;
        prop_assert!(!path.is_empty());
        let mut seen = vec![false; n];
        for (k, &t) in path.iter().enumerate() {
            prop_assert!(!std::mem::replace(&mut seen[t as usize], true), "{} twice", t);
            let next = path[(k + 1) % path.len()];
            prop_assert!(graph.deps(t).contains(&next), "{} does not read {}", t, next);
        }
    }
}
