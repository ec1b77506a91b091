//! One setting of the C library's allocator, made once at start-up.
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

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_threshold_unless_the_user_set_one() {
        let user_set = std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some();
        assert_eq!(super::hold_mmap_threshold(), !user_set);
    }
}
