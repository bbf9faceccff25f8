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
//! behind them ([`QUEUED_AHEAD`]); the rest wait here, in order priority. A
//! callable never seen before goes to a free worker (or, if none is free, runs
//! inline and is timed), so slow tasks overlap from the start, and its
//! measured duration decides from then on; timings are kept per callable (per
//! code object for Python functions) across calls. A fused chain (see the
//! core's scheduler) offloaded to a worker runs there whole, as one job. While
//! running inline the caller checks, after every task, whether a worker is
//! waiting for the GIL (and steps aside) or has finished (and dispatches the
//! next job). With nothing to run it waits for workers detached, in slices of
//! [`WAIT_SLICE`], so Ctrl-C is noticed promptly.
//!
//! Errors: the first task that raises stops all dispatching; tasks already on
//! workers are waited for (so none is left running after `get` returns), then
//! the exception is raised with a note naming the key. KeyboardInterrupt
//! returns at once and abandons running jobs, whose results are dropped.

use crate::convert::{shape_results, Converted, Program, Shape, NO_FUNCTION};
use crate::errors;
use crate::eval::{eval_task, Deps};
use crate::hooks::Hooks;
use crate::pool::{self, Done, Job, Sink};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use taskloom_core::{order, Graph, Order, Scheduler, TaskId};

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
/// Inline tasks between two checks for signals.
const SIGNAL_EVERY: u32 = 1024;
/// One inline task in this many is timed, to notice callables that turn slow.
const SAMPLE_EVERY: u32 = 16;

type Results = Vec<Option<Py<PyAny>>>;

/// A converted, ordered graph, ready to run (once by `get`, repeatedly by `Compiled`).
pub struct Plan {
    pub program: Arc<Program>,
    pub graph: Graph,
    pub outputs: Vec<TaskId>,
    pub shape: Vec<Shape>,
}

/// Order `conv` (finding cycles before anything runs).
pub fn plan(py: Python<'_>, conv: Converted) -> PyResult<(Plan, Order)> {
    let Converted {
        program,
        graph,
        outputs,
        shape,
    } = conv;
    let order = order(&graph, &outputs).map_err(|c| errors::cycle(py, &program.keys, &c))?;
    let plan = Plan {
        program: Arc::new(program),
        graph,
        outputs,
        shape,
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
    } = plan;
    let fuse = fuse && hooks.is_none();
    let mut sched = Scheduler::new(graph, order, outputs, fuse);
    let mut results: Results = Vec::with_capacity(graph.len());
    results.resize_with(graph.len(), || None);
    if let Some(h) = &hooks {
        h.start(sched.unfinished())?;
    }
    let outcome = if num_workers <= 1 {
        run_sync(py, program, graph, &mut sched, &mut results, &mut hooks)
    } else {
        run_threaded(
            py,
            program,
            graph,
            &mut sched,
            &mut results,
            num_workers,
            &mut hooks,
        )
    };
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

/// Run task `t` on the calling thread and store its result.
#[inline]
fn run_inline(
    py: Python<'_>,
    program: &Program,
    graph: &Graph,
    results: &mut Results,
    t: TaskId,
    hooks: &mut Option<Hooks<'_>>,
) -> PyResult<()> {
    let key = &program.keys[t as usize];
    let eval = |results: &mut Results| -> PyResult<()> {
        let deps = InlineDeps {
            results,
            deps: graph.deps(t),
        };
        let r = eval_task(py, program.code(t), &program.consts, &deps)
            .map_err(|e| errors::annotate(py, e, key))?;
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
    program: &Program,
    graph: &Graph,
    sched: &mut Scheduler<&Graph>,
    results: &mut Results,
    hooks: &mut Option<Hooks<'_>>,
) -> PyResult<()> {
    let mut tick = 0u32;
    let mut fused = None;
    while let Some(t) = fused.take().or_else(|| sched.pop()) {
        run_inline(py, program, graph, results, t, hooks)?;
        fused = sched.finish(t, |d| results[d as usize] = None);
        tick = tick.wrapping_add(1);
        if tick % SIGNAL_EVERY == 0 {
            py.check_signals()?;
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

/// Per-callable timings: loaded from the process-wide table at the start of a
/// threaded run, updated as tasks finish, stored back at the end.
struct Placements {
    identity: Vec<Py<PyAny>>,
    ema_ns: Vec<Option<u64>>,
    placement: Vec<Placement>,
}

/// identity pointer -> (identity object, kept alive so the address is not reused; ema)
type Learned = HashMap<usize, (Py<PyAny>, u64)>;
static LEARNED: Mutex<Option<Learned>> = Mutex::new(None);
const LEARNED_MAX: usize = 10_000;

fn placement_of(ema: Option<u64>) -> Placement {
    match ema {
        None => Placement::Unknown,
        Some(ns) if ns > OFFLOAD_NS => Placement::Offload,
        Some(_) => Placement::Inline,
    }
}

/// What timings are keyed by: a Python function's code object (so closures and
/// lambdas made in a loop share one entry), through bound methods and
/// `functools.partial`; for an instance of a Python class with `__call__`, its
/// class (graphs often hold one such object per task); any other callable
/// (builtins, classes, ufuncs: long-lived objects) itself.
fn identity<'py>(f: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    // (wrapper type, attribute holding the wrapped callable)
    static WRAPPERS: PyOnceLock<Vec<(Py<PyType>, &'static str)>> = PyOnceLock::new();
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
            Ok(vec![
                (ty("functools", "partial")?, "func"),
                (ty("types", "MethodType")?, "__func__"),
            ])
        })
        .map(|w| w.as_slice())
        .unwrap_or(&[]);
    let mut f = f.clone();
    'unwrap: for _ in 0..4 {
        let p = f.as_ptr();
        if unsafe { ffi::PyFunction_Check(p) } != 0 {
            // SAFETY: a function's code object lives as long as the function.
            return unsafe { Bound::from_borrowed_ptr(py, ffi::PyFunction_GetCode(p)) };
        }
        for (ty, attr) in wrappers {
            if f.get_type().is(ty.bind(py)) {
                if let Ok(inner) = f.getattr(*attr) {
                    f = inner;
                    continue 'unwrap;
                }
            }
        }
        break;
    }
    let ty = f.get_type();
    let is_class = unsafe { ffi::PyType_Check(f.as_ptr()) } != 0;
    if !is_class && is_heap_type(&ty) {
        return ty.into_any();
    }
    f
}

fn is_heap_type(ty: &Bound<'_, PyType>) -> bool {
    // SAFETY: reading the flags of a live type object.
    unsafe { ffi::PyType_GetFlags(ty.as_type_ptr()) & ffi::Py_TPFLAGS_HEAPTYPE != 0 }
}

impl Placements {
    fn load(py: Python<'_>, functions: &[Py<PyAny>]) -> Self {
        let identity: Vec<Py<PyAny>> = functions
            .iter()
            .map(|f| self::identity(f.bind(py)).unbind())
            .collect();
        let ema_ns: Vec<Option<u64>> = {
            let learned = LEARNED.lock().unwrap_or_else(|e| e.into_inner());
            identity
                .iter()
                .map(|k| {
                    learned
                        .as_ref()
                        .and_then(|m| m.get(&(k.as_ptr() as usize)))
                        .map(|e| e.1)
                })
                .collect()
        };
        let placement = ema_ns.iter().map(|&e| placement_of(e)).collect();
        Placements {
            identity,
            ema_ns,
            placement,
        }
    }

    #[inline]
    fn of(&self, function: u32) -> Placement {
        if function == NO_FUNCTION {
            Placement::Inline
        } else {
            self.placement[function as usize]
        }
    }

    /// Record a call's duration; true if the callable's placement changed.
    fn observe(&mut self, function: u32, nanos: u64) -> bool {
        if function == NO_FUNCTION {
            return false;
        }
        let f = function as usize;
        let ema = match self.ema_ns[f] {
            None => nanos,
            Some(old) => (3 * old + nanos) / 4,
        };
        self.ema_ns[f] = Some(ema);
        let new = placement_of(Some(ema));
        let changed = new != self.placement[f];
        self.placement[f] = new;
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
            for (k, ema) in self.identity.into_iter().zip(self.ema_ns) {
                if let Some(ema) = ema {
                    map.insert(k.as_ptr() as usize, (k, ema));
                }
            }
        }
        // Dropped outside the lock: a destructor may run Python code.
        drop(evicted);
    }
}

struct Threaded<'a, 'g, 'py> {
    hooks: &'a mut Option<Hooks<'py>>,
    program: &'a Arc<Program>,
    graph: &'g Graph,
    sched: &'a mut Scheduler<&'g Graph>,
    results: &'a mut Results,
    sink: Arc<Sink>,
    pool: Arc<pool::Pool>,
    placements: Placements,
    /// Tasks to offload that wait for a free worker, lowest order priority first.
    parked: BinaryHeap<Reverse<(u32, TaskId)>>,
    in_flight: usize,
    num_workers: usize,
}

impl Threaded<'_, '_, '_> {
    fn dispatch(&mut self, py: Python<'_>, t: TaskId) -> PyResult<()> {
        if let Some(h) = self.hooks.as_ref() {
            h.pretask(&self.program.keys[t as usize])?;
        }
        let deps = self
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
        self.pool.submit(Job {
            program: Arc::clone(self.program),
            task: t,
            deps,
            chain,
            sink: Arc::clone(&self.sink),
        });
        self.in_flight += 1;
        Ok(())
    }

    fn finish(&mut self, done: &Done, result: Py<PyAny>) -> PyResult<()> {
        let t = done.task;
        if let Some(h) = self.hooks.as_mut() {
            let key = &self.program.keys[t as usize];
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
        self.sink.take(buf);
        let mut changed = false;
        let mut first_error = None;
        for mut done in buf.drain(..) {
            self.in_flight -= 1;
            let f = self.program.root_function[done.task as usize];
            changed |= self.placements.observe(f, done.nanos());
            match std::mem::replace(&mut done.result, Ok(py.None())) {
                Ok(r) => {
                    if let Err(e) = self.finish(&done, r) {
                        first_error.get_or_insert(e);
                    }
                }
                Err(e) => {
                    if first_error.is_none() {
                        first_error = Some(errors::annotate(
                            py,
                            e,
                            &self.program.keys[done.task as usize],
                        ));
                    }
                }
            }
        }
        if changed && !self.parked.is_empty() {
            // Parked tasks whose callable turned out cheap go back to run inline,
            // in order: the lowest priority ends on top of the ready stack.
            let mut inline = Vec::new();
            self.parked.retain(|&Reverse((p, t))| {
                let f = self.program.root_function[t as usize];
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

    fn run(&mut self, py: Python<'_>) -> PyResult<()> {
        let mut buf = Vec::new();
        let mut tick = 0u32;
        loop {
            if self.sink.has_done() {
                self.collect(py, &mut buf)?;
            }
            while self.in_flight < self.num_workers * QUEUED_AHEAD {
                let Some(Reverse((_, t))) = self.parked.pop() else {
                    break;
                };
                self.dispatch(py, t)?;
            }
            if let Some(t) = self.sched.pop() {
                let f = self.program.root_function[t as usize];
                let placement = self.placements.of(f);
                let free = self.in_flight < self.num_workers;
                let queue = self.in_flight < self.num_workers * QUEUED_AHEAD;
                match placement {
                    Placement::Unknown if free => self.dispatch(py, t)?,
                    Placement::Offload if queue => self.dispatch(py, t)?,
                    Placement::Offload => {
                        let p = self.sched.priority(t);
                        self.parked.push(Reverse((p, t)));
                    }
                    // Inline, or unknown with every worker busy: run it here and
                    // time it, so the next call of this callable is placed well.
                    Placement::Inline | Placement::Unknown => {
                        if self.pool.wants_gil() {
                            self.pool.yield_gil(py);
                        }
                        tick = tick.wrapping_add(1);
                        let timed = placement == Placement::Unknown
                            || (tick % SAMPLE_EVERY == 0 && f != NO_FUNCTION);
                        let start = timed.then(Instant::now);
                        run_inline(py, self.program, self.graph, self.results, t, self.hooks)?;
                        if let Some(start) = start {
                            self.placements
                                .observe(f, start.elapsed().as_nanos() as u64);
                        }
                        let results = &mut *self.results;
                        if let Some(c) = self.sched.finish(t, |d| results[d as usize] = None) {
                            // The fused consumer is placed like any ready task.
                            self.sched.push_back(c);
                        }
                        if tick % SIGNAL_EVERY == 0 {
                            py.check_signals()?;
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
            let sink = &self.sink;
            py.detach(|| sink.wait(WAIT_SLICE));
            py.check_signals()?;
        }
    }

    /// After an error: let running jobs finish (unless interrupted), drop their results.
    fn drain(&mut self, py: Python<'_>) -> PyResult<()> {
        let mut buf = Vec::new();
        self.in_flight -= self.sink.withdraw();
        while self.in_flight > 0 {
            let sink = &self.sink;
            py.detach(|| sink.wait(WAIT_SLICE));
            py.check_signals()?;
            self.sink.take(&mut buf);
            self.in_flight -= buf.len();
            buf.clear();
        }
        Ok(())
    }
}

fn run_threaded<'g, 'py>(
    py: Python<'py>,
    program: &Arc<Program>,
    graph: &'g Graph,
    sched: &mut Scheduler<&'g Graph>,
    results: &mut Results,
    num_workers: usize,
    hooks: &mut Option<Hooks<'py>>,
) -> PyResult<()> {
    let mut run = Threaded {
        hooks,
        program,
        graph,
        sched,
        results,
        sink: Arc::new(Sink::new(num_workers)),
        pool: pool::pool(),
        placements: Placements::load(py, &program.functions),
        parked: BinaryHeap::new(),
        in_flight: 0,
        num_workers,
    };
    let outcome = run.run(py);
    if let Err(e) = &outcome {
        run.parked.clear();
        if !errors::is_interrupt(py, e) {
            if let Err(interrupt) = run.drain(py) {
                run.sink.cancel();
                return Err(interrupt);
            }
        }
        run.sink.cancel();
    }
    run.placements.store();
    outcome
}
