//! `rampart`: called by container engines exactly as they call runc.
fn main() {
    // Large buffers (the spec's bytes, the serialised output) always get their own mapping,
    // returned to the kernel when freed: glibc otherwise raises its mmap threshold after the
    // first such free, and the next big buffers land in the heap, where freed memory stays
    // resident (peak RSS with a 1 MB spec).
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The recorder `create` starts for `--rampart-profile learn:NAME` (hidden; see
    // src/record/recorder.rs). Nothing BPF-related is touched on any other call.
    if argv
        .get(1)
        .is_some_and(|a| a == rampart::record::recorder::COMMAND)
    {
        std::process::exit(rampart::record::recorder::main(&argv));
    }
    std::process::exit(rampart::pipeline::main(&rampart::host::RealHost, argv));
}
