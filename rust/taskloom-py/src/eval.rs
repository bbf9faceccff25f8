//! Evaluating one task's encoded value: the only code that calls user functions.
//!
//! The same evaluator serves the calling thread (dependencies read from the
//! executor's result table) and worker threads (dependencies shipped with the
//! job), through the [`Deps`] trait, so both paths behave identically.
//! Arguments are passed to `PyObject_Vectorcall` as borrowed pointers: a task
//! whose arguments are results and constants costs no reference-count traffic
//! and no tuple allocation. Recursion is bounded by
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
    let mut pos = 0;
    Ok(eval(py, code, &mut pos, consts, deps)?
        .into_owned(py)
        .unbind())
}

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
            let is_list = matches!(op, Op::List(_));
            // SAFETY: the new container's slots are all filled below before any
            // Python code can run (setting an item runs none); SET_ITEM steals
            // the reference each item hands over.
            unsafe {
                let raw = if is_list {
                    ffi::PyList_New(n as ffi::Py_ssize_t)
                } else {
                    ffi::PyTuple_New(n as ffi::Py_ssize_t)
                };
                let c = Bound::from_owned_ptr_or_err(py, raw)?;
                for (i, v) in items.into_iter().enumerate() {
                    if is_list {
                        ffi::PyList_SET_ITEM(c.as_ptr(), i as ffi::Py_ssize_t, v.into_ptr());
                    } else {
                        ffi::PyTuple_SET_ITEM(c.as_ptr(), i as ffi::Py_ssize_t, v.into_ptr());
                    }
                }
                Ok(Val::Owned(c))
            }
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
