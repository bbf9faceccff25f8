//! Delayed values kept out of the cyclic GC's young collections ("parked").
//!
//! Why: Delayed values are built by the million and live until computed. Each
//! one tracked by the GC makes it grow the old generation, and CPython runs a
//! full collection whenever that grew by a quarter: about a dozen full walks of
//! the heap while 10^6 calls are built, half the time of building them
//! (measured: 1.0 us a call with the GC on, 0.5 with it off).
//!
//! Policy: every value [`delayed_call`](crate::delayed::delayed_call) makes is
//! untracked at once and recorded here. At the start of every full (generation
//! 2) collection, a `gc.callbacks` entry tracks every recorded value again, so
//! the full collection sees the whole heap as CPython would and frees any
//! cycle through a Delayed value; when it ends, the survivors are untracked
//! again. A young collection sees a parked value as it sees an old object:
//! what the value refers to counts as referenced from outside (kept, never
//! freed early), and a cycle through it waits for the next full collection,
//! as a cycle through any old object does. Parked values never count towards
//! the growth that triggers a full collection. At exit ([`unpark_all`], from
//! the `atexit` handler) every value is tracked for good, because the
//! collections of interpreter shutdown run no callbacks.
//!
//! What is never parked, or untracked again: a value whose type has a
//! finalizer (`__del__`): CPython tracks an object again while its `__del__`
//! runs during deallocation, and untracks it after without checking, so it must
//! stay tracked then. A value being deallocated (reference count 0) is never
//! tracked again: a collection would free it twice.
//!
//! Seen from Python: between full collections, `gc.is_tracked` is false for a
//! Delayed value, and `gc.get_objects` and `gc.get_referrers` do not list it.
//! The callback is looked for in the collector's own list at every parking
//! (by identity) and put back if something removed it; values parked before
//! its removal are seen again from the next parking on.
//!
//! State: a slab of the parked objects' addresses with a free list; a value
//! holds its slot and frees it when dropped. A slot is read only under the
//! GIL, while its object is alive.
//!
//! Only on CPython 3.10-3.13 with the GIL: 3.14's incremental collector scans
//! the old generation a piece at a time (never "generation 2" alone), and a
//! free-threaded build has no generations; there values stay tracked.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use pyo3::{ffi, intern};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The slot of a value that is not parked.
pub const NOT_PARKED: u32 = u32::MAX;

struct Slab {
    /// Parked objects; null for a free slot.
    objs: Vec<*mut ffi::PyObject>,
    free: Vec<u32>,
}

// SAFETY: the addresses are only dereferenced under the GIL.
unsafe impl Send for Slab {}

static SLAB: Mutex<Slab> = Mutex::new(Slab {
    objs: Vec::new(),
    free: Vec::new(),
});

/// Whether this Python parks values (see the module).
static ENABLED: PyOnceLock<bool> = PyOnceLock::new();
/// Set at exit: every value is tracked from then on.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// Our callback, and the collector's list of callbacks (`gc.callbacks` as
/// the `gc` module made it: rebinding the attribute does not change it).
static CALLBACK: PyOnceLock<(Py<PyAny>, Py<PyList>)> = PyOnceLock::new();

fn slab() -> MutexGuard<'static, Slab> {
    // Nothing panics while holding it; a poisoned slab is still consistent.
    SLAB.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `p`'s type has a finalizer (see the module).
///
/// # Safety
/// `p` must be a live object.
unsafe fn finalizes(p: *mut ffi::PyObject) -> bool {
    // SAFETY: a live object's type is live.
    unsafe {
        let t = ffi::Py_TYPE(p);
        (*t).tp_finalize.is_some() || (*t).tp_del.is_some()
    }
}

/// Untrack `obj`, a just-made Delayed value whose slot is `slot`, and record it
/// (see the module). Where parking is off, or the callback cannot be
/// registered, the value stays tracked.
pub fn park(obj: &Bound<'_, PyAny>, slot: &AtomicU32) {
    let py = obj.py();
    let on = *ENABLED.get_or_init(py, || !cfg!(Py_GIL_DISABLED) && py.version_info() < (3, 14));
    let p = obj.as_ptr();
    // SAFETY: `obj` is live.
    if !on || CLOSED.load(Ordering::Relaxed) || unsafe { finalizes(p) } {
        return;
    }
    if ensure_callback(py).is_err() {
        return;
    }
    let mut s = slab();
    let i = match s.free.pop() {
        Some(i) => {
            s.objs[i as usize] = p;
            i
        }
        None if s.objs.len() < NOT_PARKED as usize => {
            s.objs.push(p);
            (s.objs.len() - 1) as u32
        }
        None => return,
    };
    slot.store(i, Ordering::Relaxed);
    // SAFETY: a live GC object the caller just made; untracking twice is harmless.
    unsafe { ffi::PyObject_GC_UnTrack(p.cast()) };
}

/// Forget a value being dropped (its slot from [`park`], if any).
pub fn unpark(slot: &AtomicU32) {
    let i = slot.load(Ordering::Relaxed);
    if i == NOT_PARKED {
        return;
    }
    let mut s = slab();
    s.objs[i as usize] = std::ptr::null_mut();
    s.free.push(i);
    if s.free.len() == s.objs.len() {
        // Nothing parked: give the memory of a large batch back.
        s.objs = Vec::new();
        s.free = Vec::new();
    }
}

/// At exit: track every parked value, and park no more (see the module).
pub fn unpark_all() {
    CLOSED.store(true, Ordering::SeqCst);
    retrack(true);
}

/// Register the callback unless the collector's list holds it (by identity:
/// a callback of the user's may claim to equal anything).
fn ensure_callback(py: Python<'_>) -> PyResult<()> {
    let (cb, callbacks) = CALLBACK.get_or_try_init(py, || -> PyResult<_> {
        let cb = wrap_pyfunction!(_gc_callback, py)?.into_any().unbind();
        let callbacks = py
            .import("gc")?
            .getattr("callbacks")?
            .cast_into::<PyList>()?;
        Ok((cb, callbacks.unbind()))
    })?;
    let callbacks = callbacks.bind(py);
    if !callbacks.iter().any(|c| c.is(cb)) {
        callbacks.append(cb)?;
    }
    Ok(())
}

/// Track every parked value (`track`), or untrack every tracked one whose
/// type has no finalizer. Values being deallocated are left as they are.
fn retrack(track: bool) {
    for &p in &slab().objs {
        // SAFETY: a non-null slot holds an object not yet dropped (its drop
        // empties the slot first). Track and untrack run no Python code.
        unsafe {
            if p.is_null() || ffi::Py_REFCNT(p) == 0 {
                continue;
            }
            let tracked = ffi::PyObject_GC_IsTracked(p) != 0;
            if track && !tracked {
                ffi::PyObject_GC_Track(p.cast());
            } else if !track && tracked && !finalizes(p) {
                ffi::PyObject_GC_UnTrack(p.cast());
            }
        }
    }
}

/// The `gc.callbacks` entry: before a full collection, track every parked
/// value; after it, untrack the survivors.
#[pyfunction]
fn _gc_callback(phase: &str, info: &Bound<'_, PyDict>) -> PyResult<()> {
    let py = info.py();
    let full = match info.get_item(intern!(py, "generation"))? {
        Some(g) => g.extract::<i64>()? == 2,
        None => false,
    };
    if full && !CLOSED.load(Ordering::SeqCst) {
        retrack(phase == "start");
    }
    Ok(())
}
