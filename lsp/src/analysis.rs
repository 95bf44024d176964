//! One analysis of a workspace: every document parsed and checked together (lists and
//! macros are shared between files), diagnostics per document, and the names in each.

use crate::locate::{self, Occurrence, Target};
use crate::text::LineIndex;
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Uri};
use palisade_lang::ast::{self, ItemKind};
use palisade_lang::diag::Severity;
use palisade_lang::span::Span;
use palisade_lang::{Diagnostic, SourceFile, Sources};
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

/// What a document holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `.pal` policy file.
    Policy,
    /// A StackRox policy (JSON), checked through the importer.
    StackRox,
}

impl Kind {
    /// The kind of the document at `uri`, by its extension.
    pub fn of(uri: &str) -> Kind {
        if uri.to_ascii_lowercase().ends_with(".json") {
            Kind::StackRox
        } else {
            Kind::Policy
        }
    }
}

/// One document of the analysis.
#[derive(Debug)]
pub struct File {
    /// Its URI.
    pub uri: String,
    /// What it holds.
    pub kind: Kind,
    /// Its text as the editor has it.
    pub text: String,
    /// Lines of `text`.
    pub lines: LineIndex,
    /// Its parsed items (for StackRox JSON: of the translated policy).
    pub parsed: ast::File,
    /// The names in it (empty for StackRox JSON: positions there are not the policy's).
    pub occurrences: Vec<Occurrence>,
    /// What parsing found (none until it is parsed).
    syntax: Option<Syntax>,
    /// Why a StackRox document could not be imported.
    import_error: Option<String>,
}

/// A parse's errors, kept with the parse.
#[derive(Debug)]
struct Syntax {
    errors: Vec<Diagnostic>,
    /// An item failed to parse.
    failed: bool,
}

/// Where a list, macro or policy is defined.
#[derive(Clone, Debug)]
pub struct Definition {
    /// The file (an index into [`Analysis::files`]).
    pub file: usize,
    /// The name's span.
    pub name: Span,
    /// The whole item's span.
    pub item: Span,
}

/// The workspace, analysed.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Documents by index (the index of their source).
    pub files: Vec<File>,
    /// Their sources, as the checker saw them.
    pub sources: Sources,
    /// Lists by name.
    pub lists: BTreeMap<String, Vec<Definition>>,
    /// Macros by name.
    pub macros: BTreeMap<String, Vec<Definition>>,
    /// Policies by name.
    pub policies: BTreeMap<String, Vec<Definition>>,
    /// Diagnostics by document URI (every document has an entry, empty when clean).
    pub diagnostics: BTreeMap<String, Vec<lsp_types::Diagnostic>>,
    /// The checker's diagnostics, by file index, for code actions.
    pub raw: Vec<Vec<Diagnostic>>,
    /// The checked policy set, when the workspace has no errors.
    pub checked: Option<palisade_lang::hir::CheckedSet>,
    /// `checked` compiled, when a code lens first needs it.
    pub matcher: std::cell::OnceCell<Result<palisade_engine::Matcher, String>>,
}

impl Analysis {
    /// Analyses `documents` (URI and text), in that order. Documents whose text did not
    /// change since `previous` keep their parse (typing in one file of a large workspace
    /// parses that file again, and checks them all).
    pub fn new<'a>(
        documents: impl IntoIterator<Item = (&'a str, &'a str)>,
        previous: Analysis,
    ) -> Analysis {
        let mut analysis = Analysis::default();
        let mut kept: HashMap<String, (File, String)> = previous
            .files
            .into_iter()
            .zip(previous.sources.files)
            .map(|(f, source)| (f.uri.clone(), (f, source.text)))
            .collect();
        for (uri, text) in documents {
            let index = analysis.files.len();
            match kept.remove(uri).filter(|(f, _)| f.text == text) {
                Some((mut f, checked_text)) => {
                    if let Some(syntax) = &mut f.syntax {
                        for d in &mut syntax.errors {
                            d.file = index;
                        }
                    }
                    analysis.sources.add(SourceFile::new(uri, checked_text));
                    analysis.files.push(f);
                }
                None => {
                    let kind = Kind::of(uri);
                    let (checked_text, import_error) = match kind {
                        Kind::Policy => (text.to_string(), None),
                        Kind::StackRox => match palisade_stackrox::translate_document(text) {
                            Ok(pal) => (pal, None),
                            Err(e) => (String::new(), Some(e.to_string())),
                        },
                    };
                    analysis.sources.add(SourceFile::new(uri, checked_text));
                    analysis.files.push(File {
                        uri: uri.to_string(),
                        kind,
                        text: text.to_string(),
                        lines: LineIndex::new(text),
                        parsed: empty_file(),
                        occurrences: Vec::new(),
                        syntax: None,
                        import_error,
                    });
                }
            }
        }
        // Parse what changed.
        for (i, f) in analysis.files.iter_mut().enumerate() {
            if f.syntax.is_none() {
                let (file, errors, failed) = palisade_lang::parse_recover(&analysis.sources, i);
                if f.kind == Kind::Policy {
                    f.occurrences = locate::occurrences(&file);
                }
                f.parsed = file;
                f.syntax = Some(Syntax { errors, failed });
            }
        }
        // Check everything together, as `palisade compile` does: after a syntax error only
        // the syntax errors (the broken item's names would all be reported unknown).
        let parsed: Vec<(usize, ast::File)> = analysis
            .files
            .iter_mut()
            .enumerate()
            .map(|(i, f)| (i, std::mem::replace(&mut f.parsed, empty_file())))
            .collect();
        let mut raw: Vec<Vec<Diagnostic>> = vec![Vec::new(); analysis.files.len()];
        let mut syntax_failed = false;
        for f in &analysis.files {
            if let Some(syntax) = &f.syntax {
                syntax_failed |= syntax.failed;
            }
        }
        let mut found = palisade_lang::lint::missing_data_traps(&analysis.sources, &parsed);
        for f in &analysis.files {
            found.extend(f.syntax.iter().flat_map(|s| s.errors.iter().cloned()));
        }
        if !syntax_failed {
            match palisade_lang::check(&analysis.sources, &parsed) {
                Ok(set) => analysis.checked = Some(set),
                Err(errors) => found.extend(errors),
            }
        }
        for d in found {
            if let Some(list) = raw.get_mut(d.file) {
                list.push(d);
            }
        }
        for list in &mut raw {
            list.sort_by_key(|d| d.span.start);
        }
        for (i, file) in parsed {
            if let Some(f) = analysis.files.get_mut(i) {
                f.parsed = file;
            }
        }
        analysis.index_definitions();
        for (i, f) in analysis.files.iter().enumerate() {
            let mut out: Vec<lsp_types::Diagnostic> = raw
                .get(i)
                .map(|ds| ds.iter().map(|d| analysis.to_lsp(i, d)).collect())
                .unwrap_or_default();
            if let Some(message) = &f.import_error {
                out.push(lsp_types::Diagnostic {
                    range: f.lines.range(&f.text, 0, 0),
                    severity: Some(DiagnosticSeverity::ERROR),
                    source: Some("palisade".into()),
                    message: format!("cannot import this StackRox policy: {message}"),
                    ..Default::default()
                });
            }
            analysis.diagnostics.insert(f.uri.clone(), out);
        }
        analysis.raw = raw;
        analysis
    }

    /// The index of the document at `uri`.
    pub fn file_of(&self, uri: &str) -> Option<usize> {
        self.files.iter().position(|f| f.uri == uri)
    }

    /// Notes where every list, macro and policy is defined.
    fn index_definitions(&mut self) {
        for (i, f) in self.files.iter().enumerate() {
            for item in &f.parsed.items {
                let (map, name, span) = match &item.kind {
                    ItemKind::List(l) => (&mut self.lists, l.name.node.clone(), l.name.span),
                    ItemKind::Macro(m) => (&mut self.macros, m.name.node.clone(), m.name.span),
                    ItemKind::Policy(p) => (&mut self.policies, p.name.value.clone(), p.name.span),
                    ItemKind::Test(_) => continue,
                };
                map.entry(name).or_default().push(Definition {
                    file: i,
                    name: span,
                    item: item.span,
                });
            }
        }
    }

    /// The range of `span` in file `file`: for StackRox JSON, where the policy the span is
    /// in is named in the JSON (else the file's start).
    pub fn range(&self, file: usize, span: Span) -> lsp_types::Range {
        let Some(f) = self.files.get(file) else {
            return lsp_types::Range::default();
        };
        match f.kind {
            Kind::Policy => f.lines.range(&f.text, span.start, span.end),
            Kind::StackRox => {
                let policy = f.parsed.items.iter().find_map(|item| match &item.kind {
                    ItemKind::Policy(p)
                        if item.span.start <= span.start && span.end <= item.span.end =>
                    {
                        Some(p.name.value.as_str())
                    }
                    _ => None,
                });
                let found = policy.and_then(|name| {
                    let quoted = serde_json::to_string(name).ok()?;
                    let at = f.text.find(&quoted)?;
                    Some((at, at + quoted.len()))
                });
                let (start, end) = found.unwrap_or((0, 0));
                f.lines.range(&f.text, start, end)
            }
        }
    }

    /// A location in the workspace.
    pub fn location(&self, file: usize, span: Span) -> Option<Location> {
        let uri = Uri::from_str(&self.files.get(file)?.uri).ok()?;
        Some(Location::new(uri, self.range(file, span)))
    }

    /// A checker diagnostic as the editor shows it: the label and help in the message,
    /// the related spans as related information.
    fn to_lsp(&self, file: usize, d: &Diagnostic) -> lsp_types::Diagnostic {
        let mut message = d.message.clone();
        if !d.label.is_empty()
            && !d.message.contains(&d.label)
            && self.files.get(file).is_some_and(|f| f.kind == Kind::Policy)
        {
            message.push_str(&format!("\n{}", d.label));
        }
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        let related: Vec<DiagnosticRelatedInformation> = d
            .related
            .iter()
            .filter_map(|l| {
                Some(DiagnosticRelatedInformation {
                    location: self.location(file, l.span)?,
                    message: l.message.clone(),
                })
            })
            .collect();
        lsp_types::Diagnostic {
            range: self.range(file, d.span),
            severity: Some(match d.severity {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
            }),
            code: d
                .help
                .as_deref()
                .and_then(suggestion)
                .map(|_| NumberOrString::String("did-you-mean".into())),
            source: Some("palisade".into()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            ..Default::default()
        }
    }

    /// The occurrence at byte `offset` of file `file`.
    pub fn at(&self, file: usize, offset: usize) -> Option<&Occurrence> {
        locate::at_offset(&self.files.get(file)?.occurrences, offset)
    }

    /// The definitions a target refers to: a list or macro by name, a policy by name.
    pub fn definitions(&self, target: &Target) -> Vec<&Definition> {
        match target {
            Target::Name(n) | Target::Word(n) | Target::ListDef(n) | Target::MacroDef(n) => {
                let mut found = named(&self.lists, n);
                found.extend(named(&self.macros, n));
                found
            }
            Target::PolicyDef(n) | Target::PolicyRef(n) => named(&self.policies, n),
            _ => Vec::new(),
        }
    }

    /// The name a target refers to, when it is a list, macro or policy of the workspace.
    pub fn defined_name(&self, target: &Target) -> Option<(NameKind, String)> {
        match target {
            Target::Name(n) | Target::Word(n) | Target::ListDef(n) | Target::MacroDef(n) => {
                if self.lists.contains_key(n) {
                    Some((NameKind::List, n.clone()))
                } else if self.macros.contains_key(n) {
                    Some((NameKind::Macro, n.clone()))
                } else {
                    None
                }
            }
            Target::PolicyDef(n) | Target::PolicyRef(n) => self
                .policies
                .contains_key(n)
                .then(|| (NameKind::Policy, n.clone())),
            _ => None,
        }
    }

    /// Every occurrence (file and span) of a list, macro or policy name, its definitions
    /// included.
    pub fn references(&self, kind: NameKind, name: &str) -> Vec<(usize, Span)> {
        let mut out = Vec::new();
        for (i, f) in self.files.iter().enumerate() {
            for o in &f.occurrences {
                let same = match (&o.target, kind) {
                    (Target::Name(n) | Target::Word(n) | Target::ListDef(n), NameKind::List)
                    | (Target::Name(n) | Target::MacroDef(n), NameKind::Macro)
                    | (Target::PolicyDef(n) | Target::PolicyRef(n), NameKind::Policy) => n == name,
                    _ => false,
                };
                if same {
                    out.push((i, o.span));
                }
            }
        }
        out.sort_by_key(|(file, span)| (*file, span.start));
        out
    }
}

fn named<'a>(map: &'a BTreeMap<String, Vec<Definition>>, name: &str) -> Vec<&'a Definition> {
    map.get(name).into_iter().flatten().collect()
}

/// What a workspace name defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// `list name = [...]`
    List,
    /// `macro name = condition`
    Macro,
    /// `policy "name" { ... }`
    Policy,
}

/// The name a "did you mean `x`?" help suggests.
pub fn suggestion(help: &str) -> Option<&str> {
    let rest = help.strip_prefix("did you mean `")?;
    rest.strip_suffix("`?")
}

fn empty_file() -> ast::File {
    ast::File {
        items: Vec::new(),
        trailing_comments: Vec::new(),
        unplaced_comments: Vec::new(),
    }
}
