//! Stub: the real module (which fields of a JSON document runc reads) is written in
//! parallel and replaces this file at merge.

pub enum Root {
    Spec,
    Process,
    LinuxResources,
}

pub fn check(_value: &serde_json::Value, _root: Root) -> anyhow::Result<()> {
    Ok(())
}
