//! Memory-access hints shared by the core and the binding.
//!
//! A graph of 10^6 tasks spreads its per-task data over more memory than the
//! caches hold; a pass that reads it in an order other than its layout (a
//! renumbering, a dict whose objects were made in another order) waits for
//! one cache miss at a time unless it asks for the lines it reads a few steps
//! ahead. This is the one place that asks.

/// Ask the CPU to fetch the cache line at `p` into every cache level. A hint:
/// it reads nothing the program sees and never faults, so `p` may dangle or
/// be out of bounds.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch hint has no architectural effect and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// How many steps ahead a pass over scattered data fetches what it will read:
/// enough to cover a miss (about 100 ns) with a step of 10-50 ns, few enough
/// that the lines are still cached when used.
pub const AHEAD: usize = 16;
