//! taskloom-core: the scheduler's pure-Rust half.
//!
//! This crate knows tasks only as dense `u32` ids and dependencies as integer
//! arrays; it never sees a Python object, so everything here is tested with
//! `cargo test` alone. The binding crate interns each Python key into an id
//! once, builds a [`Graph`] and asks [`order`] for a priority (which also
//! finds cycles and culls what the outputs do not need), both in
//! [`build_and_order`] (a large graph's consumers are derived on a second
//! thread while it is ordered), and drives a [`Scheduler`] that hands out
//! ready tasks and says when a result may be released. For a cluster,
//! [`partition`] cuts the ordered graph into coarse pieces that run as one
//! cluster task each. [`keytable`] maps the binding's keys, by their hashes,
//! to ids while it converts a graph. A caller that cannot vouch for the task
//! ids it finishes (Python code driving the binding's dispatcher) wraps it in
//! a [`CheckedScheduler`], which refuses a wrong `finish` with a
//! [`ScheduleError`] instead.
//!
//! Everything is iterative and O(V + E): a chain of a million tasks must not
//! recurse, and no step may grow faster than the graph.

pub mod graph;
pub mod keytable;
pub mod mem;
pub mod order;
pub mod partition;
pub mod schedule;

#[cfg(test)]
mod proptests;

pub use graph::{Graph, GraphBuilder, GraphError, TaskId};
pub use order::{build_and_order, order, renumber, renumbering_pays, Cycle, Order};
pub use partition::{partition, Pieces};
pub use schedule::{
    fused_successors, CheckedScheduler, ScheduleError, Scheduler, TaskState, NO_TASK,
};
