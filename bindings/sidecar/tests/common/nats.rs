//! Helpers of the event consumer's tests and bench: a `nats-server -js` of one's own, a
//! `palisade-serve --events` process, the consumer's state, generated events.
#![allow(
    dead_code,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly; each user uses a part"
)]

use async_nats::jetstream;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// "Now" of every replica.
pub const NOW: &str = "2026-11-26T12:00:00Z";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `nats-server -js` of this test; killed when dropped.
pub struct Nats {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
}

impl Nats {
    /// None (the test is skipped, and says so) when nats-server is missing and not required.
    pub fn start(test: &str) -> Option<Nats> {
        let found = Command::new("nats-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var("PALISADE_REQUIRE_NATS").is_err(),
                "PALISADE_REQUIRE_NATS is set but nats-server is not on PATH (apt-get install nats-server)"
            );
            eprintln!(
                "!!! SKIPPED: {test}: nats-server is not on PATH (apt-get install nats-server)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut nats = Nats {
            child: None,
            port,
            store: tempfile::tempdir().unwrap(),
        };
        nats.run();
        Some(nats)
    }

    pub fn run(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "nats-server did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `kill -9` of the server, then the same server on the same port and store.
    pub fn restart(&mut self, down: Duration) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        std::thread::sleep(down);
        self.run();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A `palisade-serve --events` process; its log lines are kept.
pub struct Replica {
    pub child: Child,
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Replica {
    pub fn start(nats: &Nats, args: &[&str], env: &[(&str, &str)]) -> Replica {
        let mut command = Command::new(env!("CARGO_BIN_EXE_palisade-serve"));
        command
            .args([
                "--listen",
                "127.0.0.1:0",
                "--drain-ms",
                "0",
                "--events",
                &nats.url(),
            ])
            .args(args)
            .env("PALISADE_NOW", NOW)
            .env_remove("PALISADE_EVIDENCE_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = loop {
            let line = lines
                .next()
                .expect("serve exited before listening")
                .unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            log.lock().unwrap().push(line.clone());
            if v["msg"] == "listening" {
                break v["addr"].as_str().unwrap().to_string();
            }
        };
        // Keep reading, so the server never blocks on a full pipe.
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Replica { child, addr, log }
    }

    /// A counter or gauge of `/metrics` (0 when absent).
    pub fn metric(&self, name: &str) -> u64 {
        let Ok(mut s) = TcpStream::connect(&self.addr) else {
            return 0;
        };
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    }

    pub fn logged(&self, text: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(text)).cloned().collect()
    }

    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for the exit (the evidence log's run is finished).
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub async fn jetstream_of(nats: &Nats) -> jetstream::Context {
    jetstream::new(async_nats::connect(nats.url()).await.unwrap())
}

/// (pending, waiting for an ack, redelivered) of the durable consumer.
pub fn consumer_state(nats: &Nats, durable: &str) -> Option<(u64, usize, usize)> {
    runtime().block_on(async {
        let js = jetstream_of(nats).await;
        let stream = js.get_stream("PALISADE_EVENTS").await.ok()?;
        let info = stream.consumer_info(durable).await.ok()?;
        Some((info.num_pending, info.num_ack_pending, info.num_redelivered))
    })
}

/// Waits until the consumer has nothing pending or unacked.
pub fn wait_drained(nats: &Nats, durable: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        if let Some((0, 0, _)) = consumer_state(nats, durable) {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "the consumer was not drained within {limit:?}: {:?}",
            consumer_state(nats, durable)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `n` process events; every tenth is a shell (one violation of the example policies).
pub fn process_events(dir: &Path, n: usize, tag: &str) -> (PathBuf, BTreeSet<String>) {
    let path = dir.join(format!("{tag}.jsonl"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut shells = BTreeSet::new();
    for i in 0..n {
        let shell = i % 10 == 0;
        let id = format!("{tag}-{i}");
        if shell {
            shells.insert(id.clone());
        }
        let (name, path) = if shell {
            ("bash", "/bin/bash")
        } else {
            ("server", "/app/server")
        };
        writeln!(
            f,
            r#"{{"kind":"process","id":"{id}","time":"2026-11-26T09:00:00Z","namespace":"prod","deployment_id":"d{}","deployment":"app-{}","pod":"app-{}-x","container":"api","name":"{name}","exec_path":"{path}","uid":0,"gid":0,"lineage":[]}}"#,
            i % 50,
            i % 50,
            i % 50
        )
        .unwrap();
    }
    f.flush().unwrap();
    (path, shells)
}

pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

pub fn keygen(dir: &Path) -> PathBuf {
    // The sidecar crate has the evidence library: the key is made as `evidence keygen` does.
    let key = palisade_evidence::store::generate_key("test.palisade").unwrap();
    let path = dir.join("test.key");
    std::fs::write(&path, key.encode() + "\n").unwrap();
    path
}

/// `palisade-serve publish` of files, with `extra` arguments (stream, subjects); its stdout.
pub fn publish_files(nats: &Nats, extra: &[&str], files: &[&Path]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
        .args(["publish", "--events", &nats.url()])
        .args(extra)
        .arg("--input")
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "publish failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
