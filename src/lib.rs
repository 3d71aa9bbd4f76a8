//! Rampart: a runc shim that hardens every container it creates.
//!
//! The pipeline reads like the product: [`argv`] (parse argv losslessly) → [`settings`]
//! (config file, profile, runtime) → [`bundle`] (load config.json) → [`steps`] (plan and
//! apply each hardening step, validate) → [`bundle`] (atomic write) + [`audit`] → exec.

pub mod admin;
pub mod arena;
pub mod argv;
pub mod audit;
pub mod bundle;
pub mod cap_request;
pub mod change;
pub mod checks;
pub mod config;
pub mod debug;
#[cfg(rampart_early)]
pub mod early;
pub mod errors;
pub mod exec;
pub mod golang;
pub mod handoff;
pub mod host;
pub mod idmap;
pub mod learn;
pub mod lsm;
pub mod mountapi;
pub mod netns;
pub mod pipeline;
pub mod policy;
pub mod profile;
pub mod record;
pub mod restore;
pub mod runc_fields;
pub mod seccomp;
pub mod settings;
pub mod spec;
pub mod stage;
pub mod stdio;
pub mod steps;
pub mod suggest;
pub mod update;
