// The TextMate grammar, tokenized with VS Code's own engine (vscode-textmate + the
// Oniguruma WebAssembly build): each construct gets the scope the theme colours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import vsctm from 'vscode-textmate';
import oniguruma from 'vscode-oniguruma';

const require = createRequire(import.meta.url);

async function registry() {
  const wasm = await readFile(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer);
  return new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () => {
      const text = await readFile(new URL('../syntaxes/palisade.tmLanguage.json', import.meta.url), 'utf8');
      return vsctm.parseRawGrammar(text, 'palisade.tmLanguage.json');
    },
  });
}

/** Every token of `text` as [text, innermost scope]. */
async function tokens(text) {
  const grammar = await (await registry()).loadGrammar('source.palisade');
  let state = vsctm.INITIAL;
  const out = [];
  for (const line of text.split('\n')) {
    const r = grammar.tokenizeLine(line, state);
    for (const t of r.tokens) {
      const piece = line.slice(t.startIndex, t.endIndex);
      if (piece.trim()) out.push([piece, t.scopes[t.scopes.length - 1]]);
    }
    state = r.ruleStack;
  }
  return out;
}

function scopeOf(all, piece) {
  const found = all.find(([t]) => t === piece);
  assert.ok(found, `no token ${piece} in ${JSON.stringify(all)}`);
  return found[1];
}

test('policies, conditions and tests get their scopes', async () => {
  const source = await readFile(new URL('../../../examples/policies/deploy.pal', import.meta.url), 'utf8')
    .catch(() => '');
  const text = `// A comment
list shells = ["sh", "bash"]
policy "Shell in a root container" {
  severity high
  lifecycle runtime
  soc2 CC7.2
  mitre TA0002: T1059.004
  when process.name in shells and container.memory_limit > 512MiB and image.tag ~ /late\\/st/
  message "{process.exec_path} in {container.name}"
}
${source}`;
  const all = await tokens(text);
  assert.equal(scopeOf(all, '// A comment'), 'comment.line.double-slash.palisade');
  assert.equal(scopeOf(all, 'list'), 'keyword.declaration.palisade');
  assert.equal(scopeOf(all, 'shells'), 'entity.name.function.palisade');
  assert.equal(scopeOf(all, 'policy'), 'keyword.declaration.palisade');
  assert.equal(scopeOf(all, 'severity'), 'keyword.other.clause.palisade');
  assert.equal(scopeOf(all, 'high'), 'constant.language.palisade');
  assert.equal(scopeOf(all, 'CC7.2'), 'constant.other.soc2.palisade');
  assert.equal(scopeOf(all, 'T1059.004'), 'constant.other.mitre.palisade');
  assert.equal(scopeOf(all, 'process'), 'variable.language.subject.palisade');
  assert.equal(scopeOf(all, 'memory_limit'), 'variable.other.property.palisade');
  assert.equal(scopeOf(all, '512MiB'), 'constant.numeric.palisade');
  assert.equal(scopeOf(all, 'and'), 'keyword.operator.logical.palisade');
  assert.equal(scopeOf(all, '\\/'), 'constant.character.escape.palisade');
  assert.equal(scopeOf(all, 'exec_path'), 'variable.other.property.palisade');
  // The message's placeholders are paths inside the string.
  const brace = all.find(([t, s]) => t === '{' && s.startsWith('punctuation.section.interpolation'));
  assert.ok(brace, JSON.stringify(all));
});

test('enforcement actions and clause keywords are scoped without their indentation', async () => {
  const all = await tokens('policy "p" {\n  enforce scale_to_zero, kill_pod\n}');
  assert.equal(scopeOf(all, 'enforce'), 'keyword.other.clause.palisade');
  assert.equal(scopeOf(all, 'kill_pod'), 'constant.language.palisade');
});
