//! The pass-through fast path, bound for the tests: `src/early.c` runs at the binary's entry
//! point, before the C library starts, and execs the runtime itself for a call it is certain
//! Rampart would only hand on (`start`, `state`, `kill`, `delete`, ...); anything else goes
//! on to Rampart's usual start-up. [`decide`] asks the same C code what it would do, so the
//! tests can hold its decisions against the full parser's ([`crate::pipeline::prepare`]).

use std::ffi::{CString, OsStr, OsString, c_char, c_int};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

unsafe extern "C" {
    /// The binary's ELF entry point (build.rs links it as such); referenced by main.rs.
    pub fn rampart_entry();
    fn rampart_fast_decide(
        argc: c_int,
        argv: *const *mut c_char,
        envp: *const *mut c_char,
        out: *mut u8,
    ) -> c_int;
    fn rampart_fast_size() -> usize;
}

/// Mirrors the start of `struct rampart_fast` in early.c (the rest is its buffers).
#[repr(C)]
struct FastHead {
    runtime: *const c_char,
    argv: [*mut c_char; 0],
}

/// What the fast path would exec for `argv` (argv[0] included) in environment `env`
/// (`NAME=value` entries): the runtime and its argv, or None when it would leave the call
/// to Rampart. Reads the same files the entry point reads (the config file, the runtime,
/// /proc/self/exe: the test binary here).
pub fn decide(argv: &[OsString], env: &[OsString]) -> Option<(PathBuf, Vec<OsString>)> {
    let c = |s: &OsStr| CString::new(s.as_bytes()).ok();
    let argv_c: Vec<CString> = argv.iter().map(|a| c(a)).collect::<Option<_>>()?;
    let env_c: Vec<CString> = env.iter().map(|a| c(a)).collect::<Option<_>>()?;
    let ptrs = |v: &[CString]| -> Vec<*mut c_char> {
        v.iter()
            .map(|s| s.as_ptr().cast_mut())
            .chain(std::iter::once(std::ptr::null_mut()))
            .collect()
    };
    let (argv_p, env_p) = (ptrs(&argv_c), ptrs(&env_c));
    // SAFETY: a size query.
    let size = unsafe { rampart_fast_size() };
    // u64 words: the struct's alignment (pointers) is 8.
    let mut out = vec![0u64; size.div_ceil(8)];
    let head = out.as_mut_ptr().cast::<FastHead>();
    // SAFETY: argv and envp are NULL-terminated arrays of NUL-terminated strings that outlive
    // the call; `out` is zeroed memory of the struct's size and alignment.
    let taken = unsafe {
        rampart_fast_decide(
            argv_p.len() as c_int - 1,
            argv_p.as_ptr(),
            env_p.as_ptr(),
            head.cast(),
        )
    };
    if taken == 0 {
        return None;
    }
    let owned = |p: *const c_char| {
        // SAFETY: early.c filled these with pointers to NUL-terminated strings in argv or in
        // `out`, both still alive.
        OsString::from_vec(unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes().to_vec())
    };
    // SAFETY: as above; the argv array ends with a null pointer.
    unsafe {
        let runtime = PathBuf::from(owned((*head).runtime));
        let mut args = Vec::new();
        let mut p = std::ptr::addr_of!((*head).argv).cast::<*mut c_char>();
        while !(*p).is_null() {
            args.push(owned(*p));
            p = p.add(1);
        }
        Some((runtime, args))
    }
}
