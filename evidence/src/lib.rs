//! SOC 2 evidence: a tamper-evident log of what Palisade evaluated, and the reports an
//! auditor reads.
//!
//! The log ([`store`], SQLite, append-only) holds canonical JSON entries ([`entry`]) chained
//! by SHA-256 ([`chain`]) and covered by checkpoints signed with Ed25519 in the C2SP
//! signed-note form ([`note`]); [`verify`] checks all of it with the public key alone. The
//! reports ([`period`], then [`html`], [`oscal`], [`openreports`]) read verified entries; they
//! build without SQLite so the WASM playground renders the same HTML.

pub mod canonical;
pub mod chain;
pub mod entry;
pub mod from_engine;
pub mod html;
pub mod note;
pub mod openreports;
pub mod oscal;
pub mod period;
/// The SOC 2 criteria: ids, principles and titles (kept beside the language that cites them).
pub use palisade_lang::soc2;
#[cfg(feature = "store")]
pub mod store;
#[cfg(feature = "store")]
pub mod verify;
