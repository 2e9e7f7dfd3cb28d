//! A global allocator that erases every block before freeing it.
//!
//! `Secret` wipes its own buffer, but the value also passes through buffers
//! that other crates own: the HTTP stack's read buffers, the TLS record
//! buffers, the SDK's deserialized `String`, serde_json's strings. Erasing
//! every block on free and on reallocation means no stale copy survives in
//! the launcher's heap once those buffers are dropped.
//!
//! Costs: every free writes the whole block once, and `realloc` always
//! copies (the system allocator could otherwise move a block and free the
//! old one without erasing it). The launcher allocates little, so this is
//! measured in microseconds per run.
//!
//! NOTE: blocks that are still live (for example a buffer kept in a
//! connection pool) are not erased until they are freed; the runtime and
//! clients are dropped right after fetching for that reason.

use std::alloc::{GlobalAlloc, Layout, System};

pub struct WipingAllocator;

/// Overwrites `len` bytes at `ptr` with zeros in a way the compiler may not
/// remove as a dead store.
///
/// `explicit_bzero` (glibc 2.25 and later, musl 1.1.20 and later) exists for
/// this purpose and uses the C library's vectorized `memset`. A loop of
/// volatile byte writes costs several instructions per byte on every free.
///
/// # Safety
/// `ptr` must be valid for writes of `len` bytes.
unsafe fn wipe(ptr: *mut u8, len: usize) {
    // SAFETY: the caller guarantees `ptr..ptr+len` is writable.
    // `explicit_bzero` writes exactly that range, allocates nothing, and is
    // never removed by the compiler as a dead store.
    unsafe { nix::libc::explicit_bzero(ptr.cast(), len) }
}

// SAFETY: every method forwards to `System` with the same layout contract;
// the only addition is erasing a block that the caller owns and is about to
// give up, which cannot affect other blocks.
unsafe impl GlobalAlloc for WipingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as `GlobalAlloc::alloc`, passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as `GlobalAlloc::alloc_zeroed`, passed through.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller owns the block `ptr` of `layout.size()` bytes
        // until this call returns, so it is writable; it is then freed with
        // the same layout it was allocated with.
        unsafe {
            wipe(ptr, layout.size());
            System.dealloc(ptr, layout);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `new_size` is non-zero and fits `isize` per the
        // `GlobalAlloc::realloc` contract, so the new layout is valid; the
        // old block is readable for `layout.size()` bytes, the new one is
        // writable for `new_size`, and they do not overlap.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new_ptr = System.alloc(new_layout);
            if !new_ptr.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new_ptr
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realloc_keeps_contents() {
        let allocator = WipingAllocator;
        let layout = Layout::from_size_align(16, 8).unwrap();
        // SAFETY: the block is allocated, filled, grown, checked and freed
        // with matching layouts, and never used after being freed.
        unsafe {
            let ptr = allocator.alloc(layout);
            assert!(!ptr.is_null());
            for i in 0..16 {
                *ptr.add(i) = i as u8;
            }
            let grown = allocator.realloc(ptr, layout, 64);
            assert!(!grown.is_null());
            for i in 0..16 {
                assert_eq!(*grown.add(i), i as u8);
            }
            allocator.dealloc(grown, Layout::from_size_align(64, 8).unwrap());
        }
    }
}
