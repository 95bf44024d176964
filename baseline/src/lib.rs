//! Process allow lists. [`learn`] builds baselines (docs/records.md) from process events:
//! one per container of a workload, keyed by executable path, locked when the observation
//! window has passed in event time. [`file`] reads and writes baseline files, [`edit`]
//! locks, unlocks and edits them, [`export`] hands them to Tetragon and Falco. Checking
//! processes against baselines is the engine's (`process.outside_baseline`).

pub mod edit;
pub mod export;
pub mod file;
pub mod learn;

pub use learn::{Learned, Learner, Options};
pub use palisade_engine::record::Baseline;
