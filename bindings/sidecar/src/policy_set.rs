//! The policy set being served: compiled natively into a bundle, loaded into a plugin pool,
//! swapped atomically when the files change. A request takes the current set once and uses
//! it throughout, so it never sees a half-loaded set; a set that fails to compile is never
//! swapped in.

use palisade_api::{CompileRequest, SourceText, compile_policies};
use palisade_host::{Limits, Plugin, Pool};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// Where the policies come from.
#[derive(Clone, Debug, Default)]
pub struct PolicySource {
    /// Policy files and directories (`.pal`, StackRox `.json`).
    pub paths: Vec<PathBuf>,
    /// Also serve the built-in library (implied when there are no paths and no bundle).
    pub builtin: bool,
    /// A compiled bundle (`palisade compile -o`) instead of sources.
    pub bundle: Option<PathBuf>,
    /// A `palisade.toml` applied to the policies (enabled, enforcement, severity,
    /// exclusions); watched and reloaded with them.
    pub config: Option<PathBuf>,
    /// A baseline file (`palisade baseline learn`) that `/v1/check` evaluates processes
    /// against; watched and reloaded with the policies.
    pub baselines: Option<PathBuf>,
}

/// Largest baseline file served (it goes with every `/v1/check` request).
pub const MAX_BASELINE_BYTES: usize = 64 << 20;

/// One loaded policy set.
pub struct LoadedSet {
    /// The plugin instances with the bundle loaded.
    pub pool: Pool,
    /// Counts loads: 1 for the first set.
    pub generation: u64,
    /// Policies in the set that are evaluated (disabled ones are not counted).
    pub policies: usize,
    /// The set as the evidence log records it (its run and time are set when written).
    pub evidence: palisade_evidence::entry::PolicySet,
    /// The baseline file, checked, as `/v1/check` requests carry it to the plugin.
    pub baselines: Option<SourceText>,
}

/// Why a set was not loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The files changed while being read: try again once they settle.
    Changed,
    /// The set does not compile or load (a readable message).
    Failed(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Changed => f.write_str("the policy files changed while being read"),
            LoadError::Failed(m) => f.write_str(m),
        }
    }
}

/// What the files looked like when they were last read: (path, modified, length) sorted.
pub type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

impl PolicySource {
    /// The files this source reads (directories expanded).
    pub fn files(&self) -> Result<Vec<PathBuf>, String> {
        let mut out = palisade_lang::files::policy_files(&self.paths)?;
        out.extend(self.bundle.iter().cloned());
        out.extend(self.config.iter().cloned());
        out.extend(self.baselines.iter().cloned());
        Ok(out)
    }

    /// The current fingerprint of the files.
    /// (Paths that cannot be listed give an empty one: the reload that follows reports why.)
    pub fn fingerprint(&self) -> Fingerprint {
        self.files()
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let meta = std::fs::metadata(&p).ok();
                let modified = meta.as_ref().and_then(|m| m.modified().ok());
                let len = meta.map_or(0, |m| m.len());
                (p, modified, len)
            })
            .collect()
    }

    /// Reads the files and compiles them (or reads the bundle) into bundle text, with the
    /// fingerprint of what was read. `Err` is a readable message naming the file and
    /// position of every error. Files that change while being read are an error too (the
    /// caller retries), so a file caught mid-write is never compiled.
    pub fn bundle_text(&self) -> Result<(String, usize, Fingerprint), LoadError> {
        self.read_all()
            .map(|(bundle, enabled, _, fingerprint)| (bundle, enabled, fingerprint))
    }

    /// [`PolicySource::bundle_text`] with the checked baseline file.
    #[allow(clippy::type_complexity, reason = "one private tuple")]
    fn read_all(&self) -> Result<(String, usize, Option<SourceText>, Fingerprint), LoadError> {
        let before = self.fingerprint();
        let compiled = self
            .read_and_compile()
            .and_then(|c| self.baselines_text().map(|b| (c, b)));
        let after = self.fingerprint();
        if before != after {
            return Err(LoadError::Changed);
        }
        let ((bundle, enabled), baselines) = compiled.map_err(LoadError::Failed)?;
        Ok((bundle, enabled, baselines, after))
    }

    /// The baseline file's name and text, checked as the plugin will read it.
    fn baselines_text(&self) -> Result<Option<SourceText>, String> {
        let Some(path) = &self.baselines else {
            return Ok(None);
        };
        let text = palisade_lang::files::read_text(path, MAX_BASELINE_BYTES)?;
        let file = SourceText {
            name: path.display().to_string(),
            text,
        };
        let mut scratch = palisade_engine::Dataset::default();
        palisade_api::add_baseline_files(&mut scratch, std::slice::from_ref(&file))?;
        Ok(Some(file))
    }

    /// The configuration file's name and text.
    fn config_text(&self) -> Result<Option<SourceText>, String> {
        let Some(path) = &self.config else {
            return Ok(None);
        };
        let text = palisade_lang::files::read_text(path, palisade_config::MAX_CONFIG_BYTES)?;
        Ok(Some(SourceText {
            name: path.display().to_string(),
            text,
        }))
    }

    /// The bundle to serve and how many of its policies are enabled.
    fn read_and_compile(&self) -> Result<(String, usize), String> {
        let enabled = |program: &palisade_engine::ir::Program| {
            program.policies.iter().filter(|p| !p.disabled).count()
        };
        if let Some(path) = &self.bundle {
            let text =
                palisade_lang::files::read_text(path, palisade_lang::files::MAX_BUNDLE_BYTES)?;
            let mut program = palisade_engine::bundle::read_program(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if let Some(config) = self.config_text()? {
                palisade_api::configure(&mut program, &config)?;
            }
            // Loaded natively first: a configuration that breaks the set fails here, with
            // the message, rather than in every plugin instance.
            let matcher = palisade_engine::Matcher::new(program)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok((
                palisade_engine::bundle::write_bundle(matcher.program()),
                enabled(matcher.program()),
            ));
        }
        let mut policies = Vec::new();
        let files = palisade_lang::files::policy_files(&self.paths)?;
        if files.is_empty() && !self.paths.is_empty() {
            return Err(format!(
                "no policy files (.pal, .json) under {}",
                list(&self.paths)
            ));
        }
        for p in files {
            let text = palisade_lang::files::read_policy_text(&p)?;
            policies.push(SourceText {
                name: p.display().to_string(),
                text,
            });
        }
        let request = CompileRequest {
            builtin: self.builtin,
            policies,
            config: self.config_text()?,
        };
        let compiled = compile_policies(&request).map_err(|v| describe_failure(&v))?;
        let program = compiled.matcher.program();
        Ok((
            palisade_engine::bundle::write_bundle(program),
            enabled(program),
        ))
    }

    /// Compiles and loads a set; returns it with the fingerprint of the files it was read from.
    pub fn load(
        &self,
        plugin: &Arc<Plugin>,
        limits: Limits,
        generation: u64,
    ) -> Result<(LoadedSet, Fingerprint), LoadError> {
        let (bundle, enabled, baselines, fingerprint) = self.read_all()?;
        let program = palisade_engine::bundle::read_program(&bundle)
            .map_err(|e| LoadError::Failed(e.to_string()))?;
        let evidence = palisade_evidence::from_engine::policy_set(&program, "", "");
        let failed = |e: palisade_host::HostError| LoadError::Failed(e.to_string());
        let pool = Pool::new(plugin.clone(), bundle, limits).map_err(failed)?;
        let parallelism = std::thread::available_parallelism().map_or(2, usize::from);
        pool.warm(parallelism).map_err(failed)?;
        let set = LoadedSet {
            baselines,
            evidence,
            policies: enabled,
            pool,
            generation,
        };
        Ok((set, fingerprint))
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `file:line:col: message` per diagnostic, or the error message.
fn describe_failure(v: &Value) -> String {
    if let Some(diags) = v["diagnostics"].as_array() {
        let lines: Vec<String> = diags
            .iter()
            .map(|d| {
                format!(
                    "{}:{}:{}: {}",
                    d["file"].as_str().unwrap_or("?"),
                    d["line"],
                    d["column"],
                    d["message"].as_str().unwrap_or("?")
                )
            })
            .collect();
        return lines.join("; ");
    }
    v["error"]["message"]
        .as_str()
        .map_or_else(|| v.to_string(), str::to_string)
}

/// The set being served and the outcome of the last reload.
#[derive(Default)]
pub struct Current {
    set: RwLock<Option<Arc<LoadedSet>>>,
    last_error: RwLock<Option<String>>,
}

impl Current {
    /// The set to use for one request.
    pub fn get(&self) -> Option<Arc<LoadedSet>> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Swaps in a new set and clears the last error.
    pub fn replace(&self, set: LoadedSet) {
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(set));
        *self.last_error.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Records a failed reload (the served set stays).
    pub fn failed(&self, message: String) {
        *self.last_error.write().unwrap_or_else(|p| p.into_inner()) = Some(message);
    }

    /// Why the last reload failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
