//! `rampart`: called by container engines exactly as they call runc.
fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(rampart::pipeline::main(&rampart::host::RealHost, argv));
}
