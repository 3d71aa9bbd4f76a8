//! What a hardening step did, and why. One record per field changed; the list feeds the
//! audit log and `rampart explain`.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The step that made the change (`capabilities`, `seccomp`, ...).
    pub step: &'static str,
    /// JSON pointer of the field in config.json.
    pub field: String,
    pub before: Value,
    pub after: Value,
    pub reason: String,
}

/// Collects the changes of one step and applies them to the spec.
pub struct Changes<'a> {
    step: &'static str,
    out: &'a mut Vec<Change>,
}

impl<'a> Changes<'a> {
    pub fn new(step: &'static str, out: &'a mut Vec<Change>) -> Self {
        Changes { step, out }
    }

    /// Sets `field` to `after` when it differs from the current value, and records it.
    pub fn set(
        &mut self,
        spec: &mut crate::spec::Spec,
        field: &str,
        after: Value,
        reason: impl Into<String>,
    ) -> anyhow::Result<bool> {
        if spec.get(field).unwrap_or(&Value::Null) == &after {
            return Ok(false);
        }
        // The value replaced is the one recorded as before (no copy of it first).
        let before = spec.set(field, after.clone())?;
        self.record(field, before, after, reason);
        Ok(true)
    }

    /// Records a decision that did not change a field (e.g. a host fact that made a step
    /// skip something), so that the audit log still says why.
    pub fn note(&mut self, field: &str, reason: impl Into<String>) {
        self.record(field, Value::Null, Value::Null, reason);
    }

    pub fn record(&mut self, field: &str, before: Value, after: Value, reason: impl Into<String>) {
        self.out.push(Change {
            step: self.step,
            field: field.to_string(),
            before,
            after,
            reason: reason.into(),
        });
    }
}
