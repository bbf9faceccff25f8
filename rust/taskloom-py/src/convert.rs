//! Python dict graph -> integer program: the only place that reads the user's graph.
//!
//! Two passes, both linear. First one walk over the dict, running no Python
//! code, owns every key and value: the graph is read as it was when the call
//! began (a key's `__eq__` run later may replace a value of the dict, not what
//! is converted; a change of the dict's length is reported as an error, when
//! seen at the end; objects inside the values are read when parsed)
//! and gives each key its Python hash (the one the dict stored, where the C
//! API gives it: up to 3.12 no key's `__hash__` runs again, and a key whose
//! hash changed after it was put in the dict is found as the dict finds it)
//! and a task id, its position in the reading order (see
//! below), so no key is hashed twice and execution never hashes at all. Then
//! every value is parsed in that order and encoded as a few [`Op`]s: argument
//! references become indices into the task's dependency list, everything
//! else a constant. References resolve by locality guesses first (the key
//! after the last one found, the key before the task's own, the key as many
//! places on as its last index is past the last found's), then by a cache
//! of the keys parsed last; a call's argument missed between hits (a key made
//! where the allocator placed it out of order) is then put off, and all of
//! them looked for in one scan of the keys' hashes at the end ([`Deferred`]);
//! the rest by scanning the keys' hashes for the first few misses, then
//! through the [`KeyTable`] built after them. While parsing,
//! the converter fetches ahead what the next tasks will read (values,
//! arguments and, while lookups reach the table, table slots and keys), and
//! in a long list what its next items' lookups will read.
//!
//! The reading order is the order the user's objects lie in memory, which is
//! the order a loop made them: the dict's own order when it lists them about
//! so (a graph built in one loop, layers merged one after another), else the
//! keys sorted by address (a dict whose entries were shuffled). Read in that
//! order the objects are read sequentially, and a reference to a key made
//! just before is found by the guesses. Not a walk from the requested keys:
//! that visits objects at random (a cache miss per task at 10^6 entries; a
//! random DAG converted 35% faster in dict order). Culling happens after, in
//! the core's ordering: only what the requested keys need runs, but a request
//! for a small part of a large dict pays for parsing all of it (about what
//! building the dict cost). Graphs of Delayed values come from the requested
//! values only, so they hold nothing to cull.
//!
//! Value semantics follow Dask's task spec, as `dask._task_spec.convert_legacy_task`
//! reads it: a tuple whose first element is callable is a task; any other value
//! that is hashable and `in dsk` by Python's dict rules (equal hash, then
//! identity or the stored key's `==`) is a reference to that key (an alias at
//! the top level): `True` reads key `1`, `5.0` key `5`, a namedtuple an equal
//! tuple key, a NaN key only itself. Only a `TypeError` from hashing means
//! "not a key", as in Dask's `try: arg in dsk`; any other exception raised by a
//! `__hash__` or `__eq__` propagates. `list`, `tuple`, `set` and `frozenset`
//! are walked and rebuilt only if they contain references or tasks. Anything
//! else, `dict` included (Dask's `parse_input` does not look inside dicts for
//! keys) and a `Delayed` placed as a value in a dict graph, is a literal,
//! passed through untouched: the same object the user gave.
//! `(literal(x),)`, the task `taskloom.core.quote(x)` makes, is encoded as the
//! constant `x`: quoting a value costs nothing when the task runs (Dask's
//! task-spec graphs are converted with every ambiguous literal quoted).
//!
//! Not every argument is hashed: an argument of a builtin type whose equality
//! is known (exact `str`, numbers, exact `tuple`, types comparing by identity)
//! can only equal keys of certain kinds, so it is looked up only when the
//! graph has keys of those kinds ([`KeyKinds`]); an unhashable type is never
//! looked up. The answer is the same as the dict's; the work is skipped.

use crate::errors;
use hashbrown::HashMap;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PySet, PyTuple, PyType};
use taskloom_core::keytable::{Building, KeyTable};
use taskloom_core::mem::{prefetch, prefetch_span, AHEAD};
use taskloom_core::{GraphBuilder, TaskId};

/// How deep task values may nest (tasks inside arguments, lists in lists).
/// Evaluation recurses on this depth, never on graph depth.
pub const MAX_NESTING: usize = 500;

/// One instruction of a task's encoded value, evaluated in prefix order.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// The result of the task's `i`-th dependency.
    Dep(u32),
    /// `Program::consts[i]`, passed as is.
    Const(u32),
    /// Call the next expression with the following `n` expressions as arguments.
    Call(u32),
    List(u32),
    Tuple(u32),
    Set(u32),
    FrozenSet(u32),
}

/// Lists at least this long fetch their items' parts ahead (see
/// `Converter::fetch_items_ahead`); shorter ones are read before it would pay.
const LONG_LIST: usize = 64;

/// No root callable: the task is a literal, alias or container, always cheap.
pub const NO_FUNCTION: u32 = u32::MAX;

/// Everything needed to run the tasks, shared with worker threads.
pub struct Program {
    /// Task id -> the user's key.
    pub keys: Vec<Py<PyAny>>,
    code: Vec<Op>,
    code_start: Vec<u32>,
    pub consts: Vec<Py<PyAny>>,
    /// Task id -> index into `functions` of the callable at its root.
    pub root_function: Vec<u32>,
    /// Distinct root callables; the executor learns per callable whether to offload.
    pub functions: Vec<Py<PyAny>>,
}

impl Program {
    /// Report every Python object held to the cyclic GC.
    pub fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        // `functions` are also in `consts`, but each reference held is reported.
        for obj in self.keys.iter().chain(&self.consts).chain(&self.functions) {
            visit.call(obj)?;
        }
        Ok(())
    }

    #[inline]
    pub fn code(&self, t: TaskId) -> &[Op] {
        let t = t as usize;
        &self.code[self.code_start[t] as usize..self.code_start[t + 1] as usize]
    }

    /// The tasks `sequence` lists, task `sequence[i]` becoming task `i` (see
    /// `taskloom_core::renumber`); constants and functions are shared. Keys
    /// move to their new places: no reference count is touched (each would be
    /// a cache miss at a scattered address), except to drop unneeded keys.
    pub fn renumbered(self, sequence: &[TaskId]) -> Program {
        let Program {
            keys,
            code: old_code,
            code_start: old_start,
            root_function: old_root,
            consts,
            functions,
        } = self;
        let mut code = Vec::with_capacity(old_code.len());
        let mut code_start = Vec::with_capacity(sequence.len() + 1);
        code_start.push(0);
        let mut root_function = Vec::with_capacity(sequence.len());
        let mut keys: Vec<Option<Py<PyAny>>> = keys.into_iter().map(Some).collect();
        let mut new_keys = Vec::with_capacity(sequence.len());
        for (i, &t) in sequence.iter().enumerate() {
            // Read at random: fetch a task's entries ahead, its code once its
            // start is fetched.
            if let Some(&ahead) = sequence.get(i + AHEAD) {
                let ahead = ahead as usize;
                prefetch(&old_start[ahead]);
                prefetch(&old_root[ahead]);
                prefetch(&keys[ahead]);
            }
            if let Some(&ahead) = sequence.get(i + AHEAD / 2) {
                prefetch(
                    old_code
                        .as_ptr()
                        .wrapping_add(old_start[ahead as usize] as usize),
                );
            }
            let t = t as usize;
            code.extend_from_slice(&old_code[old_start[t] as usize..old_start[t + 1] as usize]);
            code_start.push(code.len() as u32);
            root_function.push(old_root[t]);
            new_keys.push(keys[t].take().expect("a sequence lists each task once"));
        }
        Program {
            keys: new_keys,
            code,
            code_start,
            root_function,
            consts,
            functions,
        }
    }

    /// Whether task `t` is a literal or an alias: one instruction, no call.
    #[inline]
    pub fn is_trivial(&self, t: TaskId) -> bool {
        let t = t as usize;
        self.code_start[t + 1] - self.code_start[t] == 1
    }
}

/// The shape of the requested keys, in prefix order.
pub enum Shape {
    List(u32),
    Key(TaskId),
}

/// Per task, the number `priorities` gives its key (0 for keys it does not
/// name; keys that are not in the graph are ignored, as culled ones are).
///
/// Of several bad priorities, the error names the one `priorities` lists
/// first: task ids follow the keys' places in memory for a shuffled dict (see
/// [`entries`]), which change from run to run.
pub fn user_priorities(program: &Program, priorities: &Bound<'_, PyDict>) -> PyResult<Vec<f64>> {
    let py = priorities.py();
    let mut bad = Vec::new();
    let mut user = Vec::with_capacity(program.keys.len());
    for key in &program.keys {
        let key = key.bind(py);
        let p = match priorities.get_item(key)? {
            None => 0.0,
            Some(value) => match value.extract::<f64>() {
                Ok(p) if !p.is_nan() => p,
                _ => {
                    bad.push(key.clone());
                    0.0
                }
            },
        };
        user.push(p);
    }
    let Some(first) = bad.first() else {
        return Ok(user);
    };
    let bad = PySet::new(py, &bad)?;
    for (key, value) in priorities.iter() {
        if bad.contains(&key)? {
            return Err(errors::bad_priority(&key, &value));
        }
    }
    // Unreachable unless a key's `==` lies: name the one found.
    let value = priorities
        .get_item(first)?
        .unwrap_or_else(|| py.None().into_bound(py));
    Err(errors::bad_priority(first, &value))
}

pub struct Converted {
    pub program: Program,
    /// The tasks' dependencies, built into a graph as they are ordered (see
    /// `taskloom_core::build_and_order`).
    pub builder: GraphBuilder,
    /// Requested tasks, flattened, possibly repeated.
    pub outputs: Vec<TaskId>,
    pub shape: Vec<Shape>,
}

// Kinds of keys, to skip lookups that cannot succeed (see `may_equal`).
/// Exact `str`.
const KEY_STR: u8 = 1;
/// Exact `int`, `bool`, `float`, `complex`: numbers equal across these types.
const KEY_NUM: u8 = 2;
/// Exact `tuple`.
const KEY_TUPLE: u8 = 4;
/// Anything else (subclasses, `None`, `bytes`, user objects): its own `==` decides.
const KEY_OTHER: u8 = 8;
/// Every kind.
const KEY_ANY: u8 = KEY_STR | KEY_NUM | KEY_TUPLE | KEY_OTHER;

/// Which kind of key `obj` is, as a key.
#[inline]
fn key_kind(obj: &Bound<'_, PyAny>) -> u8 {
    let p = obj.as_ptr();
    // SAFETY: type checks on a live object.
    unsafe {
        if ffi::PyUnicode_CheckExact(p) != 0 {
            KEY_STR
        } else if ffi::PyTuple_CheckExact(p) != 0 {
            KEY_TUPLE
        } else if ffi::PyLong_CheckExact(p) != 0
            || ffi::PyBool_Check(p) != 0
            || ffi::PyFloat_CheckExact(p) != 0
            || ffi::PyComplex_CheckExact(p) != 0
        {
            KEY_NUM
        } else {
            KEY_OTHER
        }
    }
}

/// The kinds of key that `obj`, as an argument, may be a reference to.
///
/// Dask reads an argument as a reference when `isinstance(arg, (int, float,
/// str, tuple))` and `arg in keys`, so subclasses count (`bool`, a `str`
/// subclass, a namedtuple, `numpy.float64`) and no other type does. The
/// builtin exact types compare equal only within their kind or to a key whose
/// own `==` says so (kind OTHER): only those kinds are worth a lookup.
#[inline]
fn may_equal(obj: &Bound<'_, PyAny>) -> u8 {
    let p = obj.as_ptr();
    // SAFETY: type checks on a live object.
    let candidate = unsafe {
        ffi::PyUnicode_Check(p) != 0
            || ffi::PyTuple_Check(p) != 0
            || ffi::PyLong_Check(p) != 0
            || ffi::PyFloat_Check(p) != 0
    };
    if !candidate {
        return 0;
    }
    match key_kind(obj) {
        KEY_OTHER => KEY_ANY, // a subclass: its own `==` decides
        kind => kind | KEY_OTHER,
    }
}

/// Whether hashing `obj` surely runs no Python code: `str`, `int`, `float`,
/// and tuples of them (Dask's keys), whose hashes are builtin.
#[inline]
fn hash_runs_no_python(obj: &Bound<'_, PyAny>) -> bool {
    /// # Safety
    /// `p` must be a live object.
    unsafe fn builtin(p: *mut ffi::PyObject) -> bool {
        // SAFETY: type checks on a live object.
        unsafe {
            ffi::PyUnicode_CheckExact(p) != 0
                || ffi::PyLong_CheckExact(p) != 0
                || ffi::PyFloat_CheckExact(p) != 0
        }
    }
    let p = obj.as_ptr();
    // SAFETY: `p` is live, and a tuple owns its items.
    unsafe {
        builtin(p)
            || (ffi::PyTuple_CheckExact(p) != 0
                && (0..ffi::PyTuple_GET_SIZE(p)).all(|i| builtin(ffi::PyTuple_GET_ITEM(p, i))))
    }
}

struct Converter<'py> {
    // Built on the first lookup past `SCANS` that neither the guesses nor the
    // recent-keys cache answered (see `lookup`), or taken from `building`.
    table: Option<KeyTable>,
    scans: u32,
    deferred: Vec<Deferred>,
    // Whether lookups may be put off (once one was, a value's error may be
    // reported out of the dict's order: see `convert_dict`).
    may_defer: bool,
    key_objs: Vec<Bound<'py, PyAny>>,
    // Python's hash of each key: a failed locality guess costs one integer compare.
    key_hashes: Vec<u64>,
    // Each task's value until it is parsed (then released: its memory was just read).
    values: Vec<Option<Bound<'py, PyAny>>>,
    // The values are Delayed values, not a dict graph's.
    delayed: bool,
    // The dict read, and its length then: checked again at the end.
    dict: Option<(Bound<'py, PyDict>, usize)>,
    key_types: u8,
    builder: GraphBuilder,
    code: Vec<Op>,
    code_start: Vec<u32>,
    consts: Vec<Py<PyAny>>,
    root_function: Vec<u32>,
    functions: Vec<Py<PyAny>>,
    function_const: Vec<u32>,
    function_index: HashMap<usize, u32>,
    // One-entry cache: graphs call the same function in long runs.
    last_function: (*mut ffi::PyObject, u32),
    // Key ids of the last two references resolved; see `lookup_reference`.
    last_found: u32,
    found_before: u32,
    // Lookups left to make without trying the guesses (they keep missing in a
    // graph whose dict order is not its build order), and misses in a row.
    skip_guesses: u32,
    guess_misses: u32,
    // Which guess found the last reference, if one did (see `find`).
    hit_guess: u8,
    // Per task of the last 64 parsed (a bit each), whether the guesses missed one
    // of its references: only then are the keys parsed entered in the
    // recent-keys cache (a random write each); and whether one was looked up
    // past that cache: only then is fetching ahead what a lookup in the table
    // reads worth its hashing (see `fetch_ahead`).
    misses_lately: u64,
    lookups_lately: u64,
    // The keys parsed most recently, by hash (empty for small graphs): see `find`.
    recent: Vec<Recent>,
    // `taskloom.core.literal`: `(literal(x),)` is encoded as the constant `x`.
    literal_type: Option<Bound<'py, PyAny>>,
    // Another library's graph node types (Dask's), and the last value type
    // found not to be one (held: a type freed with its last value could see
    // its address reused by another): see `check_foreign`.
    foreign: Option<Bound<'py, PyTuple>>,
    not_foreign: Option<Bound<'py, PyType>>,
    // The table of a dict sorted by address, while another thread builds it
    // (see `Converter::new`).
    building: Option<Building>,
}

/// `Converter::hit_guess` when the last lookup's guesses all missed.
const NO_GUESS: u8 = u8::MAX;
/// `Converter::hit_guess` when [`Converter::index_guess`] found the last reference.
const INDEX_GUESS: u8 = NO_GUESS - 1;

/// Lookups answered by scanning the keys' hashes before the table is built.
const SCANS: u32 = 8;
/// Keys from which the table of a dict sorted by address is built on
/// another thread from the start (see `Converter::new`): below, it takes
/// less than starting a thread does. While it is built, lookups that may be
/// are put off (see [`Deferred`]).
const BUILD_APART_FROM: usize = 1 << 14;

/// What a reference was found to be.
enum Found {
    Key(u32),
    /// Put off, with its hash (see [`Deferred`]).
    Deferred(u64),
    No,
}

/// A call's argument that may be a key, whose lookup missed the guesses and
/// the recent keys and is put off until every value is parsed: then all of
/// them are looked for in one scan of the keys' hashes, instead of through
/// the table (a shuffled dict's 10^6 keys read a few hundred references far
/// from where the guesses look, most of them one at a time; the table took
/// 12 ms to build for them, the scan takes 1). References missed several in
/// a row still go to the scans and then the table: a shuffled chain of 10^6
/// keys has a few dozen, and builds it. Meanwhile the argument is encoded as
/// a constant, which it stays if it is no key (a key found leaves the
/// constant unused). Only arguments of a call, whose object is passed as is
/// when it is no key (an item's container would be rebuilt), and only of the
/// builtin kinds, whose hash runs no Python code; a tuple only if none of its
/// items may be a key (else, if it is no key, it is rebuilt with their
/// results). A key of equal
/// hash compares with its own `==`, which may be Python code run at the end,
/// and raise: then the conversion is made again in the dict's order with
/// nothing put off, so the error reported is the dict's first (see
/// [`convert_dict`]).
struct Deferred {
    /// The task whose value holds the reference.
    task: TaskId,
    /// Where in `code` its constant is.
    at: u32,
    hash: u64,
}

/// Lookups put off at most: this many, and one more every `DEFER_PER` tasks
/// parsed; past that, the table is built (and the rest of them looked up in
/// it). Misses are then too many to be only where a loop's objects are out
/// of memory order, and a lookup put off does not tell the guesses where
/// the next one may be.
const DEFER_FIRST: usize = 64;
const DEFER_PER: usize = 256;
/// Bits of the set that [`Converter::resolve_deferred`] tests each key's hash
/// against, per lookup put off: a false hit in 16 at most, and the set in
/// cache (8 KB for the 4,000 put off at 10^6 tasks).
const FILTER_BITS_PER: usize = 16;

/// Lookups in a row whose guesses all missed before they are skipped, and for
/// how many lookups then.
const GUESS_MISSES: u32 = 64;
const GUESS_PAUSE: u32 = 4096;

/// An entry of the recent-keys cache: all a hit reads, in one place.
#[derive(Clone, Copy)]
struct Recent {
    hash: u64,
    // One of the converter's keys (owned by it).
    key: *mut ffi::PyObject,
    id: u32,
}

impl Recent {
    const EMPTY: Recent = Recent {
        hash: 0,
        key: std::ptr::null_mut(),
        id: u32::MAX,
    };
}

/// Slots of the recent-keys cache (a power of two): 384 KiB, cache resident.
const RECENT: usize = 1 << 14;
/// Below this many keys the whole table stays in cache: no recent-keys cache.
const RECENT_FROM: usize = 1 << 14;

/// The class `taskloom.core.literal`, looked up once; None when `taskloom.core`
/// cannot be imported (the binding used on its own), where quoting stays a call.
fn literal_type(py: Python<'_>) -> PyResult<Option<&Py<PyAny>>> {
    static LITERAL: PyOnceLock<Option<Py<PyAny>>> = PyOnceLock::new();
    LITERAL
        .get_or_try_init(py, || -> PyResult<_> {
            Ok(py
                .import("taskloom.core")
                .and_then(|m| m.getattr("literal"))
                .ok()
                .map(Bound::unbind))
        })
        .map(Option::as_ref)
}

/// Python's hash of `obj`; None if it is unhashable (a `TypeError`); any other
/// exception raised by `__hash__` propagates.
#[inline]
fn py_hash(obj: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    // SAFETY: hashing a live object; the error indicator is read right after.
    let h = unsafe { ffi::PyObject_Hash(obj.as_ptr()) };
    if h != -1 {
        return Ok(Some(h as u64));
    }
    let py = obj.py();
    match PyErr::take(py) {
        Some(e) if e.is_instance_of::<PyTypeError>(py) => Ok(None),
        Some(e) => Err(e),
        None => Ok(Some(h as u64)), // a hash that really is -1 (CPython never returns it)
    }
}

/// The dict's key comparison: `key is obj or key == obj`; exceptions propagate.
///
/// # Safety
/// Both pointers must be live objects.
#[inline]
unsafe fn py_eq(py: Python<'_>, a: *mut ffi::PyObject, b: *mut ffi::PyObject) -> PyResult<bool> {
    // SAFETY: the tuples' items live as long as the tuples.
    unsafe {
        if a == b {
            return Ok(true);
        }
        // Most keys are tuples of str and int, whose `==` is item by item with
        // identity first: done here without the generic protocol's two levels
        // of dispatch (a third of the time of a found reference).
        if ffi::PyTuple_CheckExact(a) != 0 && ffi::PyTuple_CheckExact(b) != 0 {
            let n = ffi::PyTuple_GET_SIZE(a);
            if n != ffi::PyTuple_GET_SIZE(b) {
                return Ok(false);
            }
            for i in 0..n {
                if !scalar_eq(py, ffi::PyTuple_GET_ITEM(a, i), ffi::PyTuple_GET_ITEM(b, i))? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        scalar_eq(py, a, b)
    }
}

/// `==` of two exact `str`s as `str` itself decides it (length, width, then the
/// characters; a string is always stored in its narrowest width), without the
/// rich comparison's dispatch: keys such as `"chain-41"` are compared with a
/// reference made as another object once per task. None for anything else.
///
/// # Safety
/// Both pointers must be live objects.
#[inline]
unsafe fn str_eq(a: *mut ffi::PyObject, b: *mut ffi::PyObject) -> Option<bool> {
    // SAFETY: type checks, then reads of two live, ready strs' own buffers.
    unsafe {
        if ffi::PyUnicode_CheckExact(a) == 0 || ffi::PyUnicode_CheckExact(b) == 0 {
            return None;
        }
        // Every `str` is ready from 3.12 on (where the check is deprecated).
        #[cfg(not(Py_3_12))]
        if ffi::PyUnicode_IS_READY(a) == 0 || ffi::PyUnicode_IS_READY(b) == 0 {
            return None;
        }
        let n = ffi::PyUnicode_GET_LENGTH(a);
        let kind = ffi::PyUnicode_KIND(a);
        if n != ffi::PyUnicode_GET_LENGTH(b) || kind != ffi::PyUnicode_KIND(b) {
            return Some(false);
        }
        let bytes = n as usize * kind as usize;
        let (x, y) = (ffi::PyUnicode_DATA(a), ffi::PyUnicode_DATA(b));
        Some(bytes_eq(
            std::slice::from_raw_parts(x.cast::<u8>(), bytes),
            std::slice::from_raw_parts(y.cast::<u8>(), bytes),
        ))
    }
}

/// `x == y` for slices of equal length, inline: keys such as `"chain-41"` are
/// a few words long, and the library call `==` makes cost more than comparing
/// them (a seventh of a chain's conversion). Words are read unaligned and
/// never past either end: the last one overlaps the one before.
#[inline(always)]
fn bytes_eq(x: &[u8], y: &[u8]) -> bool {
    debug_assert_eq!(x.len(), y.len());
    let n = x.len();
    let word = |s: &[u8], at: usize| {
        // SAFETY: callers read 8 bytes from `at` only where `at + 8 <= n`.
        unsafe { s.as_ptr().add(at).cast::<u64>().read_unaligned() }
    };
    if !(8..=32).contains(&n) {
        return x == y;
    }
    let mut at = 0;
    while at + 8 <= n {
        if word(x, at) != word(y, at) {
            return false;
        }
        at += 8;
    }
    at == n || word(x, n - 8) == word(y, n - 8)
}

/// `==` of two objects other than a pair of tuples (a key or argument, or a
/// tuple's items): identity first, exact `int`s by value, exact `str`s by
/// their characters, anything else through the rich comparison. Always
/// inlined: left to the compiler, the tuple loop called it and compile took
/// 12% longer on chain, map-reduce and random.
///
/// # Safety
/// Both pointers must be live objects.
#[inline(always)]
unsafe fn scalar_eq(
    py: Python<'_>,
    a: *mut ffi::PyObject,
    b: *mut ffi::PyObject,
) -> PyResult<bool> {
    if a == b {
        return Ok(true);
    }
    if ffi::PyLong_CheckExact(a) != 0 && ffi::PyLong_CheckExact(b) != 0 {
        let (mut overflow_a, mut overflow_b) = (0, 0);
        let x = ffi::PyLong_AsLongAndOverflow(a, &mut overflow_a);
        let y = ffi::PyLong_AsLongAndOverflow(b, &mut overflow_b);
        if overflow_a == 0 && overflow_b == 0 {
            return Ok(x == y);
        }
    }
    match str_eq(a, b) {
        Some(eq) => Ok(eq),
        None => rich_eq(py, a, b),
    }
}

/// # Safety
/// Both pointers must be live objects.
#[inline]
unsafe fn rich_eq(py: Python<'_>, a: *mut ffi::PyObject, b: *mut ffi::PyObject) -> PyResult<bool> {
    match ffi::PyObject_RichCompareBool(a, b, ffi::Py_EQ) {
        1 => Ok(true),
        0 => Ok(false),
        _ => Err(PyErr::fetch(py)),
    }
}

/// Fetch what the converter reads of a Python object: its header and the
/// fields after it (a tuple's first items, a `str`'s length, hash and first
/// characters, an `int`'s digit). Python's allocator places small objects at
/// 16-byte steps after a pool's header, so those fields often lie in the line
/// after the header's: fetching only that line left the walk's read of each
/// `str` key's hash a miss (a chain's walk was 13% of its conversion).
#[inline(always)]
fn fetch_object(p: *mut ffi::PyObject) {
    prefetch_span(p, 48);
}

/// Fetch the first `n` items of `p` if it is an exact tuple (a tuple key's
/// `str` and `int`s, compared one by one by the lookup that reads them).
#[inline(always)]
fn fetch_tuple_items(p: *mut ffi::PyObject, n: ffi::Py_ssize_t) {
    // SAFETY: a type check, then reads of a live tuple's own items.
    unsafe {
        if ffi::PyTuple_CheckExact(p) != 0 {
            for i in 0..ffi::PyTuple_GET_SIZE(p).min(n) {
                fetch_object(ffi::PyTuple_GET_ITEM(p, i));
            }
        }
    }
}

/// One entry of a dict graph: its key, its value and the key's hash. Borrowed
/// from the dict while the walk reads the entries, then owned (see [`entries`]).
#[derive(Clone, Copy)]
struct Entry {
    key: *mut ffi::PyObject,
    /// The value's address, with [`BORROWED`] set until the entry is owned.
    value: usize,
    /// The hash the dict stored with the key (up to 3.12; a dict of `str` keys
    /// stores none), else the key's hash if computing it runs no Python code
    /// (computed when owned), else [`UNHASHED`].
    hash: u64,
}

// SAFETY: an entry's pointers are only dereferenced by the thread that holds
// the GIL (or is attached); the one other thread that sees entries is the
// address sort's second (`taskloom_core::mem::sort_by_address`), which moves
// them and reads the key's address as a number.
unsafe impl Send for Entry {}
// SAFETY: as for `Send`.
unsafe impl Sync for Entry {}

/// Set in [`Entry::value`] while the walk holds no reference to the entry: the
/// low bit of an object's address is always clear.
const BORROWED: usize = 1;

/// Not a hash: CPython reserves -1 for "error".
const UNHASHED: u64 = u64::MAX;

impl Entry {
    /// An entry read from a dict, not yet owned.
    #[inline(always)]
    fn borrowed_from(key: *mut ffi::PyObject, value: *mut ffi::PyObject, hash: u64) -> Self {
        Entry {
            key,
            value: value as usize | BORROWED,
            hash,
        }
    }

    #[inline(always)]
    fn value(&self) -> *mut ffi::PyObject {
        (self.value & !BORROWED) as *mut ffi::PyObject
    }

    #[inline(always)]
    fn borrowed(&self) -> bool {
        self.value & BORROWED != 0
    }

    /// Take a reference to the key and to the value, and the key's hash if the
    /// dict gave none and computing it runs no Python code; returns the key's
    /// kind.
    ///
    /// # Safety
    /// The entry must be borrowed from a dict that still holds it: no Python
    /// code may have run since it was read.
    #[inline(always)]
    unsafe fn own(&mut self, py: Python<'_>) -> u8 {
        // SAFETY: the dict holds both objects (the caller's contract).
        unsafe {
            ffi::Py_INCREF(self.key);
            ffi::Py_INCREF(self.value());
            self.value &= !BORROWED;
            let key = Borrowed::from_ptr(py, self.key);
            if self.hash == UNHASHED && hash_runs_no_python(&key) {
                // A `str` key's hash is cached in it (a dict's keys are hashed);
                // a builtin hash cannot fail (if it did, -1 is `UNHASHED`: hashed
                // again after the walk, where its error propagates).
                self.hash = match ffi::PyUnicode_CheckExact(self.key) {
                    0 => ffi::PyObject_Hash(self.key),
                    _ => match (*self.key.cast::<ffi::PyASCIIObject>()).hash {
                        -1 => ffi::PyObject_Hash(self.key),
                        h => h,
                    },
                } as u64;
            }
            key_kind(&key)
        }
    }
}

/// Own every borrowed entry of `entries`, in their order, fetching the
/// objects [`WALK_AHEAD`] entries on (in a shuffled dict, each is elsewhere).
/// Returns the kinds of key owned.
///
/// # Safety
/// As [`Entry::own`], for every borrowed entry.
unsafe fn own_all(py: Python<'_>, entries: &mut [Entry]) -> u8 {
    let mut kinds = 0;
    for i in 0..entries.len() {
        if let Some(ahead) = entries.get(i + WALK_AHEAD).filter(|e| e.borrowed()) {
            fetch_object(ahead.key);
            fetch_object(ahead.value());
        }
        let e = &mut entries[i];
        if e.borrowed() {
            // SAFETY: the caller's contract.
            kinds |= unsafe { e.own(py) };
        }
    }
    kinds
}

/// Below this many keys the converter's reads stay in cache in any order.
const SORT_FROM: usize = 1 << 14;

/// Entries whose order in memory is judged together (see [`entries`]).
const CHUNK: usize = 4096;

/// How far apart two objects read one after the other may lie and still count
/// as read in memory order: a few of the allocator's 16 KiB pools, all in
/// cache while read.
const NEAR: usize = 1 << 16;

/// How many entries ahead of the walk their keys and values are fetched: the
/// objects' pages hold a few dozen each and the hardware's prefetcher stops
/// at a page's end.
const WALK_AHEAD: usize = 32;

/// The dict's entries, owned: in the dict's order, or sorted by the keys'
/// addresses when the dict lists both its keys and its values far from the
/// order they lie in memory (more than a quarter of neighbours more than
/// [`NEAR`] apart; a dict built in one loop has a few, at the allocator's
/// pool and arena boundaries). Not the neighbours in descending order: in
/// memory a process freed before (any graph but its first), the allocator
/// hands blocks out in the order they were freed, so a loop's objects lie
/// near each other but in no order. Sorted by address, they were read in an
/// order unrelated to the making order, where the guesses miss: a chain of
/// 10^6 tasks made so converted in 0.18 us a task instead of 0.085. Values
/// made in the dict's order (keys made long before, each value as it is
/// inserted) are read in that order: sorted by their keys, they would be
/// read at random.
///
/// Why: the keys, values and arguments a loop made lie in memory in the order
/// it made them; a dict whose entries were shuffled (graphs merged in another
/// order, a dict rebuilt from a set) lists them at random, so reading them in
/// its order is a cache miss per object, and a reference to the key made just
/// before its own is far away in the dict's numbering, where the converter's
/// locality guesses miss. Sorted (about 25 ms at 10^6 keys), the reads are
/// sequential and task ids follow the making order, as far as the allocator
/// placed each new object after the last (across its arenas' boundaries, and
/// in blocks a process freed before, it did not: those references reach the
/// table): a shuffled chain of 10^6 tasks converted in 0.14-0.17 us a task
/// instead of 0.42.
/// Task ids are otherwise arbitrary: order, culling and results do not
/// depend on them, and errors are reported as in the dict's order (see
/// `convert_dict` and `user_priorities`).
///
/// Each object is read once, when its entry is owned: a reference to the key
/// and to the value, the key's kind and hash. The walk owns entries as it
/// reads them while the last [`CHUNK`] entries it read listed their objects
/// in memory order (each object then lies near the last); after a chunk
/// that did not, in a dict that may be sorted, it reads the next chunk's
/// pointers alone and owns them after the sort, in the sorted order, or at
/// the end if the dict is not sorted (a loop making objects in a heap with
/// freed blocks puts a few thousand of them far apart). Owned in
/// the dict's order instead, each object of a shuffled dict was a cache
/// miss: the walk of a shuffled chain took most of its conversion. Only the
/// dict's own table is read to walk it: from it directly on 3.11 and 3.12
/// (see [`Table`]; `_PyDict_Next` reads a `str` key's hash from the key).
/// No Python code runs until every entry is owned: nothing can change the
/// dict between reading a pointer and taking the reference. Returns the
/// entries, whether they were sorted, and the kinds of key seen.
fn entries(dsk: &Bound<'_, PyDict>, memory_order: bool) -> (Vec<Entry>, bool, u8) {
    let py = dsk.py();
    let n = dsk.len();
    let may_sort = memory_order && n >= SORT_FROM;
    let mut walk = Walk::of(dsk);
    let mut entries = Vec::with_capacity(n);
    let mut key_types = 0;
    let (mut jumps, mut value_jumps) = (0usize, 0usize);
    let (mut last, mut last_value) = (std::ptr::null_mut(), std::ptr::null_mut());
    let mut deferred = Vec::new();
    let scattered = |d: usize, len: usize| d * 4 > len;
    let far =
        |a: *mut ffi::PyObject, b: *mut ffi::PyObject| (a as usize).abs_diff(b as usize) > NEAR;
    let mut inline = true;
    loop {
        let start = entries.len();
        let (d0, v0) = (jumps, value_jumps);
        while entries.len() - start < CHUNK {
            if inline {
                walk.fetch_ahead();
            }
            let Some(mut e) = walk.next() else { break };
            jumps += usize::from(far(e.key, last));
            value_jumps += usize::from(far(e.value(), last_value));
            (last, last_value) = (e.key, e.value());
            if inline {
                // SAFETY: read just above, and no Python code has run since.
                key_types |= unsafe { e.own(py) };
            }
            entries.push(e);
        }
        let len = entries.len() - start;
        if len == 0 {
            break;
        }
        let chunk_scattered =
            may_sort && scattered(jumps - d0, len) && scattered(value_jumps - v0, len);
        if !inline {
            if chunk_scattered {
                deferred.push(start..entries.len());
            } else {
                // SAFETY: read just above, and no Python code has run since.
                key_types |= unsafe { own_all(py, &mut entries[start..]) };
            }
        }
        inline = !chunk_scattered;
    }
    let sort = may_sort && scattered(jumps, n) && scattered(value_jumps, n);
    if sort {
        taskloom_core::mem::sort_by_address(&mut entries, |e| e.key as u64);
        // SAFETY: no Python code has run since the walk.
        key_types |= unsafe { own_all(py, &mut entries) };
    } else {
        for chunk in deferred {
            // SAFETY: no Python code has run since the walk.
            key_types |= unsafe { own_all(py, &mut entries[chunk]) };
        }
    }
    (entries, sort, key_types)
}

/// A walk over a dict's entries, borrowed: through its table where the
/// layout is known, else `PyDict_Next`.
enum Walk<'a, 'py> {
    Api {
        dsk: &'a Bound<'py, PyDict>,
        pos: ffi::Py_ssize_t,
    },
    #[cfg(all(Py_3_11, not(Py_3_13)))]
    Table(Table),
}

impl<'a, 'py> Walk<'a, 'py> {
    fn of(dsk: &'a Bound<'py, PyDict>) -> Self {
        #[cfg(all(Py_3_11, not(Py_3_13)))]
        if let Some(table) = Table::of(dsk) {
            return Walk::Table(table);
        }
        Walk::Api { dsk, pos: 0 }
    }

    /// The next entry, with the hash the dict stored with its key if the C
    /// API or the table gives it (up to 3.12), else [`UNHASHED`].
    #[inline(always)]
    fn next(&mut self) -> Option<Entry> {
        let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
        let hash = match self {
            #[cfg(all(Py_3_11, not(Py_3_13)))]
            Walk::Table(t) => return t.next(),
            #[cfg(not(Py_3_13))]
            Walk::Api { dsk, pos } => {
                let mut h: ffi::Py_hash_t = 0;
                // SAFETY: a walk over a live dict; fills borrowed pointers.
                if unsafe { _PyDict_Next(dsk.as_ptr(), pos, &mut key, &mut value, &mut h) } == 0 {
                    return None;
                }
                h as u64
            }
            #[cfg(Py_3_13)]
            Walk::Api { dsk, pos } => {
                // SAFETY: a walk over a live dict; fills borrowed pointers.
                if unsafe { ffi::PyDict_Next(dsk.as_ptr(), pos, &mut key, &mut value) } == 0 {
                    return None;
                }
                UNHASHED
            }
        };
        Some(Entry::borrowed_from(key, value, hash))
    }

    /// Fetch the objects of the entry [`WALK_AHEAD`] on, where the walk can
    /// see it.
    #[inline(always)]
    fn fetch_ahead(&self) {
        #[cfg(all(Py_3_11, not(Py_3_13)))]
        if let Walk::Table(t) = self {
            t.fetch(t.at + WALK_AHEAD);
        }
    }
}

/// A dict's table of entries, read directly: CPython 3.11 and 3.12 lay a
/// dict's keys out as `pycore_dict.h` declares (the header of [`DictKeys`],
/// then the index table of `1 << dk_log2_index_bytes` bytes, then
/// `dk_nentries` entries: hash, key and value, or key and value for a dict
/// of `str` keys; a deleted entry's value is null). Read so, the walk reads
/// the table alone: `_PyDict_Next` reads each `str` key's hash from the key,
/// which in a shuffled dict is a cache miss at every entry. Used only when
/// the header fits what it implies and the first entries read so are the
/// ones `PyDict_Next` gives.
#[cfg(all(Py_3_11, not(Py_3_13)))]
#[derive(Clone, Copy)]
struct Table {
    /// The first entry's first word.
    entries: *const *mut ffi::PyObject,
    /// Words per entry: 2 (key, value) or 3 (hash, key, value).
    words: usize,
    len: usize,
    /// The next entry to read.
    at: usize,
}

/// `struct _dictkeysobject`'s header in CPython 3.11 and 3.12.
#[cfg(all(Py_3_11, not(Py_3_13)))]
#[repr(C)]
struct DictKeys {
    dk_refcnt: ffi::Py_ssize_t,
    dk_log2_size: u8,
    dk_log2_index_bytes: u8,
    dk_kind: u8,
    dk_version: u32,
    dk_usable: ffi::Py_ssize_t,
    dk_nentries: ffi::Py_ssize_t,
}

#[cfg(all(Py_3_11, not(Py_3_13)))]
impl Table {
    /// Entries compared with `PyDict_Next`'s before the table is trusted.
    const CHECKED: usize = 8;

    fn of(dsk: &Bound<'_, PyDict>) -> Option<Self> {
        /// `DICT_KEYS_GENERAL` and `DICT_KEYS_UNICODE`: combined tables.
        const GENERAL: u8 = 0;
        const UNICODE: u8 = 1;
        // SAFETY: reads of a live dict's header and its keys object's header,
        // whose layout is then checked against what it implies.
        let table = unsafe {
            let d = dsk.as_ptr().cast::<ffi::PyDictObject>();
            let keys = (*d).ma_keys.cast::<DictKeys>();
            if !(*d).ma_values.is_null() || keys.is_null() {
                return None;
            }
            let k = &*keys;
            let (size_log2, index_log2) = (k.dk_log2_size as u32, k.dk_log2_index_bytes as u32);
            // Index entries of 1, 2, 4 or 8 bytes; at most two thirds of the slots used.
            let fits = matches!(k.dk_kind, GENERAL | UNICODE)
                && (3..=40).contains(&size_log2)
                && (size_log2..=size_log2 + 3).contains(&index_log2)
                && k.dk_nentries >= (*d).ma_used
                && k.dk_nentries as u64 <= (1u64 << size_log2) * 2 / 3
                && k.dk_usable >= 0;
            if !fits {
                return None;
            }
            Table {
                entries: keys
                    .cast::<u8>()
                    .add(std::mem::size_of::<DictKeys>() + (1usize << index_log2))
                    .cast(),
                words: if k.dk_kind == GENERAL { 3 } else { 2 },
                len: k.dk_nentries as usize,
                at: 0,
            }
        };
        let mut check = table;
        let mut pos = 0;
        for _ in 0..Self::CHECKED {
            let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
            // SAFETY: a walk over a live dict; fills borrowed pointers.
            let more = unsafe { ffi::PyDict_Next(dsk.as_ptr(), &mut pos, &mut key, &mut value) };
            let read = check.next();
            match (more, read) {
                (0, None) => break,
                (0, Some(_)) | (_, None) => return None,
                (_, Some(e)) if e.key != key || e.value() != value => return None,
                _ => {}
            }
        }
        Some(table)
    }

    #[inline(always)]
    fn next(&mut self) -> Option<Entry> {
        while self.at < self.len {
            // SAFETY: `at` is below the entry count the dict declared; the
            // value is an entry's last word, the key the one before it.
            let (key, value, hash) = unsafe {
                let e = self.entries.add(self.at * self.words);
                // The hash word is a `Py_hash_t`, sign-extended as every other
                // hash here (a pointer's bits would not be on 32-bit targets).
                let hash = match self.words {
                    3 => *e.cast::<ffi::Py_hash_t>() as u64,
                    _ => UNHASHED,
                };
                (*e.add(self.words - 2), *e.add(self.words - 1), hash)
            };
            self.at += 1;
            if !value.is_null() {
                return Some(Entry::borrowed_from(key, value, hash));
            }
        }
        None
    }

    /// Fetch the key and value of entry `at` (if the dict has one there): only
    /// prefetches read them.
    #[inline(always)]
    fn fetch(&self, at: usize) {
        if at < self.len {
            // SAFETY: `at` is below the entry count the dict declared.
            unsafe {
                let e = self.entries.add(at * self.words + self.words - 2);
                fetch_object(*e);
                fetch_object(*e.add(1));
            }
        }
    }
}
#[cfg(not(Py_3_13))]
extern "C" {
    /// `PyDict_Next` that also gives the hash stored with the key (exported by
    /// CPython up to 3.12; 3.13 made it internal). The dict's own hash is the
    /// one its lookups use, and reading it spares hashing a tuple key (its
    /// items read at random in a shuffled dict, its hash computed again).
    fn _PyDict_Next(
        mp: *mut ffi::PyObject,
        pos: *mut ffi::Py_ssize_t,
        key: *mut *mut ffi::PyObject,
        value: *mut *mut ffi::PyObject,
        hash: *mut ffi::Py_hash_t,
    ) -> std::os::raw::c_int;
}

impl<'py> Converter<'py> {
    /// From a dict graph, read as it is now: every key and value owned (a
    /// key's `__eq__` or `__hash__`, run later, may change the dict but not
    /// what is converted), each read once, in the order of the keys in
    /// memory when the dict lists them far from it and `memory_order` allows
    /// (see [`entries`]); with whether it was read so.
    fn new(dsk: &Bound<'py, PyDict>, memory_order: bool) -> PyResult<(Self, bool)> {
        let py = dsk.py();
        let (entries, sorted, key_types) = entries(dsk, memory_order);
        let n = entries.len();
        let (mut keys, mut values) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut hashes = Vec::with_capacity(n);
        // Keys whose hash may run Python code, hashed once every entry is owned.
        let mut hash_later = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            // SAFETY: each entry holds a reference to its key and its value.
            unsafe {
                keys.push(Bound::from_owned_ptr(py, e.key));
                values.push(Some(Bound::from_owned_ptr(py, e.value())));
            }
            hashes.push(e.hash);
            if e.hash == UNHASHED {
                hash_later.push(i);
            }
        }
        drop(entries);
        for i in hash_later {
            // Dict keys are hashable; a `__hash__` that raises now is the user's error.
            hashes[i] = py_hash(&keys[i])?.ok_or_else(|| errors::unhashable_graph_key(&keys[i]))?;
        }
        let mut c = Self::with_keys(py, keys, hashes, key_types, values, false)?;
        c.dict = Some((dsk.clone(), n));
        if sorted && n >= BUILD_APART_FROM {
            // Sorted by address, its references are found by the guesses only
            // where the allocator placed objects in the order they were made:
            // in memory freed before, seldom. The table is started at once, on
            // a core the sync scheduler leaves idle; graphs in their dict's
            // order, whose few misses the scans answer, never start one (one
            // started for a tree's misses near its end slowed it by 8%).
            c.building = Some(Building::start(c.key_hashes.clone()));
        }
        Ok((c, sorted))
    }
    /// From the keys and values of Delayed values, in insertion order (keys
    /// must be distinct).
    fn from_entries(
        py: Python<'py>,
        key_objs: Vec<Bound<'py, PyAny>>,
        values: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<Self> {
        let mut key_types = 0;
        let hashes = key_objs
            .iter()
            .map(|k| {
                key_types |= key_kind(k);
                Ok(py_hash(k)?.unwrap_or(0))
            })
            .collect::<PyResult<_>>()?;
        let values = values.into_iter().map(Some).collect();
        Self::with_keys(py, key_objs, hashes, key_types, values, true)
    }

    fn with_keys(
        py: Python<'py>,
        key_objs: Vec<Bound<'py, PyAny>>,
        key_hashes: Vec<u64>,
        key_types: u8,
        values: Vec<Option<Bound<'py, PyAny>>>,
        delayed: bool,
    ) -> PyResult<Self> {
        let n = key_objs.len();
        Ok(Converter {
            table: None,
            building: None,
            scans: 0,
            deferred: Vec::new(),
            may_defer: true,
            key_objs,
            key_hashes,
            values,
            delayed,
            dict: None,
            key_types,
            builder: GraphBuilder::with_capacity(n, n),
            // Room for a call of two arguments a task (and a constant each):
            // pages never written cost nothing, a regrown array is copied whole.
            code: Vec::with_capacity(4 * n + 16),
            code_start: Vec::with_capacity(n + 1),
            consts: Vec::with_capacity(2 * n + 16),
            root_function: Vec::with_capacity(n),
            functions: Vec::new(),
            function_const: Vec::new(),
            function_index: HashMap::new(),
            last_function: (std::ptr::null_mut(), 0),
            last_found: u32::MAX,
            found_before: u32::MAX,
            skip_guesses: 0,
            guess_misses: 0,
            hit_guess: NO_GUESS,
            misses_lately: 0,
            lookups_lately: 0,
            recent: if n >= RECENT_FROM {
                vec![Recent::EMPTY; RECENT]
            } else {
                Vec::new()
            },
            literal_type: literal_type(py)?.map(|t| t.bind(py).clone()),
            foreign: None,
            not_foreign: None,
        })
    }

    /// The key id equal to `obj` (whose hash is `h`), if `obj` is a key.
    #[inline]
    fn lookup(&mut self, obj: &Bound<'py, PyAny>, h: u64) -> PyResult<Option<u32>> {
        let (keys, hashes) = (&self.key_objs, &self.key_hashes);
        // SAFETY: both are owned, live objects.
        let is = |id: usize| unsafe { py_eq(obj.py(), keys[id].as_ptr(), obj.as_ptr()) };
        if self.table.is_none() && self.scans < SCANS {
            // A graph built in order misses its guesses a few times at most: a
            // scan of the hashes (sequential, a millisecond at 10^6 keys) is
            // cheaper than the table (random writes, 10-15 ms), unless it is
            // built on another thread already (see `Converter::new`): then it
            // is waited for past the scans.
            self.scans += 1;
            let mut from = 0;
            while let Some(i) = hashes[from..].iter().position(|&x| x == h) {
                if is(from + i)? {
                    return Ok(Some((from + i) as u32));
                }
                from += i + 1;
            }
            return Ok(None);
        }
        let building = &mut self.building;
        self.table
            .get_or_insert_with(|| match building.take() {
                Some(building) => building.wait(),
                None => KeyTable::new(hashes),
            })
            .find(h, |id| {
                // The dict compares only keys of equal hash, and so must this.
                Ok(hashes[id as usize] == h && is(id as usize)?)
            })
    }

    /// Whether the table is being built on another thread, not done yet.
    #[inline]
    fn table_pending(&self) -> bool {
        self.building.as_ref().is_some_and(|b| !b.is_done())
    }

    /// Take the table built on another thread, if it is done.
    #[inline]
    fn take_table_if_built(&mut self) {
        if self.building.as_ref().is_some_and(Building::is_done) {
            self.table = self.building.take().map(Building::wait);
        }
    }

    /// Like [`lookup`], skipping arguments that cannot equal any key (see
    /// [`may_equal`]).
    ///
    /// Graphs built by loops reference keys inserted next to each other: a
    /// chain's task reads the key inserted just before its own, a reduction
    /// reads keys in insertion order, a shuffle's reduce one key a fixed
    /// stride on, its getitems one map each. So before the table (a cache miss
    /// into it for a graph of 10^6 keys), try the key after the last one
    /// found, the key before the task's own, the key one stride past the last
    /// and the last itself, then the one its last index points to (see
    /// [`find`] and [`index_guess`]).
    ///
    /// A `TypeError` from hashing or comparing means "not a key", as Dask's
    /// `try: arg in keys except TypeError` reads it.
    #[inline]
    fn lookup_reference(
        &mut self,
        obj: &Bound<'py, PyAny>,
        owner: u32,
        defer: bool,
    ) -> PyResult<Found> {
        if may_equal(obj) & self.key_types == 0 {
            return Ok(Found::No);
        }
        // Also the key as far past the last one found as that was past the one
        // before (a shuffle's reduce reads one part of every map, a fixed stride
        // apart), and that key again (a shuffle's getitems all read one map).
        let stride = self.last_found.wrapping_sub(self.found_before);
        let guesses = [
            self.last_found.wrapping_add(1),
            owner.wrapping_sub(1),
            self.last_found.wrapping_add(stride),
            self.last_found,
        ];
        match self.find(obj, guesses, defer) {
            Err(e) if e.is_instance_of::<PyTypeError>(obj.py()) => Ok(Found::No),
            found => found,
        }
    }

    #[inline]
    fn found(&mut self, key_id: u32) {
        let stride = key_id.wrapping_sub(self.last_found);
        if stride == key_id.wrapping_sub(self.found_before).wrapping_sub(stride)
            && stride > 1
            && stride != u32::MAX
        {
            self.fetch_strides(key_id, stride);
        }
        self.found_before = self.last_found;
        self.last_found = key_id;
    }

    /// The key `obj` would be if keys were made in a loop over their last
    /// index, judged from the last key found: `('r', 7)` is three keys past
    /// `('r', 4)`. A random DAG's tasks read keys made shortly before, in no
    /// order the other guesses follow; once this guess hit, the next ones are
    /// checked with `==` alone (see [`find`]), not hashed. Dask's layers, keyed
    /// `(name, i)`, are made the same way. Only for a reference of the last
    /// key's shape (exact tuples of one length ending in an exact `int`, or
    /// exact `int`s; in a C `long`), and only a guess: `==` decides.
    #[inline]
    fn index_guess(&self, obj: &Bound<'py, PyAny>) -> Option<u32> {
        /// The last index of `p` if it is of the `shape` (`None`: an `int`;
        /// `Some(len)`: a tuple of `len` items, `len > 0`).
        ///
        /// # Safety
        /// `p` must be a live object.
        unsafe fn last_index(p: *mut ffi::PyObject, shape: Option<ffi::Py_ssize_t>) -> Option<i64> {
            // SAFETY: type checks, then a read of a live tuple's own item.
            let item = unsafe {
                match shape {
                    None => p,
                    Some(len)
                        if ffi::PyTuple_CheckExact(p) != 0 && ffi::PyTuple_GET_SIZE(p) == len =>
                    {
                        ffi::PyTuple_GET_ITEM(p, len - 1)
                    }
                    Some(_) => return None,
                }
            };
            // SAFETY: as above; an exact int converts without running Python
            // code or setting an error (a value past a C `long` sets `overflow`).
            unsafe {
                if ffi::PyLong_CheckExact(item) == 0 {
                    return None;
                }
                let mut overflow = 0;
                let i = ffi::PyLong_AsLongAndOverflow(item, &mut overflow);
                (overflow == 0).then_some(i as i64)
            }
        }
        if self.key_types & (KEY_TUPLE | KEY_NUM) == 0 {
            return None; // a graph of `str` keys
        }
        let base = self.key_objs.get(self.last_found as usize)?.as_ptr();
        // SAFETY: `base` is one of the converter's keys, `obj` a live object.
        unsafe {
            let shape = match ffi::PyTuple_CheckExact(base) {
                0 => None,
                _ => Some(ffi::PyTuple_GET_SIZE(base)).filter(|&len| len > 0),
            };
            let at = last_index(obj.as_ptr(), shape)?.wrapping_sub(last_index(base, shape)?);
            Some(self.last_found.wrapping_add(at as u32))
        }
    }

    /// References a fixed stride apart (a shuffle's reduce reads one part of
    /// every map) are far apart in memory: fetch what the stride guess will
    /// read, each a step after what it is found through: the hash and key
    /// pointer three strides on, the key two on, its items (a tuple key's `str`
    /// and `int`s, compared one by one) one on. Kept out of line: most
    /// lookups never come here, and `found` stays small.
    #[inline(never)]
    fn fetch_strides(&self, key_id: u32, stride: u32) {
        let on = |strides: u32| key_id.wrapping_add(stride.wrapping_mul(strides)) as usize;
        if let Some(h) = self.key_hashes.get(on(3)) {
            prefetch(h);
            prefetch(&self.key_objs[on(3)]);
        }
        if let Some(k) = self.key_objs.get(on(2)) {
            fetch_object(k.as_ptr());
        }
        if let Some(k) = self.key_objs.get(on(1)) {
            fetch_tuple_items(k.as_ptr(), 4);
        }
    }

    /// The key id equal to `obj`: the `guesses` first, then the key its last
    /// index points to ([`index_guess`]; both skipped for a while after a run
    /// of misses), then the recent-keys cache, then, if `defer`
    /// allows, put off (see [`Deferred`]), else [`lookup`]. Equal hash and
    /// `==` is exactly how the dict itself finds a key.
    #[inline]
    fn find<const G: usize>(
        &mut self,
        obj: &Bound<'py, PyAny>,
        guesses: [u32; G],
        defer: bool,
    ) -> PyResult<Found> {
        let py = obj.py();
        let guessing = self.skip_guesses == 0;
        if !guessing {
            self.skip_guesses -= 1;
        } else {
            // A reference of the builtin kinds (`str`, numbers, tuples of them)
            // equals a key of those kinds exactly when the dict would find it,
            // equal hashes included: it is checked against the guess that hit
            // last with `==` alone, and hashed only if that misses (a fan-in's
            // 10^6 references to tuple keys were hashed for nothing). Only that
            // guess, and only after a hit: the others, compared this way, would
            // each read a key that may be far from any read lately (a shuffle's
            // reduce), and a graph whose guesses miss would pay a `==` more.
            let guess = match self.hit_guess {
                INDEX_GUESS => self.index_guess(obj),
                i => guesses.get(i as usize).copied(),
            };
            if let Some(guess) = guess {
                if let Some(key) = self.key_objs.get(guess as usize) {
                    if hash_runs_no_python(obj)
                        && hash_runs_no_python(key)
                        // SAFETY: both are owned, live objects.
                        && unsafe { py_eq(py, key.as_ptr(), obj.as_ptr()) }?
                    {
                        self.found(guess);
                        self.guess_misses = 0;
                        return Ok(Found::Key(guess));
                    }
                }
            }
        }
        let Some(h) = py_hash(obj)? else {
            return Ok(Found::No); // unhashable: not a key
        };
        if guessing {
            for (i, &guess) in guesses.iter().enumerate() {
                if self.is_guess(obj, h, guess, i as u8)? {
                    return Ok(Found::Key(guess));
                }
            }
            if let Some(found) = self.by_index(obj, h)? {
                return Ok(Found::Key(found));
            }
            // Each failed guess is a cache miss in a large graph: after a run
            // of them, go straight to the table for a while, then try again.
            self.hit_guess = NO_GUESS;
            self.guess_misses += 1;
            if self.guess_misses == GUESS_MISSES {
                self.guess_misses = 0;
                self.skip_guesses = GUESS_PAUSE;
            }
        }
        self.misses_lately |= 1;
        // Loops reference keys made shortly before: a direct-mapped cache of the
        // keys parsed last answers most references without probing the full
        // table (a cache miss at 10^6 keys). A collision only falls through.
        if let Some(r) = self.recent.get(h as usize & (RECENT - 1)) {
            // SAFETY: the slot's key is one of the converter's own.
            if !r.key.is_null() && r.hash == h && unsafe { py_eq(py, r.key, obj.as_ptr()) }? {
                let id = r.id;
                self.found(id);
                return Ok(Found::Key(id));
            }
        }
        self.lookups_lately |= 1;
        // Only a miss right after a hit (or a first miss, or the first after a
        // pause of the guesses): misses one after another are a graph whose
        // references the guesses do not follow, and a lookup put off does not
        // tell them where to look next (a tree's missed 4,000 in a row).
        // And any lookup while the table is being built on another thread:
        // waiting for it would idle this one.
        if defer
            && self.may_defer
            && self.table.is_none()
            && ((guessing
                && self.guess_misses == 1
                && self.deferred.len() < DEFER_FIRST + self.code_start.len() / DEFER_PER)
                || self.table_pending())
            && self.deferrable(obj)
        {
            return Ok(Found::Deferred(h));
        }
        Ok(match self.lookup(obj, h)? {
            Some(found) => {
                self.found(found);
                Found::Key(found)
            }
            None => Found::No,
        })
    }

    /// The key [`index_guess`] points to, if it is `obj` (whose hash is `h`).
    /// Out of line: it is tried only when the other guesses missed, and
    /// inlined there too it made chain and map-reduce compile 8-11% slower.
    #[inline(never)]
    fn by_index(&mut self, obj: &Bound<'py, PyAny>, h: u64) -> PyResult<Option<u32>> {
        match self.index_guess(obj) {
            Some(guess) if self.is_guess(obj, h, guess, INDEX_GUESS)? => Ok(Some(guess)),
            _ => Ok(None),
        }
    }

    /// Whether key `guess` is `obj` (whose hash is `h`), as the dict finds a
    /// key; if so, it is the key found last, by guess number `which`.
    #[inline]
    fn is_guess(
        &mut self,
        obj: &Bound<'py, PyAny>,
        h: u64,
        guess: u32,
        which: u8,
    ) -> PyResult<bool> {
        let is = self.key_hashes.get(guess as usize) == Some(&h)
            // SAFETY: both are owned, live objects.
            && unsafe { py_eq(obj.py(), self.key_objs[guess as usize].as_ptr(), obj.as_ptr()) }?;
        if is {
            self.found(guess);
            self.guess_misses = 0;
            self.hit_guess = which;
        }
        Ok(is)
    }

    /// Whether looking `obj` up may be put off (see [`Deferred`]): it is of
    /// the builtin kinds, and if no key, a constant as it is (not a tuple
    /// holding something that may be a key, to be rebuilt with its result).
    fn deferrable(&self, obj: &Bound<'py, PyAny>) -> bool {
        if !hash_runs_no_python(obj) {
            return false;
        }
        let Ok(tuple) = obj.cast::<PyTuple>() else {
            return true;
        };
        tuple
            .iter_borrowed()
            .all(|item| may_equal(&item) & self.key_types == 0)
    }

    fn push_const(&mut self, obj: &Bound<'py, PyAny>) {
        self.code.push(Op::Const(self.consts.len() as u32));
        self.consts.push(obj.clone().unbind());
    }

    /// Index into `functions` of a callable, sharing one constant per distinct callable.
    fn function(&mut self, f: &Bound<'py, PyAny>) -> u32 {
        if self.last_function.0 == f.as_ptr() {
            return self.last_function.1;
        }
        let next = self.functions.len() as u32;
        let i = *self
            .function_index
            .entry(f.as_ptr() as usize)
            .or_insert(next);
        if i == next {
            self.functions.push(f.clone().unbind());
            self.function_const.push(self.consts.len() as u32);
            self.consts.push(f.clone().unbind());
        }
        self.last_function = (f.as_ptr(), i);
        i
    }

    /// `obj` as a task `(callable, *args)`, if it is one.
    #[inline]
    fn as_task(
        obj: &Bound<'py, PyAny>,
    ) -> PyResult<Option<(Bound<'py, PyTuple>, Bound<'py, PyAny>)>> {
        // SAFETY: a type check on a live object.
        if unsafe { ffi::PyTuple_CheckExact(obj.as_ptr()) } == 0 {
            return Ok(None);
        }
        // SAFETY: checked to be exactly a tuple just above.
        let t = unsafe { obj.cast_unchecked::<PyTuple>() };
        if t.is_empty() {
            return Ok(None);
        }
        // SAFETY: `t` is not empty.
        let f = unsafe { t.get_borrowed_item_unchecked(0) }.to_owned();
        // SAFETY: `f` is a live object; this is `PyCallable_Check`, inlined.
        if unsafe { (*ffi::Py_TYPE(f.as_ptr())).tp_call.is_none() } {
            return Ok(None);
        }
        Ok(Some((t.clone(), f)))
    }

    /// The value quoted by the task `(literal(x),)` (`taskloom.core.quote`), if `task`
    /// is one: encoded as a constant, so quoting costs no call when the task runs.
    #[inline]
    fn quoted(
        &self,
        task: &Bound<'py, PyTuple>,
        f: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        match &self.literal_type {
            Some(t) if task.len() == 1 && f.get_type().is(t) => {
                Ok(Some(f.getattr(pyo3::intern!(f.py(), "data"))?))
            }
            _ => Ok(None),
        }
    }

    /// Encode `obj`; returns true if it is a plain constant (no references, no calls).
    fn emit(
        &mut self,
        obj: &Bound<'py, PyAny>,
        depth: usize,
        owner: u32,
        arg: bool,
    ) -> PyResult<bool> {
        if depth > MAX_NESTING {
            return Err(errors::too_deep(
                &self.key_objs[owner as usize],
                MAX_NESTING,
            ));
        }
        if let Some((task, f)) = Self::as_task(obj)? {
            if let Some(data) = self.quoted(&task, &f)? {
                // Not "plain": the value differs from `obj`, so a container holding
                // it must be rebuilt.
                self.push_const(&data);
            } else {
                self.emit_call(&task, &f, depth, owner)?;
            }
            return Ok(false);
        }
        match self.lookup_reference(obj, owner, arg)? {
            Found::Key(key_id) => {
                // A key's task id is its position in the reading order.
                let local = self.builder.add_dep(key_id);
                self.code.push(Op::Dep(local));
                return Ok(false);
            }
            Found::Deferred(hash) => {
                self.deferred.push(Deferred {
                    task: owner,
                    at: self.code.len() as u32,
                    hash,
                });
                self.push_const(obj);
                return Ok(false);
            }
            Found::No => {}
        }
        let p = obj.as_ptr();
        // SAFETY: type checks on a live object.
        let container = unsafe {
            if ffi::PyTuple_CheckExact(p) != 0 {
                Some(Op::Tuple(0))
            } else if ffi::PyList_CheckExact(p) != 0 {
                Some(Op::List(0))
            } else if ffi::PySet_CheckExact(p) != 0 {
                Some(Op::Set(0))
            } else if ffi::PyFrozenSet_CheckExact(p) != 0 {
                Some(Op::FrozenSet(0))
            } else {
                None
            }
        };
        let Some(kind) = container else {
            self.push_const(obj);
            return Ok(true);
        };
        let at = self.code.len();
        let consts_at = self.consts.len();
        self.code.push(kind);
        let mut all_const = true;
        let mut n = 0u32;
        if let Ok(list) = obj.cast::<PyList>() {
            // Indexed, not iterated: no iterator object per container.
            let long = list.len() >= LONG_LIST;
            while (n as usize) < list.len() {
                if long {
                    self.fetch_items_ahead(list, n as usize);
                }
                // SAFETY: `n` is below the length just read, and no Python code
                // has run since.
                let item = unsafe { list.get_item_unchecked(n as usize) };
                all_const &= self.emit(&item, depth + 1, owner, false)?;
                n += 1;
            }
        } else if let Ok(tuple) = obj.cast::<PyTuple>() {
            for item in tuple.iter() {
                all_const &= self.emit(&item, depth + 1, owner, false)?;
                n += 1;
            }
        } else {
            for item in obj.try_iter()? {
                all_const &= self.emit(&item?, depth + 1, owner, false)?;
                n += 1;
            }
        }
        if all_const {
            // Nothing to substitute: keep the user's object itself.
            self.code.truncate(at);
            self.consts.truncate(consts_at);
            self.push_const(obj);
            return Ok(true);
        }
        self.code[at] = match kind {
            Op::Tuple(_) => Op::Tuple(n),
            Op::List(_) => Op::List(n),
            Op::Set(_) => Op::Set(n),
            _ => Op::FrozenSet(n),
        };
        Ok(false)
    }

    /// In a long list (a reduction's inputs), fetch what its items' lookups
    /// will read, each a step after what it is found through: item `n + AHEAD`,
    /// the parts of item `n + AHEAD / 2` (a tuple key's `str` and `int`), and,
    /// as references in a list are most often to consecutive keys, the key as
    /// far past the last one found, then its parts. Items and keys made long
    /// before are each a cache miss otherwise (a fan-in's sum of 10^6 keys).
    #[inline]
    fn fetch_items_ahead(&self, list: &Bound<'py, PyList>, n: usize) {
        let list_item = |i: usize| {
            // SAFETY: `i` is below the list's length, and no Python code has
            // run since it was read; the list owns its items.
            (i < list.len()).then(|| unsafe { ffi::PyList_GET_ITEM(list.as_ptr(), i as _) })
        };
        if let Some(item) = list_item(n + AHEAD) {
            fetch_object(item);
        }
        if let Some(item) = list_item(n + AHEAD / 2) {
            fetch_tuple_items(item, 3);
        }
        let next = self.last_found.wrapping_add(1) as usize;
        if let Some(key) = self.key_objs.get(next + AHEAD) {
            fetch_object(key.as_ptr());
        }
        if let Some(key) = self.key_objs.get(next + AHEAD / 2) {
            fetch_tuple_items(key.as_ptr(), 3);
        }
    }

    fn emit_call(
        &mut self,
        task: &Bound<'py, PyTuple>,
        f: &Bound<'py, PyAny>,
        depth: usize,
        owner: u32,
    ) -> PyResult<u32> {
        self.emit_call_parts(f, task.iter().skip(1), task.len() - 1, depth, owner)
    }

    /// Encode `f(*args)` (`n` arguments).
    fn emit_call_parts(
        &mut self,
        f: &Bound<'py, PyAny>,
        args: impl Iterator<Item = Bound<'py, PyAny>>,
        n: usize,
        depth: usize,
        owner: u32,
    ) -> PyResult<u32> {
        self.code.push(Op::Call(n as u32));
        let fi = self.function(f);
        self.code.push(Op::Const(self.function_const[fi as usize]));
        for arg in args {
            self.emit(&arg, depth + 1, owner, true)?;
        }
        Ok(fi)
    }

    /// Start fetching what the tasks ahead will read: the value `AHEAD` tasks
    /// ahead, and the arguments of the one `AHEAD / 2` ahead (its tuple fetched
    /// by then). In a dict whose objects were made in another order than it
    /// lists them, each is a cache miss, otherwise waited for one at a time.
    #[inline]
    fn fetch_ahead(&self, key_id: u32) {
        let at = key_id as usize;
        if let Some(Some(v)) = self.values.get(at + AHEAD) {
            fetch_object(v.as_ptr());
        }
        for arg in self.first_args(at + AHEAD / 2) {
            fetch_object(arg);
        }
        // Then, for the `str` arguments that may be keys (hashing a `str` runs no
        // Python code, and its hash is cached for the lookup), what a lookup in
        // the table reads, in the order it reads it: the first slot, the hash
        // and key of the id there, the key's object.
        let Some(table) = &self.table else { return };
        if self.lookups_lately == 0 {
            return;
        }
        if self.key_types & (KEY_STR | KEY_OTHER) == 0 {
            return;
        }
        for (ahead, stage) in [(AHEAD / 4, 0), (AHEAD / 8, 1), (AHEAD / 16, 2)] {
            for arg in self.first_args(at + ahead) {
                // SAFETY: `arg` is owned by a value the converter owns.
                let hash = unsafe {
                    if ffi::PyUnicode_CheckExact(arg) == 0 {
                        continue;
                    }
                    ffi::PyObject_Hash(arg) as u64
                };
                if stage == 0 {
                    table.prefetch(hash);
                } else if let Some(id) = table.likely(hash) {
                    let id = id as usize;
                    if stage == 1 {
                        prefetch(&self.key_hashes[id]);
                        prefetch(&self.key_objs[id]);
                    } else {
                        fetch_object(self.key_objs[id].as_ptr());
                    }
                }
            }
        }
    }

    /// The first few arguments of the value at `at`, if it is a task-like tuple
    /// (items 1 to 3; none otherwise), to fetch ahead.
    #[inline]
    fn first_args(&self, at: usize) -> impl Iterator<Item = *mut ffi::PyObject> + '_ {
        let v = match self.values.get(at) {
            Some(Some(v)) => v.as_ptr(),
            _ => std::ptr::null_mut(),
        };
        // SAFETY: `v` is null or owned by the converter: a type check on it.
        let n = if !v.is_null() && unsafe { ffi::PyTuple_CheckExact(v) } != 0 {
            // SAFETY: `v` is an exact tuple.
            unsafe { ffi::PyTuple_GET_SIZE(v) }.min(4)
        } else {
            1
        };
        // SAFETY: `i` is below the tuple's size, and the tuple owns its items.
        (1..n).map(move |i| unsafe { ffi::PyTuple_GET_ITEM(v, i) })
    }

    /// Stop with `ForeignGraph` at a task value that is one of `foreign`'s
    /// types (by its type, as the caller's own check reads values): the caller
    /// lowers the graph to tuple tasks and converts again. Checked here, in the
    /// one read of every value, rather than by a pass of the caller's over the
    /// dict first: that pass cost 0.05 us a task in order, 0.26 shuffled.
    #[inline]
    fn check_foreign(&mut self, value: &Bound<'py, PyAny>) -> PyResult<()> {
        let Some(kinds) = &self.foreign else {
            return Ok(());
        };
        let ty = value.get_type();
        if self.not_foreign.as_ref().is_some_and(|t| t.is(&ty)) {
            return Ok(());
        }
        for kind in kinds.iter() {
            // SAFETY: `PyType_IsSubtype` reads the MRO of two live types and
            // runs no Python code (unlike `issubclass`'s hooks, which Dask's
            // plain classes do not define); `kind` is checked to be a type first.
            let sub = unsafe {
                ffi::PyType_Check(kind.as_ptr()) != 0
                    && ffi::PyType_IsSubtype(ty.as_type_ptr(), kind.as_ptr().cast()) != 0
            };
            if sub {
                return Err(errors::ForeignGraph::new_err(()));
            }
        }
        self.not_foreign = Some(ty);
        Ok(())
    }

    /// Encode the value of the task of key `key_id` (the next task in order).
    fn emit_task(&mut self, key_id: u32) -> PyResult<()> {
        self.fetch_ahead(key_id);
        self.misses_lately <<= 1;
        self.lookups_lately <<= 1;
        let value = self.values[key_id as usize]
            .take()
            .expect("each task is parsed once");
        self.code_start.push(self.code.len() as u32);
        // Delayed values handed over by `collect` keep their call in parts; in a
        // user's dict graph a Delayed value is a literal, as in Dask.
        let call = if self.delayed {
            value
                .cast::<crate::delayed::DelayedBase>()
                .ok()
                .and_then(|node| node.get().call(value.py()))
        } else {
            None
        };
        let root = if let Some((f, args)) = call {
            // A Delayed call kept in parts (see delayed.rs), read directly.
            self.emit_call_parts(&f, args.iter(), args.len(), 0, key_id)?
        } else {
            match Self::as_task(&value)? {
                Some((task, f)) => match self.quoted(&task, &f)? {
                    Some(data) => {
                        self.push_const(&data);
                        NO_FUNCTION
                    }
                    None => self.emit_call(&task, &f, 0, key_id)?,
                },
                None => {
                    self.check_foreign(&value)?;
                    self.emit(&value, 0, key_id, false)?;
                    NO_FUNCTION
                }
            }
        };
        self.root_function.push(root);
        self.builder.end_task();
        // Cached only while the guesses miss (see `misses_lately`).
        if self.misses_lately != 0 {
            self.take_table_if_built();
            let hash = self.key_hashes[key_id as usize];
            if let Some(slot) = self.recent.get_mut(hash as usize & (RECENT - 1)) {
                *slot = Recent {
                    hash,
                    key: self.key_objs[key_id as usize].as_ptr(),
                    id: key_id,
                };
            }
        }
        Ok(())
    }

    /// Look for the [`Deferred`] references, and make those found dependencies
    /// of their tasks. A `TypeError` from `==` means "not a key", as in
    /// [`lookup_reference`](Self::lookup_reference).
    fn resolve_deferred(&mut self, py: Python<'py>) -> PyResult<()> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        let deferred = std::mem::take(&mut self.deferred);
        let objs: Vec<Bound<'py, PyAny>> = deferred
            .iter()
            .map(|d| match self.code[d.at as usize] {
                Op::Const(c) => self.consts[c as usize].bind(py).clone(),
                _ => unreachable!("a deferred reference is a constant until resolved"),
            })
            .collect();
        const UNSEEN: u32 = u32::MAX;
        const NOT_KEY: u32 = u32::MAX - 1;
        let mut found = vec![UNSEEN; deferred.len()];
        // A `TypeError` means "not a key", as in `lookup_reference`.
        let not_key = |e: PyErr| match e.is_instance_of::<PyTypeError>(py) {
            true => Ok(NOT_KEY),
            false => Err(e),
        };
        // A table still being built is not waited for: one pass over the
        // hashes finds them all (the thread's work is dropped with it).
        self.take_table_if_built();
        if self.table.is_some() {
            for (p, d) in deferred.iter().enumerate() {
                found[p] = match self.lookup(&objs[p], d.hash) {
                    Ok(id) => id.unwrap_or(UNSEEN),
                    Err(e) => not_key(e)?,
                };
            }
        } else {
            // One pass over the hashes, each tested against a bit set of the
            // deferred ones' (a few KB, in cache) before the sorted list.
            let (keys, hashes) = (&self.key_objs, &self.key_hashes);
            let mut by_hash: Vec<u32> = (0..deferred.len() as u32).collect();
            by_hash.sort_unstable_by_key(|&p| deferred[p as usize].hash);
            let bits = (deferred.len() * FILTER_BITS_PER)
                .next_power_of_two()
                .max(64);
            let shift = 64 - bits.trailing_zeros();
            let bit = |h: u64| (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
            let mut filter = vec![0u64; bits / 64];
            for d in &deferred {
                let b = bit(d.hash);
                filter[b / 64] |= 1 << (b % 64);
            }
            for (id, &h) in hashes.iter().enumerate() {
                let b = bit(h);
                if filter[b / 64] >> (b % 64) & 1 == 0 {
                    continue;
                }
                let from = by_hash.partition_point(|&p| deferred[p as usize].hash < h);
                for &p in by_hash[from..]
                    .iter()
                    .take_while(|&&p| deferred[p as usize].hash == h)
                {
                    let p = p as usize;
                    if found[p] == UNSEEN {
                        // SAFETY: the keys and constants are owned, live objects.
                        match unsafe { py_eq(py, keys[id].as_ptr(), objs[p].as_ptr()) } {
                            Ok(true) => found[p] = id as u32,
                            Ok(false) => {}
                            Err(e) => found[p] = not_key(e)?,
                        }
                    }
                }
            }
        }
        let resolved: Vec<usize> = (0..deferred.len())
            .filter(|&p| found[p] < NOT_KEY)
            .collect();
        if resolved.is_empty() {
            return Ok(());
        }
        let late: Vec<(TaskId, TaskId)> = resolved
            .iter()
            .map(|&p| (deferred[p].task, found[p]))
            .collect();
        let locals = self.builder.add_late_deps(&late);
        for (&p, local) in resolved.iter().zip(locals) {
            self.code[deferred[p].at as usize] = Op::Dep(local);
        }
        Ok(())
    }

    fn emit_keys(
        &mut self,
        keys: &Bound<'py, PyAny>,
        depth: usize,
        outputs: &mut Vec<TaskId>,
        shape: &mut Vec<Shape>,
    ) -> PyResult<()> {
        if depth > MAX_NESTING {
            return Err(errors::too_deep_keys(MAX_NESTING));
        }
        if let Ok(list) = keys.cast::<PyList>() {
            shape.push(Shape::List(list.len() as u32));
            for k in list.iter() {
                self.emit_keys(&k, depth + 1, outputs, shape)?;
            }
            return Ok(());
        }
        if py_hash(keys)?.is_none() {
            return Err(errors::unhashable_key(keys));
        }
        // Requested keys are often listed in insertion order, or are the last key.
        let last = self.key_objs.len().wrapping_sub(1) as u32;
        let Found::Key(key_id) = self.find(keys, [self.last_found.wrapping_add(1), last], false)?
        else {
            return Err(errors::missing_key(keys));
        };
        outputs.push(key_id);
        shape.push(Shape::Key(key_id));
        Ok(())
    }
}

/// Convert `dsk` for computing `keys` (one key or nested lists of keys).
///
/// Besides a dict, `dsk` may be a `taskloom._graph.DelayedGraph`: the graph of
/// Delayed values, read straight from them (no dict is built). `foreign` (a
/// tuple of types) stops the conversion with `ForeignGraph` at a task value of
/// one of them (see `Converter::check_foreign`).
pub fn convert<'py>(
    dsk: &Bound<'py, PyAny>,
    keys: &Bound<'py, PyAny>,
    foreign: Option<Bound<'py, PyTuple>>,
) -> PyResult<Converted> {
    if let Ok(dict) = dsk.cast::<PyDict>() {
        return convert_dict(dict, keys, foreign);
    }
    let Some(roots) = dsk.getattr_opt("_delayed_roots")? else {
        return Err(errors::not_a_dict(dsk));
    };
    match crate::delayed::collect(&roots)? {
        Some((k, v)) => Converter::from_entries(dsk.py(), k, v)?
            .finish(keys, foreign)
            .map_err(Failed::into_err),
        None => convert_dict(&crate::delayed::graph_of(&roots)?, keys, foreign),
    }
}

/// A dict graph, read in its keys' memory order where that pays (see
/// [`entries`]). A value that cannot be converted then, or after a lookup was
/// put off (whose key's `==` may raise, at the end), is looked for again in
/// the dict's own order with nothing put off: the error reported is the first
/// in the dict, as for any other dict, not the first in memory (which changes
/// from run to run) nor the first of the lookups made at the end.
fn convert_dict<'py>(
    dict: &Bound<'py, PyDict>,
    keys: &Bound<'py, PyAny>,
    foreign: Option<Bound<'py, PyTuple>>,
) -> PyResult<Converted> {
    let (c, sorted) = Converter::new(dict, true)?;
    match c.finish(keys, foreign.clone()) {
        // Not a signal to lower the graph (`ForeignGraph`), nor Ctrl-C.
        Err(Failed::Value(e, put_off))
            if (sorted || put_off)
                && e.is_instance_of::<PyException>(dict.py())
                && !e.is_instance_of::<errors::ForeignGraph>(dict.py()) =>
        {
            let mut c = Converter::new(dict, false)?.0;
            c.may_defer = false;
            c.finish(keys, foreign)
        }
        r => r,
    }
    .map_err(Failed::into_err)
}

/// Why [`Converter::finish`] failed: a task's value could not be converted
/// (and whether a lookup had been put off), or something else (a requested
/// key, the dict changed while read).
enum Failed {
    Value(PyErr, bool),
    Other(PyErr),
}

impl Failed {
    fn into_err(self) -> PyErr {
        match self {
            Failed::Value(e, _) | Failed::Other(e) => e,
        }
    }
}

impl<'py> Converter<'py> {
    /// Resolve the requested `keys` and encode every value.
    fn finish(
        mut self,
        keys: &Bound<'py, PyAny>,
        foreign: Option<Bound<'py, PyTuple>>,
    ) -> Result<Converted, Failed> {
        self.foreign = foreign;
        let mut outputs = Vec::new();
        let mut shape = Vec::new();
        self.emit_keys(keys, 0, &mut outputs, &mut shape)
            .map_err(Failed::Other)?;
        // Every value, in the reading order (see the module documentation).
        for key_id in 0..self.key_objs.len() as u32 {
            if let Err(e) = self.emit_task(key_id) {
                return Err(Failed::Value(e, !self.deferred.is_empty()));
            }
        }
        if let Err(e) = self.resolve_deferred(keys.py()) {
            return Err(Failed::Value(e, true));
        }
        if let Some((dict, n)) = &self.dict {
            if dict.len() != *n {
                return Err(Failed::Other(errors::graph_changed()));
            }
        }
        self.code_start.push(self.code.len() as u32);
        // Moved, not copied: a reference count touched again at 10^6 keys is a cache miss.
        let keys = self.key_objs.into_iter().map(Bound::unbind).collect();
        Ok(Converted {
            program: Program {
                keys,
                code: self.code,
                code_start: self.code_start,
                consts: self.consts,
                root_function: self.root_function,
                functions: self.functions,
            },
            builder: self.builder,
            outputs,
            shape,
        })
    }
}

/// Assemble the results in the shape the keys were requested in, lists as tuples.
pub fn shape_results<'py>(
    py: Python<'py>,
    shape: &[Shape],
    result: impl Fn(TaskId) -> Py<PyAny>,
) -> PyResult<Py<PyAny>> {
    fn build<'py>(
        py: Python<'py>,
        shape: &[Shape],
        pos: &mut usize,
        result: &impl Fn(TaskId) -> Py<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let s = &shape[*pos];
        *pos += 1;
        match *s {
            Shape::Key(t) => Ok(result(t)),
            Shape::List(n) => {
                let items = (0..n)
                    .map(|_| build(py, shape, pos, result))
                    .collect::<PyResult<Vec<_>>>()?;
                // Like Dask's `nested_get`: a list of keys gives a tuple of results.
                Ok(PyTuple::new(py, items)?.into_any().unbind())
            }
        }
    }
    let mut pos = 0;
    build(py, shape, &mut pos, &result)
}
