//! `rampart`: called by container engines exactly as they call runc.
//!
//! The C `main` is Rampart's own (`no_main`): std's start-up (reading /proc/self/maps through
//! `pthread_getattr_np` for the main thread's stack guard, an alternate signal stack, SIGPIPE
//! set to ignored) is a third of a pass-through call's instructions and a /proc read, for a
//! process that execs the runtime within a millisecond. What of it matters is kept here:
//! descriptors 0–2 are opened on /dev/null when closed (as std does, so no file Rampart opens
//! lands on them and is mistaken for stdio), and a panic still exits with 101. SIGPIPE is left
//! as the engine set it, so the runtime inherits the engine's disposition, not Rampart's.
//!
//! Before any of that, the ELF entry point is `rampart_entry` (src/early.c, build.rs): a
//! pass-through call it is certain of is exec'd from there, before the C library starts;
//! every other call reaches this `main` through the C library's `_start`, as usual.
#![no_main]

#[global_allocator]
static ALLOCATOR: rampart::arena::Global = rampart::arena::Global;

/// The entry point (build.rs): the pass-through fast path of src/early.c, then the C
/// library's `_start`. Referenced here so the linker keeps it.
#[cfg(rampart_early)]
#[used]
static ENTRY: unsafe extern "C" fn() = rampart::early::rampart_entry;

#[unsafe(no_mangle)]
extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    // The recorder `create` starts for `--rampart-profile learn:NAME` (hidden; see
    // src/record/recorder.rs). Nothing BPF-related is touched on any other call.
    // SAFETY: argv holds argc valid NUL-terminated strings, as the C runtime passes them.
    let recorder = argc > 1
        && unsafe { std::ffi::CStr::from_ptr(*argv.add(1)) }.to_bytes()
            == rampart::record::recorder::COMMAND.as_bytes();
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread.
    unsafe {
        // Large buffers (the spec's bytes, the serialised output) always get their own
        // mapping, returned to the kernel when freed: glibc otherwise raises its mmap
        // threshold after the first such free, and the next big buffers land in the heap,
        // where freed memory stays resident (peak RSS with a 1 MB spec).
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        // Everything but the recorder (which lives as long as its container) execs the
        // runtime or exits within milliseconds: the heap grows in 1 MiB steps and never
        // shrinks (a brk call each way was a tenth of a create's system calls; pages are
        // only charged when touched).
        if !recorder {
            libc::mallopt(libc::M_TOP_PAD, 1 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        }
    }
    // The binary's allocator (src/arena.rs) serves everything but the recorder, whatever the
    // C library: it is not a glibc setting.
    if !recorder {
        rampart::arena::ARENA.enable();
    }
    open_closed_stdio();
    // std reads argv from glibc's init hook, as it does under its own start-up.
    let code = std::panic::catch_unwind(|| {
        let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        if recorder {
            return rampart::record::recorder::main(&argv);
        }
        rampart::pipeline::main(&rampart::host::RealHost, argv)
    })
    .unwrap_or(101);
    std::process::exit(code)
}

/// std's start-up check, one poll(2): a closed 0, 1 or 2 is opened on /dev/null.
fn open_closed_stdio() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll reads and writes the three pollfd structures it is given.
    if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } < 0 {
        // EINVAL/ENOMEM: check each descriptor instead.
        for p in &mut fds {
            // SAFETY: F_GETFD only queries the descriptor.
            if unsafe { libc::fcntl(p.fd, libc::F_GETFD) } < 0 {
                p.revents = libc::POLLNVAL;
            }
        }
    }
    for p in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
        // SAFETY: a NUL-terminated path; the descriptor is the lowest free one, p.fd.
        if unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } != p.fd {
            std::process::abort();
        }
    }
}
