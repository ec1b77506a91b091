//! How the binary allocates: one setting of the C library's allocator, made once at
//! start-up, and a separate heap for mid-sized blocks.
//!
//! ## The mmap threshold
//!
//! glibc serves a request of at least `M_MMAP_THRESHOLD` bytes with its own `mmap`, given
//! back to the system on free. The threshold starts at 128 KiB, but by default it *moves*:
//! each time such a block is freed, the threshold rises to its size (up to 32 MiB). After
//! the first days of a large simulation, the day's big short-lived buffers (the groups'
//! outputs, merged and sorted lists) are then carved from the heap arenas instead, between
//! long-lived member lists and notices, and the holes they leave are not given back.
//! Measured at 20 M citizens × 120 days (docs/BENCHMARKS.md): peak RSS 15.3 → 14.0 bytes
//! a citizen with the threshold held at 128 KiB; the outputs are the same bytes.
//!
//! Setting the threshold explicitly turns the sliding off. A user who sets
//! `MALLOC_MMAP_THRESHOLD_` (glibc's own variable) keeps their value. Other C libraries and
//! platforms are left alone.
//!
//! ## Mid-sized blocks on their own heap
//!
//! At China scale most long-lived memory is in blocks of 1-64 KiB: a group's member list
//! (200-300 citizens, grown by a few slots at a time) and its open notices. They are freed
//! and reallocated all through a run, as members move and lists grow, while the day's
//! small, short-lived objects come and go around them. In glibc's arenas the two kinds
//! share pages, and the holes that mid-sized lists leave are filled by small objects that
//! then pin them. [`Segregated`] sends every request of [`MID_MIN`] up to [`MID_MAX`]
//! bytes (alignment at most 16) to a heap of their own, run by `talc` (a well-kept
//! general-purpose allocator whose free lists are binned by size, so a freed list is
//! reused for a list of the same class). Everything else still goes to the system
//! allocator. `talc` takes memory from the system allocator in blocks of [`MID_BLOCK`]
//! bytes (4 MiB, above the mmap threshold, so mapped on their own).
//!
//! The choice of allocator changes no output: nothing in xinyong reads addresses.

/// The threshold we hold: glibc's own starting value.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Holds glibc's mmap threshold fixed (see the module docs). Returns whether it was set.
pub fn hold_mmap_threshold() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
            return false;
        }
        // SAFETY: mallopt only changes allocator parameters; it is called before any thread
        // is started, and glibc takes its own lock besides.
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        ok == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

use std::alloc::{GlobalAlloc, Layout, System};

/// Smallest request sent to the mid-sized heap, in bytes.
pub const MID_MIN: usize = 1024;
/// The mid-sized heap takes requests below this many bytes.
pub const MID_MAX: usize = 64 * 1024;
/// Largest alignment the mid-sized heap is asked for (a list of `u64`, a 16-byte row).
const MID_ALIGN: usize = 16;
/// Bytes the mid-sized heap takes from the system allocator at a time.
pub const MID_BLOCK: usize = 4 << 20;

type Talc = talc::base::Talc<talc::source::GlobalAllocSource<System>, talc::DefaultBinning>;

/// The global allocator: mid-sized blocks on their own heap, the rest to the system (see
/// the module docs).
///
/// The mid-sized heap is behind a standard mutex (a futex on Linux: one atomic operation
/// when free, and a waiting thread sleeps instead of spinning). Nothing in the critical
/// sections allocates or panics.
pub struct Segregated {
    mid: std::sync::Mutex<Talc>,
}

impl Segregated {
    pub const fn new() -> Self {
        let source = talc::source::GlobalAllocSource::with_block_size(System, MID_BLOCK);
        Self { mid: std::sync::Mutex::new(Talc::new(source)) }
    }

    fn heap(&self) -> std::sync::MutexGuard<'_, Talc> {
        // A panic cannot happen while the lock is held (see above); if one did, the heap's
        // own structures would still be whole, as each operation completes or fails first.
        self.mid.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Where the allocated bytes are, for the benchmark's report: what the live data needs
/// against what the allocators hold (the difference is free space between blocks).
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// Bytes in live blocks of the mid-sized heap.
    pub mid_allocated: u64,
    /// Bytes free between them.
    pub mid_free: u64,
    /// Bytes the mid-sized heap took from the system allocator.
    pub mid_claimed: u64,
    /// glibc: bytes in live blocks of its arenas.
    pub c_allocated: u64,
    /// glibc: bytes free in its arenas.
    pub c_free: u64,
    /// glibc: bytes in blocks mapped on their own (above the mmap threshold), the
    /// mid-sized heap's included.
    pub c_mapped: u64,
}

impl Segregated {
    /// Where the bytes are now (the C library's part on glibc only; zero elsewhere).
    pub fn usage(&self) -> Usage {
        let counters = *self.heap().counters();
        let mut usage = Usage {
            mid_allocated: counters.allocated_bytes as u64,
            mid_free: counters.available_bytes as u64,
            mid_claimed: counters.claimed_bytes as u64,
            ..Usage::default()
        };
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            // SAFETY: mallinfo2 only reads the allocator's statistics (under its locks).
            let info = unsafe { libc::mallinfo2() };
            usage.c_allocated = info.uordblks as u64;
            usage.c_free = info.fordblks as u64;
            usage.c_mapped = info.hblkhd as u64;
        }
        usage
    }
}

/// Whether a block of this layout lives on the mid-sized heap. A block's size and
/// alignment decide, so `dealloc` finds the heap that `alloc` chose.
fn is_mid(size: usize, align: usize) -> bool {
    (MID_MIN..MID_MAX).contains(&size) && align <= MID_ALIGN
}

// SAFETY: each block is allocated and freed by the same heap, since `is_mid` depends only
// on the layout, which the caller passes back unchanged to `dealloc` and `realloc`. A
// `realloc` that stays on the mid-sized heap but cannot be done in place, or that crosses
// the boundary, allocates anew, copies the smaller of the two sizes and frees the old block
// on its own heap.
unsafe impl GlobalAlloc for Segregated {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_mid(layout.size(), layout.align()) {
            // SAFETY: the layout's size is not zero (it is at least MID_MIN).
            unsafe { self.heap().allocate(layout) }.map_or(std::ptr::null_mut(), |p| p.as_ptr())
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_mid(layout.size(), layout.align()) {
            // The mid-sized heap reuses freed blocks: zero by hand.
            let ptr = unsafe { self.alloc(layout) };
            if !ptr.is_null() {
                // SAFETY: a fresh block of `layout.size()` bytes.
                unsafe { std::ptr::write_bytes(ptr, 0, layout.size()) };
            }
            ptr
        } else {
            // glibc's calloc: large blocks come zeroed from the system, untouched until
            // written (a big bitset costs resident memory only where it is set).
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_mid(layout.size(), layout.align()) {
            // SAFETY: `ptr` came from this heap with this layout (see `is_mid`).
            unsafe { self.heap().deallocate(ptr, layout) }
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let was_mid = is_mid(layout.size(), layout.align());
        let now_mid = is_mid(new_size, layout.align());
        if !was_mid && !now_mid {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: `ptr` is a live block of this heap with this layout, and `new_size` is
        // not zero.
        if was_mid && now_mid && unsafe { self.heap().try_realloc_in_place(ptr, layout, new_size) } {
            return ptr;
        }
        // SAFETY: the caller guarantees `new_size`, rounded up to the alignment, does not
        // overflow `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_a_live_mid_sized_block() {
        let heap = Segregated::new();
        let layout = Layout::from_size_align(4000, 8).unwrap();
        let ptr = unsafe { heap.alloc(layout) };
        let usage = heap.usage();
        assert_eq!(usage.mid_allocated, 4000);
        assert!(usage.mid_claimed >= 4000 + usage.mid_free, "{usage:?}");
        unsafe { heap.dealloc(ptr, layout) };
        assert_eq!(heap.usage().mid_allocated, 0);
    }

    #[test]
    fn zeroed_blocks_read_zero_even_where_a_freed_block_was() {
        let heap = Segregated::new();
        for size in [100, 4000, 300_000] {
            let layout = Layout::from_size_align(size, 8).unwrap();
            let dirty = unsafe { heap.alloc(layout) };
            unsafe { std::ptr::write_bytes(dirty, 0xAB, size) };
            unsafe { heap.dealloc(dirty, layout) };
            let zeroed = unsafe { heap.alloc_zeroed(layout) };
            assert!(!zeroed.is_null());
            assert!((0..size).all(|i| unsafe { zeroed.add(i).read() } == 0), "size {size}");
            unsafe { heap.dealloc(zeroed, layout) };
        }
    }

    #[test]
    fn the_boundary_sends_each_size_to_one_heap() {
        assert!(!is_mid(MID_MIN - 1, 8));
        assert!(is_mid(MID_MIN, 8));
        assert!(is_mid(MID_MAX - 1, 16));
        assert!(!is_mid(MID_MAX, 8));
        assert!(!is_mid(4096, 4096), "page-aligned blocks stay with the system allocator");
    }

    /// A block grown and shrunk across both boundaries keeps its bytes, whichever heap it
    /// is on. Uses a local instance, so the test does not depend on being the global one.
    #[test]
    fn realloc_across_the_boundaries_keeps_the_bytes() {
        let heap = Segregated::new();
        let sizes = [16, MID_MIN - 1, MID_MIN, 5000, MID_MAX - 1, MID_MAX, 200_000, 700, 3];
        let layout = Layout::from_size_align(sizes[0], 8).unwrap();
        let mut ptr = unsafe { heap.alloc(layout) };
        assert!(!ptr.is_null());
        let mut size = sizes[0];
        let byte = |i: usize| (i * 31 % 251) as u8;
        for i in 0..size {
            unsafe { ptr.add(i).write(byte(i)) };
        }
        for &next in &sizes[1..] {
            let old = Layout::from_size_align(size, 8).unwrap();
            ptr = unsafe { heap.realloc(ptr, old, next) };
            assert!(!ptr.is_null());
            for i in 0..size.min(next) {
                assert_eq!(unsafe { ptr.add(i).read() }, byte(i), "byte {i} after {size} -> {next}");
            }
            for i in size.min(next)..next {
                unsafe { ptr.add(i).write(byte(i)) };
            }
            size = next;
        }
        unsafe { heap.dealloc(ptr, Layout::from_size_align(size, 8).unwrap()) };
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_threshold_unless_the_user_set_one() {
        let user_set = std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some();
        assert_eq!(super::hold_mmap_threshold(), !user_set);
    }
}
