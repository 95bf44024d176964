// Runs the engine off the main thread so a huge paste never freezes the page.
import init, { check, compile, builtin, netpol, evidence } from "../../pkg/web/palisade_wasm.js";
import initLsp, { lsp } from "../../pkg/web/palisade_lsp_wasm.js";

const ready = init({ module_or_path: new URL("palisade_wasm_bg.wasm", import.meta.url) });
// The language server is a module of its own, loaded when the editor first asks.
let lspReady;

self.onmessage = async (e) => {
  const { id, op, request } = e.data;
  try {
    let out;
    if (op === "lsp") {
      lspReady ??= initLsp({ module_or_path: new URL("palisade_lsp_wasm_bg.wasm", import.meta.url) });
      await lspReady;
    } else {
      await ready;
    }
    if (op === "check") out = check(JSON.stringify(request));
    else if (op === "compile") out = compile(JSON.stringify(request));
    else if (op === "builtin") out = builtin();
    else if (op === "netpol") out = netpol(JSON.stringify(request));
    else if (op === "evidence") out = evidence(JSON.stringify(request));
    else if (op === "lsp") out = lsp(JSON.stringify(request.message), request.now);
    else throw new Error(`unknown operation ${op}`);
    self.postMessage({ id, ok: true, result: JSON.parse(out) });
  } catch (err) {
    // A trap poisons this module instance: report it; the page starts a fresh worker.
    self.postMessage({ id, ok: false, error: String(err && err.message || err), fatal: true });
  }
};
