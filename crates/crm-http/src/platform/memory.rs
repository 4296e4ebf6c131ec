//! Giving memory back to the operating system after start-up.
//!
//! Building the router and the OpenAPI document allocates tens of megabytes that are freed
//! before the first request. glibc keeps freed memory in each thread's arena, so an idle node
//! would hold it for its whole life; `malloc_trim` returns the free pages of every arena.

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
