// The language server through the client's protocol layer (vscode-jsonrpc, which
// vscode-languageclient speaks): `palisade lsp` started as the extension starts it, then
// initialize, a document with an error, hover, completion and shutdown.
// PALISADE_BIN names the executable (default: the repository's release build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import rpc from 'vscode-jsonrpc/node';

const bin = process.env.PALISADE_BIN
  ?? fileURLToPath(new URL('../../../target/release/palisade', import.meta.url));

test('palisade lsp answers the client protocol', { skip: !process.env.PALISADE_BIN && !existsSync(bin) && `${bin} is not built` }, async () => {
  const server = spawn(bin, ['lsp'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const connection = rpc.createMessageConnection(
    new rpc.StreamMessageReader(server.stdout),
    new rpc.StreamMessageWriter(server.stdin),
  );
  const published = [];
  let notify;
  connection.onNotification('textDocument/publishDiagnostics', (params) => {
    published.push(params);
    if (notify) notify();
  });
  connection.listen();
  const init = await connection.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
  assert.equal(init.serverInfo.name, 'palisade');
  assert.equal(init.capabilities.hoverProvider, true);
  await connection.sendNotification('initialized', {});
  const uri = 'file:///tmp/palisade-vscode-test/p.pal';
  const text = 'policy "p" {\n  severity high\n  lifecycle deploy\n  soc2 CC7.2\n  when container.privilegd\n}\n';
  const arrived = new Promise((resolve) => { notify = resolve; });
  await connection.sendNotification('textDocument/didOpen', {
    textDocument: { uri, languageId: 'palisade', version: 1, text },
  });
  await arrived;
  const diagnostics = published.find((p) => p.uri === uri).diagnostics;
  assert.equal(diagnostics.length, 1);
  assert.match(diagnostics[0].message, /did you mean `privileged`\?/);
  const hover = await connection.sendRequest('textDocument/hover', {
    textDocument: { uri }, position: { line: 3, character: 8 },
  });
  assert.match(hover.contents.value, /SOC 2 CC7\.2/);
  const completion = await connection.sendRequest('textDocument/completion', {
    textDocument: { uri }, position: { line: 4, character: 17 },
  });
  assert.ok(completion.some((item) => item.label === 'privileged'), JSON.stringify(completion));
  await connection.sendRequest('shutdown');
  const exited = new Promise((resolve) => server.on('exit', resolve));
  await connection.sendNotification('exit');
  assert.equal(await exited, 0);
  connection.dispose();
});
