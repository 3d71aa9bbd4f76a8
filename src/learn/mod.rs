//! `rampart learn`: least-privilege profiles from recordings of a workload's runs. The
//! recorder (a separate part) writes one JSON file per recorded container under the learn
//! directory ([`recording`] reads them); [`infer`] turns evidence into capabilities, [`merge`]
//! puts several recordings together, [`generate`] writes the profile and [`show`] the
//! summary. Nothing here runs on the create path.

pub mod generate;
pub mod infer;
pub mod merge;
pub mod recording;
pub mod show;

pub use crate::record::DEFAULT_DIR;
