//! The native worker pool for tasks that spend their time outside the GIL.
//!
//! One process-wide pool, shared by every `get` on every Python thread. A
//! worker is a Rust thread that attaches to the interpreter once for its life
//! and detaches only while it waits for a job (~54 ns per wait instead of
//! ~450 ns to attach from scratch). Threads are spawned on demand, when a job
//! is queued and no worker is idle, so concurrent and nested `get` calls never
//! wait on each other for a thread.
//!
//! Each `get` owns a [`Sink`] its jobs report to; the pool knows nothing of
//! graphs. A sink runs at most `workers` of its jobs at once; jobs submitted
//! beyond that wait in the sink, and a worker finishing one of its jobs takes
//! the next from there without letting go of the GIL, instead of waiting for
//! the calling thread to wake up and dispatch (~50-100 us on a busy VM). A
//! sink's waiting jobs are withdrawn when its `get` fails or is cancelled, so
//! none outlives it (they hold the sink: a cycle otherwise).
//!
//! The pool never makes a `get` wait for a thread it cannot have: when no
//! worker is idle and no thread can be started (the cap of [`MAX_THREADS`],
//! reached by `get`s nested a thousand deep; a failed spawn; the pool closed
//! at exit), [`Pool::submit`] hands the job back and the caller runs it
//! itself. A thread that starts but cannot attach to the interpreter hands its
//! jobs back to their sinks the same way ([`Sink::take_bounced`]).
//!
//! Each job runs in its own copy of the calling thread's `contextvars` context
//! (taken when the `get` started), so offloaded tasks see what inline ones see.
//! A cancelled sink's fused chain stops before its next task.
//!
//! Locks here are never held while waiting for the GIL and the GIL is never
//! awaited under them, so the pool cannot deadlock against the caller. Exit
//! and finalization rules are in [`crate::lifecycle`].
//!
//! `want_gil` counts workers that have a job and are about to take the GIL:
//! the calling thread, which runs small tasks inline while holding the GIL,
//! reads it after each task and steps aside ([`Pool::yield_gil`]) so a
//! returning numpy task is not left waiting for the 5 ms switch interval.

use crate::convert::Program;
use crate::errors;
use crate::eval::eval_task;
use crate::lifecycle;
use pyo3::ffi;
use pyo3::prelude::*;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One task (or fused chain) to run on a worker.
pub struct Job {
    pub program: Arc<Program>,
    pub task: u32,
    /// The task's dependency results, by local index.
    pub deps: Vec<Py<PyAny>>,
    /// Tasks fused after `task`, each reading only the previous one's result;
    /// the job's result is the last one's.
    pub chain: Vec<u32>,
    pub sink: Arc<Sink>,
    /// The caller's `contextvars` context; the job runs in a copy of it.
    pub context: Py<PyAny>,
}

/// A finished job: the task, its result, when the call ran and on which worker.
pub struct Done {
    pub task: u32,
    pub chain: Vec<u32>,
    /// The result of the chain's last task (of `task` if there is no chain),
    /// or the exception of the member that raised.
    pub result: PyResult<Py<PyAny>>,
    /// The member of the chain that raised, when `result` is an error.
    pub failed: u32,
    pub started: Instant,
    pub ended: Instant,
    /// 1-based worker number (0 is the calling thread).
    pub worker: u32,
}

impl Done {
    pub fn nanos(&self) -> u64 {
        self.ended
            .saturating_duration_since(self.started)
            .as_nanos() as u64
    }
}

/// Where one `get`'s jobs report back, and where those beyond its limit wait.
pub struct Sink {
    state: Mutex<SinkState>,
    ready: Condvar,
    has_done: AtomicBool,
    cancelled: AtomicBool,
    /// How many of this sink's jobs may run at once.
    workers: usize,
}

#[derive(Default)]
struct SinkState {
    done: Vec<Done>,
    /// Submitted while `workers` jobs were running; taken by the next worker to finish.
    ahead: VecDeque<Job>,
    /// Jobs no worker can run (a thread failed to attach): the caller runs them.
    bounced: Vec<Job>,
    /// Jobs handed to the pool and not yet finished. `ahead` is non-empty only
    /// while this is `workers`, so a waiting job always has a worker to take it.
    running: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave their data inconsistent
    // (pushes and swaps only), so poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sink {
    pub fn new(workers: usize) -> Self {
        Sink {
            state: Mutex::default(),
            ready: Condvar::new(),
            has_done: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            workers: workers.max(1),
        }
    }

    /// Report a finished job (None: skipped after cancelling) and take the
    /// next waiting one, if any, for the same worker.
    fn finished(&self, done: Option<Done>) -> Option<Job> {
        let mut state = lock(&self.state);
        if let Some(done) = done {
            state.done.push(done);
            self.has_done.store(true, Ordering::Release);
            self.ready.notify_one();
        }
        let next = state.ahead.pop_front();
        if next.is_none() {
            state.running -= 1;
        }
        next
    }

    /// Give a job that no worker will run back to the caller, with those
    /// waiting behind it (they were waiting for a worker that will not come).
    fn bounce(&self, job: Job) {
        let mut state = lock(&self.state);
        state.running -= 1;
        state.bounced.push(job);
        let waiting = std::mem::take(&mut state.ahead);
        state.bounced.extend(waiting);
        self.has_done.store(true, Ordering::Release);
        self.ready.notify_one();
    }

    /// Jobs handed back by [`bounce`](Self::bounce), for the caller to run.
    pub fn take_bounced(&self) -> Vec<Job> {
        std::mem::take(&mut lock(&self.state).bounced)
    }

    /// Take back the jobs not yet started (call with the GIL: they hold
    /// Python objects); returns how many there were.
    pub fn withdraw(&self) -> usize {
        let (ahead, bounced) = {
            let mut state = lock(&self.state);
            (
                std::mem::take(&mut state.ahead),
                std::mem::take(&mut state.bounced),
            )
        };
        ahead.len() + bounced.len()
    }

    /// Cheap check, made after every inline task.
    #[inline]
    pub fn has_done(&self) -> bool {
        self.has_done.load(Ordering::Acquire)
    }

    /// Move finished jobs into `into` (which should be empty).
    pub fn take(&self, into: &mut Vec<Done>) {
        let mut state = lock(&self.state);
        self.has_done.store(false, Ordering::Release);
        std::mem::swap(&mut state.done, into);
    }

    /// Record a job the caller ran itself, as if a worker had.
    pub fn push_done(&self, done: Done) {
        lock(&self.state).done.push(done);
        self.has_done.store(true, Ordering::Release);
    }

    /// Block until a job finishes (or is handed back) or `timeout` passes;
    /// whether one has. Call detached.
    pub fn wait(&self, timeout: Duration) -> bool {
        let news = |s: &mut SinkState| !s.done.is_empty() || !s.bounced.is_empty();
        let (mut state, _) = self
            .ready
            .wait_timeout_while(lock(&self.state), timeout, |s| !news(s))
            .unwrap_or_else(|e| e.into_inner());
        news(&mut state)
    }

    /// The `get` has given up: queued jobs are skipped, a running chain stops
    /// before its next task, results are dropped. Call with the GIL.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        self.withdraw();
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    idle: usize,
    busy: usize,
    /// Threads spawned that have not yet come to wait for a job.
    starting: usize,
    threads: usize,
    shutdown: bool,
}

#[derive(Default)]
pub struct Pool {
    queue: Mutex<Queue>,
    work: Condvar,
    exited: Condvar,
    want_gil: AtomicUsize,
    spawned: AtomicU32,
    exit_turn: Turnstile,
}

/// Upper bound on worker threads, reached only by deeply nested `get` calls
/// (each level's caller waits on a worker): beyond it callers run their jobs.
pub const MAX_THREADS: usize = 1024;
const WORKER_STACK: usize = 8 << 20;

static POOL: Mutex<Option<Arc<Pool>>> = Mutex::new(None);

/// The process-wide pool, created on first use; None once closed at exit.
pub fn pool() -> Option<Arc<Pool>> {
    if lifecycle::closing() {
        return None;
    }
    Some(
        lock(&POOL)
            .get_or_insert_with(|| Arc::new(Pool::default()))
            .clone(),
    )
}

/// In a child after `fork()`, the parent's worker threads do not exist: forget
/// the old pool without touching its (possibly locked) mutexes.
pub fn forget_after_fork() {
    let mut slot = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(old) = slot.take() {
        std::mem::forget(old);
    }
}

/// Close the pool (idle workers exit; busy ones exit when their job is done)
/// and return it, so the caller can wait for its threads.
pub fn close() -> Option<Arc<Pool>> {
    let pool = lock(&POOL).take()?;
    let mut q = lock(&pool.queue);
    q.shutdown = true;
    pool.work.notify_all();
    drop(q);
    Some(pool)
}

impl Pool {
    /// Run a job: on a worker now if fewer than its sink's limit are running
    /// (starting a thread if none is idle), otherwise after one of them. Hands
    /// the job back if no thread can take it: the caller then runs it.
    pub fn submit(self: &Arc<Self>, job: Job) -> Result<(), Job> {
        let sink = Arc::clone(&job.sink);
        let mut state = lock(&sink.state);
        if state.running >= sink.workers {
            state.ahead.push_back(job);
            return Ok(());
        }
        let mut q = lock(&self.queue);
        if q.shutdown {
            return Err(job);
        }
        if q.idle + q.starting > q.jobs.len() {
            q.jobs.push_back(job);
            state.running += 1;
            drop(q);
            self.work.notify_one();
            return Ok(());
        }
        if q.threads >= MAX_THREADS {
            return Err(job);
        }
        q.threads += 1;
        q.starting += 1;
        drop(q);
        let pool = Arc::clone(self);
        let id = self.spawned.fetch_add(1, Ordering::Relaxed) + 1;
        let spawned = std::thread::Builder::new()
            .name(format!("taskloom-worker-{id}"))
            .stack_size(WORKER_STACK)
            .spawn(move || worker_main(pool, id));
        let mut q = lock(&self.queue);
        if spawned.is_err() {
            q.threads -= 1;
            q.starting -= 1;
            return Err(job);
        }
        q.jobs.push_back(job);
        state.running += 1;
        drop(q);
        self.work.notify_one();
        Ok(())
    }

    /// Whether a worker is waiting to take the GIL.
    #[inline]
    pub fn wants_gil(&self) -> bool {
        self.want_gil.load(Ordering::Relaxed) != 0
    }

    /// Release the GIL until waiting workers have taken it (bounded to 200 us),
    /// then take it back.
    pub fn yield_gil(&self, py: Python<'_>) {
        lifecycle::detach(py, || {
            let start = Instant::now();
            while self.wants_gil() && start.elapsed() < Duration::from_micros(200) {
                std::thread::yield_now();
            }
        });
    }

    /// Worker threads alive (busy, idle or starting).
    pub fn threads(&self) -> usize {
        lock(&self.queue).threads
    }

    /// Block until every worker thread has exited or `timeout` passes. Call detached.
    pub fn wait_exited(&self, timeout: Duration) {
        let q = lock(&self.queue);
        let _unused = self
            .exited
            .wait_timeout_while(q, timeout, |q| q.threads > 0);
    }

    /// Wait for a job; None on shutdown, once it is this thread's turn to
    /// leave ([`Turnstile`]). Runs detached.
    fn next_job(&self, first: bool, finished_one: bool) -> Option<Job> {
        let mut q = lock(&self.queue);
        if first {
            q.starting -= 1;
        }
        if finished_one {
            q.busy -= 1;
        }
        loop {
            if let Some(job) = q.jobs.pop_front() {
                q.busy += 1;
                self.want_gil.fetch_add(1, Ordering::Relaxed);
                return Some(job);
            }
            if q.shutdown {
                drop(q);
                self.exit_turn.enter();
                return None;
            }
            q.idle += 1;
            q = self.work.wait(q).unwrap_or_else(|e| e.into_inner());
            q.idle -= 1;
        }
    }

    /// A thread is gone: hand back the queued jobs no remaining thread will take.
    fn thread_exited(&self, starting: bool) {
        let mut q = lock(&self.queue);
        q.threads -= 1;
        if starting {
            q.starting -= 1;
        }
        let mut stranded = Vec::new();
        while q.jobs.len() > q.idle + q.starting {
            stranded.extend(q.jobs.pop_back());
        }
        self.exited.notify_all();
        drop(q);
        for job in stranded {
            let sink = Arc::clone(&job.sink);
            sink.bounce(job);
        }
    }
}

fn worker_main(pool: Arc<Pool>, id: u32) {
    // `try_attach` declines while the interpreter is finalizing or gone: the
    // jobs this thread was started for go back to their callers.
    let attached = Python::try_attach(|py| {
        let mut first = true;
        let mut finished_one = false;
        while let Some(job) = lifecycle::detach(py, || pool.next_job(first, finished_one)) {
            first = false;
            pool.want_gil.fetch_sub(1, Ordering::Relaxed);
            run(py, job, id);
            finished_one = true;
        }
    });
    if attached.is_some() {
        // Its thread state is gone (`try_attach` released it): the next may go.
        pool.exit_turn.leave();
    }
    // Once attached, its first `next_job` call ended its `starting` state.
    pool.thread_exited(attached.is_none());
}

/// Workers leaving at exit take the GIL one at a time, to release their thread
/// state. All at once, a thousand threads (`get`s nested a thousand deep leave
/// that many) each woke every 5 ms in CPython's wait for the GIL: 5-6 s of
/// futex storms instead of ~0.1 s.
#[derive(Default)]
struct Turnstile {
    taken: Mutex<bool>,
    free: Condvar,
}

impl Turnstile {
    fn enter(&self) {
        let mut taken = lock(&self.taken);
        while *taken {
            taken = self.free.wait(taken).unwrap_or_else(|e| e.into_inner());
        }
        *taken = true;
    }

    fn leave(&self) {
        *lock(&self.taken) = false;
        self.free.notify_one();
    }
}

/// Run a job, then the jobs waiting in its sink, one after the other.
fn run(py: Python<'_>, mut job: Job, worker: u32) {
    loop {
        let sink = Arc::clone(&job.sink);
        let done = execute(py, job, worker);
        match sink.finished(done) {
            Some(next) => job = next,
            None => return,
        }
    }
}

/// Run one job (on a worker, or on the calling thread when no worker could
/// take it); None if its `get` has given up.
pub fn execute(py: Python<'_>, job: Job, worker: u32) -> Option<Done> {
    let Job {
        program,
        task,
        deps,
        chain,
        sink,
        context,
    } = job;
    if sink.is_cancelled() {
        return None;
    }
    let started = Instant::now();
    let mut current = task;
    let result = in_context(py, &context, || {
        catch_unwind(AssertUnwindSafe(|| {
            let mut r = eval_task(py, program.code(task), &program.consts, &deps[..])?;
            for &t in &chain {
                if sink.is_cancelled() {
                    // Ctrl-C or an error: the rest of the chain would only burn CPU.
                    return Ok(r);
                }
                current = t;
                r = eval_task(
                    py,
                    program.code(t),
                    &program.consts,
                    std::slice::from_ref(&r),
                )?;
            }
            Ok(r)
        }))
        .unwrap_or_else(|payload| Err(errors::panic(payload)))
    });
    let ended = Instant::now();
    // Free inputs here, on a thread that holds the GIL, before reporting.
    drop(deps);
    drop(program);
    drop(context);
    let done = Done {
        task,
        chain,
        result,
        failed: current,
        started,
        ended,
        worker,
    };
    // A result nobody will read is dropped here, with the GIL, not under the sink's lock.
    (!sink.is_cancelled()).then_some(done)
}

/// Run `f` in a fresh copy of `context` (entered on this thread, then left).
fn in_context<T>(
    py: Python<'_>,
    context: &Py<PyAny>,
    f: impl FnOnce() -> PyResult<T>,
) -> PyResult<T> {
    // SAFETY: copying a live context gives a new reference (or NULL and an error).
    let copy = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_Copy(context.as_ptr()))? };
    // SAFETY: a fresh copy is entered by no other thread.
    if unsafe { ffi::PyContext_Enter(copy.as_ptr()) } != 0 {
        return Err(PyErr::fetch(py));
    }
    let r = f();
    // SAFETY: leaving the context this thread entered above.
    if unsafe { ffi::PyContext_Exit(copy.as_ptr()) } != 0 {
        return Err(PyErr::fetch(py));
    }
    r
}
