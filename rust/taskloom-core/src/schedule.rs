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
//! User priorities (Dask's `priority` annotation, see
//! [`Order::with_user_priority`]): the ready set becomes a binary heap keyed
//! by (user priority, push count), so the ready task of highest user priority
//! runs first and, among equals, the most recently pushed one, which is the
//! stack's order. Fusion is then off: a fused consumer would run before a
//! ready task of higher priority. Graphs without priorities never see the heap.
//!
//! Linear-chain fusion (optional): a task whose only needed consumer reads
//! nothing else, and which is not an output, is fused with that consumer.
//! [`Scheduler::finish`] then hands the consumer straight back instead of
//! queueing it, so an executor runs a chain as one unit: inline without
//! touching the ready stack, on a worker as one job instead of one handoff per
//! task ([`Scheduler::continuation`] tells which tasks a unit holds).
//!
//! Trust: [`Scheduler`] believes its caller. Finishing a task twice, or one
//! that is not ready, corrupts its counters (debug builds panic on the
//! underflow, release builds wrap), and that is the price of an unchecked
//! `pop`/`finish` pair the in-process executor calls 10^6 times a second.
//! A caller whose task ids come from code this crate cannot vouch for (a
//! Python executor driving the binding's `Dispatcher`) uses
//! [`CheckedScheduler`] instead: it wraps a `Scheduler`, keeps one
//! [`TaskState`] byte per task, and refuses with a [`ScheduleError`], before
//! touching anything, a `finish` or `push_back` of a task that was not handed
//! out; a continuation that `finish` returns counts as handed out. Its cost
//! (a byte per task, one state check per call, a walk over the finished
//! task's consumers) stays out of `Scheduler`, whose hot path is unchanged.

use crate::graph::{Graph, TaskId};
use crate::order::{Order, NOT_NEEDED};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::ops::Deref;

/// The ready set: a LIFO stack, or a heap when the user gave priorities.
#[derive(Debug)]
enum Ready {
    Stack(Vec<TaskId>),
    Heap {
        heap: BinaryHeap<Entry>,
        /// Per task: the user's priority.
        user: Vec<f64>,
        pushes: u64,
    },
}

/// A heap entry: greater runs first.
#[derive(Debug)]
struct Entry {
    user: f64,
    push: u64,
    task: TaskId,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.user
            .total_cmp(&other.user)
            .then(self.push.cmp(&other.push))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl Ready {
    #[inline]
    fn push(&mut self, t: TaskId) {
        match self {
            Ready::Stack(stack) => stack.push(t),
            Ready::Heap { heap, user, pushes } => {
                *pushes += 1;
                heap.push(Entry {
                    user: user[t as usize],
                    push: *pushes,
                    task: t,
                });
            }
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<TaskId> {
        match self {
            Ready::Stack(stack) => stack.pop(),
            Ready::Heap { heap, .. } => heap.pop().map(|e| e.task),
        }
    }

    #[inline]
    fn len(&self) -> usize {
        match self {
            Ready::Stack(stack) => stack.len(),
            Ready::Heap { heap, .. } => heap.len(),
        }
    }

    /// The ready tasks, in the order they would be popped (last first).
    #[cfg(test)]
    fn contents(&self) -> Vec<TaskId> {
        match self {
            Ready::Stack(stack) => stack.clone(),
            Ready::Heap { heap, .. } => {
                let mut entries: Vec<&Entry> = heap.iter().collect();
                entries.sort();
                entries.iter().map(|e| e.task).collect()
            }
        }
    }

    /// Push `tasks` in order, leaving it empty.
    #[inline]
    fn append(&mut self, tasks: &mut Vec<TaskId>) {
        match self {
            Ready::Stack(stack) => stack.append(tasks),
            _ => {
                for t in tasks.drain(..) {
                    self.push(t);
                }
            }
        }
    }
}

/// Execution state for one run of a graph, which it borrows (`&Graph`) or owns
/// (`Box<Graph>`, for a driver that outlives the caller's stack frame).
#[derive(Debug)]
pub struct Scheduler<G: Deref<Target = Graph>> {
    graph: G,
    priority: Vec<u32>,
    waiting: Vec<u32>,
    remaining: Vec<u32>,
    ready: Ready,
    unfinished: usize,
    scratch: Vec<TaskId>,
    /// Per task: the consumer fused after it, or [`NO_TASK`]; empty without fusion.
    next: Vec<TaskId>,
}

/// No task: the end of a fused chain.
pub const NO_TASK: TaskId = u32::MAX;

impl<G: Deref<Target = Graph>> Scheduler<G> {
    /// Start a run of the tasks `order` marks as needed; `outputs` are never released.
    /// With `fuse`, linear chains run as units (see the module documentation),
    /// unless `order` carries user priorities.
    pub fn new(graph: G, order: Order, outputs: &[TaskId], fuse: bool) -> Self {
        let n = graph.len();
        let Order {
            priority,
            sequence,
            user,
        } = order;
        let fuse = fuse && user.is_empty();
        // A task the outputs do not need waits for more than any task can
        // have finished before it, so it never becomes ready: `finish` need
        // not look at the priority of each consumer it counts down.
        let mut waiting = vec![u32::MAX; n];
        let mut remaining = vec![0u32; n];
        // By id, not in sequence order: the per-task arrays are then read front
        // to back whatever the order (a shuffle's sequence jumps about the ids).
        for t in (0..n as TaskId).filter(|&t| priority[t as usize] != NOT_NEEDED) {
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
        let mut initial: Vec<TaskId> = sequence
            .iter()
            .rev()
            .copied()
            .filter(|&t| waiting[t as usize] == 0)
            .collect();
        let ready = if user.is_empty() {
            Ready::Stack(initial)
        } else {
            let mut ready = Ready::Heap {
                heap: BinaryHeap::with_capacity(initial.len()),
                user,
                pushes: 0,
            };
            ready.append(&mut initial);
            ready
        };
        let next = if fuse {
            fusion(&graph, &priority, &remaining)
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

    /// The task's user priority as a key that orders like it (greater runs
    /// first), for an executor keeping tasks aside; the same for every task
    /// when the user gave no priorities.
    #[inline]
    pub fn user_rank(&self, t: TaskId) -> u64 {
        match &self.ready {
            Ready::Stack(_) => 0,
            Ready::Heap { user, .. } => {
                // IEEE 754's bits, flipped so that unsigned order is numeric order.
                let bits = user[t as usize].to_bits();
                if bits >> 63 == 1 {
                    !bits
                } else {
                    bits | 1 << 63
                }
            }
        }
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
        // A consumer the outputs do not need waits forever (see `new`): no
        // check of its priority here.
        let consumers = graph.consumers(t);
        if consumers.len() == 1 {
            // The common case (chains, trees): no scratch, no sort.
            let c = consumers[0];
            let w = &mut self.waiting[c as usize];
            *w -= 1;
            if *w == 0 {
                self.ready.push(c);
            }
            return None;
        }
        if let Ready::Stack(stack) = &mut self.ready {
            // Every consumer is written past the stack's top and the top moved
            // over those now ready, without a branch: in a random DAG whether
            // a consumer became ready is a coin toss, mispredicted half the time.
            let start = stack.len();
            stack.resize(start + consumers.len(), 0);
            let mut top = start;
            for &c in consumers {
                let w = &mut self.waiting[c as usize];
                *w -= 1;
                stack[top] = c;
                top += usize::from(*w == 0);
            }
            stack.truncate(top);
            if top - start > 1 {
                let priority = &self.priority;
                stack[start..].sort_unstable_by_key(|&c| std::cmp::Reverse(priority[c as usize]));
            }
            return None;
        }
        for &c in consumers {
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

/// Where a task is in a run, as [`CheckedScheduler`] tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TaskState {
    /// The outputs do not need it (culled): it never runs.
    NotNeeded,
    /// Some of its dependencies have not finished.
    Waiting,
    /// On the ready stack: its dependencies finished, `pop` has not returned it.
    Ready,
    /// Handed out (by `pop`, or by `finish` as a continuation), not finished.
    Issued,
    /// Finished.
    Finished,
}

/// Why [`CheckedScheduler`] refused a call. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleError {
    /// No task has this id.
    UnknownTask { task: TaskId, tasks: usize },
    /// The outputs do not need the task; it was culled and never runs.
    NotNeeded { task: TaskId },
    /// The task still waits for `unfinished_deps` of its dependencies.
    NotReady { task: TaskId, unfinished_deps: u32 },
    /// The task is ready, but `pop` has not handed it out.
    NotIssued { task: TaskId },
    /// The task has finished already.
    AlreadyFinished { task: TaskId },
}

impl ScheduleError {
    /// The task the refused call named (so a caller can report its key).
    pub fn task(&self) -> TaskId {
        match *self {
            ScheduleError::UnknownTask { task, .. }
            | ScheduleError::NotNeeded { task }
            | ScheduleError::NotReady { task, .. }
            | ScheduleError::NotIssued { task }
            | ScheduleError::AlreadyFinished { task } => task,
        }
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ScheduleError::UnknownTask { task, tasks } => {
                write!(f, "no task {task}: the graph has {tasks} tasks")
            }
            ScheduleError::NotNeeded { task } => write!(
                f,
                "task {task} is not needed by the outputs: it was culled and never runs"
            ),
            ScheduleError::NotReady {
                task,
                unfinished_deps,
            } => write!(
                f,
                "task {task} is not ready: {unfinished_deps} of its dependencies have not finished"
            ),
            ScheduleError::NotIssued { task } => write!(
                f,
                "task {task} was not handed out: it is ready but pop has not returned it"
            ),
            ScheduleError::AlreadyFinished { task } => {
                write!(f, "task {task} has finished already")
            }
        }
    }
}

impl std::error::Error for ScheduleError {}

/// A [`Scheduler`] that refuses misuse instead of corrupting its counters.
///
/// Same run, same order, same releases as the `Scheduler` it wraps; `finish`
/// and `push_back` accept only a task that is [`TaskState::Issued`]. For
/// callers outside the crate's control (see the module documentation).
#[derive(Debug)]
pub struct CheckedScheduler<G: Deref<Target = Graph>> {
    inner: Scheduler<G>,
    state: Vec<TaskState>,
}

impl<G: Deref<Target = Graph>> CheckedScheduler<G> {
    /// As [`Scheduler::new`].
    pub fn new(graph: G, order: Order, outputs: &[TaskId], fuse: bool) -> Self {
        let inner = Scheduler::new(graph, order, outputs, fuse);
        let state = (0..inner.graph.len())
            .map(|t| {
                if inner.priority[t] == NOT_NEEDED {
                    TaskState::NotNeeded
                } else if inner.waiting[t] == 0 {
                    TaskState::Ready
                } else {
                    TaskState::Waiting
                }
            })
            .collect();
        CheckedScheduler { inner, state }
    }

    /// The graph being run.
    #[inline]
    pub fn graph(&self) -> &Graph {
        self.inner.graph()
    }

    /// Where task `t` is in the run; `None` if there is no task `t`.
    #[inline]
    pub fn state(&self, t: TaskId) -> Option<TaskState> {
        self.state.get(t as usize).copied()
    }

    /// The task fused after `t`, if any (`None` too if there is no task `t`).
    #[inline]
    pub fn continuation(&self, t: TaskId) -> Option<TaskId> {
        self.inner.continuation(t)
    }

    /// The task's position in the depth-first order (lower runs first);
    /// `None` if there is no task `t` or the outputs do not need it.
    #[inline]
    pub fn priority(&self, t: TaskId) -> Option<u32> {
        match self.inner.priority.get(t as usize) {
            Some(&p) if p != NOT_NEEDED => Some(p),
            _ => None,
        }
    }

    /// The next task to run, if any is ready; it is now issued.
    #[inline]
    pub fn pop(&mut self) -> Option<TaskId> {
        let t = self.inner.pop()?;
        debug_assert_eq!(self.state[t as usize], TaskState::Ready);
        self.state[t as usize] = TaskState::Issued;
        Some(t)
    }

    /// Put back an issued task that could not start yet; `pop` returns it again.
    pub fn push_back(&mut self, t: TaskId) -> Result<(), ScheduleError> {
        self.check_issued(t)?;
        self.inner.push_back(t);
        self.state[t as usize] = TaskState::Ready;
        Ok(())
    }

    /// Number of tasks ready to run.
    #[inline]
    pub fn ready_len(&self) -> usize {
        self.inner.ready_len()
    }

    /// Needed tasks that have not finished.
    #[inline]
    pub fn unfinished(&self) -> usize {
        self.inner.unfinished()
    }

    /// True once every needed task has finished.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// As [`Scheduler::finish`], for an issued task only: anything else is
    /// refused before any state changes or `release` is called.
    ///
    /// The returned continuation is issued: finish it next without `pop`.
    pub fn finish(
        &mut self,
        t: TaskId,
        release: impl FnMut(TaskId),
    ) -> Result<Option<TaskId>, ScheduleError> {
        self.check_issued(t)?;
        let next = self.inner.finish(t, release);
        let CheckedScheduler { inner, state } = self;
        state[t as usize] = TaskState::Finished;
        // Read the scheduler's own counters back rather than keep a second
        // count: one source of truth for "all dependencies finished".
        for &c in inner.graph.consumers(t) {
            let s = &mut state[c as usize];
            if *s == TaskState::Waiting && inner.waiting[c as usize] == 0 {
                *s = TaskState::Ready;
            }
        }
        if let Some(c) = next {
            state[c as usize] = TaskState::Issued;
        }
        Ok(next)
    }

    /// `Ok` if `t` is issued; otherwise why `finish(t)`/`push_back(t)` may not run.
    fn check_issued(&self, t: TaskId) -> Result<(), ScheduleError> {
        let task = t;
        match self.state(t) {
            Some(TaskState::Issued) => Ok(()),
            None => Err(ScheduleError::UnknownTask {
                task,
                tasks: self.state.len(),
            }),
            Some(TaskState::NotNeeded) => Err(ScheduleError::NotNeeded { task }),
            Some(TaskState::Waiting) => Err(ScheduleError::NotReady {
                task,
                unfinished_deps: self.inner.waiting[t as usize],
            }),
            Some(TaskState::Ready) => Err(ScheduleError::NotIssued { task }),
            Some(TaskState::Finished) => Err(ScheduleError::AlreadyFinished { task }),
        }
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
    fusion(graph, &order.priority, &remaining)
}

/// `next[t]` = the consumer fused after `t`: `t` is needed, not an output, has
/// exactly one needed consumer `c`, and `c` reads nothing but `t`.
fn fusion(graph: &Graph, priority: &[u32], remaining: &[u32]) -> Vec<TaskId> {
    let mut next = vec![NO_TASK; graph.len()];
    // From the consumer's side: a task reading one dependency is found from its
    // own entry (count and first dependency in one place, read in id order, for
    // the reason given in `Scheduler::new`), where walking every task's
    // consumers took a tenth of a fan-in's run. `remaining` counts needed
    // consumers, plus a large pin for outputs: one means `c` is the only one.
    for c in 0..graph.len() as TaskId {
        let (count, t) = graph.dep_head(c);
        if count == 1 && remaining[t as usize] == 1 && priority[c as usize] != NOT_NEEDED {
            next[t as usize] = c;
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

    fn run_prioritized(graph: &Graph, outputs: &[TaskId], user: Vec<f64>) -> Vec<TaskId> {
        let o = order(graph, outputs).unwrap().with_user_priority(user);
        let mut s = Scheduler::new(graph, o, outputs, true);
        let mut ran = vec![];
        while let Some(t) = s.pop() {
            ran.push(t);
            assert_eq!(s.finish(t, |_| {}), None, "fusion is off with priorities");
        }
        assert!(s.is_done());
        ran
    }

    #[test]
    fn user_priority_picks_among_ready_tasks() {
        // Five independent outputs; equal priorities keep the depth-first order.
        let g = Graph::from_deps([vec![], vec![], vec![], vec![], vec![]]).unwrap();
        let ran = run_prioritized(&g, &[0, 1, 2, 3, 4], vec![1.0, 5.0, 3.0, 5.0, 0.0]);
        assert_eq!(ran, vec![1, 3, 2, 0, 4]);
        // -0.0 is 0: a tie, not a lower priority.
        let ran = run_prioritized(&g, &[0, 1, 2, 3, 4], vec![-0.0, 0.0, -0.0, 0.0, -0.0]);
        assert_eq!(ran, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn user_priority_waits_for_dependencies() {
        // 2 (high) reads 0 (low); 1 is in between and ready from the start.
        let g = Graph::from_deps([vec![], vec![], vec![0]]).unwrap();
        let ran = run_prioritized(&g, &[2, 1], vec![0.0, 1.0, 9.0]);
        assert_eq!(ran, vec![1, 0, 2]);
        // A chain is not fused past a ready task of higher priority.
        let g = Graph::from_deps([vec![], vec![0], vec![]]).unwrap();
        let ran = run_prioritized(&g, &[1, 2], vec![0.0, 0.0, 1.0]);
        assert_eq!(ran, vec![2, 0, 1]);
        let ran = run_prioritized(&g, &[1, 2], vec![0.0, 2.0, 1.0]);
        assert_eq!(ran, vec![2, 0, 1]);
        let ran = run_prioritized(&g, &[1, 2], vec![3.0, 2.0, 1.0]);
        assert_eq!(ran, vec![0, 1, 2]);
    }

    #[test]
    fn user_rank_orders_like_the_priorities() {
        let values = [
            f64::NEG_INFINITY,
            -2.5,
            -0.0,
            0.0,
            1e-300,
            1.0,
            7.5,
            f64::INFINITY,
        ];
        let g = Graph::from_deps(values.iter().map(|_| vec![])).unwrap();
        let outputs: Vec<TaskId> = (0..values.len() as TaskId).collect();
        let o = order(&g, &outputs)
            .unwrap()
            .with_user_priority(values.to_vec());
        let s = Scheduler::new(&g, o, &outputs, false);
        let ranks: Vec<u64> = outputs.iter().map(|&t| s.user_rank(t)).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
        assert!(ranks[0] < ranks[1] && ranks[4] < ranks[5] && ranks[6] < ranks[7]);
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

    /// 0 -> 1 is a chain (fusable: 4, its other reader, is culled);
    /// 2 reads 1 and 3; the output is 2.
    fn checked_graph() -> Graph {
        Graph::from_deps([vec![], vec![0], vec![1, 3], vec![], vec![0]]).unwrap()
    }

    fn checked(g: &Graph, fuse: bool) -> CheckedScheduler<&Graph> {
        CheckedScheduler::new(g, order(g, &[2]).unwrap(), &[2], fuse)
    }

    /// Everything a call could change, to show a refused one changed nothing.
    type Snapshot = (Vec<TaskState>, Vec<u32>, Vec<u32>, Vec<TaskId>, usize);

    fn snapshot(s: &CheckedScheduler<&Graph>) -> Snapshot {
        let i = &s.inner;
        (
            s.state.clone(),
            i.waiting.clone(),
            i.remaining.clone(),
            i.ready.contents(),
            i.unfinished,
        )
    }

    #[test]
    fn checked_refuses_unknown_and_culled_tasks() {
        let g = checked_graph();
        let mut s = checked(&g, true);
        let unknown = |task| ScheduleError::UnknownTask { task, tasks: 5 };
        assert_eq!(s.finish(5, |_| panic!()), Err(unknown(5)));
        assert_eq!(s.finish(NO_TASK, |_| panic!()), Err(unknown(NO_TASK)));
        assert_eq!(s.push_back(5), Err(unknown(5)));
        assert_eq!(s.state(5), None);
        assert_eq!(s.priority(5), None);
        assert_eq!(s.continuation(5), None);
        let culled = ScheduleError::NotNeeded { task: 4 };
        assert_eq!(s.state(4), Some(TaskState::NotNeeded));
        assert_eq!(s.priority(4), None);
        assert_eq!(s.finish(4, |_| panic!()), Err(culled));
        assert_eq!(s.push_back(4), Err(culled));
    }

    #[test]
    fn checked_refuses_tasks_not_handed_out() {
        let g = checked_graph();
        let mut s = checked(&g, false);
        let not_ready = |task, unfinished_deps| ScheduleError::NotReady {
            task,
            unfinished_deps,
        };
        assert_eq!(s.finish(2, |_| panic!()), Err(not_ready(2, 2)));
        assert_eq!(s.finish(1, |_| panic!()), Err(not_ready(1, 1)));
        assert_eq!(s.state(0), Some(TaskState::Ready));
        let not_issued = ScheduleError::NotIssued { task: 0 };
        assert_eq!(s.finish(0, |_| panic!()), Err(not_issued));
        assert_eq!(s.push_back(0), Err(not_issued), "already on the stack");
        assert_eq!(s.pop(), Some(0));
        assert_eq!(s.state(0), Some(TaskState::Issued));
        assert_eq!(s.finish(0, |_| panic!("1 still reads 0")), Ok(None));
        assert_eq!(s.state(1), Some(TaskState::Ready));
        assert_eq!(s.finish(2, |_| panic!()), Err(not_ready(2, 2)));
        assert_eq!(s.pop(), Some(1));
        assert_eq!(s.finish(1, |_| {}), Ok(None));
        assert_eq!(s.finish(2, |_| panic!()), Err(not_ready(2, 1)));
    }

    #[test]
    fn checked_refuses_finishing_twice() {
        let g = checked_graph();
        let mut s = checked(&g, false);
        assert_eq!(s.pop(), Some(0));
        assert_eq!(s.finish(0, |_| {}), Ok(None));
        assert_eq!(s.state(0), Some(TaskState::Finished));
        let twice = ScheduleError::AlreadyFinished { task: 0 };
        assert_eq!(s.finish(0, |_| panic!()), Err(twice));
        assert_eq!(s.push_back(0), Err(twice));
        assert_eq!(s.unfinished(), 3);
    }

    #[test]
    fn checked_continuation_counts_as_issued() {
        let g = checked_graph();
        let mut s = checked(&g, true);
        assert_eq!(s.continuation(0), Some(1));
        assert_eq!(s.pop(), Some(0));
        assert_eq!(s.finish(0, |_| {}), Ok(Some(1)));
        assert_eq!(s.state(1), Some(TaskState::Issued));
        let mut released = vec![];
        assert_eq!(s.finish(1, |r| released.push(r)), Ok(None), "no pop needed");
        assert_eq!(released, [0]);
        // Without fusion the same task is queued and must be popped first.
        let mut s = checked(&g, false);
        assert_eq!(s.pop(), Some(0));
        assert_eq!(s.finish(0, |_| {}), Ok(None));
        assert_eq!(s.state(1), Some(TaskState::Ready));
        assert_eq!(
            s.finish(1, |_| panic!()),
            Err(ScheduleError::NotIssued { task: 1 })
        );
        assert_eq!(s.pop(), Some(1));
        assert_eq!(s.finish(1, |_| {}), Ok(None));
    }

    #[test]
    fn checked_push_back_takes_only_issued_tasks() {
        let g = checked_graph();
        let mut s = checked(&g, true);
        assert_eq!(s.pop(), Some(0));
        assert_eq!(s.push_back(0), Ok(()));
        assert_eq!(s.state(0), Some(TaskState::Ready));
        assert_eq!(
            s.finish(0, |_| panic!()),
            Err(ScheduleError::NotIssued { task: 0 })
        );
        assert_eq!(s.push_back(0), Err(ScheduleError::NotIssued { task: 0 }));
        assert_eq!(s.pop(), Some(0));
        // A continuation may be put back too (the threaded executor queues it).
        assert_eq!(s.finish(0, |_| {}), Ok(Some(1)));
        assert_eq!(s.push_back(1), Ok(()));
        assert_eq!(s.pop(), Some(1));
        assert_eq!(s.finish(1, |_| {}), Ok(None));
    }

    /// Before every correct step, every wrong `finish` and `push_back` is
    /// refused and leaves all state as it was; the run then matches an
    /// unchecked one exactly.
    #[test]
    fn checked_refusals_change_nothing() {
        let g = Graph::from_deps([
            vec![],
            vec![0],
            vec![1],
            vec![],
            vec![3, 2],
            vec![0],
            vec![4, 0],
            vec![6],
        ])
        .unwrap();
        let outputs = [7, 4];
        for fuse in [false, true] {
            let o = order(&g, &outputs).unwrap();
            let mut plain = Scheduler::new(&g, o.clone(), &outputs, fuse);
            let mut s = CheckedScheduler::new(&g, o, &outputs, fuse);
            let (mut next, mut plain_next) = (None, None);
            let mut refused = 0;
            loop {
                let t = next.take().or_else(|| s.pop());
                assert_eq!(t, plain_next.take().or_else(|| plain.pop()));
                let Some(t) = t else { break };
                for wrong in 0..g.len() as TaskId + 2 {
                    if wrong == t {
                        continue;
                    }
                    let before = snapshot(&s);
                    assert!(s.finish(wrong, |_| panic!("released")).is_err());
                    assert!(s.push_back(wrong).is_err());
                    assert_eq!(snapshot(&s), before, "refusing {wrong} changed state");
                    refused += 2;
                }
                let (mut a, mut b) = (vec![], vec![]);
                next = s.finish(t, |r| a.push(r)).unwrap();
                plain_next = plain.finish(t, |r| b.push(r));
                assert_eq!((next, &a), (plain_next, &b));
            }
            assert!(s.is_done() && plain.is_done());
            assert!(refused > 50);
            assert!((0..g.len() as TaskId)
                .all(|t| matches!(s.state(t), Some(TaskState::Finished | TaskState::NotNeeded))));
        }
    }

    #[test]
    fn schedule_errors_name_the_task() {
        let errors = [
            ScheduleError::UnknownTask { task: 7, tasks: 3 },
            ScheduleError::NotNeeded { task: 7 },
            ScheduleError::NotReady {
                task: 7,
                unfinished_deps: 2,
            },
            ScheduleError::NotIssued { task: 7 },
            ScheduleError::AlreadyFinished { task: 7 },
        ];
        for e in errors {
            assert_eq!(e.task(), 7);
            assert!(e.to_string().contains("task 7"), "{e}");
        }
        assert_eq!(
            errors[2].to_string(),
            "task 7 is not ready: 2 of its dependencies have not finished"
        );
    }
}
