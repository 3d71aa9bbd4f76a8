//! A network namespace Rampart enters itself before exec'ing runc, for a CRI pod's containers
//! under a user namespace: runc 1.1 joins the pod's user namespace first, and then may not
//! enter the pod's network namespace (CNI made it, so the host's user namespace owns it). The
//! `userns` step drops the network entry from the spec (the container inherits runc's network
//! namespace); here Rampart, still host root in the host's user namespace, enters it:
//!
//! - `create`/`run`: the path the request named, which the namespace-path and host-* rules
//!   judged, opened after the decision and checked to be the very namespace judged (inode);
//! - `exec`: runc enters only the namespaces the container's config lists, so without this the
//!   process would run in the caller's (the host's) network namespace: Rampart enters the
//!   container init's, from runc's state (pid and start time checked around the open).
//!
//! The namespace is opened while preparing and entered by [`crate::host::Host::enter_netns`]
//! just before exec; if that fails, runc does not run (fail closed).

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;

/// The namespace to enter before exec, opened while preparing.
static PENDING: Mutex<Option<File>> = Mutex::new(None);

/// ioctl(2) NS_GET_NSTYPE = _IO(0xb7, 0x3): the CLONE_NEW* type of a namespace fd.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

fn is_netns(f: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open fd and an ioctl that takes no argument.
    let t = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_NSTYPE as _) };
    t == libc::CLONE_NEWNET
}

/// Opens the network namespace `path`, which must still be the one with inode `ino`.
pub fn open_judged(path: &str, ino: u64) -> Result<File> {
    let f = File::open(path)
        .with_context(|| format!("cannot open the pod's network namespace {path}"))?;
    let got = f.metadata()?.ino();
    if got != ino || !is_netns(&f) {
        bail!(
            "the network namespace {path} changed after it was judged (inode {ino}, now {got}): not entered"
        );
    }
    Ok(f)
}

/// Sets the namespace to enter before exec.
pub fn pend(f: File) {
    *PENDING.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
}

/// The namespace to enter before exec, if any.
pub fn take() -> Option<File> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// `setns(fd, CLONE_NEWNET)` for this thread (the one that execs).
pub fn enter(f: &File) -> Result<()> {
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .context("cannot enter the pod's network namespace before runc")
}

/// The network namespace (path, inode) to enter for a create: the one `userns` facts found
/// host-owned, where the `userns` step dropped the spec's network entry.
pub fn to_enter(
    facts: Option<&crate::idmap::UsernsFacts>,
    spec: &crate::spec::Spec,
) -> Option<(String, u64)> {
    let ns: Vec<Value> = spec
        .typed("/linux/namespaces")
        .ok()
        .flatten()
        .unwrap_or_default();
    facts?
        .enter_net
        .clone()
        .filter(|_| !ns.iter().any(|n| n["type"] == "network"))
}

/// `runc exec` of container `id` under runc root `root`: sets the namespace [`for_exec`]
/// finds to be entered before exec.
pub fn pend_for_exec(state: &Value) -> Result<()> {
    if let Some(ns) = for_exec(state)? {
        pend(ns);
    }
    Ok(())
}

use crate::host::start_time;

/// For `runc exec` of a container whose config has a user namespace but no network entry:
/// the container init's network namespace, where it is not Rampart's own. `state` is runc's
/// state.json. None where runc will do the right thing (or refuse: the init is gone).
pub fn for_exec(state: &Value) -> Result<Option<File>> {
    let types: Vec<&str> = state
        .pointer("/config/namespaces")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|n| n["type"].as_str()).collect())
        .unwrap_or_default();
    if types.contains(&"NEWNET") || !types.contains(&"NEWUSER") {
        return Ok(None);
    }
    let (Some(pid), Some(start)) = (
        state["init_process_pid"].as_u64().filter(|p| *p > 0),
        state["init_process_start"].as_u64(),
    ) else {
        return Ok(None);
    };
    if start_time(pid) != Some(start) {
        return Ok(None); // not running: runc refuses the exec itself
    }
    let Ok(f) = File::open(format!("/proc/{pid}/ns/net")) else {
        return Ok(None);
    };
    if start_time(pid) != Some(start) || !is_netns(&f) {
        return Ok(None);
    }
    let own = std::fs::metadata(Path::new("/proc/self/ns/net"))
        .context("cannot read Rampart's own network namespace")?
        .ino();
    Ok((f.metadata()?.ino() != own).then_some(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exec_enters_only_for_a_user_namespace_without_a_network_entry() {
        let me = std::process::id();
        let start = start_time(u64::from(me)).unwrap();
        let state = |types: &[&str]| {
            json!({"init_process_pid": me, "init_process_start": start,
                "config": {"namespaces": types.iter().map(|t| json!({"type": t})).collect::<Vec<_>>()}})
        };
        // Own network namespace, or no user namespace: runc handles it.
        assert!(for_exec(&state(&["NEWNET", "NEWUSER"])).unwrap().is_none());
        assert!(for_exec(&state(&["NEWPID"])).unwrap().is_none());
        // The init is this process, in this network namespace: nothing to enter.
        assert!(for_exec(&state(&["NEWUSER", "NEWIPC"])).unwrap().is_none());
        // An init that is gone (start time differs): left to runc.
        let mut gone = state(&["NEWUSER"]);
        gone["init_process_start"] = json!(start + 1);
        assert!(for_exec(&gone).unwrap().is_none());
    }

    #[test]
    fn a_judged_namespace_must_be_the_one_opened() {
        let own = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
        assert!(open_judged("/proc/self/ns/net", own).is_ok());
        let err = open_judged("/proc/self/ns/net", own + 1).unwrap_err();
        assert!(format!("{err:#}").contains("changed after it was judged"));
        // Not a network namespace.
        let ipc = std::fs::metadata("/proc/self/ns/ipc").unwrap().ino();
        assert!(open_judged("/proc/self/ns/ipc", ipc).is_err());
    }
}
