//! The executor: runs a converted graph on the calling thread and the pool.
//!
//! Selection order comes from the core [`Scheduler`] (LIFO, depth-first). The
//! state kept here is the result table (one slot per task, emptied the moment
//! the scheduler says no remaining task reads it) and, in threaded mode, the
//! set of jobs in flight and tasks waiting for a free worker.
//!
//! Placement policy (threaded mode). The calling thread already holds the GIL,
//! so it runs small GIL-bound tasks itself, inline, at the cost of a Python
//! call; handing such a task to another thread would cost ~5 us and gain
//! nothing. Tasks whose callable has been seen to take longer than
//! [`OFFLOAD_NS`] (numpy, pandas, I/O, `time.sleep`: work that usually releases
//! the GIL) go to the worker pool, `num_workers` running and as many queued
//! behind them ([`QUEUED_AHEAD`]); the rest wait here, in order priority, and
//! the caller never runs a task that comes after one of them: it runs that one
//! itself (else cheap tasks would run ahead and their results pile up). A
//! callable never seen before goes to a free worker (or, if none is free, runs
//! inline and is timed), so slow tasks overlap from the start, and its
//! measured duration decides from then on. Timings are kept across calls per
//! callable *identity* ([`identity`]): a Python function's code object, a
//! class, a builtin's method definition or type and name; never an object that
//! could hold user data (a bound method's `self`, a partial's arguments), so
//! the table keeps nothing of the user's alive, and a graph with one
//! `functools.partial` per task learns one timing, not a million. A fused chain (see the
//! core's scheduler) offloaded to a worker runs there whole, as one job. While
//! running inline the caller checks, after every task, whether a worker is
//! waiting for the GIL (and steps aside) or has finished (and dispatches the
//! next job). With nothing to run it waits for workers detached, in slices of
//! [`WAIT_SLICE`], so Ctrl-C is noticed promptly. Signals are checked after
//! every task that calls something (a few nanoseconds when none is pending),
//! so a long task is always followed by a check.
//!
//! Context: every task runs in a copy of the caller's `contextvars` context,
//! taken when the run starts: inline tasks share one copy, each offloaded job
//! gets its own. So a task sees the caller's `decimal` context, `numpy.errstate`
//! and context variables wherever it runs, and what it sets never leaks back.
//!
//! Errors: the first task that raises stops all dispatching; tasks already on
//! workers are waited for (so none is left running after `get` returns), then
//! the exception is raised with one note naming the key that raised
//! ([`errors::annotate`]). KeyboardInterrupt and SystemExit return at once;
//! running jobs are abandoned (a fused chain stops before its next task), their
//! results dropped, and exit waits for them ([`crate::lifecycle`]).

use crate::convert::{shape_results, user_priorities, Converted, Program, Shape, NO_FUNCTION};
use crate::errors;
use crate::eval::{eval_task, Deps};
use crate::hooks::Hooks;
use crate::lifecycle;
use crate::pool::{self, Done, Job, Sink};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyType};
use std::cmp::Reverse;
// hashbrown's default hasher: a timing lookup per distinct callable (a million for
// a graph of one `functools.partial` per task) should not pay for SipHash.
use hashbrown::HashMap;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use taskloom_core::{build_and_order, renumber, renumbering_pays, Graph, Order, Scheduler, TaskId};

/// A callable whose calls take longer than this (moving average) is offloaded.
/// Below it, a dispatch round trip (~10-20 us) would eat much of what running
/// GIL-releasing work in parallel gains, and GIL-bound work (which the timing
/// cannot tell apart) would only contend for the GIL.
const OFFLOAD_NS: u64 = 200_000;
/// Offloaded jobs in flight per worker: one running and one waiting in the
/// sink, so a worker that finishes starts its next task at once (see the pool)
/// instead of after the calling thread wakes, takes the GIL and dispatches
/// (~50-100 us on a busy VM: a sixth of sorting 1 MB). Threads beat one
/// thread on the numpy benchmark by 1.9x with this, 1.5x without.
const QUEUED_AHEAD: usize = 2;
/// How long the caller sleeps between checks for Ctrl-C while workers run.
const WAIT_SLICE: Duration = Duration::from_millis(20);
/// How often a caller on another thread looks, without the GIL, whether exit
/// has begun (the only interruption it can get while waiting).
const OFF_MAIN_SLICE: Duration = Duration::from_millis(100);
/// One inline task in this many is timed, to notice callables that turn slow.
const SAMPLE_EVERY: u32 = 16;

type Results = Vec<Option<Py<PyAny>>>;

/// A converted, ordered graph, ready to run (once by `get`, repeatedly by `Compiled`).
pub struct Plan {
    pub program: Arc<Program>,
    pub graph: Graph,
    pub outputs: Vec<TaskId>,
    pub shape: Vec<Shape>,
    /// Whether task ids were renumbered into execution order (see [`plan`]).
    pub renumbered: bool,
}

/// Build `conv`'s graph and order it (finding cycles before anything runs;
/// see `taskloom_core::build_and_order`), with the user's
/// `priorities` (key -> number) if any. Tasks are renumbered into execution
/// order when [`renumbering_pays`] (a dict whose order was shuffled): per-task
/// arrays are then read front to back as tasks run; a shuffled chain of 10^6
/// tasks ran 1.1 us a task before, 0.18 after.
pub fn plan(
    py: Python<'_>,
    conv: Converted,
    priorities: Option<&Bound<'_, PyDict>>,
) -> PyResult<(Plan, Order)> {
    let Converted {
        program,
        builder,
        outputs,
        shape,
    } = conv;
    let (graph, order) = build_and_order(builder, &outputs).map_err(errors::graph)?;
    let mut order = order.map_err(|c| errors::cycle(py, &program.keys, &c))?;
    // Before renumbering: every given priority is checked, also of culled keys.
    if let Some(priorities) = priorities.filter(|p| !p.is_empty()) {
        order = order.with_user_priority(user_priorities(&program, priorities)?);
    }
    let (mut program, mut graph, mut outputs, mut shape) = (program, graph, outputs, shape);
    let renumbered = renumbering_pays(&graph, &order);
    if renumbered {
        let (g, o, new_id) = renumber(&graph, &order);
        program = program.renumbered(&order.sequence);
        for t in outputs.iter_mut() {
            *t = new_id[*t as usize];
        }
        for s in shape.iter_mut() {
            if let Shape::Key(t) = s {
                *t = new_id[*t as usize];
            }
        }
        (graph, order) = (g, o);
    }
    let plan = Plan {
        program: Arc::new(program),
        graph,
        outputs,
        shape,
        renumbered,
    };
    Ok((plan, order))
}

/// Run a plan and return its outputs in the shape they were requested in.
/// `num_workers <= 1` runs everything on the calling thread; `fuse` runs linear
/// chains as units (turned off while hooks watch each task).
pub fn execute<'py>(
    py: Python<'py>,
    plan: &Plan,
    order: Order,
    num_workers: usize,
    mut hooks: Option<Hooks<'py>>,
    fuse: bool,
) -> PyResult<Py<PyAny>> {
    let Plan {
        program,
        graph,
        outputs,
        shape,
        ..
    } = plan;
    let _running = lifecycle::Running::start()?;
    let fuse = fuse && hooks.is_none();
    let mut sched = Scheduler::new(graph, order, outputs, fuse);
    let mut results: Results = Vec::with_capacity(graph.len());
    results.resize_with(graph.len(), || None);
    let caller = Context::snapshot(py)?;
    let inline = caller.enter_copy(py)?;
    if let Some(h) = &hooks {
        h.start(sched.unfinished())?;
    }
    let run = RunCtx {
        program,
        graph,
        get: errors::next_get_serial(),
        context: caller,
    };
    // Closed at exit: then the caller runs everything itself.
    let pool = if num_workers > 1 { pool::pool() } else { None };
    let outcome = match pool {
        None => run_sync(py, &run, &mut sched, &mut results, &mut hooks),
        Some(pool) => run_threaded(
            py,
            &run,
            &mut sched,
            &mut results,
            pool,
            num_workers.min(pool::MAX_THREADS),
            &mut hooks,
        ),
    };
    drop(inline);
    // Profile records are handed back even when a task failed.
    let finished = hooks.map_or(Ok(()), |h| h.finish(&program.keys));
    outcome?;
    finished?;
    shape_results(py, shape, |t| {
        results[t as usize]
            .as_ref()
            .expect("outputs are never released")
            .clone_ref(py)
    })
}

struct InlineDeps<'a> {
    results: &'a [Option<Py<PyAny>>],
    deps: &'a [TaskId],
}

impl Deps for InlineDeps<'_> {
    #[inline]
    fn get(&self, i: u32) -> *mut ffi::PyObject {
        self.results[self.deps[i as usize] as usize]
            .as_ref()
            .expect("a dependency's result was released before its consumer ran")
            .as_ptr()
    }
}

/// What every task of one run shares.
struct RunCtx<'a> {
    program: &'a Arc<Program>,
    graph: &'a Graph,
    /// This run's serial number, for the note on a task's exception.
    get: u64,
    /// The caller's context when the run started; offloaded jobs copy it.
    context: Context,
}

/// A `contextvars.Context`.
struct Context(Py<PyAny>);

impl Context {
    /// A copy of the calling thread's current context.
    fn snapshot(py: Python<'_>) -> PyResult<Context> {
        // SAFETY: returns a new reference, or NULL with an exception set.
        let ctx = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_CopyCurrent())? };
        Ok(Context(ctx.unbind()))
    }

    /// Enter a fresh copy of this context on the calling thread until the guard drops.
    fn enter_copy<'py>(&self, py: Python<'py>) -> PyResult<Entered<'py>> {
        // SAFETY: copying a live context gives a new reference (or NULL and an error).
        let copy =
            unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_Copy(self.0.as_ptr()))? };
        // SAFETY: a fresh copy is entered by no other thread.
        if unsafe { ffi::PyContext_Enter(copy.as_ptr()) } != 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(Entered(copy))
    }
}

/// A context entered on this thread, left on drop (also when a task raised).
struct Entered<'py>(Bound<'py, PyAny>);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        // SAFETY: this thread entered the context and is attached (the guard
        // holds a `Bound`); leaving only fails if it was not the current one.
        if unsafe { ffi::PyContext_Exit(self.0.as_ptr()) } != 0 {
            // SAFETY: clears the error PyContext_Exit set, with the thread attached.
            unsafe { ffi::PyErr_Clear() };
        }
    }
}

/// Between two tasks: Ctrl-C (a few nanoseconds when no signal is pending,
/// so it is checked after every task), or exit asking this run to stop.
#[inline]
fn check_interrupts(py: Python<'_>) -> PyResult<()> {
    if lifecycle::must_stop() {
        return Err(lifecycle::stopped_at_exit());
    }
    py.check_signals()
}

/// Wait, detached, until one of the sink's jobs finishes (or is handed back).
/// The main thread wakes every [`WAIT_SLICE`] to check for Ctrl-C. Other
/// threads never see a signal (CPython runs handlers on the main thread only),
/// so they re-attach only for a job or for exit ([`OFF_MAIN_SLICE`]): with
/// `get`s nested 1,030 deep, every waiting level re-taking the GIL 50 times a
/// second starved the one thread doing work (85 s; Dask 6 s).
fn wait_for_jobs(py: Python<'_>, sink: &pool::Sink) {
    if lifecycle::on_main_thread() {
        lifecycle::detach(py, || sink.wait(WAIT_SLICE));
    } else {
        lifecycle::detach(py, || {
            while !sink.wait(OFF_MAIN_SLICE) && !lifecycle::closing() {}
        });
    }
}

/// Run task `t` on the calling thread and store its result.
#[inline]
fn run_inline(
    py: Python<'_>,
    run: &RunCtx<'_>,
    results: &mut Results,
    t: TaskId,
    hooks: &mut Option<Hooks<'_>>,
) -> PyResult<()> {
    let program = run.program;
    let key = &program.keys[t as usize];
    let eval = |results: &mut Results| -> PyResult<()> {
        let deps = InlineDeps {
            results,
            deps: run.graph.deps(t),
        };
        let r = eval_task(py, program.code(t), &program.consts, &deps)
            .map_err(|e| errors::annotate(py, e, key, run.get))?;
        results[t as usize] = Some(r);
        Ok(())
    };
    let Some(h) = hooks else {
        return eval(results);
    };
    h.pretask(key)?;
    let start = Instant::now();
    eval(results)?;
    let span = (start, Instant::now());
    let result = results[t as usize].as_ref().expect("just stored");
    h.posttask(t, key, result, span, 0)
}

fn run_sync(
    py: Python<'_>,
    run: &RunCtx<'_>,
    sched: &mut Scheduler<&Graph>,
    results: &mut Results,
    hooks: &mut Option<Hooks<'_>>,
) -> PyResult<()> {
    let mut fused = None;
    while let Some(t) = fused.take().or_else(|| sched.pop()) {
        run_inline(py, run, results, t, hooks)?;
        fused = sched.finish(t, |d| results[d as usize] = None);
        // A literal or alias calls nothing and cannot take long: no check after it
        // (half the tasks of a reduction tree are literal leaves).
        if !run.program.is_trivial(t) {
            check_interrupts(py)?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Placement {
    Unknown,
    Inline,
    Offload,
}

/// What timings are learned per: see [`identity`].
#[derive(Clone, PartialEq, Eq, Hash)]
enum Identity {
    /// A code object, class or type, kept alive in the table (so its address
    /// is not reused while the entry exists).
    Object(usize),
    /// A builtin function or method, by its `PyMethodDef` (static C data):
    /// the bound object is not part of it.
    Method(usize),
}

/// Timings of one identity, shared by every callable that has it.
struct Slot {
    identity: Identity,
    /// What keeps an [`Identity::Object`] alive.
    anchor: Option<Py<PyAny>>,
    ema_ns: Option<u64>,
    placement: Placement,
}

/// Per-callable timings: loaded from the process-wide table at the start of a
/// threaded run, updated as tasks finish, stored back at the end.
struct Placements {
    /// Per distinct callable of the program: its slot.
    slot_of: Vec<u32>,
    slots: Vec<Slot>,
}

/// identity -> (what keeps it alive, moving average of a call in ns)
type Learned = HashMap<Identity, (Option<Py<PyAny>>, u64)>;
static LEARNED: Mutex<Option<Learned>> = Mutex::new(None);
const LEARNED_MAX: usize = 10_000;

fn placement_of(ema: Option<u64>) -> Placement {
    match ema {
        None => Placement::Unknown,
        Some(ns) if ns > OFFLOAD_NS => Placement::Offload,
        Some(_) => Placement::Inline,
    }
}

/// What timings are learned per, with what keeps it alive: a Python function's
/// code object (so closures and lambdas made in a loop share one entry),
/// through bound methods and `functools.partial`; for an instance of a Python
/// class with `__call__`, its class (graphs often hold one such object per
/// task); a class itself; a builtin function or method (`len`, `arr.sum`), its
/// C method definition; any other callable (ufuncs, `operator.itemgetter`
/// objects, method wrappers), its type. No identity holds the user's data: a
/// bound method's `self` or a partial's arguments are never kept.
fn identity(f: &Bound<'_, PyAny>) -> (Identity, Option<Py<PyAny>>) {
    // (wrapper type, attribute holding the wrapped callable, interned: this runs
    // once per distinct callable, a million times for a partial per task)
    type Wrappers = Vec<(Py<PyType>, Py<PyString>)>;
    static WRAPPERS: PyOnceLock<Wrappers> = PyOnceLock::new();
    let py = f.py();
    let wrappers = WRAPPERS
        .get_or_try_init(py, || -> PyResult<_> {
            let ty = |module: &str, name: &str| -> PyResult<Py<PyType>> {
                Ok(py
                    .import(module)?
                    .getattr(name)?
                    .cast_into::<PyType>()?
                    .unbind())
            };
            let attr = |name: &str| PyString::intern(py, name).unbind();
            Ok(vec![
                (ty("functools", "partial")?, attr("func")),
                (ty("types", "MethodType")?, attr("__func__")),
            ])
        })
        .map(|w| w.as_slice())
        .unwrap_or(&[]);
    let anchored =
        |obj: Bound<'_, PyAny>| (Identity::Object(obj.as_ptr() as usize), Some(obj.unbind()));
    let mut f = f.clone();
    'unwrap: for _ in 0..4 {
        let p = f.as_ptr();
        // SAFETY: type checks on a live object.
        if unsafe { ffi::PyFunction_Check(p) } != 0 {
            // SAFETY: a function's code object lives as long as the function.
            return anchored(unsafe { Bound::from_borrowed_ptr(py, ffi::PyFunction_GetCode(p)) });
        }
        for (ty, attr) in wrappers {
            if f.get_type().is(ty.bind(py)) {
                if let Ok(inner) = f.getattr(attr.bind(py)) {
                    f = inner;
                    continue 'unwrap;
                }
            }
        }
        break;
    }
    let p = f.as_ptr();
    // SAFETY: type checks on a live object.
    if unsafe { ffi::PyType_Check(p) } != 0 {
        return anchored(f);
    }
    // SAFETY: as above; a builtin function object starts with PyCFunctionObject.
    if unsafe { ffi::PyCFunction_Check(p) } != 0 {
        // SAFETY: a builtin function or method object is a PyCFunctionObject;
        // only the address of its method definition is read.
        let def = unsafe { (*p.cast::<ffi::PyCFunctionObject>()).m_ml };
        return (Identity::Method(def as usize), None);
    }
    anchored(f.get_type().into_any())
}

impl Placements {
    fn load(py: Python<'_>, functions: &[Py<PyAny>]) -> Self {
        let mut slots: Vec<Slot> = Vec::new();
        let mut index: HashMap<Identity, u32> = HashMap::new();
        let slot_of = functions
            .iter()
            .map(|f| {
                let (id, anchor) = identity(f.bind(py));
                *index.entry(id.clone()).or_insert_with(|| {
                    slots.push(Slot {
                        identity: id,
                        anchor,
                        ema_ns: None,
                        placement: Placement::Unknown,
                    });
                    (slots.len() - 1) as u32
                })
            })
            .collect();
        {
            let learned = LEARNED.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(map) = learned.as_ref() {
                for slot in &mut slots {
                    slot.ema_ns = map.get(&slot.identity).map(|e| e.1);
                    slot.placement = placement_of(slot.ema_ns);
                }
            }
        }
        Placements { slot_of, slots }
    }

    #[inline]
    fn of(&self, function: u32) -> Placement {
        if function == NO_FUNCTION {
            Placement::Inline
        } else {
            self.slots[self.slot_of[function as usize] as usize].placement
        }
    }

    /// Record a call's duration; true if the callable's placement changed.
    fn observe(&mut self, function: u32, nanos: u64) -> bool {
        if function == NO_FUNCTION {
            return false;
        }
        let slot = &mut self.slots[self.slot_of[function as usize] as usize];
        let ema = match slot.ema_ns {
            None => nanos,
            Some(old) => (3 * old + nanos) / 4,
        };
        slot.ema_ns = Some(ema);
        let new = placement_of(Some(ema));
        let changed = new != slot.placement;
        slot.placement = new;
        changed
    }

    fn store(self) {
        let mut evicted = None;
        {
            let mut learned = LEARNED.lock().unwrap_or_else(|e| e.into_inner());
            let map = learned.get_or_insert_with(HashMap::new);
            if map.len() > LEARNED_MAX {
                evicted = Some(std::mem::take(map));
            }
            for slot in self.slots {
                if let Some(ema) = slot.ema_ns {
                    map.insert(slot.identity, (slot.anchor, ema));
                }
            }
        }
        // Dropped outside the lock: a destructor may run Python code.
        drop(evicted);
    }
}

struct Threaded<'a, 'g, 'py> {
    hooks: &'a mut Option<Hooks<'py>>,
    run: &'a RunCtx<'g>,
    sched: &'a mut Scheduler<&'g Graph>,
    results: &'a mut Results,
    sink: Arc<Sink>,
    pool: Arc<pool::Pool>,
    placements: Placements,
    /// Tasks to offload that wait for a free worker: highest user priority
    /// first, then lowest order priority.
    parked: BinaryHeap<Reverse<(Reverse<u64>, u32, TaskId)>>,
    in_flight: usize,
    num_workers: usize,
}

impl Threaded<'_, '_, '_> {
    fn dispatch(&mut self, py: Python<'_>, t: TaskId) -> PyResult<()> {
        let program = self.run.program;
        if let Some(h) = self.hooks.as_ref() {
            h.pretask(&program.keys[t as usize])?;
        }
        let deps = self
            .run
            .graph
            .deps(t)
            .iter()
            .map(|&d| {
                self.results[d as usize]
                    .as_ref()
                    .expect("a dependency's result was released before its consumer ran")
                    .clone_ref(py)
            })
            .collect();
        let mut chain = Vec::new();
        let mut last = t;
        while let Some(c) = self.sched.continuation(last) {
            chain.push(c);
            last = c;
        }
        let job = Job {
            program: Arc::clone(program),
            task: t,
            deps,
            chain,
            sink: Arc::clone(&self.sink),
            context: self.run.context.0.clone_ref(py),
        };
        self.in_flight += 1;
        if let Err(job) = self.pool.submit(job) {
            // No thread can take it (gets nested a thousand deep, or no thread
            // to be had): run it here rather than wait for one.
            self.run_here(py, job);
        }
        Ok(())
    }

    /// Run a job no worker can take on the calling thread, reporting it as a worker would.
    fn run_here(&self, py: Python<'_>, job: Job) {
        if let Some(done) = pool::execute(py, job, 0) {
            self.sink.push_done(done);
        }
    }

    fn finish(&mut self, done: &Done, result: Py<PyAny>) -> PyResult<()> {
        let t = done.task;
        if let Some(h) = self.hooks.as_mut() {
            let key = &self.run.program.keys[t as usize];
            h.posttask(t, key, &result, (done.started, done.ended), done.worker)?;
        }
        let last = *done.chain.last().unwrap_or(&t);
        self.results[last as usize] = Some(result);
        let results = &mut *self.results;
        // Chain members ran on the worker; their intermediate results were never
        // stored here, and finishing them in order releases their inputs.
        for &member in std::iter::once(&t).chain(&done.chain) {
            self.sched.finish(member, |d| results[d as usize] = None);
        }
        Ok(())
    }

    /// Apply finished jobs; the first error is returned.
    fn collect(&mut self, py: Python<'_>, buf: &mut Vec<Done>) -> PyResult<()> {
        for job in self.sink.take_bounced() {
            self.run_here(py, job);
        }
        self.sink.take(buf);
        let mut changed = false;
        let mut first_error = None;
        for mut done in buf.drain(..) {
            self.in_flight -= 1;
            let f = self.run.program.root_function[done.task as usize];
            changed |= self.placements.observe(f, done.nanos());
            match std::mem::replace(&mut done.result, Ok(py.None())) {
                Ok(r) => {
                    if let Err(e) = self.finish(&done, r) {
                        first_error.get_or_insert(e);
                    }
                }
                Err(e) => {
                    if first_error.is_none() {
                        let key = &self.run.program.keys[done.failed as usize];
                        first_error = Some(errors::annotate(py, e, key, self.run.get));
                    }
                }
            }
        }
        if changed && !self.parked.is_empty() {
            // Parked tasks whose callable turned out cheap go back to run inline,
            // in order: the lowest priority ends on top of the ready stack.
            let mut inline = Vec::new();
            self.parked.retain(|&Reverse((_, p, t))| {
                let f = self.run.program.root_function[t as usize];
                let keep = self.placements.of(f) != Placement::Inline;
                if !keep {
                    inline.push((p, t));
                }
                keep
            });
            inline.sort_unstable_by_key(|&(p, _)| Reverse(p));
            for (_, t) in inline {
                self.sched.push_back(t);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The task to run inline instead of `t`, if any: the first parked task,
    /// if it comes before `t` (user priority, then order). Running `t` would run
    /// ahead of the order, and without bound: with a reduction's combines
    /// offloaded (slow) and its leaves inline (fast), every leaf would be computed
    /// and held while the combines wait for a worker. So the caller runs the
    /// parked task itself, as one more worker, and `t` stays next.
    fn parked_before(&mut self, t: TaskId) -> Option<TaskId> {
        let &Reverse((rank, p, first)) = self.parked.peek()?;
        if (rank, p) < (Reverse(self.sched.user_rank(t)), self.sched.priority(t)) {
            self.parked.pop();
            self.sched.push_back(t);
            Some(first)
        } else {
            None
        }
    }

    fn run(&mut self, py: Python<'_>) -> PyResult<()> {
        let mut buf = Vec::new();
        let mut tick = 0u32;
        let queue_limit = self.num_workers.saturating_mul(QUEUED_AHEAD);
        loop {
            if self.sink.has_done() {
                self.collect(py, &mut buf)?;
            }
            while self.in_flight < queue_limit {
                let Some(Reverse((_, _, t))) = self.parked.pop() else {
                    break;
                };
                self.dispatch(py, t)?;
            }
            if let Some(t) = self.sched.pop() {
                let f = self.run.program.root_function[t as usize];
                let placement = self.placements.of(f);
                let free = self.in_flight < self.num_workers;
                let queue = self.in_flight < queue_limit;
                match placement {
                    Placement::Unknown if free => self.dispatch(py, t)?,
                    Placement::Offload if queue => self.dispatch(py, t)?,
                    Placement::Offload => {
                        let rank = Reverse(self.sched.user_rank(t));
                        let p = self.sched.priority(t);
                        self.parked.push(Reverse((rank, p, t)));
                    }
                    // Inline, or unknown with every worker busy: run it here and
                    // time it, so the next call of this callable is placed well.
                    Placement::Inline | Placement::Unknown => {
                        let (t, f, placement) = match self.parked_before(t) {
                            Some(first) => {
                                let f = self.run.program.root_function[first as usize];
                                (first, f, self.placements.of(f))
                            }
                            None => (t, f, placement),
                        };
                        if self.pool.wants_gil() {
                            self.pool.yield_gil(py);
                        }
                        tick = tick.wrapping_add(1);
                        let timed = placement == Placement::Unknown
                            || (tick % SAMPLE_EVERY == 0 && f != NO_FUNCTION);
                        let start = timed.then(Instant::now);
                        run_inline(py, self.run, self.results, t, self.hooks)?;
                        if let Some(start) = start {
                            self.placements
                                .observe(f, start.elapsed().as_nanos() as u64);
                        }
                        let results = &mut *self.results;
                        if let Some(c) = self.sched.finish(t, |d| results[d as usize] = None) {
                            // The fused consumer is placed like any ready task.
                            self.sched.push_back(c);
                        }
                        if !self.run.program.is_trivial(t) {
                            check_interrupts(py)?;
                        }
                    }
                }
                continue;
            }
            if self.sched.is_done() {
                return Ok(());
            }
            debug_assert!(
                self.in_flight > 0,
                "nothing ready, nothing running, not done"
            );
            wait_for_jobs(py, &self.sink);
            check_interrupts(py)?;
        }
    }

    /// After an error: let running jobs finish (unless interrupted), drop their results.
    fn drain(&mut self, py: Python<'_>) -> PyResult<()> {
        let mut buf = Vec::new();
        loop {
            self.in_flight -= self.sink.withdraw();
            if self.in_flight == 0 {
                return Ok(());
            }
            wait_for_jobs(py, &self.sink);
            check_interrupts(py)?;
            self.sink.take(&mut buf);
            self.in_flight -= buf.len();
            buf.clear();
        }
    }
}

fn run_threaded<'g, 'py>(
    py: Python<'py>,
    run: &RunCtx<'g>,
    sched: &mut Scheduler<&'g Graph>,
    results: &mut Results,
    pool: Arc<pool::Pool>,
    num_workers: usize,
    hooks: &mut Option<Hooks<'py>>,
) -> PyResult<()> {
    let mut threaded = Threaded {
        hooks,
        run,
        sched,
        results,
        sink: Arc::new(Sink::new(num_workers)),
        pool,
        placements: Placements::load(py, &run.program.functions),
        parked: BinaryHeap::new(),
        in_flight: 0,
        num_workers,
    };
    let outcome = threaded.run(py);
    if let Err(e) = &outcome {
        threaded.parked.clear();
        if !errors::is_interrupt(py, e) {
            if let Err(interrupt) = threaded.drain(py) {
                threaded.sink.cancel();
                return Err(interrupt);
            }
        }
        threaded.sink.cancel();
    }
    threaded.placements.store();
    outcome
}
