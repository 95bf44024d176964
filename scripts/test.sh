#!/usr/bin/env bash
# The test command (README, .ci/run): installs the Debian packages the tests need when
# missing - the wasm32 toolchain that builds the plugin embedded by palisade-host (see
# ../shared/notes/wasm-toolchain.md; a rustup wasm32 target works too) - then runs the
# workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
   && ! { command -v wasm-ld-22 >/dev/null && [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ]; }; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq rustc-web cargo-web rust-web-src lld-22 >/dev/null
fi
cargo test --workspace --locked "$@"
