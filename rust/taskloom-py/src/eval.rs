//! Evaluating one task's encoded value: the only code that calls user functions.
//!
//! The same evaluator serves the calling thread (dependencies read from the
//! executor's result table) and worker threads (dependencies shipped with the
//! job), through the [`Deps`] trait, so both paths behave identically.
//! Arguments are passed to `PyObject_Vectorcall` as borrowed pointers: a task
//! whose arguments are results and constants costs no reference-count traffic
//! and no tuple allocation. The common shapes, a call of results and
//! constants or of lists and tuples of them, are made straight from their ops
//! ([`flat_call`]); the rest go through the recursive [`eval`]. Recursion is bounded by
//! [`MAX_NESTING`](crate::convert::MAX_NESTING), never by graph depth.

use crate::convert::Op;
use pyo3::ffi;
use pyo3::prelude::*;
use smallvec::SmallVec;

/// Where a task reads the results of its dependencies from, by local index.
pub trait Deps {
    /// A borrowed pointer to the `i`-th dependency's result.
    fn get(&self, i: u32) -> *mut ffi::PyObject;
}

impl Deps for [Py<PyAny>] {
    #[inline]
    fn get(&self, i: u32) -> *mut ffi::PyObject {
        self[i as usize].as_ptr()
    }
}

enum Val<'py> {
    Borrowed(*mut ffi::PyObject),
    Owned(Bound<'py, PyAny>),
}

impl<'py> Val<'py> {
    #[inline]
    fn ptr(&self) -> *mut ffi::PyObject {
        match self {
            Val::Borrowed(p) => *p,
            Val::Owned(b) => b.as_ptr(),
        }
    }

    #[inline]
    fn into_owned(self, py: Python<'py>) -> Bound<'py, PyAny> {
        match self {
            // SAFETY: borrowed pointers come from live results or constants.
            Val::Borrowed(p) => unsafe { Bound::from_borrowed_ptr(py, p) },
            Val::Owned(b) => b,
        }
    }
}

/// Evaluate a task's code to its result.
#[inline]
pub fn eval_task<D: Deps + ?Sized>(
    py: Python<'_>,
    code: &[Op],
    consts: &[Py<PyAny>],
    deps: &D,
) -> PyResult<Py<PyAny>> {
    if let Some(r) = flat_call(py, code, consts, deps) {
        return r;
    }
    let mut pos = 0;
    Ok(eval(py, code, &mut pos, consts, deps)?
        .into_owned(py)
        .unbind())
}

/// Most tasks are `(f, a, b, ...)` whose arguments are results and constants,
/// or lists or tuples of them (`(sum, [x, y, z])`): called here without
/// [`eval`]'s recursion and its frame (room for every kind of op, set up on
/// each entry: a tenth of a chain's execution). None for any other shape, or
/// more than [`FLAT_ARGS`] arguments.
#[inline]
fn flat_call<D: Deps + ?Sized>(
    py: Python<'_>,
    code: &[Op],
    consts: &[Py<PyAny>],
    deps: &D,
) -> Option<PyResult<Py<PyAny>>> {
    let [Op::Call(n), Op::Const(f), rest @ ..] = code else {
        return None;
    };
    let n = *n as usize;
    if n > FLAT_ARGS || !is_flat(rest, n) {
        return None;
    }
    let item = |op: &Op| match *op {
        Op::Dep(i) => deps.get(i),
        Op::Const(i) => consts[i as usize].as_ptr(),
        _ => unreachable!("checked by is_flat"),
    };
    let mut args = [std::ptr::null_mut(); FLAT_ARGS];
    // Containers built for the call, released after it.
    let mut temps: SmallVec<[Bound<'_, PyAny>; FLAT_ARGS]> = SmallVec::new();
    let mut pos = 0;
    for arg in args.iter_mut().take(n) {
        let op = rest[pos];
        pos += 1;
        *arg = match op {
            Op::List(k) | Op::Tuple(k) => {
                let items = rest[pos..pos + k as usize].iter().map(item).inspect(|&x| {
                    // SAFETY: `x` is a live result or constant; the new reference
                    // is handed to the container.
                    unsafe { ffi::Py_INCREF(x) };
                });
                pos += k as usize;
                let c = match sequence(py, matches!(op, Op::List(_)), items) {
                    Ok(c) => c,
                    Err(e) => return Some(Err(e)),
                };
                let p = c.as_ptr();
                temps.push(c);
                p
            }
            op => item(&op),
        };
    }
    let f = consts[*f as usize].as_ptr();
    // SAFETY: `f` and every argument are alive for the duration of the call.
    let r = unsafe { ffi::PyObject_Vectorcall(f, args.as_ptr(), n, std::ptr::null_mut()) };
    drop(temps);
    // SAFETY: `r` is a new reference or NULL with an exception set.
    Some(unsafe { Bound::from_owned_ptr_or_err(py, r) }.map(Bound::unbind))
}

/// A new list (or tuple) of `items`, each a reference handed over. Every slot
/// is filled before any Python code can run (setting an item runs none), so
/// user code run meanwhile (a collection, a destructor, `gc.get_objects()`)
/// never sees a container whose slots are still empty; items not taken when
/// the container cannot be made stay with the iterator. Out of line: inlined
/// into [`eval_task`], it slowed every call made there (a chain's by 3-5%).
#[inline(never)]
fn sequence<'py>(
    py: Python<'py>,
    list: bool,
    items: impl ExactSizeIterator<Item = *mut ffi::PyObject>,
) -> PyResult<Bound<'py, PyAny>> {
    let n = items.len() as ffi::Py_ssize_t;
    // SAFETY: a new container of `n` slots, each set once below to a reference
    // the iterator hands over (SET_ITEM steals it).
    unsafe {
        let raw = if list {
            ffi::PyList_New(n)
        } else {
            ffi::PyTuple_New(n)
        };
        let c = Bound::from_owned_ptr_or_err(py, raw)?;
        for (i, x) in items.enumerate() {
            if list {
                ffi::PyList_SET_ITEM(c.as_ptr(), i as ffi::Py_ssize_t, x);
            } else {
                ffi::PyTuple_SET_ITEM(c.as_ptr(), i as ffi::Py_ssize_t, x);
            }
        }
        Ok(c)
    }
}

/// Whether `ops` are exactly `n` arguments, each a result, a constant, or a
/// list or tuple of those.
#[inline]
fn is_flat(ops: &[Op], n: usize) -> bool {
    let leaf = |op: &Op| matches!(op, Op::Dep(_) | Op::Const(_));
    let mut pos = 0;
    for _ in 0..n {
        match ops.get(pos) {
            Some(Op::Dep(_) | Op::Const(_)) => pos += 1,
            Some(Op::List(k) | Op::Tuple(k)) => {
                let end = pos + 1 + *k as usize;
                match ops.get(pos + 1..end) {
                    Some(items) if items.iter().all(leaf) => pos = end,
                    _ => return false,
                }
            }
            _ => return false,
        }
    }
    pos == ops.len()
}

/// The most arguments [`flat_call`] passes.
const FLAT_ARGS: usize = 4;

fn eval<'py, D: Deps + ?Sized>(
    py: Python<'py>,
    code: &[Op],
    pos: &mut usize,
    consts: &[Py<PyAny>],
    deps: &D,
) -> PyResult<Val<'py>> {
    let op = code[*pos];
    *pos += 1;
    match op {
        Op::Dep(i) => Ok(Val::Borrowed(deps.get(i))),
        Op::Const(i) => Ok(Val::Borrowed(consts[i as usize].as_ptr())),
        Op::Call(n) => {
            let f = eval(py, code, pos, consts, deps)?;
            let n = n as usize;
            let mut args: SmallVec<[*mut ffi::PyObject; 8]> = SmallVec::with_capacity(n);
            // Temporaries (nested calls, rebuilt containers) live until the call returns.
            let mut temps: SmallVec<[Bound<'py, PyAny>; 2]> = SmallVec::new();
            for _ in 0..n {
                match code[*pos] {
                    Op::Dep(i) => {
                        *pos += 1;
                        args.push(deps.get(i));
                    }
                    Op::Const(i) => {
                        *pos += 1;
                        args.push(consts[i as usize].as_ptr());
                    }
                    _ => {
                        let v = eval(py, code, pos, consts, deps)?.into_owned(py);
                        args.push(v.as_ptr());
                        temps.push(v);
                    }
                }
            }
            // SAFETY: `f` and every argument are alive for the duration of the call.
            let r = unsafe {
                ffi::PyObject_Vectorcall(f.ptr(), args.as_ptr(), n, std::ptr::null_mut())
            };
            drop(temps);
            // SAFETY: `r` is a new reference or NULL with an exception set.
            Ok(Val::Owned(unsafe { Bound::from_owned_ptr_or_err(py, r)? }))
        }
        Op::List(n) | Op::Tuple(n) => {
            // Items first, container after: user code run while evaluating
            // them (nested tasks, destructors, `gc.get_objects()`) must never
            // see a container whose slots are still empty.
            let mut items: SmallVec<[Bound<'py, PyAny>; 8]> = SmallVec::with_capacity(n as usize);
            for _ in 0..n {
                items.push(eval(py, code, pos, consts, deps)?.into_owned(py));
            }
            let items = items.into_iter().map(Bound::into_ptr);
            Ok(Val::Owned(sequence(py, matches!(op, Op::List(_)), items)?))
        }
        Op::Set(n) | Op::FrozenSet(n) => {
            let mut items: SmallVec<[Val<'py>; 8]> = SmallVec::with_capacity(n as usize);
            for _ in 0..n {
                items.push(eval(py, code, pos, consts, deps)?);
            }
            // SAFETY: creating an empty set; items are live for the adds.
            let c = unsafe {
                let raw = if matches!(op, Op::Set(_)) {
                    ffi::PySet_New(std::ptr::null_mut())
                } else {
                    ffi::PyFrozenSet_New(std::ptr::null_mut())
                };
                Bound::from_owned_ptr_or_err(py, raw)?
            };
            for v in &items {
                // SAFETY: `c` is a new set and `v` a live object; PySet_Add does
                // not steal the reference.
                if unsafe { ffi::PySet_Add(c.as_ptr(), v.ptr()) } != 0 {
                    return Err(PyErr::fetch(py));
                }
            }
            Ok(Val::Owned(c))
        }
    }
}
