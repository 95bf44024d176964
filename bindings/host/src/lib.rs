//! Hosts Palisade's WASM plugin (wasm/plugin, docs/plugin-abi.md) with wasmtime.
//!
//! - [`Plugin`]: the module, compiled once per process ([`Plugin::embedded`] caches it) and
//!   shared by every pool; an epoch ticker thread drives per-call deadlines.
//! - [`Pool`]: one loaded bundle and the instances that have it loaded, checked out one per
//!   call, so concurrent callers never share an instance. A call gets a deadline (epoch
//!   interruption) and a memory cap; a trap, an exceeded deadline or memory cap is an
//!   error for that call only, and the instance that trapped is dropped, never reused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wasmtime::{Config, Engine, Instance, Memory, Module, ResourceLimiter, Store, Trap, TypedFunc};

/// The plugin embedded at build time (empty when the build had no wasm32 toolchain).
pub static EMBEDDED_PLUGIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/plugin.wasm"));

/// The plugin ABI version this host speaks.
pub const ABI_VERSION: u32 = 1;

/// How often the epoch advances: the granularity of deadlines.
const TICK: Duration = Duration::from_millis(5);

/// Why a call (or loading the plugin or a bundle) failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The module is missing, not WASM, or does not export the ABI.
    #[error("plugin: {0}")]
    Plugin(String),
    /// The bundle was refused by the plugin.
    #[error("bundle refused by the plugin: {0}")]
    Bundle(String),
    /// The call ran past its deadline.
    #[error("the plugin call ran past its deadline of {0:?}")]
    Deadline(Duration),
    /// The call needed more memory than the cap.
    #[error("the plugin call needed more than its memory cap of {0} bytes")]
    Memory(usize),
    /// The plugin trapped.
    #[error("the plugin trapped: {0}")]
    Trap(String),
    /// The request is larger than a guest buffer can hold.
    #[error("the request is too large for the plugin ({0} bytes)")]
    TooLarge(usize),
}

impl HostError {
    /// True when the instance that produced this error must not be reused.
    pub fn is_trap(&self) -> bool {
        matches!(
            self,
            HostError::Deadline(_) | HostError::Memory(_) | HostError::Trap(_)
        )
    }
}

/// Per-call limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Wall-clock budget of one call (rounded up to the 5 ms epoch tick).
    pub deadline: Duration,
    /// Largest linear memory an instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Instances kept loaded and idle for reuse.
    pub max_idle: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(10),
            memory_bytes: 512 << 20,
            max_idle: 8,
        }
    }
}

/// The compiled plugin module.
pub struct Plugin {
    engine: Engine,
    module: Module,
    ticking: Arc<AtomicBool>,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

static EMBEDDED: OnceLock<Result<Arc<Plugin>, String>> = OnceLock::new();

impl Plugin {
    /// The embedded plugin, compiled on first use and cached for the process.
    pub fn embedded() -> Result<Arc<Plugin>, HostError> {
        EMBEDDED
            .get_or_init(|| {
                if EMBEDDED_PLUGIN.is_empty() {
                    return Err("this build has no embedded plugin: it was built without a wasm32 toolchain from sources that differ from the committed prebuilt plugin's. Install a toolchain (`rustup target add wasm32-unknown-unknown`, or Debian's rustc-web cargo-web rust-web-src lld-22) and run cargo again (it rebuilds by itself), or set PALISADE_PLUGIN_WASM=FILE".into());
                }
                Plugin::new(EMBEDDED_PLUGIN).map(Arc::new).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(HostError::Plugin)
    }

    /// Compiles a plugin module and checks its ABI version.
    pub fn new(wasm: &[u8]) -> Result<Plugin, HostError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| HostError::Plugin(e.to_string()))?;
        let module = Module::new(&engine, wasm)
            .map_err(|e| HostError::Plugin(format!("not a loadable module: {e}")))?;
        if let Some(import) = module.imports().next() {
            return Err(HostError::Plugin(format!(
                "the module imports `{}::{}`; a Palisade plugin imports nothing",
                import.module(),
                import.name()
            )));
        }
        let ticking = Arc::new(AtomicBool::new(true));
        let (ticker_engine, running) = (engine.clone(), ticking.clone());
        std::thread::Builder::new()
            .name("palisade-epoch".into())
            .spawn(move || {
                while running.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| HostError::Plugin(format!("cannot start the epoch thread: {e}")))?;
        let plugin = Plugin {
            engine,
            module,
            ticking,
        };
        let mut probe = Worker::new(&plugin, Limits::default())?;
        let version = probe.abi_version()?;
        if version != ABI_VERSION {
            return Err(HostError::Plugin(format!(
                "plugin ABI version {version}, this host speaks {ABI_VERSION}"
            )));
        }
        Ok(plugin)
    }
}

/// Caps linear memory and remembers when it refused to grow it.
struct Limiter {
    memory_bytes: usize,
    refused: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 16)
    }
}

/// One instance of the plugin with its store.
struct Worker {
    store: Store<Limiter>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), ()>,
    load: TypedFunc<(i32, i32), i64>,
    check: TypedFunc<(i32, i32), i64>,
    /// `palisade_check_part`, when the plugin exports it (plugins before it did not).
    check_part: Option<TypedFunc<(i32, i32, i32, i32), i64>>,
    trap: TypedFunc<(), ()>,
    version: TypedFunc<(), i32>,
    limits: Limits,
}

impl Worker {
    fn new(plugin: &Plugin, limits: Limits) -> Result<Self, HostError> {
        let abi = |e: wasmtime::Error| {
            HostError::Plugin(format!("does not export the Palisade ABI: {e}"))
        };
        let mut store = Store::new(
            &plugin.engine,
            Limiter {
                memory_bytes: limits.memory_bytes,
                refused: false,
            },
        );
        store.limiter(|l| l);
        store.set_epoch_deadline(ticks(limits.deadline));
        let instance = Instance::new(&mut store, &plugin.module, &[])
            .map_err(|e| HostError::Plugin(format!("cannot instantiate: {e}")))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| HostError::Plugin("does not export `memory`".into()))?;
        Ok(Worker {
            alloc: instance
                .get_typed_func(&mut store, "palisade_alloc")
                .map_err(abi)?,
            free: instance
                .get_typed_func(&mut store, "palisade_free")
                .map_err(abi)?,
            load: instance
                .get_typed_func(&mut store, "palisade_load")
                .map_err(abi)?,
            check: instance
                .get_typed_func(&mut store, "palisade_check")
                .map_err(abi)?,
            check_part: match instance.get_export(&mut store, "palisade_check_part") {
                Some(_) => Some(
                    instance
                        .get_typed_func(&mut store, "palisade_check_part")
                        .map_err(abi)?,
                ),
                None => None,
            },
            trap: instance
                .get_typed_func(&mut store, "palisade_trap")
                .map_err(abi)?,
            version: instance
                .get_typed_func(&mut store, "palisade_abi_version")
                .map_err(abi)?,
            store,
            memory,
            limits,
        })
    }

    /// Classifies a wasmtime error from a call.
    fn failure(&mut self, e: wasmtime::Error) -> HostError {
        if self.store.data().refused {
            return HostError::Memory(self.limits.memory_bytes);
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => HostError::Deadline(self.limits.deadline),
            _ => HostError::Trap(format!("{e:#}")),
        }
    }

    fn arm(&mut self) {
        self.store.set_epoch_deadline(ticks(self.limits.deadline));
    }

    fn abi_version(&mut self) -> Result<u32, HostError> {
        self.arm();
        let v = self
            .version
            .call(&mut self.store, ())
            .map_err(|e| self.failure(e))?;
        Ok(v as u32)
    }

    /// Calls `palisade_load`, `palisade_check` or `palisade_check_part` with `input`,
    /// returning the output text.
    fn call(&mut self, call: Call, input: &[u8]) -> Result<String, HostError> {
        // The export is found before the request buffer is taken: a part call to a plugin
        // without `palisade_check_part` is refused, never run as a whole check.
        let export = match call {
            Call::Load => Export::Whole(self.load.clone()),
            Call::Check => Export::Whole(self.check.clone()),
            Call::CheckPart { index, of } => match &self.check_part {
                Some(part) => Export::Part(part.clone(), index as i32, of as i32),
                None => {
                    return Err(HostError::Plugin(
                        "the plugin does not export palisade_check_part".into(),
                    ));
                }
            },
        };
        self.arm();
        let len = i32::try_from(input.len()).map_err(|_| HostError::TooLarge(input.len()))?;
        let ptr = self
            .alloc
            .call(&mut self.store, len)
            .map_err(|e| self.failure(e))?;
        if ptr == 0 && len > 0 {
            return Err(HostError::Memory(self.limits.memory_bytes));
        }
        self.memory
            .write(&mut self.store, ptr as u32 as usize, input)
            .map_err(|e| HostError::Trap(format!("writing the request: {e}")))?;
        let answer = match export {
            Export::Whole(f) => f.call(&mut self.store, (ptr, len)),
            Export::Part(f, index, of) => f.call(&mut self.store, (ptr, len, index, of)),
        };
        let packed = answer.map_err(|e| self.failure(e))? as u64;
        self.free
            .call(&mut self.store, (ptr, len))
            .map_err(|e| self.failure(e))?;
        let (out_ptr, out_len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        let text = self
            .memory
            .data(&self.store)
            .get(out_ptr..out_ptr.saturating_add(out_len))
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .ok_or_else(|| {
                HostError::Trap(format!(
                    "the plugin returned an out-of-bounds buffer ({out_ptr}+{out_len})"
                ))
            })?;
        self.free
            .call(&mut self.store, (out_ptr as i32, out_len as i32))
            .map_err(|e| self.failure(e))?;
        Ok(text)
    }
}

/// Which export a [`Worker::call`] calls.
#[derive(Clone, Copy)]
enum Call {
    Load,
    Check,
    CheckPart { index: u32, of: u32 },
}

/// The export a [`Call`] resolves to, with its arguments beyond the request.
enum Export {
    /// `palisade_load` or `palisade_check`: the request alone.
    Whole(TypedFunc<(i32, i32), i64>),
    /// `palisade_check_part`: the request, the part's index and the number of parts.
    Part(TypedFunc<(i32, i32, i32, i32), i64>, i32, i32),
}

fn ticks(d: Duration) -> u64 {
    (d.as_micros() / TICK.as_micros()).max(1) as u64 + 1
}

/// A loaded bundle and the plugin instances that have it loaded.
pub struct Pool {
    plugin: Arc<Plugin>,
    bundle: Arc<str>,
    limits: Limits,
    idle: Mutex<Vec<Worker>>,
    policies: usize,
}

impl Pool {
    /// Loads `bundle` into a first instance (so a refused bundle is an error here, not later).
    pub fn new(plugin: Arc<Plugin>, bundle: String, limits: Limits) -> Result<Pool, HostError> {
        let mut pool = Pool {
            plugin,
            bundle: bundle.into(),
            limits,
            idle: Mutex::new(Vec::new()),
            policies: 0,
        };
        let (first, policies) = pool.instance()?;
        pool.policies = policies;
        pool.put_back(first);
        Ok(pool)
    }

    /// Creates idle instances (with the bundle loaded) until `n` are idle or `max_idle` is
    /// reached, so the first concurrent calls do not pay for instantiation.
    pub fn warm(&self, n: usize) -> Result<(), HostError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).len();
        for _ in idle..n.min(self.limits.max_idle) {
            let (inst, _) = self.instance()?;
            self.put_back(inst);
        }
        Ok(())
    }

    /// Instances idle in the pool.
    pub fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Policies in the bundle.
    pub fn policies(&self) -> usize {
        self.policies
    }

    /// The limits every call gets.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A fresh instance with the bundle loaded, and the bundle's policy count.
    fn instance(&self) -> Result<(Worker, usize), HostError> {
        let mut inst = Worker::new(&self.plugin, self.limits)?;
        let answer = inst.call(Call::Load, self.bundle.as_bytes())?;
        let v: serde_json::Value = serde_json::from_str(&answer)
            .map_err(|e| HostError::Plugin(format!("unreadable answer to load: {e}")))?;
        if v["ok"] != serde_json::Value::Bool(true) {
            return Err(HostError::Bundle(
                v["error"]["message"]
                    .as_str()
                    .unwrap_or(&answer)
                    .to_string(),
            ));
        }
        Ok((inst, v["policies"].as_u64().unwrap_or(0) as usize))
    }

    fn take(&self) -> Result<Worker, HostError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(i) => Ok(i),
            None => self.instance().map(|(i, _)| i),
        }
    }

    fn put_back(&self, inst: Worker) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.limits.max_idle {
            idle.push(inst);
        }
    }

    /// Evaluates a check request (see docs/plugin-abi.md): the CLI's JSON report, or the
    /// plugin's `{"error"}` JSON for a bad request. `Err` when the call trapped or ran out
    /// of time or memory; the instance is then dropped and the next call gets a fresh one.
    pub fn check(&self, request: &str) -> Result<String, HostError> {
        let mut inst = self.take()?;
        let outcome = inst.call(Call::Check, request.as_bytes());
        self.done(inst, &outcome);
        outcome
    }

    /// Puts an instance back after a call, unless the call trapped (or ran out of time or
    /// memory): such an instance is dropped, any other outcome leaves it sound.
    fn done(&self, inst: Worker, outcome: &Result<String, HostError>) {
        if !outcome.as_ref().is_err_and(HostError::is_trap) {
            self.put_back(inst);
        }
    }

    /// Evaluates a check request in `parts` parts at once, each on an instance of its own
    /// on a thread of its own (`palisade_check_part`: every part reads the whole input
    /// and evaluates a contiguous run of its records), and merges their answers: byte for
    /// byte what [`Pool::check`] answers, sooner on several cores. One call when `parts`
    /// is below 2 or the plugin does not export `palisade_check_part`; at most
    /// `Limits::max_idle` parts (more would be instances created for one call and dropped
    /// after it). `Err` is the first part's (in input order) that trapped or ran out of
    /// time or memory.
    pub fn check_parts(&self, request: &str, parts: usize) -> Result<String, HostError> {
        let parts = parts.min(self.limits.max_idle);
        let Ok(of) = u32::try_from(parts) else {
            return self.check(request);
        };
        if of < 2 {
            return self.check(request);
        }
        let mut workers = Vec::with_capacity(parts);
        for _ in 0..parts {
            match self.take() {
                Ok(w) => workers.push(w),
                Err(e) => {
                    workers.into_iter().for_each(|w| self.put_back(w));
                    return Err(e);
                }
            }
        }
        if workers.iter().any(|w| w.check_part.is_none()) {
            workers.into_iter().for_each(|w| self.put_back(w));
            return self.check(request);
        }
        let bytes = request.as_bytes();
        let outcomes: Vec<Result<String, HostError>> = std::thread::scope(|scope| {
            let mut workers = workers.into_iter();
            let first = workers.next();
            let others: Vec<_> = (1..)
                .zip(workers)
                .map(|(index, mut w)| {
                    scope.spawn(move || {
                        let outcome = w.call(Call::CheckPart { index, of }, bytes);
                        (w, outcome)
                    })
                })
                .collect();
            // The first part runs on this thread while the others run on theirs.
            let mut outcomes = Vec::with_capacity(parts);
            if let Some(mut w) = first {
                let outcome = w.call(Call::CheckPart { index: 0, of }, bytes);
                self.done(w, &outcome);
                outcomes.push(outcome);
            }
            for handle in others {
                outcomes.push(match handle.join() {
                    Ok((w, outcome)) => {
                        self.done(w, &outcome);
                        outcome
                    }
                    Err(_) => Err(HostError::Trap("a part's thread failed".into())),
                });
            }
            outcomes
        });
        let mut answers = Vec::with_capacity(parts);
        for outcome in outcomes {
            answers.push(outcome?);
        }
        palisade_engine::json_report::merge_parts(&answers)
            .map_err(|e| HostError::Trap(format!("the parts' answers do not merge: {e}")))
    }

    /// Makes one instance trap on purpose (the plugin's `palisade_trap` test hook); the
    /// instance is dropped like after any trap. For fault tests of hosts built on this.
    pub fn force_trap(&self) -> HostError {
        let mut inst = match self.take() {
            Ok(i) => i,
            Err(e) => return e,
        };
        inst.arm();
        match inst.trap.call(&mut inst.store, ()) {
            Err(e) => inst.failure(e),
            Ok(()) => HostError::Trap("palisade_trap returned instead of trapping".into()),
        }
    }
}
