//! The harness itself, with plain runc and Docker's default spec (no rampart involved).
mod common;

use common::{
    Bundle, Runtime, docker_like_spec, expect_success, probe_lines, rootfs, run_container,
    status_field,
};

fn run_plain(args: &[&str]) -> std::process::Output {
    let bundle = Bundle::new(&docker_like_spec(&rootfs(), args));
    run_container(Runtime::PlainRunc, &bundle)
}

#[test]
fn docker_defaults_seccomp_and_caps() {
    if !common::require_root_tools() {
        return;
    }
    let stdout = expect_success(&run_plain(&["/bin/probe", "status"]));
    assert_eq!(
        status_field(&stdout, "Seccomp").as_deref(),
        Some("2"),
        "{stdout}"
    );
    // Docker's 14 default capabilities
    assert_eq!(
        status_field(&stdout, "CapBnd").as_deref(),
        Some("00000000a80425fb"),
        "{stdout}"
    );
    assert_eq!(
        status_field(&stdout, "CapEff").as_deref(),
        Some("00000000a80425fb"),
        "{stdout}"
    );
}

#[test]
fn docker_defaults_syscalls() {
    if !common::require_root_tools() {
        return;
    }
    let out = run_plain(&["/bin/probe", "sys", "getpid", "socket_inet", "keyctl"]);
    expect_success(&out);
    let lines = probe_lines(&out);
    assert_eq!(lines["getpid"], "ok");
    assert_eq!(lines["socket_inet"], "ok");
    assert_eq!(
        lines["keyctl"], "errno=EPERM",
        "Docker's seccomp profile blocks keyctl"
    );
}

#[test]
fn docker_defaults_rootfs_writable() {
    if !common::require_root_tools() {
        return;
    }
    let stdout = expect_success(&run_plain(&[
        "sh",
        "-c",
        "touch /probe-root-write && rm /probe-root-write && echo rootwrite-ok",
    ]));
    assert_eq!(stdout.trim(), "rootwrite-ok");
}
