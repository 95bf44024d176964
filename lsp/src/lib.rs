//! The Palisade language server: what the checker knows (names, types, stages, "did you
//! mean"), where policies are written.
//!
//! A [`Session`] takes JSON-RPC messages and returns the replies, with no I/O of its own:
//! `palisade lsp` runs it over stdio ([`stdio::serve`]), and the playground runs the same
//! session compiled to WebAssembly. Capabilities: diagnostics as the text changes (every
//! document of the workspace checked together), hover, completion, go to definition,
//! references, document symbols, formatting (document and range) and a quick fix for every
//! "did you mean", and a code lens over each policy and test with the result of its tests.

mod analysis;
mod complete;
mod edits;
mod hover;
mod lens;
mod locate;
mod navigate;
mod session;
#[cfg(feature = "stdio")]
pub mod stdio;
mod text;

pub use lsp_server::Message;
pub use session::{Clock, FolderReader, Session};
