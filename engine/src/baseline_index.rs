//! How a process finds its baseline: events come in the millions and baselines in the tens
//! of thousands, so a join reads little memory: the hash of the container's identity, one
//! key to compare (in one allocation), and a sorted array of path numbers.

use crate::record::{Baseline, Process};
use rustc_hash::{FxHashMap, FxHasher};
use smallvec::SmallVec;
use std::hash::{Hash, Hasher};

/// A (cluster, namespace, workload, container) in one allocation.
#[derive(Debug)]
struct Identity {
    text: Box<str>,
    lengths: [usize; 4],
}

impl Identity {
    fn new(parts: [&str; 4]) -> Self {
        Identity {
            text: parts.concat().into(),
            lengths: parts.map(str::len),
        }
    }

    /// Whether these are the identity's parts.
    fn is(&self, parts: [&str; 4]) -> bool {
        let mut at = 0;
        parts.iter().zip(self.lengths).all(|(part, length)| {
            let same = part.len() == length && self.text.get(at..at + length) == Some(*part);
            at += length;
            same
        })
    }
}

/// The hash of an identity's parts.
fn hash(parts: [&str; 4]) -> u64 {
    let mut hasher = FxHasher::default();
    parts.hash(&mut hasher);
    hasher.finish()
}

/// What a join needs of one baseline, so that it reads nothing else: the baseline's
/// record is not touched, and most baselines' paths are inline.
#[derive(Debug)]
struct Entry {
    /// Set when the baseline names its workload.
    identity: Option<Identity>,
    container: Box<str>,
    /// The numbers of its processes, sorted.
    paths: SmallVec<[u32; 6]>,
    /// The next baseline whose identity has the same hash.
    same_hash: Option<usize>,
    locked: bool,
    startup_seconds: Option<u64>,
}

/// The baselines of a dataset, by deployment id and by identity. Fx hashes: the keys come
/// from baseline files; an event only looks up.
#[derive(Debug, Default)]
pub(crate) struct BaselineIndex {
    entries: Vec<Entry>,
    by_id: FxHashMap<Box<str>, Vec<usize>>,
    /// The first baseline of each identity hash (the others follow `same_hash`): one
    /// lookup and no list to read for the usual single one.
    by_identity: FxHashMap<u64, usize>,
    path_numbers: FxHashMap<Box<str>, u32>,
}

/// The identity a baseline or a process is found by, when it has a workload.
fn parts<'a>(
    cluster: Option<&'a str>,
    namespace: Option<&'a str>,
    workload: &'a str,
    container: &'a str,
) -> [&'a str; 4] {
    [
        cluster.unwrap_or(""),
        namespace.unwrap_or(""),
        workload,
        container,
    ]
}

impl BaselineIndex {
    /// Whether no baseline was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds the next baseline (its number is the count before); false, adding nothing, when
    /// one with its deployment id or its workload has its container already.
    pub(crate) fn add(&mut self, b: &Baseline) -> bool {
        let index = self.entries.len();
        let id = b.deployment_id.as_deref().filter(|i| !i.is_empty());
        let workload = b.workload.as_deref().filter(|w| !w.is_empty());
        let identity = workload.map(|w| {
            parts(
                b.cluster.as_deref(),
                b.namespace.as_deref(),
                w,
                &b.container,
            )
        });
        if id.is_some_and(|id| self.by_deployment_id(id, &b.container).is_some())
            || identity.is_some_and(|parts| self.by_identity(parts).is_some())
        {
            return false;
        }
        if let Some(id) = id {
            self.by_id.entry(id.into()).or_default().push(index);
        }
        let same_hash = identity.and_then(|parts| self.by_identity.insert(hash(parts), index));
        let mut paths: SmallVec<[u32; 6]> = b
            .processes
            .iter()
            .map(|path| {
                let next = u32::try_from(self.path_numbers.len()).unwrap_or(u32::MAX);
                *self
                    .path_numbers
                    .entry(path.as_str().into())
                    .or_insert(next)
            })
            .collect();
        paths.sort_unstable();
        paths.dedup();
        self.entries.push(Entry {
            identity: identity.map(Identity::new),
            container: b.container.as_str().into(),
            paths,
            same_hash,
            locked: b.locked,
            startup_seconds: b.startup_seconds,
        });
        true
    }

    fn by_deployment_id(&self, id: &str, container: &str) -> Option<usize> {
        let list = self.by_id.get(id)?;
        list.iter().copied().find(|i| {
            self.entries
                .get(*i)
                .is_some_and(|e| &*e.container == container)
        })
    }

    fn by_identity(&self, parts: [&str; 4]) -> Option<usize> {
        let mut next = self.by_identity.get(&hash(parts)).copied();
        while let Some(i) = next {
            let entry = self.entries.get(i)?;
            if entry.identity.as_ref().is_some_and(|id| id.is(parts)) {
                return Some(i);
            }
            next = entry.same_hash;
        }
        None
    }

    /// The number of a process's baseline: by deployment id, else by cluster, namespace,
    /// workload ([`Process::workload`]) and container.
    pub(crate) fn find(&self, p: &Process) -> Option<usize> {
        let container = p.container.as_deref()?;
        if let Some(i) = p
            .deployment_id
            .as_deref()
            .and_then(|id| self.by_deployment_id(id, container))
        {
            return Some(i);
        }
        let parts = parts(
            p.cluster.as_deref(),
            p.namespace.as_deref(),
            p.workload()?,
            container,
        );
        self.by_identity(parts)
    }

    /// Whether baseline number `index` lists `path`.
    #[cfg(test)]
    fn lists(&self, index: usize, path: &str) -> bool {
        self.entries
            .get(index)
            .is_some_and(|entry| self.entry_lists(entry, path))
    }

    fn entry_lists(&self, entry: &Entry, path: &str) -> bool {
        self.path_numbers
            .get(path)
            .is_some_and(|number| entry.paths.binary_search(number).is_ok())
    }

    /// Whether `p` is outside baseline number `index` ([`Baseline::excludes`]), and whether
    /// it started within the baseline's startup window.
    pub(crate) fn judge(&self, index: usize, p: &Process) -> (bool, bool) {
        let Some(entry) = self.entries.get(index) else {
            return (false, false);
        };
        (
            crate::record::excluded(entry.locked, entry.startup_seconds, p, |path| {
                self.entry_lists(entry, path)
            }),
            crate::record::started_within(entry.startup_seconds, p),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts are compared whole: moving characters from one part to the next is another
    /// identity, even with the same concatenation.
    #[test]
    fn identities_compare_part_by_part() {
        let identity = Identity::new(["eu", "shop", "api", "web"]);
        assert!(identity.is(["eu", "shop", "api", "web"]));
        assert!(!identity.is(["eus", "hop", "api", "web"]));
        assert!(!identity.is(["eu", "shop", "apiweb", ""]));
        assert!(!identity.is(["", "eushop", "api", "web"]));
        assert!(!identity.is(["eu", "shop", "api", "we"]));
        assert!(Identity::new(["", "", "", ""]).is(["", "", "", ""]));
    }

    fn baseline(namespace: &str, workload: &str, container: &str, paths: &[&str]) -> Baseline {
        Baseline {
            namespace: Some(namespace.into()),
            workload: Some(workload.into()),
            container: container.into(),
            processes: paths.iter().map(|p| p.to_string()).collect(),
            ..Baseline::default()
        }
    }

    /// Identities whose hashes collide are told apart along the chain.
    #[test]
    fn colliding_hashes_follow_the_chain() {
        let mut index = BaselineIndex::default();
        assert!(index.add(&baseline("shop", "api", "web", &["/bin/a"])));
        assert!(index.add(&baseline("shop", "db", "web", &["/bin/b"])));
        let (api, db) = (["", "shop", "api", "web"], ["", "shop", "db", "web"]);
        // As if db's hash were api's: the bucket starts at db, then api.
        index.by_identity.remove(&hash(db));
        index.by_identity.insert(hash(api), 1);
        index.entries[1].same_hash = Some(0);
        assert_eq!(index.by_identity(api), Some(0));
        assert_eq!(
            index.by_identity(db),
            None,
            "db's own hash has no bucket now"
        );
        index.by_identity.insert(hash(db), 1);
        assert_eq!(index.by_identity(db), Some(1));
        assert_eq!(index.by_identity(["", "shop", "web", "web"]), None);
    }

    #[test]
    fn processes_find_their_baseline_and_paths() {
        let mut index = BaselineIndex::default();
        assert!(index.add(&baseline(
            "shop",
            "api",
            "web",
            &["/bin/b", "/bin/a", "/bin/a"]
        )));
        assert!(index.add(&baseline("shop", "api", "sidecar", &["/bin/c"])));
        assert!(index.add(&baseline("prod", "api", "web", &["/bin/c"])));
        assert!(
            !index.add(&baseline("shop", "api", "web", &[])),
            "a duplicate"
        );
        let process = |pod: &str, container: &str| Process {
            namespace: Some("shop".into()),
            pod: Some(pod.into()),
            container: Some(container.into()),
            ..Process::default()
        };
        assert_eq!(index.find(&process("api-7d4b9c5f6-x2x9z", "web")), Some(0));
        assert_eq!(index.find(&process("api-x2x9z", "sidecar")), Some(1));
        assert_eq!(index.find(&process("api-x2x9z", "other")), None);
        assert_eq!(index.find(&process("web-x2x9z", "web")), None);
        assert!(index.lists(0, "/bin/a") && index.lists(0, "/bin/b"));
        assert!(!index.lists(0, "/bin/c") && index.lists(1, "/bin/c"));
        assert!(!index.lists(0, "/bin/d") && !index.lists(7, "/bin/a"));
    }

    /// The judgement is the baseline record's own ([`Baseline::excludes`]), from what the
    /// index keeps of it.
    #[test]
    fn judgements_are_the_records() {
        let mut index = BaselineIndex::default();
        let many: Vec<String> = (0..20).map(|i| format!("/bin/p{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let mut baselines = vec![
            baseline("shop", "api", "web", &["/bin/a"]),
            baseline("shop", "api", "sidecar", &many),
            baseline("shop", "db", "web", &["/bin/a", "/bin/b"]),
        ];
        baselines[0].locked = true;
        baselines[1].locked = true;
        baselines[1].startup_seconds = Some(60);
        for b in &baselines {
            assert!(index.add(b));
        }
        let t = |s: i64| Some(crate::record::Timestamp(1_790_000_000 + s));
        for (i, b) in baselines.iter().enumerate() {
            for path in [
                None,
                Some("/bin/a"),
                Some("/bin/b"),
                Some("/bin/p19"),
                Some("/x"),
            ] {
                for (time, start) in [(t(30), t(0)), (t(90), t(0)), (t(0), t(30)), (t(5), None)] {
                    let p = Process {
                        exec_path: path.map(str::to_string),
                        time,
                        container_start: start,
                        ..Process::default()
                    };
                    assert_eq!(
                        index.judge(i, &p),
                        (b.excludes(&p), b.is_startup(&p)),
                        "baseline {i}, {path:?}, {time:?} from {start:?}"
                    );
                }
            }
        }
        assert_eq!(index.judge(9, &Process::default()), (false, false));
    }
}
