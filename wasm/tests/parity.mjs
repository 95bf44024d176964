// Parity: the Node.js package gives byte-for-byte the CLI's JSON report on the examples, the
// public conformance cases and the corpus inputs (when ../shared is present), and the adapter
// samples: its main module on every input, and its evaluator module (the policies as a
// bundle: the main module's `bundle`, or library.bundle.json for the built-in library) on
// every input of Palisade records. Usage: node wasm/tests/parity.mjs target/release/palisade
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const wasm = require(path.join(root, "wasm/pkg/node/palisade_wasm.js"));
const evaluator = require(path.join(root, "wasm/pkg/node/palisade_evaluator_wasm.js"));
const libraryBundle = fs.readFileSync(path.join(root, "wasm/pkg/library.bundle.json"), "utf8");
const cli = path.resolve(process.argv[2] || path.join(root, "target/release/palisade"));
const NOW = "2026-11-26T12:00:00Z";

function walk(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

function runCli(args, now) {
  try {
    return execFileSync(cli, args, { env: { ...process.env, PALISADE_NOW: now }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 28 });
  } catch (e) {
    if (e.status === 1) return e.stdout;
    return { error: e.stderr };
  }
}

// Palisade records (what the evaluator reads): JSON, an array or JSON Lines of objects whose
// `kind` is a record kind.
const KINDS = new Set(["deployment", "image", "process", "kube_event", "network_flow", "baseline"]);
function isRecords(text) {
  let items;
  try {
    const v = JSON.parse(text);
    items = Array.isArray(v) ? v : [v];
  } catch {
    try {
      items = text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
    } catch {
      return false;
    }
  }
  return items.length > 0 && items.every((i) => i && typeof i === "object" && KINDS.has(i.kind));
}

let compared = 0, evaluated = 0, failures = [];
let nativeMs = 0, wasmMs = 0;
function compare(label, { policyFiles = [], builtin = false, all = false, lifecycle = null, inputs, now = NOW, explain = false }) {
  const args = ["check", "--format", "json"];
  for (const p of policyFiles) args.push("--policies", p);
  if (builtin || policyFiles.length === 0) args.push("--builtin");
  if (all) args.push("--all");
  if (lifecycle) args.push("--lifecycle", lifecycle);
  if (explain) args.push("--explain");
  for (const i of inputs) args.push("--input", i);
  let t = performance.now();
  const native = runCli(args, now);
  nativeMs += performance.now() - t;
  const request = {
    policies: policyFiles.map((p) => ({ name: p, text: fs.readFileSync(p, "utf8") })),
    builtin, all, lifecycle, now, explain,
    inputs: inputs.map((i) => ({ name: i, text: fs.readFileSync(i, "utf8") })),
  };
  t = performance.now();
  const out = wasm.check(JSON.stringify(request));
  wasmMs += performance.now() - t;
  if (typeof native !== "string") {
    // The CLI refused the input: the module must refuse it too (with an error, not a report).
    const parsed = JSON.parse(out);
    if (!parsed.error && !parsed.diagnostics) failures.push(`${label}: CLI failed (${native.error.trim()}) but wasm returned a report`);
  } else if (out !== native) {
    failures.push(`${label}: output differs\n  native: ${native.slice(0, 300)}\n  wasm:   ${out.slice(0, 300)}`);
  }
  compared++;
  if (typeof native === "string" && request.inputs.every((i) => isRecords(i.text))) {
    let bundle = libraryBundle;
    if (request.policies.length > 0) {
      const made = JSON.parse(wasm.bundle(JSON.stringify({ policies: request.policies, builtin })));
      if (!made.ok) {
        failures.push(`${label}: the main module checks these policies but does not bundle them: ${JSON.stringify(made).slice(0, 300)}`);
        return;
      }
      bundle = made.bundle;
    }
    const loaded = JSON.parse(evaluator.load(bundle));
    const { policies, builtin: _, ...inputs } = request;
    const evaluatedOut = evaluator.check(JSON.stringify(inputs));
    if (!loaded.ok || evaluatedOut !== native) {
      failures.push(`${label}: the evaluator differs\n  native:    ${native.slice(0, 300)}\n  evaluator: ${evaluatedOut.slice(0, 300)}`);
    }
    evaluated++;
  }
}

// The examples.
const examplePolicies = walk(path.join(root, "examples/policies")).filter((f) => f.endsWith(".pal"));
for (const input of walk(path.join(root, "examples/records"))) {
  compare(`example ${path.basename(input)}`, { policyFiles: examplePolicies, inputs: [input] });
  compare(`example ${path.basename(input)} --explain`, { policyFiles: examplePolicies, inputs: [input], explain: true });
  compare(`example ${path.basename(input)} with the library`, { builtin: true, all: true, inputs: [input] });
}
// The adapter samples.
for (const input of walk(path.join(root, "adapters/tests/samples")).filter((f) => !f.endsWith(".md"))) {
  compare(`sample ${path.basename(input)}`, { builtin: true, all: true, inputs: [input] });
}
// The material of ../shared, when it is beside the clone: said loudly when it is not
// (PALISADE_REQUIRE_SHARED=1, set by .ci/run, makes that a failure).
function shared(relative, part) {
  const dir = path.join(root, "../shared", relative);
  if (fs.existsSync(dir)) return dir;
  console.error(`!!! SKIPPED: ${part}: ../shared/${relative} is not beside this clone`);
  if (process.env.PALISADE_REQUIRE_SHARED && process.env.PALISADE_REQUIRE_SHARED !== "0") process.exit(1);
  return null;
}
// The public conformance cases.
const cases = shared("conformance/cases", "npm package == CLI over the conformance cases");
for (const dir of cases ? fs.readdirSync(cases).sort() : []) {
  const exp = JSON.parse(fs.readFileSync(path.join(cases, dir, "expect.json"), "utf8"));
  let policyFiles = [];
  if (exp.policies === "custom") {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "parity-"));
    policyFiles = exp.custom_policies.map((p, i) => {
      const f = path.join(tmp, `${String(i).padStart(2, "0")}.json`);
      fs.writeFileSync(f, JSON.stringify(p));
      return f;
    });
  }
  compare(`conformance ${dir}`, { policyFiles, builtin: exp.policies !== "custom", all: true, lifecycle: exp.lifecycle, now: exp.now || NOW, inputs: [path.join(cases, dir, "input.json")] });
}
// The corpus.
const corpus = shared("corpus", "npm package == CLI over the corpus");
for (const input of (corpus ? walk(corpus) : []).filter((f) => !f.endsWith(".md"))) {
  compare(`corpus ${path.relative(path.join(root, ".."), input)}`, { builtin: true, all: true, inputs: [input] });
}

// The evaluator reads Palisade records only, and says so for anything else.
{
  evaluator.load(libraryBundle);
  const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n";
  const out = JSON.parse(evaluator.check(JSON.stringify({ inputs: [{ name: "pod.yaml", text: pod }], now: NOW })));
  if (!(out.error && out.error.kind === "input" && out.error.message.includes("Palisade records only"))) {
    failures.push(`the evaluator given YAML: ${JSON.stringify(out)}`);
  }
  if (evaluated === 0) failures.push("no input of records reached the evaluator");
}

console.log(`parity: ${compared} runs compared (${evaluated} through the evaluator too), ${failures.length} differences; time native (process per run) ${nativeMs.toFixed(0)} ms, wasm ${wasmMs.toFixed(0)} ms`);
for (const f of failures.slice(0, 20)) console.log("DIFF " + f);
process.exit(failures.length ? 1 : 0);
