// The Palisade playground: a policy editor with live diagnostics, an input pane, results,
// explanations, a gallery, and the whole state in the URL fragment.
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine } from "@codemirror/view";
import { defaultKeymap, history as undoHistory, historyKeymap } from "@codemirror/commands";
import { linter, lintGutter, forceLinting } from "@codemirror/lint";
import { palisade, highlight } from "./language.js";
import { STARTER_POLICY, INPUTS, FLOWS } from "./samples.js";
import { drawNetwork } from "./network.js";
import { languageServer, lspHover, lspCompletion, offsetOf } from "./lsp.js";

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };

// ---- the engine, in a worker (restarted if it traps or takes too long) ----
let worker, nextId = 0, workerGeneration = 0;
const pending = new Map();
function startWorker() {
  workerGeneration += 1;
  worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
  worker.onmessage = (e) => {
    const p = pending.get(e.data.id);
    if (!p) return;
    pending.delete(e.data.id);
    clearTimeout(p.timer);
    if (e.data.ok) p.resolve(e.data.result);
    else { p.reject(new Error(e.data.error)); if (e.data.fatal) restart(); }
  };
  worker.onerror = (e) => { for (const p of pending.values()) p.reject(new Error(e.message || "engine failed")); pending.clear(); restart(); };
}
function restart() { worker.terminate(); startWorker(); }
function call(op, request, timeoutMs = 15000) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { pending.delete(id); restart(); reject(new Error(`the engine took longer than ${timeoutMs / 1000}s; input too large?`)); }, timeoutMs);
    pending.set(id, { resolve, reject, timer });
    worker.postMessage({ id, op, request });
  });
}
startWorker();

// ---- state in the URL fragment ----
function loadState() {
  try {
    const m = location.hash.match(/^#s=(.+)$/);
    if (m) return JSON.parse(decodeURIComponent(escape(atob(m[1].replace(/-/g, "+").replace(/_/g, "/")))));
  } catch (_) { /* a broken link falls back to the defaults */ }
  return null;
}
function saveState() {
  const state = { policy: policyView.state.doc.toString(), input: inputView.state.doc.toString(), builtin: $("builtin").checked, all: $("all").checked, flows: $("flows").value, tab: currentTab() };
  const encoded = btoa(unescape(encodeURIComponent(JSON.stringify(state)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  history.replaceState(null, "", "#s=" + encoded);
}

// ---- editors ----
// The language server in the worker: diagnostics, hover, completion.
const server = languageServer(call, () => workerGeneration);
let lastDiagnostics = [];
function toCm(doc, d) {
  const from = offsetOf(doc, d.range.start);
  const to = Math.max(from, offsetOf(doc, d.range.end));
  return { from, to: to === from ? Math.min(from + 1, doc.length) : to, severity: d.severity === 2 ? "warning" : "error", message: d.message };
}
const policyLinter = linter(async (view) => {
  const text = view.state.doc.toString();
  try {
    await server.sync(text);
    const own = server.diagnostics();
    lastDiagnostics = own;
    renderDiagnostics(own);
    return own.map((d) => toCm(view.state.doc, d));
  } catch (e) {
    renderDiagnostics([], { message: e.message });
    return [];
  }
}, { delay: 300 });

function renderDiagnostics(list, error) {
  const ul = $("diagnostics");
  ul.replaceChildren();
  for (const d of list) {
    const li = document.createElement("li");
    li.textContent = `${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message.replace(/\n/g, " - ")}`;
    ul.append(li);
  }
  if (error) {
    const li = document.createElement("li");
    li.textContent = error.message;
    ul.append(li);
  }
}

let checkTimer;
const onChange = EditorView.updateListener.of((u) => { if (u.docChanged) { scheduleCheck(); scheduleNetwork(); scheduleEvidence(); } });
function editor(parent, doc, extra) {
  return new EditorView({
    parent,
    state: EditorState.create({ doc, extensions: [lineNumbers(), highlightActiveLine(), undoHistory(), keymap.of([...defaultKeymap, ...historyKeymap]), onChange, ...extra] }),
  });
}

const initial = loadState();
const policyView = editor($("policy-editor"), initial?.policy ?? STARTER_POLICY, [palisade, highlight, policyLinter, lintGutter(), lspHover(server), lspCompletion(server)]);
const inputView = editor($("input-editor"), initial?.input ?? Object.values(INPUTS)[0], []);
$("builtin").checked = !!initial?.builtin;
$("builtin").addEventListener("change", () => { scheduleCheck(); scheduleEvidence(); });
// As `palisade check`: disabled policies are evaluated only when asked (`--all`).
$("all").checked = !!initial?.all;
$("all").addEventListener("change", () => { scheduleCheck(); scheduleEvidence(); });

// ---- results ----
let current = [];
function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(runCheck, 350);
}
function checkRequest() {
  return {
    policies: [{ name: "policy.pal", text: policyView.state.doc.toString() }],
    builtin: $("builtin").checked,
    all: $("all").checked,
    inputs: [{ name: "input", text: inputView.state.doc.toString() }],
    now: new Date().toISOString(),
  };
}
async function runCheck() {
  saveState();
  status("checking…");
  const request = { ...checkRequest(), explain: true };
  try {
    const r = await call("check", request);
    // Not checked is not clean: say so where the results would be.
    if (r.diagnostics) {
      status(`the policy has ${r.diagnostics.length} error(s)`);
      renderResults([], `not checked: the policy has ${r.diagnostics.length} error(s); fix them to see results`);
      return;
    }
    if (r.error) { status(r.error.message); renderResults([], `not checked: ${r.error.message}`); return; }
    renderResults(r.violations || []);
    const s = r.summary;
    $("summary").textContent = `${s.violations} violation(s) in ${s.records} record(s); ${s.policies} polic${s.policies === 1 ? "y" : "ies"} evaluated`;
    status("ready");
  } catch (e) {
    status(e.message);
  }
}

function renderResults(violations, notChecked) {
  current = violations;
  const tbody = $("results").querySelector("tbody");
  tbody.replaceChildren();
  $("explain").hidden = true;
  if (notChecked) $("summary").textContent = notChecked;
  else if (!violations.length) $("summary").textContent = "no violations";
  violations.forEach((v, i) => {
    const tr = document.createElement("tr");
    const cells = [v.policy, v.severity, `${v.record.kind} ${v.record.name ?? v.record.id}`, v.messages.join("\n"), v.soc2.join(", ")];
    for (const [j, text] of cells.entries()) {
      const td = document.createElement("td");
      td.textContent = text;
      if (j === 1) td.className = "sev-" + v.severity;
      if (j === 3) td.style.whiteSpace = "pre-line";
      tr.append(td);
    }
    tr.addEventListener("click", () => showExplain(i, tr));
    tbody.append(tr);
  });
}

function showExplain(i, tr) {
  const v = current[i];
  for (const row of $("results").querySelectorAll("tbody tr")) row.classList.remove("selected");
  tr.classList.add("selected");
  $("explain-title").textContent = `${v.policy} on ${v.record.kind} ${v.record.name ?? v.record.id}`;
  const tbody = $("explain").querySelector("tbody");
  tbody.replaceChildren();
  for (const step of v.explain || []) {
    const row = document.createElement("tr");
    for (const text of [step.condition, step.value, step.result]) {
      const td = document.createElement("td");
      td.textContent = text;
      row.append(td);
    }
    tbody.append(row);
  }
  $("explain").hidden = false;
}

// ---- gallery ----
async function fillGallery() {
  const select = $("gallery");
  const add = (group, label, value) => { const o = document.createElement("option"); o.textContent = label; o.value = JSON.stringify(value); group.append(o); };
  const none = document.createElement("option");
  none.textContent = "choose…"; none.value = "";
  select.append(none);
  const inputs = document.createElement("optgroup"); inputs.label = "Inputs";
  for (const [label, text] of Object.entries(INPUTS)) add(inputs, label, { input: text, ...(FLOWS[label] !== undefined ? { flows: FLOWS[label] } : {}) });
  select.append(inputs);
  try {
    const lib = await call("builtin", {});
    const policies = document.createElement("optgroup"); policies.label = "Built-in policies";
    for (const f of lib.files) {
      const name = (f.text.match(/^policy "((?:[^"\\]|\\.)*)"/m) || [])[1] || f.name;
      add(policies, name, { policy: f.text.split("\n// Tests derived")[0] });
    }
    select.append(policies);
  } catch (e) { status(e.message); }
  select.addEventListener("change", () => {
    if (!select.value) return;
    const v = JSON.parse(select.value);
    const set = (view, text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    if (v.policy) set(policyView, v.policy);
    if (v.input) set(inputView, v.input);
    if (v.flows !== undefined) { $("flows").value = v.flows; scheduleNetwork(); }
    select.value = "";
  });
}

$("share").addEventListener("click", async () => {
  saveState();
  try { await navigator.clipboard.writeText(location.href); status("link copied"); } catch (_) { status("link in the address bar"); }
});

// ---- tabs ----
const TABS = ["results", "network", "evidence"];
function currentTab() { return TABS.find((t) => !$(`${t}-pane`).hidden) || "results"; }
function networkShown() { return currentTab() === "network"; }
function showTab(name) {
  for (const t of TABS) {
    $(`${t}-pane`).hidden = t !== name;
    $(`tab-${t}`).setAttribute("aria-selected", String(t === name));
  }
  if (name === "network") runNetwork();
  if (name === "evidence") runEvidence();
  saveState();
}
for (const t of TABS) $(`tab-${t}`).addEventListener("click", () => showTab(t));

// ---- the evidence tab: the HTML report of this one check, rendered by the engine ----
let evidenceTimer;
function scheduleEvidence() {
  if (currentTab() !== "evidence") return;
  clearTimeout(evidenceTimer);
  evidenceTimer = setTimeout(runEvidence, 350);
}
async function runEvidence() {
  saveState();
  try {
    const r = await call("evidence", checkRequest());
    if (r.diagnostics || r.error) {
      $("evidence-report").srcdoc = "";
      $("evidence-summary").textContent = r.error ? `no report: ${r.error.message}` : `no report: the policy has ${r.diagnostics.length} error(s)`;
      return;
    }
    const by = (s) => r.criteria.filter((c) => c.status === s).length;
    $("evidence-summary").textContent = `${r.criteria.length} criteri${r.criteria.length === 1 ? "on" : "a"}: ${by("not-satisfied")} not satisfied, ${by("satisfied")} satisfied, ${by("not-assessed")} not assessed`;
    $("evidence-report").srcdoc = r.html;
  } catch (e) {
    $("evidence-summary").textContent = `no report: ${e.message}`;
  }
}

// ---- the network tab ----
$("flows").value = initial?.flows ?? "";
$("flows").addEventListener("input", scheduleNetwork);
let networkTimer;
function scheduleNetwork() {
  if (!networkShown()) return;
  clearTimeout(networkTimer);
  networkTimer = setTimeout(runNetwork, 350);
}
async function runNetwork() {
  saveState();
  const flows = $("flows").value;
  const request = { manifests: [{ name: "input", text: inputView.state.doc.toString() }], flows: flows.trim() ? [{ name: "flows", text: flows }] : [] };
  const diagnostics = $("network-diagnostics");
  try {
    const r = await call("netpol", request);
    diagnostics.replaceChildren();
    if (r.error) {
      $("network-graph").replaceChildren();
      $("network-summary").textContent = `no map: ${r.error}`;
      return;
    }
    const counts = drawNetwork($("network-graph"), r);
    const s = r.summary;
    $("network-summary").textContent = s.flows === undefined
      ? `${counts.links} allowed path(s) between ${r.nodes.length} endpoint(s)`
      : `${counts.links} allowed path(s); ${s.unused} never used (${(s.unused_share * 100).toFixed(1)}%); ${s.flows_resolved} of ${s.flows} flow(s) used`;
    for (const d of r.diagnostics) {
      const li = document.createElement("li");
      li.textContent = d;
      diagnostics.append(li);
    }
  } catch (e) {
    $("network-summary").textContent = `no map: ${e.message}`;
  }
}

fillGallery();
forceLinting(policyView);
runCheck();
if (TABS.includes(initial?.tab) && initial.tab !== "results") showTab(initial.tab);
