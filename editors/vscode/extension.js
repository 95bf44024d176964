// The Palisade extension: starts `palisade lsp` (stdio) for .pal files and hands the
// editor to it through vscode-languageclient.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration('palisade').get('path') || 'palisade';
  const server = { command, args: ['lsp'] };
  client = new LanguageClient(
    'palisade',
    'Palisade',
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: 'file', language: 'palisade' }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.pal') },
    },
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
