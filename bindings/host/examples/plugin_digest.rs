//! Prints the digest of the plugin's sources (see `plugin_sources.rs`); scripts/update-plugin.sh
//! records it beside the committed prebuilt plugin.

#[path = "../plugin_sources.rs"]
mod plugin_sources;

fn main() -> std::process::ExitCode {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    match plugin_sources::plugin_source_digest(&root) {
        Ok(d) => {
            println!("{d}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot read the plugin's sources: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
