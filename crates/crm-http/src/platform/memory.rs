//! Giving memory back to the operating system after start-up.
//!
//! Building each worker's router at start-up, and the OpenAPI document on its first use,
//! allocates memory that is freed at once. glibc keeps freed memory in each thread's arena, so
//! a node would hold it for its whole life; `malloc_trim` returns the free pages of every arena.

/// Returns the free pages of every malloc arena to the operating system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_freed() {
    // SAFETY: `malloc_trim` only releases memory the allocator holds free; it touches no live
    // allocation and may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators give memory back on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() {}
