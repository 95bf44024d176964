#!/usr/bin/env bash
# The test command (README, .ci/run): the workspace's tests.
#
# palisade-host embeds the WASM plugin (wasm/plugin), built by its build script with a
# wasm32 toolchain: a rustup target (`rustup target add wasm32-unknown-unknown`) or, on
# Debian, the packages rustc-web, cargo-web, rust-web-src and lld-22
# (../shared/notes/wasm-toolchain.md). Without either, it embeds the committed, prebuilt
# plugin (bindings/host/plugin/), which is only used while its recorded source digest
# matches the sources; so the tests pass on a machine with Rust alone.
#
# On Debian (apt-get present) this script installs those packages when no toolchain is
# found, saying so first; PALISADE_NO_INSTALL=1 skips that.
set -euo pipefail
cd "$(dirname "$0")/.."

have_toolchain() {
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || { command -v wasm-ld-22 >/dev/null && [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ]; }
}

if ! have_toolchain; then
  if command -v apt-get >/dev/null && [ "${PALISADE_NO_INSTALL:-0}" = 0 ]; then
    echo "scripts/test.sh: no wasm32 toolchain found; installing Debian's rustc-web cargo-web"
    echo "  rust-web-src lld-22 (apt-get, needs root or sudo) to build the WASM plugin that"
    echo "  palisade-host embeds. Skip with PALISADE_NO_INSTALL=1: the committed plugin is used."
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq rustc-web cargo-web rust-web-src lld-22 >/dev/null
  else
    echo "scripts/test.sh: no wasm32 toolchain found; the tests use the committed plugin"
    echo "  (bindings/host/plugin/). To build it from source: rustup target add wasm32-unknown-unknown"
  fi
fi

if [ ! -d ../shared ]; then
  echo "scripts/test.sh: ../shared is not beside this clone: the corpus and conformance parts"
  echo "  of the tests are skipped, each announced with '!!! SKIPPED' below (see CONTRIBUTING.md)."
fi

cargo test --workspace --locked "$@"
# The host API as the npm package's evaluator module builds it: without the readers of other
# formats, the importer, the library and palisade.toml.
cargo test --locked -p palisade-api --no-default-features
