// Syntax highlighting for the Palisade policy language (a CodeMirror stream tokenizer).
import { StreamLanguage, HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { tags } from "@lezer/highlight";

const KEYWORDS = new Set([
  "policy", "list", "macro", "test", "for", "when", "message", "description", "rationale", "remediation",
  "severity", "categories", "lifecycle", "event_source", "enforce", "mitre", "soc2", "disabled", "scope",
  "exclude", "because", "until", "and", "or", "not", "in", "as", "any", "every", "no", "where", "contains",
  "glob", "startswith", "endswith", "has", "count", "days_since", "expect", "fire", "now", "with",
]);
const SUBJECTS = new Set(["deployment", "container", "env", "volume", "port", "image", "layer", "component", "vuln",
  "reported_vuln", "process", "event", "flow"]);

export const palisade = StreamLanguage.define({
  name: "palisade",
  token(stream) {
    if (stream.eatSpace()) return null;
    if (stream.match("//")) { stream.skipToEnd(); return "comment"; }
    if (stream.match(/^r#*"/)) { stream.skipTo('"') ? stream.next() : stream.skipToEnd(); return "string"; }
    if (stream.peek() === '"') {
      stream.next();
      let escaped = false, ch;
      while ((ch = stream.next()) != null) { if (ch === '"' && !escaped) break; escaped = !escaped && ch === "\\"; }
      return "string";
    }
    if (stream.peek() === "/" ) {
      stream.next();
      let escaped = false, ch;
      while ((ch = stream.next()) != null) { if (ch === "/" && !escaped) break; escaped = !escaped && ch === "\\"; }
      return "regexp";
    }
    if (stream.match(/^\d{4}-\d{2}-\d{2}(T[\d:.Z+-]+)?/)) return "number";
    if (stream.match(/^(CC|PI|TA|[ACPT])\d+(\.\d+)?\b/)) return "atom";
    if (stream.match(/^-?\d+(\.\d+)?[A-Za-z]*/)) return "number";
    if (stream.match(/^[A-Za-z_][A-Za-z0-9_]*/)) {
      const w = stream.current();
      if (KEYWORDS.has(w)) return "keyword";
      if (SUBJECTS.has(w)) return "typeName";
      if (w === "true" || w === "false") return "atom";
      return "variableName";
    }
    stream.next();
    return "operator";
  },
});

export const highlight = syntaxHighlighting(HighlightStyle.define([
  { tag: tags.keyword, class: "tok-keyword" },
  { tag: tags.string, class: "tok-string" },
  { tag: tags.regexp, class: "tok-regex" },
  { tag: tags.number, class: "tok-number" },
  { tag: tags.comment, class: "tok-comment" },
  { tag: tags.typeName, class: "tok-subject" },
]));
