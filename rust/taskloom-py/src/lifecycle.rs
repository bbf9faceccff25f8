//! The interpreter's life around taskloom's threads: exit, finalization, fork.
//!
//! CPython ends a thread that tries to attach after finalization has begun
//! (3.10-3.13: `pthread_exit`, a forced unwind that aborts the process when it
//! crosses Rust frames; 3.14: the thread hangs). So no thread may run, or wait
//! to run, Python inside taskloom when finalization starts. Policy:
//!
//! - At exit ([`shutdown`], an `atexit` handler, so after `threading` has
//!   joined non-daemon threads), the pool is closed to new jobs; `get`s still
//!   running on other threads (daemon threads, workers in nested gets) stop at
//!   their next task with a `RuntimeError`; and, as `concurrent.futures` does,
//!   exit waits until they have returned and every worker thread has finished
//!   its task and exited. Ctrl-C during that wait skips it: the process then
//!   exits at once with status 130 after flushing `sys.stdout`/`sys.stderr`,
//!   since a thread still inside a task cannot be stopped safely.
//! - After that, a `get` on the main thread (an `atexit` handler registered
//!   before taskloom's, a `__del__` during finalization) runs every task inline;
//!   a `get` on any other thread is refused with `RuntimeError`, as
//!   `concurrent.futures` refuses new work after shutdown.
//! - Every wait that detaches from the interpreter goes through [`detach`],
//!   which never re-attaches a thread other than the main one once
//!   finalization has begun: it parks the thread, as CPython 3.14 does.
//! - Delayed values kept out of young collections are all tracked again at
//!   exit (see `gcpark`): shutdown's collections run no `gc.callbacks`.
//! - Fork: the child has only the forking thread, so the count of running
//!   `get`s becomes that thread's own.
//!
//! The state kept: a closing flag, the number of `get`s running in the process
//! and, per thread, how many of them are on that thread.

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

static CLOSING: AtomicBool = AtomicBool::new(false);
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static MAIN_THREAD: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static ON_THIS_THREAD: Cell<usize> = const { Cell::new(0) };
}

/// Remember which thread is the main one (called at import).
pub fn init(py: Python<'_>) -> PyResult<()> {
    let ident: u64 = py
        .import("threading")?
        .call_method0("main_thread")?
        .getattr("ident")?
        .extract()?;
    MAIN_THREAD.store(ident, Ordering::Relaxed);
    Ok(())
}

/// Whether exit has begun (the pool is closed).
#[inline]
pub fn closing() -> bool {
    CLOSING.load(Ordering::Relaxed)
}

/// Whether the calling thread is the interpreter's main thread, the only one
/// on which CPython runs signal handlers.
pub fn on_main_thread() -> bool {
    // SAFETY: reads the calling thread's id; needs no interpreter state.
    let ident = unsafe { ffi::PyThread_get_thread_ident() } as u64;
    ident == MAIN_THREAD.load(Ordering::Relaxed)
}

/// Whether a running `get` must stop now: exit has begun and it is not on the
/// main thread. One relaxed load while the process is not exiting.
#[inline]
pub fn must_stop() -> bool {
    closing() && !on_main_thread()
}

pub fn stopped_at_exit() -> PyErr {
    PyRuntimeError::new_err(
        "taskloom: the interpreter is shutting down; this computation was stopped \
         (computations on threads other than the main one cannot run during exit)",
    )
}

/// One running `get`, counted from its start to its end.
pub struct Running(());

impl Running {
    /// Count a `get` starting on this thread; refused once exit has begun,
    /// unless on the main thread.
    pub fn start() -> PyResult<Running> {
        if must_stop() {
            return Err(stopped_at_exit());
        }
        RUNNING.fetch_add(1, Ordering::SeqCst);
        ON_THIS_THREAD.with(|n| n.set(n.get() + 1));
        Ok(Running(()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        ON_THIS_THREAD.with(|n| n.set(n.get() - 1));
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The child of a `fork()` has only the thread that forked.
pub fn after_fork_in_child() {
    RUNNING.store(ON_THIS_THREAD.with(Cell::get), Ordering::SeqCst);
    CLOSING.store(false, Ordering::SeqCst);
}

fn finalizing() -> bool {
    #[cfg(Py_3_13)]
    // SAFETY: reads the runtime's state; callable without an attached thread.
    unsafe {
        ffi::Py_IsFinalizing() != 0
    }
    #[cfg(not(Py_3_13))]
    {
        extern "C" {
            fn _Py_IsFinalizing() -> std::os::raw::c_int;
        }
        // SAFETY: as above; exported by CPython 3.7-3.12.
        unsafe { _Py_IsFinalizing() != 0 }
    }
}

/// [`Python::detach`], except that a thread other than the main one never
/// re-attaches once finalization has begun (CPython would end it by
/// unwinding through Rust frames): it stays parked until the process exits.
pub fn detach<T: Send, F: Send + FnOnce() -> T>(py: Python<'_>, f: F) -> T {
    py.detach(|| {
        let r = f();
        if finalizing() && !on_main_thread() {
            loop {
                std::thread::park();
            }
        }
        r
    })
}

/// The `atexit` handler: see the module documentation.
pub fn shutdown(py: Python<'_>) -> PyResult<()> {
    CLOSING.store(true, Ordering::SeqCst);
    crate::gcpark::unpark_all();
    let pool = crate::pool::close();
    let own = ON_THIS_THREAD.with(Cell::get);
    loop {
        let gets = RUNNING.load(Ordering::SeqCst) > own;
        let threads = pool.as_ref().is_some_and(|p| p.threads() > 0);
        if !gets && !threads {
            return Ok(());
        }
        detach(py, || match &pool {
            Some(p) if !gets => p.wait_exited(Duration::from_millis(20)),
            _ => std::thread::sleep(Duration::from_millis(5)),
        });
        if py.check_signals().is_err() {
            // A second Ctrl-C: skip the wait. Finalizing now would abort the
            // process in the threads still running tasks, so exit at once.
            let sys = py.import("sys")?;
            for stream in ["stdout", "stderr"] {
                if let Ok(s) = sys.getattr(stream) {
                    let _ = s.call_method0("flush");
                }
            }
            // SAFETY: ends the process without running finalizers, on purpose.
            unsafe { libc::_exit(130) };
        }
    }
}
