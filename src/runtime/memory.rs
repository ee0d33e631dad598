//! A memory limit that costs O(1) per check. Rhai's own data-size limits
//! (`set_max_array_size`, ...) measure a whole value, nested maps included,
//! after every mutation: `a.push(x)` in a loop became quadratic (32k small
//! maps: 8 s). hound turns those off and bounds memory instead: the binary
//! counts allocated bytes ([`CountingAlloc`]) and the engine's progress
//! callback stops a script once the count passes `Limits::max_memory`.
//!
//! An embedding program that does not install the allocator gets no memory
//! limit (the count stays 0); the operation limit still applies.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting live bytes. Install it in a binary:
/// `#[global_allocator] static A: hound::runtime::memory::CountingAlloc = hound::runtime::memory::CountingAlloc;`
pub struct CountingAlloc;

// SAFETY: every call forwards to `System` unchanged; only a counter is kept.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
            ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

/// Bytes allocated now through [`CountingAlloc`] (0 when not installed).
pub fn allocated() -> usize {
    ALLOCATED.load(Ordering::Relaxed)
}

/// The token the progress callback stops a script with when over the limit.
pub const OVER_LIMIT: &str = "memory limit";
