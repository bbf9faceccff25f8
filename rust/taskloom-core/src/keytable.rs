//! A table from a key's hash to its task id, for the binding's converter (which
//! owns the keys and compares them: the table knows only hashes and ids).
//!
//! Small on purpose: a slot is the id and 32 bits of the hash (8 bytes), so
//! the table of 10^6 keys (16 MB at most half full) is built in the cache
//! hierarchy's reach. Graphs whose dict order is their build order look up
//! only a few keys here (most references are found by locality guesses), and
//! for them the table's size is its whole cost. A lookup checks the slot's
//! hash bits, then the key's full hash and `==` as the dict does, through the
//! caller (which owns the keys). Open addressing with linear probing; the
//! start slot is the hash's top bits after a multiplicative mix, so Python's
//! identity hashes of integers (`hash(k) == k`) spread out too. [`Building`]
//! builds one on another thread while the converter goes on.

use crate::mem::{prefetch, AHEAD};
use std::sync::Arc;
use std::thread::JoinHandle;

#[derive(Clone, Copy)]
struct Slot {
    /// The low 32 bits of the key's hash: most probes of other keys stop here.
    tag: u32,
    id: u32,
}

const EMPTY: Slot = Slot {
    tag: 0,
    id: u32::MAX,
};

/// Hash -> key id, for keys given once, in id order.
pub struct KeyTable {
    slots: Vec<Slot>,
    shift: u32,
}

impl KeyTable {
    /// The table of the keys whose hashes are `hashes` (id = position).
    pub fn new(hashes: &[u64]) -> Self {
        let bits = (2 * hashes.len())
            .max(16)
            .next_power_of_two()
            .trailing_zeros();
        let mut table = KeyTable {
            slots: vec![EMPTY; 1 << bits],
            shift: 64 - bits,
        };
        let mask = table.slots.len() - 1;
        for (id, &hash) in hashes.iter().enumerate() {
            // Slots are written at random: fetch a few ahead to wait for them together.
            if let Some(&next) = hashes.get(id + AHEAD) {
                prefetch(&table.slots[table.start(next)]);
            }
            let mut i = table.start(hash);
            while table.slots[i].id != EMPTY.id {
                i = (i + 1) & mask;
            }
            table.slots[i] = Slot {
                tag: hash as u32,
                id: id as u32,
            };
        }
        table
    }

    #[inline]
    fn start(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The first key id, in probe order, whose hash bits match `hash` and for
    /// which `is_key` (full hash equal, then `==`) holds.
    #[inline]
    pub fn find<E>(
        &self,
        hash: u64,
        mut is_key: impl FnMut(u32) -> Result<bool, E>,
    ) -> Result<Option<u32>, E> {
        let mask = self.slots.len() - 1;
        let mut i = self.start(hash);
        loop {
            let slot = self.slots[i];
            if slot.id == EMPTY.id {
                return Ok(None);
            }
            if slot.tag == hash as u32 && is_key(slot.id)? {
                return Ok(Some(slot.id));
            }
            i = (i + 1) & mask;
        }
    }

    /// Start fetching the slot a lookup of `hash` reads first.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        prefetch(&self.slots[self.start(hash)]);
    }

    /// The id in the slot a lookup of `hash` reads first, if its hash bits
    /// match: what the lookup will most likely read next, to fetch ahead.
    #[inline]
    pub fn likely(&self, hash: u64) -> Option<u32> {
        let slot = self.slots[self.start(hash)];
        (slot.id != EMPTY.id && slot.tag == hash as u32).then_some(slot.id)
    }
}

/// A [`KeyTable`] built on another thread while the caller goes on: a
/// converter whose guesses missed needs it soon, not at once (10-15 ms for
/// 10^6 keys, a tenth of converting a shuffled chain, spent on a core the
/// sync scheduler leaves idle). Built on the caller's thread if no thread can
/// be started, or in a child forked meanwhile (which has no such thread).
pub struct Building {
    thread: Option<JoinHandle<KeyTable>>,
    hashes: Arc<Vec<u64>>,
    /// The process that started the thread.
    pid: u32,
}

impl Building {
    /// Start building the table of `hashes` (a copy the thread owns: a
    /// millisecond at 10^6 keys, where the caller reads its own at every
    /// failed guess and a shared one would cost each read a step more).
    pub fn start(hashes: Vec<u64>) -> Self {
        let hashes = Arc::new(hashes);
        let thread = std::thread::Builder::new()
            .name("taskloom-keytable".into())
            .spawn({
                let hashes = Arc::clone(&hashes);
                move || KeyTable::new(&hashes)
            })
            .ok();
        Building {
            thread,
            hashes,
            pid: std::process::id(),
        }
    }

    /// Whether [`wait`](Self::wait) would return at once (never true in a
    /// child forked while the thread ran: that thread is not in the child).
    pub fn is_done(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// The table, once built.
    pub fn wait(self) -> KeyTable {
        match self.thread {
            Some(thread) if self.pid == std::process::id() => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            _ => KeyTable::new(&self.hashes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key found by its id, as the converter's `==` would: full hash first.
    fn find_each(hashes: &[u64]) {
        let table = KeyTable::new(hashes);
        for (want, &h) in hashes.iter().enumerate() {
            let found = table.find(h, |id| {
                Ok::<_, ()>(hashes[id as usize] == h && id as usize == want)
            });
            assert_eq!(found, Ok(Some(want as u32)));
        }
    }

    #[test]
    fn a_table_built_on_another_thread_finds_what_one_built_here_does() {
        let hashes: Vec<u64> = (0..5000u64)
            .map(|i| ((i * 7919) % 1013) << 33 | i)
            .collect();
        let building = Building::start(hashes.clone());
        let (here, there) = (KeyTable::new(&hashes), building.wait());
        for h in hashes.iter().copied().chain([u64::MAX, 12345 << 40]) {
            let is = |id: u32| Ok::<_, ()>(hashes[id as usize] == h);
            assert_eq!(here.find(h, is), there.find(h, is));
        }
    }

    /// A thread that forks while another builds its table (Python code run by
    /// a conversion can): the child has no such thread, and builds its own.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_child_forked_while_a_table_is_built_builds_its_own() {
        extern "C" {
            fn fork() -> i32;
            fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
            fn _exit(code: i32) -> !;
        }
        let hashes: Vec<u64> = (0..4_000_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let finds_all = |table: &KeyTable| {
            hashes.iter().step_by(997).enumerate().all(|(i, &h)| {
                table.find(h, |id| Ok::<_, ()>(hashes[id as usize] == h))
                    == Ok(Some(997 * i as u32))
            })
        };
        let building = Building::start(hashes.clone());
        // SAFETY: the child builds a table (glibc's allocator is fork-safe) and exits.
        let pid = unsafe { fork() };
        if pid == 0 {
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                finds_all(&building.wait())
            }));
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { _exit(if matches!(built, Ok(true)) { 0 } else { 1 }) };
        }
        assert!(pid > 0, "fork failed");
        let mut status = -1;
        // SAFETY: waits for the child just forked.
        unsafe { waitpid(pid, &mut status, 0) };
        assert_eq!(status, 0, "the child's table");
        assert!(finds_all(&building.wait()));
    }

    #[test]
    fn keys_of_one_hash_are_probed_past_each_other_and_around_the_end() {
        // 8 keys in 16 slots, all starting at one slot: probing wraps past the
        // last slot for some start; try every start the mix can give.
        for h in 0..64u64 {
            find_each(&[h; 8]);
        }
    }

    #[test]
    fn hashes_alike_in_their_low_bits_spread_out_and_misses_end() {
        // Python hashes an int as itself: keys 2^40 apart agree in every tag bit.
        let hashes: Vec<u64> = (0..1000u64).map(|i| i << 40).collect();
        find_each(&hashes);
        let table = KeyTable::new(&hashes);
        let missing = 1000u64 << 40;
        let found = table.find(missing, |id| Ok::<_, ()>(hashes[id as usize] == missing));
        assert_eq!(found, Ok(None));
        // A tag match with another full hash is not a key: the caller's check says so.
        let other_full = (1u64 << 40) | (7u64 << 32);
        assert_eq!(other_full as u32, (1u64 << 40) as u32);
        let found = table.find(other_full, |id| {
            Ok::<_, ()>(hashes[id as usize] == other_full)
        });
        assert_eq!(found, Ok(None));
    }
}
