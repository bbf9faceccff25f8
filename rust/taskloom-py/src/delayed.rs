//! The native half of `taskloom.delayed`: the fields of a Delayed value, the hot
//! path of building a call, and the walk that assembles a graph.
//!
//! `DelayedBase` holds what a lazy value is (its key, its own task, the Delayed
//! values that task reads, an optional length, and optionally an explicit graph
//! for values built from a dict); the Python subclass `taskloom.delayed.Delayed`
//! adds the user-facing behaviour. Policy: no per-object graph is ever merged, so
//! building a call costs O(arguments); [`graph_of`] assembles the graph once, at
//! compute time, by an iterative walk in which shared values appear once.
//!
//! Delayed values only point to the values they were built from, so they form
//! no cycles among themselves; `__traverse__` still reports every reference, so
//! the cyclic GC can free a cycle closed through a user object (which it breaks
//! by clearing that object).

use crate::gcpark;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PySet, PyString, PyTuple, PyType};
// hashbrown's default hasher: one insert per value of a graph of 10^6 calls
// should not pay for SipHash (the addresses hashed are not the user's input).
use hashbrown::HashSet;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

#[pyclass(subclass, frozen, module = "taskloom._core")]
pub struct DelayedBase {
    key: Py<PyAny>,
    /// The task, unless it is a `call` or lives in `graph`.
    task: Option<Py<PyAny>>,
    /// A call `func(*args)` kept in parts: the task tuple would hold the
    /// function and so stay in the cyclic GC's sight for life, while an
    /// arguments tuple of plain values drops out of it at the first collection.
    /// Halving what the GC walks matters with 10^6 values alive.
    call: Option<(Py<PyAny>, Py<PyTuple>)>,
    deps: Py<PyAny>,
    length: Option<usize>,
    graph: Option<Py<PyAny>>,
    /// The key is unique by construction (an impure call's counter token), so
    /// collecting a graph need not check it against other keys.
    unique: bool,
    /// For `delayed(func)` (a `DelayedLeaf`): what its calls are built from.
    // Boxed: only `delayed(func)` values have one, and every call's value
    // would otherwise carry its size (more memory for the GC to walk).
    leaf: Option<Box<Leaf>>,
    /// The key (a counter token's `str`) and the call's arguments (a tuple the
    /// GC no longer tracks) hold nothing the GC tracks: `__traverse__` leaves
    /// them out. Each would cost a full collection a cache miss per value at
    /// 10^6 values alive, for nothing.
    atoms: bool,
    /// Its slot among the values kept out of young collections (see `gcpark`).
    parked: AtomicU32,
}

impl Drop for DelayedBase {
    fn drop(&mut self) {
        gcpark::unpark(&self.parked);
    }
}

/// `leaf=` of `DelayedBase.__new__`: (func, name, pure, nout).
type LeafArgs = (Py<PyAny>, String, Option<bool>, Option<usize>);

/// `delayed(func, pure=, nout=)`: the function, its name (the prefix of its
/// calls' keys) and the options every call takes.
struct Leaf {
    func: Py<PyAny>,
    name: String,
    pure: Option<bool>,
    nout: Option<usize>,
}

#[pymethods]
impl DelayedBase {
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (key, task, deps, length = None, graph = None, unique = false, func = None, args = None, leaf = None))]
    fn new(
        key: Py<PyAny>,
        task: Option<Py<PyAny>>,
        deps: Py<PyAny>,
        length: Option<usize>,
        graph: Option<Py<PyAny>>,
        unique: bool,
        func: Option<Py<PyAny>>,
        args: Option<Py<PyTuple>>,
        leaf: Option<LeafArgs>,
    ) -> Self {
        // SAFETY: a flag read on a live tuple.
        let untracked = |a: &Py<PyTuple>| unsafe { ffi::PyObject_GC_IsTracked(a.as_ptr()) == 0 };
        // SAFETY: a type check on a live object.
        let atoms = unsafe { ffi::PyUnicode_CheckExact(key.as_ptr()) != 0 }
            && match (&func, &args) {
                (Some(_), Some(a)) => untracked(a),
                _ => false,
            };
        DelayedBase {
            key,
            task,
            call: func.zip(args),
            atoms,
            deps,
            length,
            graph,
            unique,
            parked: AtomicU32::new(gcpark::NOT_PARKED),
            leaf: leaf.map(|(func, name, pure, nout)| {
                Box::new(Leaf {
                    func,
                    name,
                    pure,
                    nout,
                })
            }),
        }
    }

    /// A call of a `delayed(func)` leaf (`DelayedLeaf.__call__` is this slot):
    /// the common case, an impure call without keywords outside an `annotate`
    /// block, is built here without a Python frame; every other goes to the
    /// Python half's `call_function` (see [`leaf_hooks`]).
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let Some(leaf) = &slf.get().leaf else {
            return Err(PyTypeError::new_err(format!(
                "'{}' object is not callable",
                slf.get_type().name()?
            )));
        };
        let hooks = leaf_hooks(py)?;
        let slow = kwargs.is_some_and(|k| !k.is_empty())
            || match leaf.pure {
                Some(pure) => pure,
                None => match hooks
                    .settings
                    .bind(py)
                    .cast::<PyDict>()?
                    .get_item(pyo3::intern!(py, "delayed_pure"))?
                {
                    Some(v) => v.is_truthy()?,
                    None => false,
                },
            }
            || context_var_is_set(hooks.annotations.bind(py))?;
        if slow {
            return hooks.slow_call.bind(py).call1((slf, args, kwargs));
        }
        let func = leaf.func.bind(py);
        let cls = hooks.delayed.bind(py).cast::<PyType>()?;
        delayed_call(
            cls,
            func,
            &leaf.name,
            args,
            leaf.nout,
            hooks.fallback.bind(py),
        )
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Some((f, a)) = &self.call {
            visit.call(f)?;
            if !self.atoms {
                visit.call(a)?;
            }
        }
        if !self.atoms {
            visit.call(&self.key)?;
        }
        if let Some(leaf) = &self.leaf {
            visit.call(&leaf.func)?;
        }
        visit.call(&self.task)?;
        visit.call(&self.deps)?;
        visit.call(&self.graph)
    }

    #[getter]
    fn _key(&self, py: Python<'_>) -> Py<PyAny> {
        self.key.clone_ref(py)
    }

    /// The task as a graph value (a call is assembled into a tuple here).
    #[getter]
    fn _task(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.task_value(py)
    }

    #[getter]
    fn _deps(&self, py: Python<'_>) -> Py<PyAny> {
        self.deps.clone_ref(py)
    }

    #[getter]
    fn _length(&self) -> Option<usize> {
        self.length
    }

    #[getter]
    fn _graph(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.graph.as_ref().map(|g| g.clone_ref(py))
    }
}

impl DelayedBase {
    fn task_value(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        if let Some((f, args)) = &self.call {
            let mut items = vec![f.bind(py).clone()];
            items.extend(args.bind(py).iter());
            return Ok(Some(PyTuple::new(py, items)?.into_any().unbind()));
        }
        Ok(self.task.as_ref().map(|t| t.clone_ref(py)))
    }

    /// A call's function and arguments, if this value is a call kept in parts.
    pub fn call<'py>(&self, py: Python<'py>) -> Option<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        self.call
            .as_ref()
            .map(|(f, a)| (f.bind(py).clone(), a.bind(py).clone()))
    }
}

/// What a leaf's native call needs of the Python half, registered by
/// `taskloom.delayed` at import ([`_leaf_setup`]).
struct LeafHooks {
    /// The class of the calls built (`taskloom.delayed.Delayed`).
    delayed: Py<PyAny>,
    /// `_arg(value, deps)`: an argument that is neither plain nor Delayed.
    fallback: Py<PyAny>,
    /// `slow_call(leaf, args, kwargs)`: every call not built natively.
    slow_call: Py<PyAny>,
    /// The settings dict whose `delayed_pure` is the default purity.
    settings: Py<PyAny>,
    /// The context variable an `annotate` block sets.
    annotations: Py<PyAny>,
}

static LEAF_HOOKS: PyOnceLock<LeafHooks> = PyOnceLock::new();

/// Register what native leaf calls need (called once, when `taskloom.delayed` is
/// imported; a second registration, from a reloaded module, is refused).
#[pyfunction]
pub fn _leaf_setup(
    py: Python<'_>,
    delayed: Py<PyAny>,
    fallback: Py<PyAny>,
    slow_call: Py<PyAny>,
    settings: Py<PyDict>,
    annotations: Py<PyAny>,
) -> PyResult<()> {
    let hooks = LeafHooks {
        delayed,
        fallback,
        slow_call,
        settings: settings.into_any(),
        annotations,
    };
    LEAF_HOOKS
        .set(py, hooks)
        .map_err(|_| PyRuntimeError::new_err("taskloom.delayed was set up already"))
}

fn leaf_hooks(py: Python<'_>) -> PyResult<&LeafHooks> {
    LEAF_HOOKS
        .get(py)
        .ok_or_else(|| PyRuntimeError::new_err("taskloom.delayed is not imported"))
}

/// Whether the context variable `var` holds a true value in the current context.
fn context_var_is_set(var: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = var.py();
    let mut value: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: `var` is live (PyContextVar_Get raises a TypeError for anything
    // but a ContextVar); on success `value` is a new reference, or NULL when
    // the variable has neither a value nor a default.
    unsafe {
        if ffi::PyContextVar_Get(var.as_ptr(), std::ptr::null_mut(), &mut value) != 0 {
            return Err(PyErr::fetch(py));
        }
        match Bound::from_owned_ptr_or_opt(py, value) {
            Some(v) => v.is_truthy(),
            None => Ok(false),
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
static PREFIX: Mutex<String> = Mutex::new(String::new());

/// Set the per-process prefix of unique keys (called at import and after fork).
#[pyfunction]
pub fn _seed_unique(prefix: String) {
    *PREFIX.lock().unwrap_or_else(|e| e.into_inner()) = prefix;
    COUNTER.store(0, Ordering::Relaxed);
}

/// `"{process prefix}{counter}"`: a token no other call in this process returns.
#[pyfunction]
pub fn unique_token() -> String {
    unique_key("").split_off(1)
}

/// `"{name}-{process prefix}{counter}"`: the key of an impure call.
#[pyfunction]
pub fn unique_key(name: &str) -> String {
    let (n, prefix) = next_unique();
    render_unique(name, &prefix, n)
}

fn render_unique(name: &str, prefix: &str, n: u64) -> String {
    let mut key = vec![0; unique_len(name, prefix, n)];
    write_unique(&mut key, name, prefix, n);
    String::from_utf8(key).expect("a name, '-', a prefix and ASCII hex digits")
}

/// [`unique_key`] as a Python `str`, written in place: on the hot path of
/// building delayed calls, where a Rust string on the way (an allocation, a
/// UTF-8 decode) was a tenth of a call's cost.
fn unique_key_str<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyString>> {
    let (n, prefix) = next_unique();
    if !name.is_ascii() || !prefix.is_ascii() {
        return Ok(PyString::new(py, &render_unique(name, &prefix, n)));
    }
    let len = unique_len(name, &prefix, n);
    // SAFETY: PyUnicode_New(len, 127) makes a compact ASCII str of `len`
    // one-byte characters (or NULL with an exception set); all `len` bytes are
    // written before the str is seen by anything, with ASCII only.
    unsafe {
        let s = ffi::PyUnicode_New(len as ffi::Py_ssize_t, 127);
        if s.is_null() {
            return Err(PyErr::fetch(py));
        }
        let data = std::slice::from_raw_parts_mut(ffi::PyUnicode_DATA(s).cast::<u8>(), len);
        write_unique(data, name, &prefix, n);
        Ok(Bound::from_owned_ptr(py, s).cast_into_unchecked())
    }
}

/// The next counter value, and the process's prefix.
fn next_unique() -> (u64, std::sync::MutexGuard<'static, String>) {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    (n, PREFIX.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Hex digits of the counter: at least 8, as `{n:08x}` would write.
fn counter_digits(n: u64) -> usize {
    ((64 - n.leading_zeros() as usize).div_ceil(4)).max(8)
}

fn unique_len(name: &str, prefix: &str, n: u64) -> usize {
    name.len() + 1 + prefix.len() + counter_digits(n)
}

/// Write the key into `out`, exactly [`unique_len`] bytes.
fn write_unique(out: &mut [u8], name: &str, prefix: &str, n: u64) {
    let (head, rest) = out.split_at_mut(name.len());
    head.copy_from_slice(name.as_bytes());
    rest[0] = b'-';
    let (mid, counter) = rest[1..].split_at_mut(prefix.len());
    mid.copy_from_slice(prefix.as_bytes());
    let digits = counter.len();
    for (i, c) in counter.iter_mut().enumerate() {
        *c = b"0123456789abcdef"[(n >> (4 * (digits - 1 - i))) as usize & 15];
    }
}

/// Whether `obj` is passed to tasks as it is (never read as a key, task or container).
#[inline]
fn passes_as_is(obj: &Bound<'_, PyAny>) -> bool {
    let p = obj.as_ptr();
    // SAFETY: type checks on a live object.
    unsafe {
        pyo3::ffi::PyLong_CheckExact(p) != 0
            || pyo3::ffi::PyUnicode_CheckExact(p) != 0
            || pyo3::ffi::PyFloat_CheckExact(p) != 0
            || obj.is_none()
            || pyo3::ffi::PyBytes_CheckExact(p) != 0
            || pyo3::ffi::PyBool_Check(p) != 0
    }
}

/// The impure call `func(*args)` as an instance of `cls` (a `DelayedBase` subclass).
///
/// Arguments that are plain values or Delayed values are handled here; any other
/// argument goes through `fallback(arg, deps)`, the Python function that knows
/// containers and other collections.
#[pyfunction]
pub fn delayed_call<'py>(
    cls: &Bound<'py, PyType>,
    func: &Bound<'py, PyAny>,
    name: &str,
    args: &Bound<'py, PyTuple>,
    nout: Option<usize>,
    fallback: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = cls.py();
    if !cls.is_subclass_of::<DelayedBase>()? {
        return Err(PyTypeError::new_err(format!(
            "delayed_call builds DelayedBase subclasses, not {cls}"
        )));
    }
    // Made on the first argument that needs it: most calls read no Delayed value.
    let mut deps: Option<Bound<'py, PyList>> = None;
    // Whether every argument is an atom the cyclic GC never tracks (see below).
    let mut atoms = true;
    // Arguments all passed as they are (`delayed(inc)(i)`): the call's own
    // tuple is kept, not copied (the copy and the original's release were a
    // tenth of building a call). Only an exact tuple: a subclass could
    // change what its items read as.
    let args = if args.is_exact_instance_of::<PyTuple>()
        && args.iter_borrowed().all(|a| passes_as_is(&a))
    {
        args.clone()
    } else {
        let mut items = Vec::with_capacity(args.len());
        for a in args.iter() {
            if passes_as_is(&a) {
                items.push(a);
            } else if let Ok(d) = a.cast::<DelayedBase>() {
                let key = d.get().key.bind(py).clone();
                atoms &= !may_be_tracked(&key);
                deps.get_or_insert_with(|| PyList::empty(py)).append(d)?;
                items.push(key);
            } else {
                let deps = deps.get_or_insert_with(|| PyList::empty(py));
                let item = fallback.call1((a, &*deps))?;
                atoms &= !may_be_tracked(&item);
                items.push(item);
            }
        }
        PyTuple::new(py, items)?
    };
    if atoms {
        // What CPython's next collection would do (a tuple of untracked items
        // is untracked), done now: a million calls alive then add a million
        // objects fewer to every collection until then.
        // SAFETY: `args` is a live tuple (untracking one no longer tracked,
        // as a caller's may be after a collection, does nothing).
        unsafe { ffi::PyObject_GC_UnTrack(args.as_ptr().cast()) };
    }
    let key = unique_key_str(py, name)?;
    let deps = match deps {
        Some(list) if !list.is_empty() => list.into_any(),
        _ => PyTuple::empty(py).into_any(),
    };
    let none = py.None();
    let new_args = (key, &none, deps, nout, &none, true, func, args).into_pyobject(py)?;
    // `DelayedBase`'s own tp_new, which makes an instance of the subclass `cls`
    // without running the subclass's `__new__` (whose signature is Dask's public
    // one), called directly: `DelayedBase.__new__(cls, ...)` would go through
    // the attribute's wrapper, which copies the arguments once more. `cls` was
    // checked above, as that wrapper would; its other check, that no static
    // (C) type sits between `cls` and DelayedBase, holds: none exists.
    // SAFETY: a type's tp_new with a live type and argument tuple returns a new
    // reference or NULL with an exception set.
    unsafe {
        let base = py.get_type::<DelayedBase>();
        let new = (*base.as_type_ptr())
            .tp_new
            .expect("a pyclass with #[new] has tp_new");
        let made = new(cls.as_type_ptr(), new_args.as_ptr(), std::ptr::null_mut());
        let made = Bound::from_owned_ptr_or_err(py, made)?;
        gcpark::park(&made, &made.cast_unchecked::<DelayedBase>().get().parked);
        Ok(made)
    }
}

/// Whether the cyclic GC may track `obj`, now or later: CPython's own test when
/// it untracks a tuple (`_PyObject_GC_MAY_BE_TRACKED`): any GC object but an
/// untracked tuple (an untracked dict is tracked again when it takes a
/// tracked value).
#[inline]
fn may_be_tracked(obj: &Bound<'_, PyAny>) -> bool {
    let p = obj.as_ptr();
    // SAFETY: type and flag reads on a live object.
    unsafe {
        ffi::PyObject_IS_GC(p) != 0
            && (ffi::PyTuple_CheckExact(p) == 0 || ffi::PyObject_GC_IsTracked(p) != 0)
    }
}

/// Keys, and their tasks in the same order.
pub type Entries<'py> = (Vec<Bound<'py, PyAny>>, Vec<Bound<'py, PyAny>>);

/// What [`walk`] does after visiting a value.
enum Step {
    /// Go on to the value's inputs.
    Descend,
    /// Its inputs are already accounted for.
    Skip,
    /// Give up the walk.
    Stop,
}

/// Visit every Delayed value `roots` need, each once (by identity), depth first
/// with inputs in argument order: the scheduler's key lookup is cheapest when
/// references follow insertion order. Returns false if `visit` stopped it.
fn walk<'py>(
    roots: &Bound<'py, PyAny>,
    mut visit: impl FnMut(&Bound<'py, DelayedBase>) -> PyResult<Step>,
) -> PyResult<bool> {
    let mut visited: HashSet<usize> = HashSet::new();
    let mut stack: Vec<Bound<'py, PyAny>> = Vec::new();
    for r in roots.try_iter()? {
        stack.push(r?);
    }
    stack.reverse();
    while let Some(obj) = stack.pop() {
        if !visited.insert(obj.as_ptr() as usize) {
            continue;
        }
        let node = obj.cast::<DelayedBase>().map_err(|_| {
            PyTypeError::new_err(format!(
                "expected Delayed values, got {}",
                obj.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let d = node.get();
        match visit(node)? {
            Step::Stop => return Ok(false),
            Step::Skip => continue,
            Step::Descend => {}
        }
        let n = stack.len();
        let deps = d.deps.bind(obj.py());
        if let Ok(list) = deps.cast::<PyList>() {
            stack.extend(list.iter());
        } else if let Ok(tuple) = deps.cast::<PyTuple>() {
            stack.extend(tuple.iter());
        } else {
            for dep in deps.try_iter()? {
                stack.push(dep?);
            }
        }
        stack[n..].reverse();
    }
    Ok(true)
}

/// Keys and tasks of everything the Delayed `roots` need, in argument order,
/// without building a dict: the scheduler converts these directly. None if a
/// value carries an explicit graph (then [`graph_of`] is the way).
pub fn collect<'py>(roots: &Bound<'py, PyAny>) -> PyResult<Option<Entries<'py>>> {
    let py = roots.py();
    let (mut keys, mut tasks) = (Vec::new(), Vec::new());
    // Keys of pure calls seen so far: equal keys are one task.
    let shared = PySet::empty(py)?;
    let complete = walk(roots, |node| {
        let d = node.get();
        if d.task.is_none() && d.call.is_none() {
            return Ok(Step::Stop);
        }
        let key = d.key.bind(py);
        if !d.unique {
            if shared.contains(key)? {
                return Ok(Step::Skip);
            }
            shared.add(key)?;
        }
        keys.push(key.clone());
        // The converter reads calls straight from the node: no tuple is built.
        tasks.push(match &d.task {
            Some(t) => t.bind(py).clone(),
            None => node.clone().into_any(),
        });
        Ok(Step::Descend)
    })?;
    Ok(complete.then_some((keys, tasks)))
}

/// The task graph of the given Delayed values: every task they need, once
/// (values with equal keys, pure calls, contribute one task).
#[pyfunction]
pub fn graph_of<'py>(roots: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let py = roots.py();
    let dsk = PyDict::new(py);
    walk(roots, |node| {
        let d = node.get();
        if let Some(g) = &d.graph {
            dsk.update(g.bind(py).cast::<pyo3::types::PyMapping>()?)?;
        }
        let Some(t) = d.task_value(py)? else {
            return Ok(Step::Descend);
        };
        // One hash lookup: insert unless an equal key (a pure call) is there.
        // SAFETY: the dict, key and value are live; the result is borrowed
        // (only compared, never dereferenced) or NULL with an exception set.
        let existing =
            unsafe { pyo3::ffi::PyDict_SetDefault(dsk.as_ptr(), d.key.as_ptr(), t.as_ptr()) };
        if existing.is_null() {
            return Err(PyErr::fetch(py));
        }
        Ok(if existing == t.as_ptr() {
            Step::Descend
        } else {
            Step::Skip // that key's task, and so its inputs, are already in
        })
    })?;
    Ok(dsk)
}
