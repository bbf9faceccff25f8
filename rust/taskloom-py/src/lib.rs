//! `taskloom._core`: the thin pyo3 layer over `taskloom-core`.
//!
//! Layout: [`convert`] turns the user's dict graph into integer ids and flat
//! arrays (all Python -> Rust conversion happens there; the core's `KeyTable`
//! is its key lookup), [`eval`] calls user
//! functions, [`exec`] drives the core scheduler on the calling thread and
//! [`pool`]'s worker threads, [`dispatch`] hands the core's ready queue to
//! executors written in Python (worker processes), and [`errors`] builds every
//! exception raised; [`lifecycle`] keeps threads safe across exit,
//! finalization and fork; [`delayed`] is the native half of Delayed values,
//! which [`gcpark`] keeps out of the cyclic GC's young collections. The
//! binding's memory comes from mimalloc (see [`ALLOCATOR`]). The Python
//! package wraps these functions with defaults and documentation.
//!
//! What relies on the GIL (the module declares `gil_used = true`, so a
//! free-threaded Python keeps the GIL on while it is imported, until these are
//! made safe without it; see `rust/README.md`): the converter walks the user's
//! dict with `PyDict_Next` and borrowed references; the executor's inline
//! policy (small tasks on the calling thread, because only one thread runs
//! Python at a time); the `yield_gil` hand-over; evaluation building
//! containers with `PyList_SET_ITEM` unseen by other threads.

mod convert;
mod delayed;
mod dispatch;
mod errors;
mod eval;
mod exec;
mod gcpark;
mod hooks;
mod lifecycle;
mod pool;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PySet, PyTuple};
use taskloom_core::{fused_successors, partition, NO_TASK};

/// Compute `keys` from the dict graph `dsk` (see `taskloom.get`).
///
/// `num_workers <= 1` runs every task on the calling thread; `hooks` is
/// described in `hooks.rs`; `fuse` runs linear chains as units; `priorities`
/// (key -> number) picks among ready tasks, highest first; a task value of
/// one of the `foreign` types raises `ForeignGraph` before any task runs.
#[pyfunction]
#[pyo3(signature = (dsk, keys, num_workers = 0, hooks = None, fuse = true, priorities = None, foreign = None))]
#[allow(clippy::too_many_arguments)]
fn get<'py>(
    py: Python<'py>,
    dsk: &Bound<'py, PyAny>,
    keys: &Bound<'py, PyAny>,
    num_workers: usize,
    hooks: Option<Bound<'py, PyAny>>,
    fuse: bool,
    priorities: Option<Bound<'py, PyDict>>,
    foreign: Option<Bound<'py, PyTuple>>,
) -> PyResult<Py<PyAny>> {
    let hooks = hooks::Hooks::from_py(hooks)?;
    let converted = convert::convert(dsk, keys, foreign)?;
    let (plan, order) = exec::plan(py, converted, priorities.as_ref())?;
    exec::execute(py, &plan, order, num_workers, hooks, fuse)
}

/// A graph converted and ordered once, to run many times (benchmarks measure
/// execution alone this way). It holds the user's keys and task values, so it
/// takes part in the cyclic GC: a cycle through it (a task argument referring
/// back to it) is collected.
#[pyclass(module = "taskloom._core")]
struct Compiled {
    /// None once the GC has cleared it.
    inner: Option<(exec::Plan, taskloom_core::Order)>,
}

impl Compiled {
    fn get(&self) -> PyResult<(&exec::Plan, &taskloom_core::Order)> {
        self.inner.as_ref().map(|(p, o)| (p, o)).ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err(
                "this Compiled graph was cleared by the garbage collector",
            )
        })
    }
}

#[pymethods]
impl Compiled {
    #[new]
    fn new(py: Python<'_>, dsk: &Bound<'_, PyAny>, keys: &Bound<'_, PyAny>) -> PyResult<Self> {
        let inner = Some(exec::plan(py, convert::convert(dsk, keys, None)?, None)?);
        Ok(Compiled { inner })
    }

    /// Run the graph; same arguments as `get`.
    #[pyo3(signature = (num_workers = 0, hooks = None, fuse = true))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        num_workers: usize,
        hooks: Option<Bound<'py, PyAny>>,
        fuse: bool,
    ) -> PyResult<Py<PyAny>> {
        let hooks = hooks::Hooks::from_py(hooks)?;
        let (plan, order) = self.get()?;
        exec::execute(py, plan, order.clone(), num_workers, hooks, fuse)
    }

    /// Whether the tasks were renumbered into execution order (the dict's order
    /// was scattered; see `exec::plan`).
    #[getter]
    fn renumbered(&self) -> PyResult<bool> {
        Ok(self.get()?.0.renumbered)
    }

    /// Number of tasks a run executes (after culling).
    fn __len__(&self) -> PyResult<usize> {
        Ok(self.get()?.1.sequence.len())
    }

    /// The keys a run computes, in execution order (dependencies first).
    fn keys(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        let (plan, order) = self.get()?;
        let keys = &plan.program.keys;
        Ok(order
            .sequence
            .iter()
            .map(|&t| keys[t as usize].clone_ref(py))
            .collect())
    }

    /// Per needed key, the keys its task reads.
    fn dependencies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (plan, order) = self.get()?;
        let keys = &plan.program.keys;
        let out = PyDict::new(py);
        for &t in &order.sequence {
            let deps = plan.graph.deps(t).iter().map(|&d| &keys[d as usize]);
            out.set_item(&keys[t as usize], PySet::new(py, deps)?)?;
        }
        Ok(out)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Some((plan, _)) = &self.inner {
            plan.program.traverse(&visit)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.inner = None;
    }

    /// The linear chains a run fuses, each as its keys from first to last.
    fn chains(&self, py: Python<'_>) -> PyResult<Vec<Vec<Py<PyAny>>>> {
        let (plan, order) = self.get()?;
        let keys = &plan.program.keys;
        let next = fused_successors(&plan.graph, order, &plan.outputs);
        let mut is_successor = vec![false; next.len()];
        for &c in &next {
            if c != NO_TASK {
                is_successor[c as usize] = true;
            }
        }
        let mut chains = Vec::new();
        for &t in &order.sequence {
            if is_successor[t as usize] || next[t as usize] == NO_TASK {
                continue;
            }
            let mut chain = vec![keys[t as usize].clone_ref(py)];
            let mut c = next[t as usize];
            while c != NO_TASK {
                chain.push(keys[c as usize].clone_ref(py));
                c = next[c as usize];
            }
            chains.push(chain);
        }
        Ok(chains)
    }

    /// The graph cut into pieces of about `target` tasks for a cluster (see
    /// `taskloom_core::partition`). Returns the pieces, in an order where a
    /// piece reads only earlier ones, each as its keys in execution order, the
    /// keys it reads from earlier pieces as `(piece, keys)` groups, and its keys
    /// that later pieces or the caller read; and `(key, piece)` for each
    /// requested key.
    #[allow(clippy::type_complexity)]
    fn pieces(
        &self,
        py: Python<'_>,
        target: u32,
    ) -> PyResult<(
        Vec<(Vec<Py<PyAny>>, Vec<(u32, Vec<Py<PyAny>>)>, Vec<Py<PyAny>>)>,
        Vec<(Py<PyAny>, u32)>,
    )> {
        let (plan, order) = self.get()?;
        let keys = &plan.program.keys;
        let key = |t: u32| keys[t as usize].clone_ref(py);
        let pieces = partition(&plan.graph, order, &plan.outputs, target);
        let named = |ids: &[u32]| -> Vec<Py<PyAny>> { ids.iter().map(|&t| key(t)).collect() };
        let rows = (0..pieces.len())
            .map(|p| {
                let inputs = pieces.inputs(p);
                let groups = inputs
                    .chunk_by(|&a, &b| pieces.piece_of[a as usize] == pieces.piece_of[b as usize])
                    .map(|g| (pieces.piece_of[g[0] as usize], named(g)))
                    .collect();
                (named(pieces.tasks(p)), groups, named(pieces.exports(p)))
            })
            .collect();
        let outputs = plan
            .outputs
            .iter()
            .map(|&t| (key(t), pieces.piece_of[t as usize]))
            .collect();
        Ok((rows, outputs))
    }
}

/// Close the pool and wait for running tasks; registered with `atexit` by the
/// package (see `lifecycle.rs`).
#[pyfunction]
fn _shutdown(py: Python<'_>) -> PyResult<()> {
    lifecycle::shutdown(py)
}

/// Everything the binding allocates comes from mimalloc (Python objects come
/// from Python's allocator). A get of 10^6 tasks frees about 100 MB of arrays
/// at its end; the system allocator hands blocks that large back to the kernel
/// at once, so the next get faulted them in again page by page (2 us a page on
/// this project's VM, a fifth of a get's time on the fan-in shape). mimalloc
/// keeps freed memory for reuse and returns what stays unused for
/// [`PURGE_DELAY_MS`] to the kernel the next time it runs. Built not to ask for transparent huge
/// pages: where the kernel grants them on request, a fresh process's first
/// gets then stalled at random while it compacted memory for them (a 10^6-task
/// fan-in took 0.45-0.6 us a task instead of 0.25 in one process of three).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long memory freed by a get stays ready for the next one: a minute, not
/// mimalloc 3's default of a second. mimalloc purges at most once a delay,
/// everything then free, also what was freed a moment before: with a second,
/// gets of 10^6 tasks about a second apart (a random DAG's, a loop between
/// them) each found the previous get's memory returned to the kernel and
/// faulted it in again (40,000 page faults a get instead of 4,000; 0.81 us a
/// task instead of 0.76). With a minute, one get a minute does. Memory is
/// purged only when mimalloc runs, that is when the binding allocates: after
/// a process's last get it is kept whatever the delay (`_trim_memory` returns
/// it). A delay the user gave mimalloc is left as it is (`MIMALLOC_PURGE_DELAY`,
/// in any spelling mimalloc reads, its old name `MIMALLOC_RESET_DELAY`
/// included: mimalloc marks an option read from the environment as set, and
/// a default given after does not change it).
const PURGE_DELAY_MS: std::os::raw::c_long = 60_000;

/// `mi_option_purge_delay`'s index in mimalloc 3's `mi_option_e` (the crate
/// names only some options), and its default there: the option is changed
/// only while it holds that default, so a renumbering in another mimalloc
/// release leaves the allocator untouched rather than changing another option.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MIMALLOC_PURGE_DELAY_MS: std::os::raw::c_long = 1_000;

fn keep_freed_memory() {
    // SAFETY: option reads and writes of mimalloc's own table, at import, before
    // the binding starts any thread that allocates. The read first takes the
    // environment's value, if any, which the default then leaves alone.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MIMALLOC_PURGE_DELAY_MS {
            libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
        }
    }
}

/// The allocator's purge delay in milliseconds (tests check it was set).
#[pyfunction]
fn _purge_delay_ms() -> i64 {
    // SAFETY: an option read.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) as i64 }
}

/// Return to the kernel the memory the allocator keeps for reuse (the
/// benchmark harness does before it measures a run's peak memory).
#[pyfunction]
fn _trim_memory() {
    // SAFETY: mimalloc's collection of its own free memory, no preconditions.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// Forget the parent's worker pool in a forked child (`os.register_at_fork`).
#[pyfunction]
fn _after_fork_in_child() {
    pool::forget_after_fork();
    lifecycle::after_fork_in_child();
}

#[pymodule(gil_used = true)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    lifecycle::init(m.py())?;
    keep_freed_memory();
    m.add_function(wrap_pyfunction!(get, m)?)?;
    m.add_function(wrap_pyfunction!(_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(_after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(_trim_memory, m)?)?;
    m.add_function(wrap_pyfunction!(_purge_delay_ms, m)?)?;
    m.add_class::<hooks::Progress>()?;
    m.add_class::<Compiled>()?;
    m.add_class::<dispatch::Dispatcher>()?;
    m.add_class::<delayed::DelayedBase>()?;
    m.add_function(wrap_pyfunction!(delayed::delayed_call, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::_leaf_setup, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::graph_of, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::unique_key, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::unique_token, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::_seed_unique, m)?)?;
    m.add("CycleError", m.py().get_type::<errors::CycleError>())?;
    m.add("ForeignGraph", m.py().get_type::<errors::ForeignGraph>())?;
    Ok(())
}
