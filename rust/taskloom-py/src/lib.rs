//! `taskloom._core`: the thin pyo3 layer over `taskloom-core`.
//!
//! Layout: [`convert`] turns the user's dict graph into integer ids and flat
//! arrays (all Python -> Rust conversion happens there), [`eval`] calls user
//! functions, [`exec`] drives the core scheduler on the calling thread and
//! [`pool`]'s worker threads, and [`errors`] builds every exception raised.
//! The Python package wraps these functions with defaults and documentation.

mod convert;
mod delayed;
mod errors;
mod eval;
mod exec;
mod hooks;
mod pool;

use pyo3::prelude::*;
use std::time::Duration;

/// Compute `keys` from the dict graph `dsk` (see `taskloom.get`).
///
/// `num_workers <= 1` runs every task on the calling thread; `hooks` is
/// described in `hooks.rs`; `fuse` runs linear chains as units.
#[pyfunction]
#[pyo3(signature = (dsk, keys, num_workers = 0, hooks = None, fuse = true))]
fn get<'py>(
    py: Python<'py>,
    dsk: &Bound<'py, PyAny>,
    keys: &Bound<'py, PyAny>,
    num_workers: usize,
    hooks: Option<Bound<'py, PyAny>>,
    fuse: bool,
) -> PyResult<Py<PyAny>> {
    let hooks = hooks::Hooks::from_py(hooks)?;
    let (plan, order) = exec::plan(py, convert::convert(dsk, keys)?)?;
    exec::execute(py, &plan, order, num_workers, hooks, fuse)
}

/// A graph converted and ordered once, to run many times (benchmarks measure
/// execution alone this way).
#[pyclass(frozen, module = "taskloom._core")]
struct Compiled {
    plan: exec::Plan,
    order: taskloom_core::Order,
}

#[pymethods]
impl Compiled {
    #[new]
    fn new(py: Python<'_>, dsk: &Bound<'_, PyAny>, keys: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (plan, order) = exec::plan(py, convert::convert(dsk, keys)?)?;
        Ok(Compiled { plan, order })
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
        exec::execute(py, &self.plan, self.order.clone(), num_workers, hooks, fuse)
    }

    /// Number of tasks a run executes (after culling).
    fn __len__(&self) -> usize {
        self.order.sequence.len()
    }
}

/// Stop idle worker threads; registered with `atexit` by the package.
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    pool::shutdown(py, Duration::from_secs(1));
}

/// Forget the parent's worker pool in a forked child (`os.register_at_fork`).
#[pyfunction]
fn _after_fork_in_child() {
    pool::forget_after_fork();
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(get, m)?)?;
    m.add_function(wrap_pyfunction!(_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(_after_fork_in_child, m)?)?;
    m.add_class::<hooks::Progress>()?;
    m.add_class::<Compiled>()?;
    m.add_class::<delayed::DelayedBase>()?;
    m.add_function(wrap_pyfunction!(delayed::delayed_call, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::graph_of, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::unique_key, m)?)?;
    m.add_function(wrap_pyfunction!(delayed::_seed_unique, m)?)?;
    m.add("CycleError", m.py().get_type::<errors::CycleError>())?;
    Ok(())
}
