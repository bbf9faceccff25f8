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
//! Locks here are never held while waiting for the GIL and the GIL is never
//! awaited under them, so the pool cannot deadlock against the caller.
//!
//! `want_gil` counts workers that have a job and are about to take the GIL:
//! the calling thread, which runs small tasks inline while holding the GIL,
//! reads it after each task and steps aside ([`Pool::yield_gil`]) so a
//! returning numpy task is not left waiting for the 5 ms switch interval.

use crate::convert::Program;
use crate::errors;
use crate::eval::eval_task;
use pyo3::prelude::*;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One task to run on a worker.
pub struct Job {
    pub program: Arc<Program>,
    pub task: u32,
    /// The task's dependency results, by local index.
    pub deps: Vec<Py<PyAny>>,
    /// Tasks fused after `task`, each reading only the previous one's result;
    /// the job's result is the last one's.
    pub chain: Vec<u32>,
    pub sink: Arc<Sink>,
}

/// A finished job: the task, its result, when the call ran and on which worker.
pub struct Done {
    pub task: u32,
    pub chain: Vec<u32>,
    /// The result of the chain's last task (of `task` if there is no chain).
    pub result: PyResult<Py<PyAny>>,
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

    /// Take back the jobs not yet started (call with the GIL: they hold
    /// Python objects); returns how many there were.
    pub fn withdraw(&self) -> usize {
        let ahead = std::mem::take(&mut lock(&self.state).ahead);
        ahead.len()
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

    /// Block until a job finishes or `timeout` passes. Call detached.
    pub fn wait(&self, timeout: Duration) {
        let state = lock(&self.state);
        if state.done.is_empty() {
            let _unused = self.ready.wait_timeout(state, timeout);
        }
    }

    /// The `get` has given up: queued jobs are skipped, results dropped. Call
    /// with the GIL.
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
}

/// Upper bound on worker threads, reached only by deeply nested `get` calls.
const MAX_THREADS: usize = 1024;
const WORKER_STACK: usize = 8 << 20;

static POOL: Mutex<Option<Arc<Pool>>> = Mutex::new(None);

/// The process-wide pool, created on first use.
pub fn pool() -> Arc<Pool> {
    lock(&POOL)
        .get_or_insert_with(|| Arc::new(Pool::default()))
        .clone()
}

/// In a child after `fork()`, the parent's worker threads do not exist: forget
/// the old pool without touching its (possibly locked) mutexes.
pub fn forget_after_fork() {
    let mut slot = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(old) = slot.take() {
        std::mem::forget(old);
    }
}

/// Stop idle workers so they detach before the interpreter finalizes. Workers
/// still running an abandoned task (after Ctrl-C) exit when it returns.
pub fn shutdown(py: Python<'_>, timeout: Duration) {
    let Some(pool) = lock(&POOL).take() else {
        return;
    };
    py.detach(|| {
        let mut q = lock(&pool.queue);
        q.shutdown = true;
        pool.work.notify_all();
        let deadline = Instant::now() + timeout;
        while q.threads > q.busy {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            q = pool
                .exited
                .wait_timeout(q, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    });
}

impl Pool {
    /// Run a job: on a worker now if fewer than its sink's limit are running
    /// (starting a thread if none is idle), otherwise after one of them.
    pub fn submit(self: &Arc<Self>, job: Job) {
        {
            let sink = Arc::clone(&job.sink);
            let mut state = lock(&sink.state);
            if state.running >= sink.workers {
                state.ahead.push_back(job);
                return;
            }
            state.running += 1;
        }
        let mut q = lock(&self.queue);
        q.jobs.push_back(job);
        if q.idle >= q.jobs.len() || q.threads >= MAX_THREADS {
            drop(q);
            self.work.notify_one();
            return;
        }
        q.threads += 1;
        drop(q);
        let pool = Arc::clone(self);
        let id = self.spawned.fetch_add(1, Ordering::Relaxed) + 1;
        let spawned = std::thread::Builder::new()
            .name(format!("taskloom-worker-{id}"))
            .stack_size(WORKER_STACK)
            .spawn(move || worker_main(pool, id));
        if spawned.is_err() {
            // Out of threads: existing workers will drain the queue.
            lock(&self.queue).threads -= 1;
            self.work.notify_one();
        }
    }

    /// Whether a worker is waiting to take the GIL.
    #[inline]
    pub fn wants_gil(&self) -> bool {
        self.want_gil.load(Ordering::Relaxed) != 0
    }

    /// Release the GIL until waiting workers have taken it (bounded to 200 us),
    /// then take it back.
    pub fn yield_gil(&self, py: Python<'_>) {
        py.detach(|| {
            let start = Instant::now();
            while self.wants_gil() && start.elapsed() < Duration::from_micros(200) {
                std::thread::yield_now();
            }
        });
    }

    /// Wait for a job; None on shutdown. Runs detached.
    fn next_job(&self, finished_one: bool) -> Option<Job> {
        let mut q = lock(&self.queue);
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
                return None;
            }
            q.idle += 1;
            q = self.work.wait(q).unwrap_or_else(|e| e.into_inner());
            q.idle -= 1;
        }
    }
}

fn worker_main(pool: Arc<Pool>, id: u32) {
    Python::attach(|py| {
        let mut finished_one = false;
        while let Some(job) = py.detach(|| pool.next_job(finished_one)) {
            pool.want_gil.fetch_sub(1, Ordering::Relaxed);
            run(py, job, id);
            finished_one = true;
        }
    });
    let mut q = lock(&pool.queue);
    q.threads -= 1;
    pool.exited.notify_all();
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

/// Run one job; None if its `get` has given up.
fn execute(py: Python<'_>, job: Job, worker: u32) -> Option<Done> {
    let Job {
        program,
        task,
        deps,
        chain,
        sink,
    } = job;
    if sink.is_cancelled() {
        return None;
    }
    let started = Instant::now();
    let mut current = task;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut r = eval_task(py, program.code(task), &program.consts, &deps[..])?;
        for &t in &chain {
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
    .map_err(|e| errors::annotate(py, e, &program.keys[current as usize]));
    let ended = Instant::now();
    // Free inputs here, on a thread that holds the GIL, before reporting.
    drop(deps);
    drop(program);
    let done = Done {
        task,
        chain,
        result,
        started,
        ended,
        worker,
    };
    // A result nobody will read is dropped here, with the GIL, not under the sink's lock.
    (!sink.is_cancelled()).then_some(done)
}
