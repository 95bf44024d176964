#!/usr/bin/env bash
# Builds the npm package wasm/pkg (ES module for browsers in web/, CommonJS for Node.js in
# node/, TypeScript declarations, README). Uses a rustup wasm32 target when one is installed,
# else Debian's rustc-web with -Zbuild-std (../shared/notes/wasm-toolchain.md). Installs the
# wasm-bindgen CLI matching the crate when missing; needs binaryen's wasm-opt.
# Usage: wasm/build.sh            (PROFILE=release for opt-level 3 instead of "s")
set -euo pipefail
cd "$(dirname "$0")/.."
# The package is never shipped unoptimised: no wasm-opt (WASM_OPT names another binary),
# or a failing one, is an error, found before the build.
WASM_OPT="${WASM_OPT:-wasm-opt}"
if ! command -v "$WASM_OPT" >/dev/null; then
  echo "wasm/build.sh: $WASM_OPT not found: install binaryen (Debian: apt-get install binaryen;" >&2
  echo "  elsewhere: https://github.com/WebAssembly/binaryen/releases)" >&2
  exit 1
fi
PROFILE="${PROFILE:-wasm-release}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/wasm}"
# Two cargo runs: the evaluator module takes palisade-api without its default features
# (no readers, importer or library), which one run with the main module would turn back on.
BUILD_STD=1
build() {
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    BUILD_STD=0
    cargo build --profile "$PROFILE" --target wasm32-unknown-unknown "$@"
  else
    for tool in /usr/bin/rustc /usr/bin/cargo wasm-ld-22; do
      command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install rustc-web cargo-web rust-web-src lld-22" >&2; exit 2; }
    done
    # With std built here, panics abort at once (a panic in WASM traps either way; the
    # messages and their locations only took room) and no source locations are kept.
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
      RUSTFLAGS="-C linker=wasm-ld-22 -Zlocation-detail=none -Zunstable-options -Cpanic=immediate-abort" \
      /usr/bin/cargo build --profile "$PROFILE" -Zbuild-std=std,panic_abort --target wasm32-unknown-unknown "$@"
  fi
}
build -p palisade-wasm -p palisade-lsp-wasm
build -p palisade-evaluator-wasm
VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
if ! wasm-bindgen --version 2>/dev/null | grep -q " $VERSION"; then
  cargo install wasm-bindgen-cli --version "=$VERSION" --locked
fi

rm -rf wasm/pkg
mkdir -p wasm/pkg/web wasm/pkg/node
OPT_DIR="$CARGO_TARGET_DIR/wasm-opt"
mkdir -p "$OPT_DIR"
# Three modules: the engine with the compiler and every reader (palisade_wasm), the
# evaluator of compiled bundles over records (palisade_evaluator_wasm) and the language
# server (palisade_lsp_wasm, for editors such as the playground's).
for module in palisade_wasm palisade_evaluator_wasm palisade_lsp_wasm; do
  WASM="$CARGO_TARGET_DIR/wasm32-unknown-unknown/$PROFILE/$module.wasm"
  # wasm-opt runs before wasm-bindgen: Debian's binaryen 108 breaks the externref table that
  # wasm-bindgen sets up when it runs after it.
  INPUT="$OPT_DIR/$module.wasm"
  cp "$WASM" "$INPUT"
  if ! "$WASM_OPT" -Os --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
       --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue "$WASM" -o "$INPUT" 2>"$OPT_DIR/log"; then
    echo "wasm/build.sh: wasm-opt failed on $module: $(tail -1 "$OPT_DIR/log")" >&2
    exit 1
  fi
  echo "wasm-opt $module: $(stat -c %s "$WASM") -> $(stat -c %s "$INPUT") bytes"
  wasm-bindgen --target web --out-dir wasm/pkg/web "$INPUT"
  wasm-bindgen --target nodejs --out-dir wasm/pkg/node "$INPUT"
done
# Smoke test: the Node build loads and answers.
node -e "const w = require('./wasm/pkg/node/palisade_wasm.js'); if (JSON.parse(w.builtin()).policies.length < 1) process.exit(1)"
# The built-in library, compiled, beside the evaluator (which has no compiler or library).
node -e "const w = require('./wasm/pkg/node/palisade_wasm.js'); const out = JSON.parse(w.bundle('{\"builtin\": true}')); if (!out.ok) { console.error(out); process.exit(1); } require('fs').writeFileSync('wasm/pkg/library.bundle.json', out.bundle)"
node -e "const e = require('./wasm/pkg/node/palisade_evaluator_wasm.js'); if (!JSON.parse(e.load(require('fs').readFileSync('wasm/pkg/library.bundle.json', 'utf8'))).ok) process.exit(1); const r = JSON.parse(e.check(JSON.stringify({inputs: [{name: 'r', text: '{\"kind\": \"deployment\", \"id\": \"d\", \"name\": \"d\", \"namespace\": \"n\", \"containers\": [{\"name\": \"c\", \"security_context\": {\"privileged\": true}}]}'}], now: '2030-01-01T00:00:00Z'}))); if (!r.violations.some((v) => v.policy === 'Privileged Container')) process.exit(1)"
node -e "const l = require('./wasm/pkg/node/palisade_lsp_wasm.js'); const r = JSON.parse(l.lsp(JSON.stringify({jsonrpc: '2.0', id: 1, method: 'initialize', params: {processId: null, capabilities: {}}}), 0)); if (r[0].result.serverInfo.name !== 'palisade') process.exit(1)"

cat > wasm/pkg/package.json <<JSON
{
  "name": "palisade-wasm",
  "version": "$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)",
  "description": "Palisade policy engine for browsers and Node.js (WebAssembly)",
  "license": "Apache-2.0",
  "main": "node/palisade_wasm.js",
  "module": "web/palisade_wasm.js",
  "types": "web/palisade_wasm.d.ts",
  "exports": {
    ".": { "types": "./web/palisade_wasm.d.ts", "node": "./node/palisade_wasm.js", "default": "./web/palisade_wasm.js" },
    "./evaluator": { "types": "./web/palisade_evaluator_wasm.d.ts", "node": "./node/palisade_evaluator_wasm.js", "default": "./web/palisade_evaluator_wasm.js" },
    "./lsp": { "types": "./web/palisade_lsp_wasm.d.ts", "node": "./node/palisade_lsp_wasm.js", "default": "./web/palisade_lsp_wasm.js" },
    "./library.bundle.json": "./library.bundle.json"
  },
  "files": ["web/", "node/", "library.bundle.json", "README.md"]
}
JSON
cp wasm/README.md wasm/pkg/README.md
size() { echo "$(stat -c %s "$1") bytes raw, $(gzip -9 -c "$1" | wc -c) bytes gzip -9"; }
echo "wasm/pkg built ($PROFILE):"
echo "  palisade_wasm_bg.wasm (compiler, readers, library; .): $(size wasm/pkg/web/palisade_wasm_bg.wasm)"
echo "  palisade_evaluator_wasm_bg.wasm (bundles over records; ./evaluator): $(size wasm/pkg/web/palisade_evaluator_wasm_bg.wasm)"
echo "  library.bundle.json (the built-in library, compiled): $(size wasm/pkg/library.bundle.json)"
echo "  palisade_lsp_wasm_bg.wasm (the language server; ./lsp): $(size wasm/pkg/web/palisade_lsp_wasm_bg.wasm)"
# The evaluator's size budget (issue 19: at most 600 KB gzip), held where std is built with
# the package; a prebuilt std (rustup) gives larger modules and is not held to it.
EVALUATOR_GZIP_BUDGET=600000
gz=$(gzip -9 -c wasm/pkg/web/palisade_evaluator_wasm_bg.wasm | wc -c)
if [ "$BUILD_STD" = 1 ] && [ "$gz" -gt "$EVALUATOR_GZIP_BUDGET" ]; then
  echo "wasm/build.sh: the evaluator module is $gz bytes gzip -9, over its budget of $EVALUATOR_GZIP_BUDGET" >&2
  exit 1
fi
