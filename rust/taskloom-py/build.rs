//! Emits pyo3's `Py_3_xx` cfgs for the Python being built for, so code can
//! pick the right C API where versions differ (see `lifecycle.rs`).
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
