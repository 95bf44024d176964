// The policy editor's language support from the language server: the same session
// `palisade lsp` runs (palisade-lsp, in the engine's worker), for diagnostics, hover and
// completion. The page keeps no knowledge of the language of its own beyond highlighting.
import { hoverTooltip } from "@codemirror/view";
import { autocompletion } from "@codemirror/autocomplete";

/** The URI of the playground's policy document. */
export const URI = "file:///playground/policy.pal";

// LSP CompletionItemKind -> CodeMirror completion type (its icon).
const KINDS = { 3: "function", 5: "property", 9: "namespace", 14: "keyword", 20: "enum", 21: "constant" };

/**
 * A client of the server in the worker. `call(op, request)` reaches the worker;
 * `generation()` changes when the worker was restarted (its session is then new).
 */
export function languageServer(call, generation) {
  let nextId = 1;
  let opened = null;
  let version = 0;
  let synced = null;
  let diagnostics = [];
  const send = async (message) => {
    const replies = await call("lsp", { message, now: Date.now() / 1000 });
    if (!Array.isArray(replies)) throw new Error(replies.error || "the language server did not answer");
    for (const m of replies) {
      if (m.method === "textDocument/publishDiagnostics" && m.params.uri === URI) diagnostics = m.params.diagnostics;
    }
    return replies;
  };
  const notify = (method, params) => send({ jsonrpc: "2.0", method, params });
  async function request(method, params) {
    const id = nextId++;
    const replies = await send({ jsonrpc: "2.0", id, method, params });
    const reply = replies.find((m) => m.id === id);
    if (!reply) throw new Error(`no answer to ${method}`);
    if (reply.error) throw new Error(reply.error.message);
    return reply.result;
  }
  /** Gives the server the document's text (opening it in a new session). */
  async function sync(text) {
    const g = generation();
    if (opened !== g) {
      await request("initialize", { processId: null, rootUri: null, capabilities: {} });
      await notify("initialized", {});
      version = 1;
      await notify("textDocument/didOpen", { textDocument: { uri: URI, languageId: "palisade", version, text } });
      opened = g;
    } else if (synced !== text) {
      version += 1;
      await notify("textDocument/didChange", { textDocument: { uri: URI, version }, contentChanges: [{ text }] });
    }
    synced = text;
  }
  return { sync, request, diagnostics: () => diagnostics };
}

/** The editor offset of an LSP position (UTF-16, as CodeMirror counts). */
export function offsetOf(doc, position) {
  const line = doc.line(Math.max(1, Math.min(position.line + 1, doc.lines)));
  return Math.min(line.from + position.character, line.to);
}

function positionOf(doc, offset) {
  const line = doc.lineAt(offset);
  return { line: line.number - 1, character: offset - line.from };
}

/** Markdown as the tooltip shows it: text, with code fences and emphasis marks removed. */
function plain(markdown) {
  return markdown.replace(/^```.*$/gm, "").replace(/\*\*/g, "").replace(/`/g, "").replace(/\n{3,}/g, "\n\n").trim();
}

/** Hover tooltips from `textDocument/hover`. */
export function lspHover(server) {
  return hoverTooltip(async (view, pos) => {
    try {
      await server.sync(view.state.doc.toString());
      const doc = view.state.doc;
      const r = await server.request("textDocument/hover", { textDocument: { uri: URI }, position: positionOf(doc, pos) });
      if (!r) return null;
      const from = r.range ? offsetOf(doc, r.range.start) : pos;
      const to = r.range ? offsetOf(doc, r.range.end) : pos;
      return {
        pos: from,
        end: to,
        above: true,
        create() {
          const dom = document.createElement("div");
          dom.className = "cm-lsp-hover";
          dom.textContent = plain(r.contents.value);
          return { dom };
        },
      };
    } catch (_) {
      return null;
    }
  });
}

/** Completion from `textDocument/completion`, after a `.` or a word, or when asked. */
export function lspCompletion(server) {
  return autocompletion({
    override: [async (context) => {
      const word = context.matchBefore(/[A-Za-z0-9_]*/);
      const afterDot = context.state.sliceDoc(word.from - 1, word.from) === ".";
      if (!context.explicit && word.from === word.to && !afterDot) return null;
      try {
        await server.sync(context.state.doc.toString());
        const items = await server.request("textDocument/completion", {
          textDocument: { uri: URI }, position: positionOf(context.state.doc, context.pos),
        });
        if (!items || !items.length) return null;
        return {
          from: word.from,
          options: items.map((i) => ({
            label: i.label,
            type: KINDS[i.kind],
            detail: i.detail,
            info: typeof i.documentation === "string" ? i.documentation.replace(/`/g, "") : undefined,
          })),
          validFor: /^[A-Za-z0-9_]*$/,
        };
      } catch (_) {
        return null;
      }
    }],
  });
}
