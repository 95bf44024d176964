// Runs the engine off the main thread so a huge paste never freezes the page.
import init, { check, compile, builtin, netpol, evidence } from "../../pkg/web/palisade_wasm.js";

const ready = init({ module_or_path: new URL("palisade_wasm_bg.wasm", import.meta.url) });

self.onmessage = async (e) => {
  const { id, op, request } = e.data;
  try {
    await ready;
    let out;
    if (op === "check") out = check(JSON.stringify(request));
    else if (op === "compile") out = compile(JSON.stringify(request));
    else if (op === "builtin") out = builtin();
    else if (op === "netpol") out = netpol(JSON.stringify(request));
    else if (op === "evidence") out = evidence(JSON.stringify(request));
    else throw new Error(`unknown operation ${op}`);
    self.postMessage({ id, ok: true, result: JSON.parse(out) });
  } catch (err) {
    // A trap poisons this module instance: report it; the page starts a fresh worker.
    self.postMessage({ id, ok: false, error: String(err && err.message || err), fatal: true });
  }
};
