//! The binary's allocator: an arena with size classes in front of the C library's malloc.
//!
//! A create allocates a few thousand small blocks (the request's tree, the profile, the
//! changes, the output) and execs the runtime within a millisecond. glibc's malloc and free
//! cost ~120 and ~100 instructions a call here (30% of a 9 KB create's instructions), and
//! every page of memory first touched costs a fault (~3 µs on this project's VMs, a C probe),
//! so an allocator that is cheaper per call must not touch more pages. So:
//! - a block up to a quarter of the arena is rounded up to its size class (16-byte steps to
//!   128 bytes, then four classes per doubling, so at most a fifth is lost to rounding) and
//!   taken from that class's free list, else carved from a span, else from the end of the
//!   arena (a bump);
//! - a freed block goes on its class's list, to be reused by the next block of that class;
//!   a freed block of 512 bytes or more becomes a span that blocks of any class are carved
//!   from (a buffer's pages reused by what follows, as malloc reuses them); the newest block
//!   is given back to the arena's end instead, and grows and shrinks in place (a string or
//!   a list being built). A create then touches about as many pages as under malloc (blocks
//!   have no header; classes round up);
//! - the arena is the binary's zero-filled data (`.bss`): no system call, a page charged only
//!   when touched;
//! - when the arena is full, or for a big or over-aligned block, the C library's malloc serves
//!   as before, so memory stays bounded for a spec of any size;
//! - the arena is off until [`Arena::enable`]: the profile recorder, which lives as long as
//!   its container, leaves it off and uses malloc alone.
//!
//! Only `src/main.rs` installs it (as [`Global`]); the library's tests use the system
//! allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The binary's arena: 1 MiB of address space, pages charged as touched.
pub static ARENA: Arena<{ 1 << 20 }> = Arena::new();

/// The global allocator `src/main.rs` installs: [`ARENA`].
pub struct Global;

// SAFETY: forwards to ARENA, itself a GlobalAlloc.
unsafe impl GlobalAlloc for Global {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { ARENA.alloc(layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { ARENA.dealloc(ptr, layout) }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { ARENA.realloc(ptr, layout, new_size) }
    }
}

/// Every block's alignment; a layout asking for more is the C library's.
const ALIGN: usize = 16;

/// Size classes: 8 of 16-byte steps to 128, then 4 per doubling up to 2^60 (more than any
/// arena holds).
const CLASSES: usize = 8 + 4 * 54 + 1;

/// The class of a block of `size` bytes (> 0) and the bytes it occupies.
fn class(size: usize) -> (usize, usize) {
    if size <= 128 {
        let i = size.div_ceil(16).max(1);
        return (i, i * 16);
    }
    // 2^p < size ≤ 2^(p+1), p ≥ 7: four classes of 2^(p-2) bytes each.
    let p = (usize::BITS - 1 - (size - 1).leading_zeros()) as usize;
    let step = 1 << (p - 2);
    let k = size.div_ceil(step); // 5..=8
    (8 + (p - 7) * 4 + (k - 4), k * step)
}

/// The arena's state, only touched under its lock.
struct State {
    /// Offset of the first never-used byte.
    next: usize,
    /// Offset the arena may grow to: 0 until [`Arena::enable`].
    limit: usize,
    /// The highest `next` has been: the arena's pages a process touched.
    high: usize,
    /// Each class's freed blocks: the first one's address, each holding the next's (0 ends).
    free: [usize; CLASSES],
    /// Freed big blocks, as offset ranges, that any block may be carved from; kept here, not
    /// in the blocks, so no page is touched to keep them.
    spans: [(usize, usize); SPANS],
    /// How many of `spans` are in use.
    span_count: usize,
}

/// A freed block of at least this many bytes becomes a span to carve blocks of any class
/// from (a buffer's pages are reused by what follows, as malloc reuses them).
const SPAN_MIN: usize = 512;

/// How many freed spans are kept; past that, the smallest is dropped.
const SPANS: usize = 16;

impl State {
    /// Carves `bytes` from the front of the first span that holds them.
    fn carve(&mut self, bytes: usize) -> Option<usize> {
        let n = self.span_count;
        let i = self.spans[..n].iter().position(|&(s, e)| e - s >= bytes)?;
        let at = self.spans[i].0;
        self.spans[i].0 += bytes;
        if self.spans[i].0 == self.spans[i].1 {
            self.spans[i] = self.spans[n - 1];
            self.span_count -= 1;
        }
        Some(at)
    }

    /// Keeps the freed range `start..end` as a span (dropping the smallest if all are taken).
    fn keep_span(&mut self, start: usize, end: usize) {
        let n = self.span_count;
        if n < SPANS {
            self.spans[n] = (start, end);
            self.span_count += 1;
        } else if let Some((i, &(s, e))) = self
            .spans
            .iter()
            .enumerate()
            .min_by_key(|&(_, &(s, e))| e - s)
            && e - s < end - start
        {
            self.spans[i] = (start, end);
        }
    }

    /// Moves the arena's end back to `off`, over any spans that then end there.
    fn retreat(&mut self, off: usize) {
        self.next = off;
        while let Some(i) = self.spans[..self.span_count]
            .iter()
            .position(|&(_, e)| e == self.next)
        {
            self.next = self.spans[i].0;
            self.spans[i] = self.spans[self.span_count - 1];
            self.span_count -= 1;
        }
    }
}

/// An arena of `N` bytes (see the module's doc). All zero when constructed, so a `static`
/// one lives in `.bss`.
#[repr(C, align(4096))]
pub struct Arena<const N: usize> {
    space: UnsafeCell<[u8; N]>,
    state: UnsafeCell<State>,
    locked: AtomicBool,
}

// SAFETY: the state is only touched while `locked` is held, and the space is handed out in
// disjoint blocks, each read and written only by its holder (or, while free, under the lock).
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Arena<N> {
    pub const fn new() -> Self {
        Arena {
            space: UnsafeCell::new([0; N]),
            state: UnsafeCell::new(State {
                next: 0,
                limit: 0,
                high: 0,
                free: [0; CLASSES],
                spans: [(0, 0); SPANS],
                span_count: 0,
            }),
            locked: AtomicBool::new(false),
        }
    }

    /// Runs `f` on the state under the lock (a spin: the binary allocates from one thread).
    fn with<R>(&self, f: impl FnOnce(&mut State, usize) -> R) -> R {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held: no other reference to the state exists.
        let r = f(unsafe { &mut *self.state.get() }, self.base());
        self.locked.store(false, Ordering::Release);
        r
    }

    /// Lets allocations use the arena from now on.
    pub fn enable(&self) {
        self.with(|s, _| s.limit = N);
    }

    /// Bytes of the arena in use or free for reuse: its end now.
    pub fn used(&self) -> usize {
        self.with(|s, _| s.next)
    }

    /// The arena's high-water mark: how far its end has ever been (the pages touched).
    pub fn high_water(&self) -> usize {
        self.with(|s, _| s.high)
    }

    fn base(&self) -> usize {
        self.space.get() as usize
    }

    /// Whether `ptr` came from the arena.
    fn holds(&self, ptr: *mut u8) -> bool {
        (ptr as usize).wrapping_sub(self.base()) < N
    }

    /// A block for `layout` from the arena, or None when it is not the arena's to serve.
    fn take(&self, layout: Layout) -> Option<*mut u8> {
        if layout.align() > ALIGN {
            return None;
        }
        self.with(|s, base| {
            if layout.size() > s.limit / 4 {
                return None;
            }
            let (i, bytes) = class(layout.size());
            let head = s.free[i];
            if head != 0 {
                // SAFETY: a free block of this class, holding the next one's address.
                s.free[i] = unsafe { (head as *const usize).read() };
                return Some(head as *mut u8);
            }
            if let Some(off) = s.carve(bytes) {
                return Some((base + off) as *mut u8);
            }
            let end = s.next + bytes;
            (end <= s.limit).then(|| {
                let at = base + s.next;
                s.next = end;
                s.high = s.high.max(end);
                at as *mut u8
            })
        })
    }

    /// Gives an arena block back: the newest one to the arena's end, a big one to the spans,
    /// any other to its class's list.
    fn give(&self, ptr: *mut u8, size: usize) {
        let (i, bytes) = class(size);
        self.with(|s, base| {
            let off = ptr as usize - base;
            if off + bytes == s.next {
                s.retreat(off);
            } else if bytes >= SPAN_MIN {
                s.keep_span(off, off + bytes);
            } else {
                // SAFETY: the block is ours again, at least 16 bytes, 16-aligned.
                unsafe { (ptr as *mut usize).write(s.free[i]) };
                s.free[i] = ptr as usize;
            }
        })
    }

    /// Resizes an arena block where it is, if it is in the same class or is the newest block
    /// and the new size fits.
    fn resize_in_place(&self, ptr: *mut u8, old: usize, new: usize) -> bool {
        let (_, old_bytes) = class(old);
        let (_, new_bytes) = class(new);
        if old_bytes == new_bytes {
            return true;
        }
        self.with(|s, base| {
            let off = ptr as usize - base;
            let fits = new <= s.limit / 4 && off + new_bytes <= s.limit;
            if off + old_bytes == s.next && fits {
                if new_bytes < old_bytes {
                    s.retreat(off + new_bytes);
                } else {
                    s.next = off + new_bytes;
                    s.high = s.high.max(s.next);
                }
                true
            } else {
                false
            }
        })
    }
}

// SAFETY: every block is either one of the arena's, handed out to one holder at a time
// (take/give under the lock), or the C library's (System); each is freed and resized by
// the allocator that made it, told apart by address.
unsafe impl<const N: usize> GlobalAlloc for Arena<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.take(layout) {
            Some(p) => p,
            // SAFETY: the caller's layout has a non-zero size, as GlobalAlloc requires.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.holds(ptr) {
            self.give(ptr, layout.size());
        } else {
            // SAFETY: ptr came from System.alloc with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.holds(ptr) {
            // SAFETY: ptr came from System.alloc with this layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        if self.resize_in_place(ptr, layout.size(), new_size) {
            return ptr;
        }
        // SAFETY: the new layout is valid (GlobalAlloc::realloc's contract on new_size).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as for alloc.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks hold at least min(old, new) bytes, and the new one is not
            // the old one (which is still held).
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

    fn arena() -> &'static Arena<16384> {
        let a: &'static Arena<16384> = Box::leak(Box::default());
        a.enable();
        a
    }

    fn l(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn classes_round_up_by_at_most_a_fifth_and_are_numbered_in_order() {
        let mut last = (0, 0);
        for size in 1..=1 << 16 {
            let (i, bytes) = class(size);
            assert!(bytes >= size && bytes.is_multiple_of(16), "{size}: {bytes}");
            assert!(
                size <= 128 || bytes - size < bytes / 5 + 1,
                "{size}: {bytes}"
            );
            assert!(i == last.0 && bytes == last.1 || i == last.0 + 1 && bytes > last.1);
            last = (i, bytes);
        }
        assert!(class(usize::MAX / 2).0 > 0);
        assert!(class(1 << 59).0 < CLASSES);
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_in_the_arena() {
        let a = arena();
        unsafe {
            let p = a.alloc(l(3, 1));
            let q = a.alloc(l(8, 8));
            let r = a.alloc(l(100, 16));
            assert!(a.holds(p) && a.holds(q) && a.holds(r));
            assert!([p, q, r].iter().all(|&x| (x as usize).is_multiple_of(16)));
            assert!(q as usize >= p as usize + 3 && r as usize >= q as usize + 8);
            let big_align = a.alloc(l(8, 64));
            assert!(!a.holds(big_align));
            a.dealloc(big_align, l(8, 64));
        }
    }

    #[test]
    fn a_freed_block_is_reused_by_its_class_and_the_newest_goes_back_to_the_end() {
        let a = arena();
        unsafe {
            let p = a.alloc(l(20, 8));
            let q = a.alloc(l(100, 8));
            let used = a.used();
            a.dealloc(p, l(20, 8)); // not the newest: onto the 32-byte list
            assert_eq!(a.used(), used);
            assert_eq!(a.alloc(l(17, 4)), p);
            a.dealloc(q, l(100, 8)); // the newest: the end moves back
            assert_eq!(a.used(), used - 112);
            assert_eq!(a.high_water(), used);
            assert_eq!(a.alloc(l(100, 8)), q);
        }
    }

    #[test]
    fn a_freed_big_block_is_carved_for_what_follows_and_absorbed_by_the_end() {
        let a = arena();
        unsafe {
            let buf = a.alloc(l(4000, 1));
            let q = a.alloc(l(16, 8));
            a.dealloc(buf, l(4000, 1)); // not the newest: a span of 4096 bytes
            let used = a.used();
            let x = a.alloc(l(1000, 8));
            let y = a.alloc(l(24, 8));
            assert_eq!(x, buf);
            assert_eq!(y as usize, buf as usize + class(1000).1);
            assert_eq!(a.used(), used);
            // Freeing the newest block moves the end back over a span that ends there.
            a.dealloc(q, l(16, 8));
            assert_eq!(a.used(), y as usize - a.base() + 32);
        }
    }

    #[test]
    fn the_newest_block_grows_in_place_and_an_older_one_moves_with_its_bytes() {
        let a = arena();
        unsafe {
            let p = a.alloc(l(4, 1));
            p.copy_from(b"abcd".as_ptr(), 4);
            assert_eq!(a.realloc(p, l(4, 1), 16), p); // same class
            assert_eq!(a.realloc(p, l(16, 1), 64), p); // the newest
            let q = a.alloc(l(8, 1));
            let moved = a.realloc(p, l(64, 1), 128);
            assert!(moved as usize > q as usize);
            assert_eq!(std::slice::from_raw_parts(moved, 4), b"abcd");
            assert_eq!(a.alloc(l(64, 1)), p); // the old block was freed
        }
    }

    #[test]
    fn big_blocks_a_full_arena_and_a_disabled_one_fall_back_to_the_system() {
        let a = arena();
        unsafe {
            let big = a.alloc(l(16384 / 4 + 1, 8));
            assert!(!big.is_null() && !a.holds(big));
            a.dealloc(big, l(16384 / 4 + 1, 8));
            let mut blocks = 0;
            while a.holds(a.alloc(l(4096, 8))) {
                blocks += 1;
            }
            assert_eq!(blocks, 4);
            let p = a.alloc(l(32, 8));
            assert!(!p.is_null() && !a.holds(p));
            let p2 = a.realloc(p, l(32, 8), 64);
            assert!(!a.holds(p2));
            a.dealloc(p2, l(64, 8));
        }
        let off: &'static Arena<16384> = Box::leak(Box::default());
        unsafe {
            let p = off.alloc(l(8, 8));
            assert!(!off.holds(p));
            off.dealloc(p, l(8, 8));
        }
    }

    #[test]
    fn a_block_grown_past_the_arena_moves_to_the_system_with_its_bytes() {
        let a = arena();
        unsafe {
            let p = a.alloc(l(8, 1));
            p.copy_from(b"12345678".as_ptr(), 8);
            let q = a.realloc(p, l(8, 1), 16384);
            assert!(!a.holds(q));
            assert_eq!(std::slice::from_raw_parts(q, 8), b"12345678");
            a.dealloc(q, l(16384, 1));
            assert_eq!(a.used(), 0);
        }
    }

    #[test]
    fn blocks_from_many_threads_stay_disjoint() {
        let a: &'static Arena<65536> = Box::leak(Box::default()); // fills up: both kinds of block
        a.enable();
        let handles: Vec<_> = (0..4u8)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    for i in 0..500usize {
                        let size = 16 + (i * 7) % 200;
                        let p = unsafe { a.alloc(l(size, 8)) };
                        unsafe { p.write_bytes(t, size) };
                        held.push((p as usize, size));
                        if i % 3 == 0 {
                            let (q, n) = held.swap_remove(i % held.len());
                            unsafe { a.dealloc(q as *mut u8, l(n, 8)) };
                        }
                    }
                    for &(p, n) in &held {
                        let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, n) };
                        assert!(
                            bytes.iter().all(|&b| b == t),
                            "thread {t}'s block was overwritten"
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}
