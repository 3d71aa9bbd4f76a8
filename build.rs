//! Build script. Each concern is its own function; `main` only calls them.

use std::process::Command;

fn main() {
    embed_git_commit();
    compile_recorder_bpf();
    compile_early_entry();
}

/// The pass-through fast path (src/early.c) and the entry point that runs it, x86_64 Linux
/// only (cfg `rampart_early`): compiled into a static library the crate links (the tests
/// call its decision through src/early.rs), and made the `rampart` binary's ELF entry
/// point. It runs before the C library is initialised, so the object may reference nothing
/// but the C library's `_start` (no memcpy, no stack protector, no errno): checked here,
/// and the build fails otherwise.
fn compile_early_entry() {
    println!("cargo::rustc-check-cfg=cfg(rampart_early)");
    println!("cargo:rerun-if-changed=src/early.c");
    println!("cargo:rerun-if-env-changed=CC");
    let target = |v: &str| std::env::var(v).unwrap_or_default();
    if target("CARGO_CFG_TARGET_ARCH") != "x86_64" || target("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    let out = std::path::PathBuf::from(target("OUT_DIR"));
    let obj = out.join("early.o");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let clang = Command::new(&cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("clang"));
    let mut cmd = Command::new(&cc);
    // Freestanding, no stack protector (it reads TLS), no fortified calls: see above.
    let flags = "-c -O2 -std=gnu11 -fPIE -ffreestanding -fno-builtin -fno-stack-protector";
    cmd.args(flags.split(' '))
        .args(["-U_FORTIFY_SOURCE", "-Wall", "-Wextra", "-Werror"]);
    if !clang {
        // GCC turns copy and fill loops into memcpy/memset calls even when freestanding.
        cmd.arg("-fno-tree-loop-distribute-patterns");
    }
    run(
        cmd.arg("src/early.c").arg("-o").arg(&obj),
        "compiling src/early.c",
    );
    let undefined = run(
        Command::new("nm")
            .args(["-u", "--format=just-symbols"])
            .arg(&obj),
        "nm",
    );
    let calls: Vec<&str> = undefined.lines().filter(|s| *s != "_start").collect();
    assert!(
        calls.is_empty(),
        "src/early.c runs before the C library is initialised but references {calls:?}"
    );
    let lib = out.join("librampart_early.a");
    let _ = std::fs::remove_file(&lib);
    run(Command::new("ar").arg("crs").arg(&lib).arg(&obj), "ar");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=rampart_early");
    println!("cargo:rustc-link-arg-bin=rampart=-Wl,--entry=rampart_entry");
    println!("cargo:rustc-cfg=rampart_early");
}

/// Runs a build tool; its stdout, or a panic (a failed build) with what it printed.
fn run(cmd: &mut Command, what: &str) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        o.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The recorder's eBPF program (src/record/bpf/recorder.bpf.c), compiled by clang for the
/// `bpf` target into OUT_DIR and embedded in the binary (cfg `rampart_bpf`). Without clang
/// or libbpf's headers (`scripts/setup-host` installs both) Rampart still builds: recording
/// (`--rampart-profile learn:NAME`) then fails closed with "built without BPF".
/// `RAMPART_CLANG` names another clang; `RAMPART_NO_BPF=1` builds without on purpose.
fn compile_recorder_bpf() {
    println!("cargo::rustc-check-cfg=cfg(rampart_bpf)");
    for var in ["RAMPART_CLANG", "RAMPART_NO_BPF"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    for f in ["recorder.bpf.c", "vmlinux.h"] {
        println!("cargo:rerun-if-changed=src/record/bpf/{f}");
    }
    if std::env::var_os("RAMPART_NO_BPF").is_some_and(|v| v == "1") {
        return;
    }
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch != "x86_64" {
        println!("cargo:warning=the recorder's eBPF program is x86_64 only: built without BPF");
        return;
    }
    let clang = std::env::var("RAMPART_CLANG").unwrap_or_else(|_| "clang".to_string());
    let out =
        std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("recorder.bpf.o");
    let result = Command::new(&clang)
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-D__TARGET_ARCH_x86",
            "-Wall",
            "-Werror",
        ])
        .args(["-Wno-unused-function", "-Isrc/record/bpf", "-c"])
        .arg("src/record/bpf/recorder.bpf.c")
        .arg("-o")
        .arg(&out)
        .output();
    match result {
        Ok(o) if o.status.success() => println!("cargo:rustc-cfg=rampart_bpf"),
        Ok(o) => println!(
            "cargo:warning=recorder.bpf.c did not compile ({clang}): built without BPF: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .take(3)
                .collect::<Vec<_>>()
                .join(" | ")
        ),
        Err(e) => println!(
            "cargo:warning={clang} not found ({e}): built without BPF (scripts/setup-host installs clang and libbpf-dev)"
        ),
    }
}

/// `RAMPART_GIT_COMMIT` for `rampart version`: `RAMPART_COMMIT` from the environment (a
/// packager's choice), else `git rev-parse` of the source tree, else "unknown" (a clean
/// tarball has no .git).
fn embed_git_commit() {
    println!("cargo:rerun-if-env-changed=RAMPART_COMMIT");
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !s.is_empty()).then_some(s)
    };
    let commit = std::env::var("RAMPART_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    // A new commit moves HEAD or the branch it names (a loose ref, or packed-refs once git
    // has packed it). Only files that exist are watched: cargo treats a missing one as
    // changed on every build, which rebuilt the whole crate each time.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watch.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for p in watch {
        if let Some(path) = git(&["rev-parse", "--git-path", &p])
            && std::path::Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rustc-env=RAMPART_GIT_COMMIT={commit}");
}
