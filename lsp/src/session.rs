//! A language server session: JSON-RPC messages in, messages out, with no I/O of its own
//! (the stdio transport and the browser both drive it).

use crate::analysis::Analysis;
use crate::{complete, edits, hover, lens, navigate};
use lsp_server::{ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{self as note, Notification as _};
use lsp_types::request::{self as req, Request as _};
use lsp_types::{
    CompletionOptions, DocumentFormattingParams, DocumentRangeFormattingParams,
    DocumentSymbolParams, GotoDefinitionParams, Hover, HoverContents, HoverParams,
    HoverProviderCapability, InitializeParams, InitializeResult, MarkupContent, MarkupKind, OneOf,
    Position, PublishDiagnosticsParams, ReferenceParams, ServerCapabilities, ServerInfo,
    TextDocumentContentChangeEvent, TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Reads the policy files of a workspace folder: (URI, text) of each.
pub type FolderReader = fn(&str) -> Vec<(String, String)>;

/// A document the server knows.
#[derive(Debug)]
struct Document {
    text: String,
    /// Read from the workspace folder (kept when the editor closes it).
    on_disk: bool,
}

/// One language server session.
#[derive(Debug, Default)]
pub struct Session {
    documents: BTreeMap<String, Document>,
    analysis: Analysis,
    /// Diagnostics last sent, by URI.
    published: BTreeMap<String, Vec<lsp_types::Diagnostic>>,
    initialized: bool,
    shut_down: bool,
    exited: bool,
    read_folder: Option<FolderReader>,
    clock: Option<Clock>,
}

/// The time now, in Unix seconds: the clock of tests that name none.
pub type Clock = fn() -> i64;

/// Largest document the server analyses (the language's own limit).
const MAX_DOCUMENT_BYTES: usize = palisade_lang::MAX_SOURCE_BYTES;

impl Session {
    /// A session that knows only the documents the editor opens.
    pub fn new() -> Session {
        Session::default()
    }

    /// The session, reading the policy files of the workspace folders it is given.
    pub fn with_folders(mut self, read_folder: FolderReader) -> Session {
        self.read_folder = Some(read_folder);
        self
    }

    /// The session, with a clock for tests that name no `now` (without one they run at
    /// the Unix epoch).
    pub fn with_clock(mut self, clock: Clock) -> Session {
        self.clock = Some(clock);
        self
    }

    /// Whether the client sent `exit`.
    pub fn exited(&self) -> bool {
        self.exited
    }

    /// The exit code the process should end with (0 after `shutdown`, 1 otherwise).
    pub fn exit_code(&self) -> i32 {
        if self.shut_down { 0 } else { 1 }
    }

    /// Handles one message; returns the messages to send back, in order.
    pub fn handle(&mut self, message: Message) -> Vec<Message> {
        match message {
            Message::Request(r) => self.request(r),
            Message::Notification(n) => self.notification(n),
            Message::Response(_) => Vec::new(),
        }
    }

    fn request(&mut self, r: Request) -> Vec<Message> {
        let id = r.id.clone();
        if r.method == req::Initialize::METHOD {
            return match parse::<InitializeParams>(r.params) {
                Ok(params) => vec![ok(id, self.initialize(&params))],
                Err(e) => vec![fail(id, ErrorCode::InvalidParams, e)],
            };
        }
        if !self.initialized {
            return vec![fail(
                id,
                ErrorCode::ServerNotInitialized,
                "initialize first".into(),
            )];
        }
        if self.shut_down {
            return vec![fail(
                id,
                ErrorCode::InvalidRequest,
                "the server is shutting down".into(),
            )];
        }
        let result = match r.method.as_str() {
            req::Shutdown::METHOD => {
                self.shut_down = true;
                Ok(Value::Null)
            }
            req::HoverRequest::METHOD => self.with::<HoverParams>(r.params, |s, p| {
                let at = &p.text_document_position_params;
                let (file, offset) = s.place(&at.text_document.uri, at.position)?;
                let (text, span) = hover::hover(&s.analysis, file, offset)?;
                to_value(Hover {
                    contents: HoverContents::Markup(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value: text,
                    }),
                    range: Some(s.analysis.range(file, span)),
                })
            }),
            req::Completion::METHOD => {
                self.with::<lsp_types::CompletionParams>(r.params, |s, p| {
                    let at = &p.text_document_position;
                    let (file, offset) = s.place(&at.text_document.uri, at.position)?;
                    to_value(complete::complete(&s.analysis, file, offset))
                })
            }
            req::GotoDefinition::METHOD => self.with::<GotoDefinitionParams>(r.params, |s, p| {
                let at = &p.text_document_position_params;
                let (file, offset) = s.place(&at.text_document.uri, at.position)?;
                to_value(navigate::definition(&s.analysis, file, offset))
            }),
            req::References::METHOD => self.with::<ReferenceParams>(r.params, |s, p| {
                let at = &p.text_document_position;
                let (file, offset) = s.place(&at.text_document.uri, at.position)?;
                to_value(navigate::references(
                    &s.analysis,
                    file,
                    offset,
                    p.context.include_declaration,
                ))
            }),
            req::DocumentSymbolRequest::METHOD => {
                self.with::<DocumentSymbolParams>(r.params, |s, p| {
                    let file = s.analysis.file_of(p.text_document.uri.as_str())?;
                    to_value(navigate::symbols(&s.analysis, file))
                })
            }
            req::Formatting::METHOD => {
                return self.edit::<DocumentFormattingParams>(id, r.params, |s, p| {
                    let file = s.analysis.file_of(p.text_document.uri.as_str());
                    file.map(|f| edits::format_document(&s.analysis, f))
                });
            }
            req::RangeFormatting::METHOD => {
                return self.edit::<DocumentRangeFormattingParams>(id, r.params, |s, p| {
                    let (file, start) = s.place(&p.text_document.uri, p.range.start)?;
                    let (_, end) = s.place(&p.text_document.uri, p.range.end)?;
                    Some(edits::format_range(&s.analysis, file, start, end))
                });
            }
            req::CodeLensRequest::METHOD => {
                self.with::<lsp_types::CodeLensParams>(r.params, |s, p| {
                    let file = s.analysis.file_of(p.text_document.uri.as_str())?;
                    let now = s.clock.map_or(0, |clock| clock());
                    to_value(lens::lenses(&s.analysis, file, now))
                })
            }
            req::CodeActionRequest::METHOD => {
                self.with::<lsp_types::CodeActionParams>(r.params, |s, p| {
                    let (file, start) = s.place(&p.text_document.uri, p.range.start)?;
                    let (_, end) = s.place(&p.text_document.uri, p.range.end)?;
                    to_value(edits::fixes(&s.analysis, file, start, end))
                })
            }
            _ => Err((
                ErrorCode::MethodNotFound,
                format!("`{}` is not supported", r.method),
            )),
        };
        vec![match result {
            Ok(v) => ok(id, v),
            Err((code, message)) => fail(id, code, message),
        }]
    }

    /// Runs a request whose answer is `null` when it concerns nothing the server knows.
    fn with<P: DeserializeOwned>(
        &self,
        params: Value,
        f: impl FnOnce(&Session, &P) -> Option<Value>,
    ) -> Result<Value, (ErrorCode, String)> {
        let p = parse::<P>(params).map_err(|e| (ErrorCode::InvalidParams, e))?;
        Ok(f(self, &p).unwrap_or(Value::Null))
    }

    /// A formatting request: edits, or an error the editor shows.
    fn edit<P: DeserializeOwned>(
        &self,
        id: RequestId,
        params: Value,
        f: impl FnOnce(&Session, &P) -> Option<Result<Vec<lsp_types::TextEdit>, String>>,
    ) -> Vec<Message> {
        let p = match parse::<P>(params) {
            Ok(p) => p,
            Err(e) => return vec![fail(id, ErrorCode::InvalidParams, e)],
        };
        vec![match f(self, &p) {
            None => ok(id, Value::Null),
            Some(Ok(edits)) => ok(id, to_value(edits).unwrap_or(Value::Null)),
            Some(Err(why)) => fail(id, ErrorCode::RequestFailed, why),
        }]
    }

    /// The file and byte offset of a position in a document.
    fn place(&self, uri: &Uri, position: Position) -> Option<(usize, usize)> {
        let file = self.analysis.file_of(uri.as_str())?;
        let f = self.analysis.files.get(file)?;
        Some((file, f.lines.offset(&f.text, position)))
    }

    fn initialize(&mut self, params: &InitializeParams) -> Value {
        self.initialized = true;
        if let Some(read) = self.read_folder {
            #[allow(deprecated, reason = "older clients send only root_uri")]
            let folders: Vec<String> = match (&params.workspace_folders, &params.root_uri) {
                (Some(folders), _) => folders.iter().map(|f| f.uri.as_str().to_string()).collect(),
                (None, Some(root)) => vec![root.as_str().to_string()],
                (None, None) => Vec::new(),
            };
            for folder in folders {
                for (uri, text) in read(&folder) {
                    self.documents.entry(uri).or_insert(Document {
                        text,
                        on_disk: true,
                    });
                }
            }
            self.analyse();
        }
        let capabilities = ServerCapabilities {
            text_document_sync: Some(TextDocumentSyncCapability::Kind(
                TextDocumentSyncKind::INCREMENTAL,
            )),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            completion_provider: Some(CompletionOptions {
                trigger_characters: Some(vec![".".into(), " ".into()]),
                ..Default::default()
            }),
            definition_provider: Some(OneOf::Left(true)),
            references_provider: Some(OneOf::Left(true)),
            document_symbol_provider: Some(OneOf::Left(true)),
            document_formatting_provider: Some(OneOf::Left(true)),
            document_range_formatting_provider: Some(OneOf::Left(true)),
            code_action_provider: Some(lsp_types::CodeActionProviderCapability::Simple(true)),
            code_lens_provider: Some(lsp_types::CodeLensOptions {
                resolve_provider: Some(false),
            }),
            ..Default::default()
        };
        to_value(InitializeResult {
            capabilities,
            server_info: Some(ServerInfo {
                name: "palisade".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
        })
        .unwrap_or(Value::Null)
    }

    fn notification(&mut self, n: Notification) -> Vec<Message> {
        if n.method == note::Exit::METHOD {
            self.exited = true;
            return Vec::new();
        }
        if !self.initialized {
            return Vec::new();
        }
        let changed = match n.method.as_str() {
            // The workspace's files were read at `initialize`: their diagnostics now.
            note::Initialized::METHOD => true,
            note::DidOpenTextDocument::METHOD => {
                parse::<lsp_types::DidOpenTextDocumentParams>(n.params).is_ok_and(|p| {
                    let doc = p.text_document;
                    let on_disk = self
                        .documents
                        .get(doc.uri.as_str())
                        .is_some_and(|d| d.on_disk);
                    self.documents.insert(
                        doc.uri.as_str().to_string(),
                        Document {
                            text: doc.text,
                            on_disk,
                        },
                    );
                    true
                })
            }
            note::DidChangeTextDocument::METHOD => {
                parse::<lsp_types::DidChangeTextDocumentParams>(n.params).is_ok_and(|p| match self
                    .documents
                    .get_mut(p.text_document.uri.as_str())
                {
                    Some(doc) => {
                        for change in p.content_changes {
                            apply(&mut doc.text, change);
                        }
                        true
                    }
                    None => false,
                })
            }
            note::DidCloseTextDocument::METHOD => {
                parse::<lsp_types::DidCloseTextDocumentParams>(n.params).is_ok_and(|p| {
                    let uri = p.text_document.uri.as_str();
                    match self.documents.get(uri) {
                        // A workspace file stays in the workspace with the text the
                        // editor last had (saved, the usual case on close).
                        Some(doc) if doc.on_disk => false,
                        Some(_) => {
                            self.documents.remove(uri);
                            true
                        }
                        None => false,
                    }
                })
            }
            _ => false,
        };
        if changed {
            self.analyse();
            self.publish()
        } else {
            Vec::new()
        }
    }

    /// Analyses every document again.
    fn analyse(&mut self) {
        let docs = self.documents.iter().map(|(uri, d)| {
            let text = if d.text.len() > MAX_DOCUMENT_BYTES {
                ""
            } else {
                d.text.as_str()
            };
            (uri.as_str(), text)
        });
        let previous = std::mem::take(&mut self.analysis);
        self.analysis = Analysis::new(docs, previous);
        for (uri, d) in &self.documents {
            if d.text.len() > MAX_DOCUMENT_BYTES
                && let Some(list) = self.analysis.diagnostics.get_mut(uri)
            {
                list.push(lsp_types::Diagnostic {
                    message: format!(
                        "this document is larger than {} MiB: not analysed",
                        MAX_DOCUMENT_BYTES >> 20
                    ),
                    severity: Some(lsp_types::DiagnosticSeverity::ERROR),
                    source: Some("palisade".into()),
                    ..Default::default()
                });
            }
        }
    }

    /// Diagnostics of every document whose diagnostics changed (and empty ones for
    /// documents that are gone).
    fn publish(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        let gone: Vec<String> = self
            .published
            .keys()
            .filter(|uri| !self.analysis.diagnostics.contains_key(*uri))
            .cloned()
            .collect();
        for uri in gone {
            self.published.remove(&uri);
            out.extend(diagnostics_message(&uri, Vec::new()));
        }
        for (uri, diags) in &self.analysis.diagnostics {
            // Files only read from disk are reported too: an error there breaks the set.
            if self.published.get(uri) != Some(diags) {
                self.published.insert(uri.clone(), diags.clone());
                out.extend(diagnostics_message(uri, diags.clone()));
            }
        }
        out
    }
}

/// Applies one change to a document's text (a range, or the whole text).
fn apply(text: &mut String, change: TextDocumentContentChangeEvent) {
    match change.range {
        None => *text = change.text,
        Some(range) => {
            let lines = crate::text::LineIndex::new(text);
            let start = lines.offset(text, range.start);
            let end = lines.offset(text, range.end).max(start);
            text.replace_range(start..end, &change.text);
        }
    }
}

fn diagnostics_message(uri: &str, diagnostics: Vec<lsp_types::Diagnostic>) -> Option<Message> {
    let uri = Uri::from_str(uri).ok()?;
    let params = PublishDiagnosticsParams::new(uri, diagnostics, None);
    Some(Message::Notification(Notification::new(
        note::PublishDiagnostics::METHOD.into(),
        params,
    )))
}

fn parse<P: DeserializeOwned>(params: Value) -> Result<P, String> {
    serde_json::from_value(params).map_err(|e| format!("invalid parameters: {e}"))
}

fn to_value(v: impl serde::Serialize) -> Option<Value> {
    serde_json::to_value(v).ok()
}

fn ok(id: RequestId, result: Value) -> Message {
    Message::Response(Response::new_ok(id, result))
}

fn fail(id: RequestId, code: ErrorCode, message: String) -> Message {
    Message::Response(Response::new_err(id, code as i32, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(v: Value) -> Message {
        serde_json::from_value(v).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn requests_wait_for_initialize_and_large_documents_are_reported_not_analysed() {
        let mut session = Session::new();
        let early = session.handle(message(serde_json::json!({"jsonrpc": "2.0", "id": 1,
            "method": "textDocument/hover", "params": {}})));
        let Some(Message::Response(r)) = early.first() else {
            unreachable!("{early:?}")
        };
        assert_eq!(
            r.error.as_ref().map(|e| e.code),
            Some(ErrorCode::ServerNotInitialized as i32)
        );
        session.handle(message(serde_json::json!({"jsonrpc": "2.0", "id": 2,
            "method": "initialize", "params": {"processId": null, "capabilities": {}}})));
        session.handle(message(
            serde_json::json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
        ));
        let huge = "x".repeat(MAX_DOCUMENT_BYTES + 1);
        let out = session.handle(message(serde_json::json!({"jsonrpc": "2.0",
            "method": "textDocument/didOpen", "params": {"textDocument": {
                "uri": "file:///w/huge.pal", "languageId": "palisade", "version": 1, "text": huge}}})));
        let Some(Message::Notification(n)) = out.first() else {
            unreachable!("{out:?}")
        };
        let messages: Vec<&str> = n.params["diagnostics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["message"].as_str())
            .collect();
        assert_eq!(
            messages,
            ["this document is larger than 16 MiB: not analysed"]
        );
    }
}
