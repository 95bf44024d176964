//! Palisade's engine: records, the compiled rule IR, the matcher that evaluates it, and
//! the reports it produces.
//!
//! Data flows one way: a checked policy set ([`palisade_lang::hir::CheckedSet`]) is
//! compiled by [`compile`] into a [`ir::Program`], loaded into a [`Matcher`], and evaluated
//! over the records of a [`Dataset`].

mod affixes;
mod baseline_index;
mod bindings_memo;
pub mod bundle;
mod closures;
pub mod codegen;
pub mod compile;
pub mod dataset;
mod disasm;
mod dispatch;
mod explain;
pub mod input;
pub mod ir;
pub mod json_report;

pub mod matcher;
pub mod policy_test;
pub mod record;
pub mod reference;
pub mod report;
pub mod runtime;
mod scope;
mod strmap;
pub mod value;
mod verify;

pub use compile::compile;
pub use dataset::Dataset;
pub use matcher::{EvalOptions, Matcher, PolicySet, Tri};
