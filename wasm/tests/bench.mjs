// Median time of one request through the Node.js WASM build: `check` (the main module
// compiles the request's policies and evaluates its inputs) or `evaluate` (the policies
// compiled into a bundle by the main module and loaded into the evaluator module once,
// outside the timing; the evaluator checks the inputs).
// Usage: node wasm/tests/bench.mjs REQUEST.json [RUNS] [check|evaluate]
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const wasm = require(path.join(root, "wasm/pkg/node/palisade_wasm.js"));
const text = fs.readFileSync(process.argv[2], "utf8");
const runs = Number(process.argv[3] || 200);
const mode = process.argv[4] || "check";
let run;
if (mode === "check") {
  run = () => wasm.check(text);
} else if (mode === "evaluate") {
  const evaluator = require(path.join(root, "wasm/pkg/node/palisade_evaluator_wasm.js"));
  const { policies, builtin, ...inputs } = JSON.parse(text);
  const made = JSON.parse(wasm.bundle(JSON.stringify({ policies, builtin })));
  if (!made.ok || !JSON.parse(evaluator.load(made.bundle)).ok) { console.error("the policies do not load"); process.exit(2); }
  const request = JSON.stringify(inputs);
  run = () => evaluator.check(request);
} else {
  console.error(`unknown mode ${mode} (check or evaluate)`);
  process.exit(2);
}
const first = run();
const samples = [];
for (let i = 0; i < runs; i++) {
  const t = performance.now();
  const out = run();
  samples.push(performance.now() - t);
  if (out !== first) { console.error("output changed between runs"); process.exit(1); }
}
samples.sort((a, b) => a - b);
console.log(samples[Math.floor(samples.length / 2)].toFixed(3));
