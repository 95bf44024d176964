//! The evaluation context: deployments, images and baselines of one input, joined.
//! Events (processes, Kubernetes events, flows) are not stored; they are evaluated
//! against the dataset one at a time.

use crate::record::*;
use std::collections::HashMap;

/// Why records could not be joined into a dataset.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DatasetError {
    /// Two deployments share an id.
    #[error("duplicate deployment id `{0}`")]
    DuplicateDeployment(String),
    /// An image record has neither an id nor a full name.
    #[error("an image record needs an `id` or a `name.full_name`")]
    AnonymousImage,
    /// A baseline cannot be used.
    #[error("baseline `{0}`: {1}")]
    InvalidBaseline(String, String),
    /// Two baselines for one container of one workload.
    #[error("two baselines for `{0}`")]
    DuplicateBaseline(String),
}

/// Context records of one input with their joins resolved.
#[derive(Debug, Default)]
pub struct Dataset {
    /// Deployments in input order.
    pub deployments: Vec<Deployment>,
    /// Image records in input order.
    pub images: Vec<Image>,
    image_by_id: HashMap<String, usize>,
    image_by_name: HashMap<String, usize>,
    image_by_reference: HashMap<String, usize>,
    deployment_by_id: HashMap<String, usize>,
    baselines: Vec<Baseline>,
    baseline_names: Vec<String>,
    /// How processes find their baseline.
    baseline_index: crate::baseline_index::BaselineIndex,
    /// A process-unique id, renewed by [`Dataset::finish`]: caches keyed by object
    /// addresses include it, so a later dataset at the same addresses never hits them.
    pub(crate) generation: u64,
}

static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// An event's place in the dataset: its deployment and container.
#[derive(Clone, Copy, Debug, Default)]
pub struct EventJoin<'r> {
    /// The event's deployment.
    pub deployment: Option<&'r Deployment>,
    /// The process's container (process events only).
    pub container: Option<&'r Container>,
    /// A locked baseline exists for the container and lacks the process's exec path.
    pub outside_baseline: bool,
    /// The process's baseline, if its container has one.
    pub baseline: Option<&'r Baseline>,
    /// That baseline's name ([`Baseline::name`]).
    pub baseline_name: Option<&'r str>,
    /// The process started within the baseline's startup window of its container's start.
    pub startup: bool,
}

impl Dataset {
    /// Adds a deployment, image or baseline; other records are handed back.
    pub fn add(&mut self, record: Record) -> Result<Option<Record>, DatasetError> {
        // Objects may move: per-image caches stay off until the next `finish`.
        self.generation = 0;
        match record {
            Record::Deployment(d) => {
                if self
                    .deployment_by_id
                    .insert(d.id.clone(), self.deployments.len())
                    .is_some()
                {
                    return Err(DatasetError::DuplicateDeployment(d.id));
                }
                self.deployments.push(d);
            }
            Record::Image(i) => {
                if i.id.is_none() && i.full_name().is_none() {
                    return Err(DatasetError::AnonymousImage);
                }
                let idx = self.images.len();
                if let Some(id) = &i.id {
                    self.image_by_id.entry(id.clone()).or_insert(idx);
                }
                if let Some(name) = i.full_name() {
                    self.image_by_name.entry(name.to_string()).or_insert(idx);
                    self.image_by_reference
                        .entry(reference(name))
                        .or_insert(idx);
                }
                self.images.push(fill_name(i));
            }
            Record::Baseline(b) => self.add_baseline(b)?,
            other => return Ok(Some(other)),
        }
        Ok(None)
    }

    /// Adds a baseline, found by its deployment id and by its workload's name.
    fn add_baseline(&mut self, b: Baseline) -> Result<(), DatasetError> {
        if let Some(problem) = b.problem() {
            return Err(DatasetError::InvalidBaseline(b.name(), problem));
        }
        if !self.baseline_index.add(&b) {
            return Err(DatasetError::DuplicateBaseline(b.name()));
        }
        self.baseline_names.push(b.name());
        self.baselines.push(b);
        Ok(())
    }

    /// The baseline of a process's container: by deployment id, else by the cluster,
    /// namespace and workload name ([`Process::workload`]).
    pub fn baseline_of(&self, p: &Process) -> Option<&Baseline> {
        self.baseline_index
            .find(p)
            .and_then(|i| self.baselines.get(i))
    }

    /// Every baseline, in input order.
    pub fn baselines(&self) -> &[Baseline] {
        &self.baselines
    }

    /// Joins containers to image records (by digest, then by full name) and fills the
    /// name parts of inline images. Call once after the last [`Dataset::add`].
    pub fn finish(&mut self) {
        self.generation = GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for d in &mut self.deployments {
            for c in &mut d.containers {
                let Some(img) = c.image.take() else { continue };
                let joined = img
                    .id
                    .as_ref()
                    .and_then(|id| self.image_by_id.get(id))
                    .or_else(|| img.full_name().and_then(|n| self.image_by_name.get(n)))
                    .or_else(|| {
                        img.full_name()
                            .and_then(|n| self.image_by_reference.get(&reference(n)))
                    });
                c.joined_image = joined.copied();
                c.image = Some(fill_name(img));
            }
        }
    }

    /// The image a container runs: the joined record, else the inline image (a stub when it holds only a name).
    pub fn image_of<'r>(&'r self, c: &'r Container) -> Option<&'r Image> {
        match c.joined_image {
            Some(i) => self.images.get(i),
            None => c.image.as_ref(),
        }
    }

    /// Every record to evaluate, as root objects: deployments, then images, then `events`
    /// (processes, Kubernetes events, network flows) in their order.
    pub fn roots<'r>(&'r self, events: &'r [Record]) -> Vec<crate::value::Obj<'r>> {
        use crate::value::Obj;
        let mut out: Vec<Obj<'r>> = self
            .deployments
            .iter()
            .map(Obj::Deployment)
            .chain(self.images.iter().map(Obj::Image))
            .collect();
        out.extend(events.iter().filter_map(|e| match e {
            Record::Process(p) => Some(Obj::Process(p)),
            Record::KubeEvent(k) => Some(Obj::Event(k)),
            Record::NetworkFlow(f) => Some(Obj::Flow(f)),
            _ => None,
        }));
        out
    }

    /// The deployment with this id.
    pub fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployment_by_id
            .get(id)
            .and_then(|i| self.deployments.get(*i))
    }

    /// Joins a process to its deployment, container and baseline.
    pub fn join_process<'r>(&'r self, p: &'r Process) -> EventJoin<'r> {
        let deployment = p
            .deployment_id
            .as_deref()
            .and_then(|id| self.deployment(id));
        let container = match (deployment, p.container.as_deref()) {
            (Some(d), Some(name)) => d.containers.iter().find(|c| c.name == name),
            _ => None,
        };
        let index = if self.baseline_index.is_empty() {
            None
        } else {
            self.baseline_index.find(p)
        };
        let (outside_baseline, startup) =
            index.map_or((false, false), |i| self.baseline_index.judge(i, p));
        EventJoin {
            deployment,
            container,
            outside_baseline,
            baseline: index.and_then(|i| self.baselines.get(i)),
            baseline_name: index
                .and_then(|i| self.baseline_names.get(i))
                .map(String::as_str),
            startup,
        }
    }

    /// Joins a Kubernetes event to its deployment.
    pub fn join_kube_event<'r>(&'r self, e: &'r KubeEvent) -> EventJoin<'r> {
        EventJoin {
            deployment: e
                .deployment_id
                .as_deref()
                .and_then(|id| self.deployment(id)),
            ..Default::default()
        }
    }

    /// Joins a network flow to its source deployment.
    pub fn join_flow<'r>(&'r self, f: &'r NetworkFlow) -> EventJoin<'r> {
        let id = f.source.as_ref().and_then(|s| s.deployment_id.as_deref());
        EventJoin {
            deployment: id.and_then(|id| self.deployment(id)),
            ..Default::default()
        }
    }
}

/// An image reference in normal form (`docker.io/library/nginx:latest` for `nginx`), so
/// that a manifest's `nginx:1.25` joins a scan of `docker.io/library/nginx:1.25`.
fn reference(full_name: &str) -> String {
    let n = parse_image_name(full_name);
    format!(
        "{}/{}:{}",
        n.registry.unwrap_or_default(),
        n.remote.unwrap_or_default(),
        n.tag.unwrap_or_default()
    )
}

/// Completes an image as StackRox's enrichment would: name parts from the full name, and
/// the verifiers of `verified` signature results covering this image added to `verified_by`.
fn fill_name(mut img: Image) -> Image {
    let full_name = img.full_name().map(str::to_string);
    if let Some(sig) = img.signature.as_mut() {
        let covered: Vec<String> = sig
            .results
            .iter()
            .filter(|r| palisade_lang::schema::loose_eq(&r.status, "verified"))
            .filter(|r| {
                r.verified_references.is_empty()
                    || full_name
                        .as_ref()
                        .is_some_and(|n| r.verified_references.contains(n))
            })
            .map(|r| r.verifier.clone())
            .collect();
        let list = sig.verified_by.get_or_insert_with(Vec::new);
        for v in covered {
            if !list.contains(&v) {
                list.push(v);
            }
        }
    }
    if let Some(full) = full_name {
        let parsed = parse_image_name(&full);
        let name = img.name.get_or_insert_with(Default::default);
        name.registry = name.registry.take().or(parsed.registry);
        name.remote = name.remote.take().or(parsed.remote);
        name.tag = name.tag.take().or(parsed.tag);
    }
    img
}
