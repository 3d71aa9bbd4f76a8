//! Build script. Each concern is its own function; `main` only calls them.

use std::process::Command;

fn main() {
    embed_git_commit();
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
    // A new commit moves HEAD or the branch it names.
    for p in ["HEAD", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--git-path", p]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(path) = git(&["rev-parse", "--git-path", &branch])
    {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rustc-env=RAMPART_GIT_COMMIT={commit}");
}
