//! taskloom-core: the scheduler's pure-Rust half.
//!
//! This crate knows tasks only as dense `u32` ids and dependencies as integer
//! arrays; it never sees a Python object, so everything here is tested with
//! `cargo test` alone. The binding crate interns each Python key into an id
//! once, builds a [`Graph`], asks [`order`] for a priority (which also finds
//! cycles and culls what the outputs do not need), and drives a
//! [`Scheduler`] that hands out ready tasks and says when a result may be
//! released.
//!
//! Everything is iterative and O(V + E): a chain of a million tasks must not
//! recurse, and no step may grow faster than the graph.

pub mod graph;
pub mod order;
pub mod schedule;

pub use graph::{Graph, GraphBuilder, GraphError, TaskId};
pub use order::{order, Cycle, Order};
pub use schedule::{fused_successors, Scheduler, NO_TASK};
