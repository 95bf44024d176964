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
    /// Per image record (by index, built by [`Dataset::finish`]): the indexes of its
    /// scanned components that list vulnerabilities. Most components list none, and
    /// `any` over vulnerabilities is false for them, so conditions over every
    /// vulnerability of every component walk these alone.
    components_with_vulns: Vec<Box<[usize]>>,
    /// A process-unique id, renewed by [`Dataset::finish`]: caches keyed by object
    /// addresses include it, so a later dataset at the same addresses never hits them.
    pub(crate) generation: u64,
}

static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The indexes of an image's scanned components whose vulnerability list is not empty.
fn listing_vulns(image: &Image) -> Box<[usize]> {
    let components = image
        .scan
        .as_ref()
        .and_then(|s| s.components.as_deref())
        .unwrap_or(&[]);
    components
        .iter()
        .enumerate()
        .filter(|(_, c)| c.vulns.as_ref().is_some_and(|v| !v.is_empty()))
        .map(|(i, _)| i)
        .collect()
}

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
    /// name parts of inline images, and indexes each image's components. Call once after
    /// the last [`Dataset::add`], and again after changing records through the public
    /// fields (the joins and indexes describe the records as they were).
    pub fn finish(&mut self) {
        self.generation = GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.components_with_vulns = self.images.iter().map(listing_vulns).collect();
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

    /// The indexes of the components of `image` that list vulnerabilities, when `image` is
    /// one of this dataset's image records and the dataset has not changed since
    /// [`Dataset::finish`]; `None` otherwise (the caller then walks every component).
    pub(crate) fn components_with_vulns(&self, image: &Image) -> Option<&[usize]> {
        self.components_with_vulns
            .get(self.image_index(image)?)
            .map(|listed| &listed[..])
    }

    /// The place of `image` in [`Dataset::images`], when it is one of this dataset's image
    /// records and the dataset has not changed since [`Dataset::finish`]; `None` otherwise
    /// (an inline image, or a dataset changed by [`Dataset::add`]).
    pub(crate) fn image_index(&self, image: &Image) -> Option<usize> {
        if self.generation == 0 {
            return None;
        }
        crate::value::offset_in(&self.images, image)
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
        self.resolve(self.process_join_index(p))
    }

    /// Joins a Kubernetes event to its deployment.
    pub fn join_kube_event<'r>(&'r self, e: &'r KubeEvent) -> EventJoin<'r> {
        self.resolve(self.deployment_join_index(e.deployment_id.as_deref()))
    }

    /// Joins a network flow to its source deployment.
    pub fn join_flow<'r>(&'r self, f: &'r NetworkFlow) -> EventJoin<'r> {
        let id = f.source.as_ref().and_then(|s| s.deployment_id.as_deref());
        self.resolve(self.deployment_join_index(id))
    }

    /// The joins of a root record: an event's deployment, container and baseline; none
    /// for a deployment or an image.
    pub fn join<'r>(&'r self, root: crate::value::Obj<'r>) -> EventJoin<'r> {
        self.resolve(self.join_index(root))
    }

    /// An event's joins as numbers into this dataset, to keep beside the event and
    /// evaluate it again later without looking them up ([`Dataset::resolve_join`]).
    pub fn join_index(&self, root: crate::value::Obj<'_>) -> JoinIndex {
        use crate::value::Obj;
        match root {
            Obj::Process(p) => self.process_join_index(p),
            Obj::Event(e) => self.deployment_join_index(e.deployment_id.as_deref()),
            Obj::Flow(f) => self
                .deployment_join_index(f.source.as_ref().and_then(|s| s.deployment_id.as_deref())),
            _ => self.no_join(),
        }
    }

    /// The joins `join` names, if it was made by this dataset since its last change
    /// ([`Dataset::add`] without [`Dataset::finish`] after it changes the numbers).
    pub fn resolve_join(&self, join: JoinIndex) -> Result<EventJoin<'_>, StaleJoin> {
        if join.generation != self.generation || self.generation == 0 {
            return Err(StaleJoin);
        }
        Ok(self.resolve(join))
    }

    /// A join with nothing joined, of this dataset.
    fn no_join(&self) -> JoinIndex {
        JoinIndex {
            generation: self.generation,
            ..JoinIndex::default()
        }
    }

    /// The join of an event that names a deployment by id.
    fn deployment_join_index(&self, id: Option<&str>) -> JoinIndex {
        JoinIndex {
            deployment: id
                .and_then(|id| self.deployment_by_id.get(id))
                .map(|&i| i as u32),
            ..self.no_join()
        }
    }

    /// The join of a process: its deployment, container and baseline.
    fn process_join_index(&self, p: &Process) -> JoinIndex {
        let deployment = p
            .deployment_id
            .as_deref()
            .and_then(|id| self.deployment_by_id.get(id))
            .copied();
        let container = match (
            deployment.and_then(|i| self.deployments.get(i)),
            p.container.as_deref(),
        ) {
            (Some(d), Some(name)) => d.containers.iter().position(|c| c.name == name),
            _ => None,
        };
        let baseline = if self.baseline_index.is_empty() {
            None
        } else {
            self.baseline_index.find(p)
        };
        let (outside_baseline, startup) =
            baseline.map_or((false, false), |i| self.baseline_index.judge(i, p));
        JoinIndex {
            generation: self.generation,
            deployment: deployment.map(|i| i as u32),
            container: container.map(|i| i as u32),
            baseline: baseline.map(|i| i as u32),
            outside_baseline,
            startup,
        }
    }

    /// The records `join` names (an index past the end names nothing).
    #[inline]
    fn resolve(&self, join: JoinIndex) -> EventJoin<'_> {
        let deployment = join
            .deployment
            .and_then(|i| self.deployments.get(i as usize));
        let baseline = join.baseline.map(|i| i as usize);
        EventJoin {
            deployment,
            container: deployment
                .zip(join.container)
                .and_then(|(d, i)| d.containers.get(i as usize)),
            outside_baseline: join.outside_baseline,
            baseline: baseline.and_then(|i| self.baselines.get(i)),
            baseline_name: baseline
                .and_then(|i| self.baseline_names.get(i))
                .map(String::as_str),
            startup: join.startup,
        }
    }
}

/// An event's joins as plain numbers ([`Dataset::join_index`]): `Copy` and free of
/// borrows, so a host can keep it beside the event. It belongs to the dataset that made
/// it, as that dataset stood: [`Dataset::resolve_join`] refuses it anywhere else, and
/// after [`Dataset::add`] or [`Dataset::finish`]. (Editing the public `deployments` or
/// `images` in place bypasses both and is not detected; as for the per-image memo, call
/// [`Dataset::finish`] after such an edit.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct JoinIndex {
    generation: u64,
    deployment: Option<u32>,
    container: Option<u32>,
    baseline: Option<u32>,
    outside_baseline: bool,
    startup: bool,
}

impl JoinIndex {
    /// The event's deployment: its index in [`Dataset::deployments`].
    pub fn deployment(&self) -> Option<usize> {
        self.deployment.map(|i| i as usize)
    }

    /// The process's container: its index in the deployment's containers.
    pub fn container(&self) -> Option<usize> {
        self.container.map(|i| i as usize)
    }

    /// The process's baseline: its index among the dataset's baselines.
    pub fn baseline(&self) -> Option<usize> {
        self.baseline.map(|i| i as usize)
    }

    /// A locked baseline exists for the container and lacks the process's exec path.
    pub fn outside_baseline(&self) -> bool {
        self.outside_baseline
    }

    /// The process started within its baseline's startup window.
    pub fn startup(&self) -> bool {
        self.startup
    }
}

/// A [`JoinIndex`] used with a dataset other than the one that made it, or after that
/// dataset changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the join was made by another dataset, or before this one changed: join the event again")]
pub struct StaleJoin;

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
