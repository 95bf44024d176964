#!/usr/bin/env bash
# Rebuilds the committed prebuilt plugin (bindings/host/plugin/palisade_plugin.wasm) from the
# current sources and records their digest in bindings/host/plugin/SOURCES. Builds without a
# wasm32 toolchain embed that plugin when the digest matches, so `palisade serve` works from
# every build. Run it after changing what the plugin is built from (lang, engine, api, adapters, netpol,
# stackrox, library, policies, wasm/plugin, Cargo.toml, Cargo.lock): the host's test
# `the_committed_plugin_is_built_from_these_sources` fails until you do. Needs a wasm32
# toolchain (a rustup wasm32-unknown-unknown target, or Debian's rustc-web cargo-web
# rust-web-src lld-22).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
   && ! { command -v wasm-ld-22 >/dev/null && [ -x /usr/bin/rustc ]; }; then
  echo "no wasm32 toolchain: rustup target add wasm32-unknown-unknown (or Debian's rustc-web cargo-web rust-web-src lld-22)" >&2
  exit 1
fi
built=target/wasm/wasm32-unknown-unknown/wasm-release/palisade_plugin.wasm
rm -f "$built"
# The host's build script builds the plugin whenever a toolchain is there; touching it makes
# cargo run it again even when no source changed.
touch bindings/host/build.rs
cargo build -q -p palisade-host
[ -f "$built" ] || { echo "the plugin build failed: see cargo's warnings above" >&2; exit 1; }
cp "$built" bindings/host/plugin/palisade_plugin.wasm
cargo run -q -p palisade-host --example plugin_digest > bindings/host/plugin/SOURCES
echo "bindings/host/plugin: $(wc -c < bindings/host/plugin/palisade_plugin.wasm) bytes from sources $(cat bindings/host/plugin/SOURCES)"
