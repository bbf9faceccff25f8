//! Memory-access hints shared by the core and the binding, and the sort that
//! puts scattered objects in memory order.
//!
//! A graph of 10^6 tasks spreads its per-task data over more memory than the
//! caches hold; a pass that reads it in an order other than its layout (a
//! renumbering, a dict whose objects were made in another order) waits for
//! one cache miss at a time unless it asks for the lines it reads a few steps
//! ahead. This is the one place that asks. The sort ([`sort_by_address`])
//! shares a large input's passes with a second thread, through `join`,
//! which [`build_and_order`](crate::build_and_order) uses too.

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

/// Fetch the lines holding the `len` bytes from `p` (`len` at most a line
/// and a half: the first line and the last). For objects read past their
/// header: an allocator that puts objects at 16-byte steps starts most of
/// them inside a line, so the fields after the first few bytes often lie in
/// the next one, and fetching `p`'s line alone leaves their read a miss.
#[inline(always)]
pub fn prefetch_span<T>(p: *const T, len: usize) {
    let p = p.cast::<u8>();
    prefetch(p);
    prefetch(p.wrapping_add(len - 1));
}

/// How many steps ahead a pass over scattered data fetches what it will read:
/// enough to cover a miss (about 100 ns) with a step of 10-50 ns, few enough
/// that the lines are still cached when used.
pub const AHEAD: usize = 16;

/// Sort `items` by `key` (ascending, stable): a least-significant-digit radix
/// sort over only the bits in which the keys differ, so 10^6 addresses spread
/// over a few hundred megabytes take two or three passes (20-30 ms on this
/// project's VM, where a comparison sort takes more). For putting scattered
/// objects in the order they lie in memory. Reads the items once for the
/// bits that differ, then, each pass, once to count its digits and once to
/// move them. From [`SPLIT_FROM`] items each read is shared by two threads,
/// each taking half of the items (the second core of a sync run is idle):
/// per digit, the first half's items go before the second half's, which
/// keeps the sort stable.
pub fn sort_by_address<T: Copy + Send + Sync>(items: &mut Vec<T>, key: impl Fn(&T) -> u64 + Sync) {
    sort_by_address_split(items, key, SPLIT_FROM)
}

/// Items from which [`sort_by_address`] shares its reads between two threads.
pub const SPLIT_FROM: usize = 1 << 16;

/// [`sort_by_address`] with the split threshold given (tests split small inputs).
fn sort_by_address_split<T: Copy + Send + Sync>(
    items: &mut Vec<T>,
    key: impl Fn(&T) -> u64 + Sync,
    split_from: usize,
) {
    let Some(first) = items.first() else { return };
    let k0 = key(first);
    let split = items.len() >= split_from;
    // Every bit in which some key differs from the first: above the highest,
    // all keys agree; below the lowest (alignment), too.
    let (first, second) = items.split_at(items.len() / 2);
    let varying = halves(split, first, second, |half| {
        half.iter().fold(0, |acc, item| acc | (key(item) ^ k0))
    });
    let varying = varying.0 | varying.1;
    if varying == 0 {
        return;
    }
    let low = varying.trailing_zeros();
    let bits = 64 - varying.leading_zeros() - low;
    let passes = bits.div_ceil(MAX_DIGIT) as usize;
    let digit = bits.div_ceil(passes as u32);
    let mask = (1u64 << digit) - 1;
    let digit_of = |k: u64, pass: usize| ((k >> (low + pass as u32 * digit)) & mask) as usize;
    let mut from = std::mem::take(items);
    let mut to: Vec<T> = Vec::with_capacity(from.len());
    for pass in 0..passes {
        let (first, second) = from.split_at(from.len() / 2);
        let counts = halves(split, first, second, |half| {
            let mut counts = vec![0usize; 1 << digit];
            for item in half {
                counts[digit_of(key(item), pass)] += 1;
            }
            counts
        });
        // Where each half's items of each digit start.
        let (mut starts0, mut starts1) = counts;
        let mut start = 0;
        for (c0, c1) in starts0.iter_mut().zip(starts1.iter_mut()) {
            let (n0, n1) = (*c0, *c1);
            (*c0, *c1) = (start, start + n0);
            start += n0 + n1;
        }
        to.clear();
        let out = Slots(to.as_mut_ptr());
        let scatter = |half: &[T], starts: &mut Vec<usize>| {
            for item in half {
                let b = digit_of(key(item), pass);
                // SAFETY: `to` has room for `from.len()` items, and the prefix
                // sums hand each item of either half its own slot below that.
                unsafe { out.write(starts[b], *item) };
                starts[b] += 1;
            }
        };
        halves(
            split,
            (first, &mut starts0),
            (second, &mut starts1),
            |(half, starts)| scatter(half, starts),
        );
        // SAFETY: every slot below `from.len()` was written just above.
        unsafe { to.set_len(from.len()) };
        std::mem::swap(&mut from, &mut to);
    }
    *items = from;
}

/// `f(a)` and `f(b)`, on two threads if `split` (see [`join`]).
fn halves<A: Send, R: Send>(split: bool, a: A, b: A, f: impl Fn(A) -> R + Sync) -> (R, R) {
    join(split, || f(a), || f(b))
}

/// `a()` and `b()`: `b` on a second thread if `split` and a thread can be had
/// (a process at its limit has none), else one after the other on this one.
pub(crate) fn join<RA, RB: Send>(
    split: bool,
    a: impl FnOnce() -> RA,
    b: impl FnOnce() -> RB + Send,
) -> (RA, RB) {
    if !split {
        return (a(), b());
    }
    // Taken by the thread once it runs: if none can be had, `b` is still
    // here, and run on this one.
    let b = std::sync::Mutex::new(Some(b));
    let take = || {
        b.lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("taken once")
    };
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new().spawn_scoped(s, || take()());
        let mine = a();
        let theirs = match spawned {
            Ok(other) => other
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => take()(),
        };
        (mine, theirs)
    })
}

/// The destination of a radix pass, written by two threads at slots that
/// the prefix sums keep apart.
struct Slots<T>(*mut T);

// SAFETY: the two threads write disjoint slots of one buffer, which outlives
// them (scoped threads), and `T: Send` values are moved into it.
unsafe impl<T: Send> Sync for Slots<T> {}

impl<T> Slots<T> {
    /// # Safety
    /// `at` must lie in the buffer, and no other thread writes it.
    #[inline(always)]
    unsafe fn write(&self, at: usize, item: T) {
        // SAFETY: the caller's contract.
        unsafe { self.0.add(at).write(item) };
    }
}

/// The widest digit of [`sort_by_address`]: 4,096 counters (32 KB) a pass,
/// so addresses over 16 GB of 16-byte blocks still take two passes.
const MAX_DIGIT: u32 = 12;

#[cfg(test)]
mod tests {
    use super::{sort_by_address, sort_by_address_split};
    use proptest::prelude::*;

    proptest! {
        /// As a stable comparison sort would: keys that look like addresses
        /// (a base, aligned offsets within a spread, repeats), of any width.
        #[test]
        fn sorts_like_a_stable_sort(
            base in any::<u64>(),
            shift in 0u32..64,
            align in 0u32..6,
            offsets in proptest::collection::vec(any::<u64>(), 0..3000),
        ) {
            let mut v: Vec<(u64, usize)> = offsets
                .iter()
                .enumerate()
                .map(|(i, &o)| (base.wrapping_add(((o >> shift) >> align) << align), i))
                .collect();
            let mut expected = v.clone();
            expected.sort_by_key(|&(k, _)| k);
            let mut split = v.clone();
            sort_by_address(&mut v, |&(k, _)| k);
            prop_assert_eq!(&v, &expected);
            // Halves on two threads, whatever the size.
            sort_by_address_split(&mut split, |&(k, _)| k, 0);
            prop_assert_eq!(split, expected);
        }
    }
}
