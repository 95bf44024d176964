//! Compiled bundles: a program serialized with a format header and version, verified
//! when loaded, so the WASM build and the sidecar run policies without the compiler.

use crate::ir::{IR_VERSION, Program};
use crate::matcher::{LoadError, Matcher};
use serde::{Deserialize, Serialize};

/// The `format` field of every bundle.
pub const BUNDLE_FORMAT: &str = "palisade-bundle";

#[derive(Serialize)]
struct BundleOut<'a> {
    format: &'a str,
    version: u32,
    program: &'a Program,
}

/// The program stays unparsed text until the header is checked, and is then parsed
/// straight into its structs (no intermediate JSON tree: loading peaks lower).
#[derive(Deserialize)]
struct BundleIn<'a> {
    format: String,
    version: u32,
    #[serde(borrow)]
    program: &'a serde_json::value::RawValue,
}

/// Why a bundle could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Not JSON, or not a bundle.
    #[error("not a palisade bundle: {0}")]
    Format(String),
    /// Written by an incompatible version.
    #[error("bundle version {0} is not supported (this build reads version {IR_VERSION})")]
    Version(u32),
    /// The program is inconsistent.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Serializes a program as a bundle.
pub fn write_bundle(program: &Program) -> String {
    serde_json::to_string(&BundleOut {
        format: BUNDLE_FORMAT,
        version: IR_VERSION,
        program,
    })
    .unwrap_or_default()
}

/// Loads, verifies and prepares a bundle.
pub fn load_bundle(text: &str) -> Result<Matcher, BundleError> {
    Ok(Matcher::new(read_program(text)?)?)
}

/// Reads a bundle's program without preparing it (to change its policies' settings before
/// [`Matcher::new`] verifies it).
pub fn read_program(text: &str) -> Result<Program, BundleError> {
    let b: BundleIn = serde_json::from_str(text).map_err(|e| BundleError::Format(e.to_string()))?;
    if b.format != BUNDLE_FORMAT {
        return Err(BundleError::Format(format!(
            "format is `{}`, expected `{BUNDLE_FORMAT}`",
            b.format
        )));
    }
    if b.version != IR_VERSION {
        return Err(BundleError::Version(b.version));
    }
    serde_json::from_str(b.program.get()).map_err(|e| BundleError::Format(e.to_string()))
}
