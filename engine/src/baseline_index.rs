//! How a process finds its baseline: events come in the millions and baselines in the tens
//! of thousands, so a join reads little memory: the hash of the container's identity, and
//! one entry of two cache lines holding the key to compare and the sorted path numbers.

use crate::record::{Baseline, Process};
use rustc_hash::{FxHashMap, FxHasher};
use smallvec::SmallVec;
use std::hash::Hasher;

/// A (cluster, namespace, workload, container) as one string of bytes: each of the first
/// three parts after its length (LEB128), then the last. Equal parts give equal bytes and
/// other parts other bytes; most keys are short enough to stay inline, where the entry is.
type Key = SmallVec<[u8; 40]>;

/// The key of an identity's parts.
fn key(parts: [&str; 4]) -> Key {
    let mut out = Key::new();
    for (i, part) in parts.iter().enumerate() {
        if i < 3 {
            let mut n = part.len();
            while n >= 0x80 {
                out.push((n & 0x7f) as u8 | 0x80);
                n >>= 7;
            }
            out.push(n as u8);
        }
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Whether `key` is the key of `parts` ([`key`]), read in place.
fn is_key_of(mut key: &[u8], parts: [&str; 4]) -> bool {
    for (i, part) in parts.iter().enumerate() {
        let length = if i < 3 {
            let mut n = 0usize;
            let mut shift = 0u32;
            loop {
                let Some((&byte, rest)) = key.split_first() else {
                    return false;
                };
                key = rest;
                n |= usize::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
                shift += 7;
                if byte < 0x80 {
                    break;
                }
            }
            n
        } else {
            key.len()
        };
        if length != part.len() {
            return false;
        }
        let Some((text, rest)) = key.split_at_checked(length) else {
            return false;
        };
        if text != part.as_bytes() {
            return false;
        }
        key = rest;
    }
    key.is_empty()
}

/// The hash of an identity's parts.
fn hash(parts: [&str; 4]) -> u64 {
    let mut hasher = FxHasher::default();
    for part in parts {
        hasher.write(part.as_bytes());
        hasher.write_usize(part.len());
    }
    hasher.finish()
}

/// What a join needs of one baseline, so that it reads nothing else: the baseline's
/// record is not touched, and most entries hold their key and paths in their own two
/// cache lines.
#[derive(Debug)]
#[repr(align(64))]
struct Entry {
    /// Its identity's key (empty when the baseline names no workload).
    identity: Key,
    /// The numbers of its processes, sorted.
    paths: SmallVec<[u32; 10]>,
    startup_seconds: Option<u64>,
    /// The hash of its identity's parts.
    hash: u64,
    locked: bool,
}

/// The baselines of a dataset, by deployment id and by identity. Fx hashes: the keys come
/// from baseline files; an event only looks up.
#[derive(Debug, Default)]
pub(crate) struct BaselineIndex {
    entries: Vec<Entry>,
    /// Each baseline's container (found by deployment id, it must match too).
    containers: Vec<Box<str>>,
    by_id: FxHashMap<Box<str>, Vec<usize>>,
    /// The baselines that name their workload, by their identity's key.
    by_identity: hashbrown::HashTable<u32>,
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
    /// one with its deployment id or its workload has its container already, or when the
    /// index holds 2^32 baselines.
    pub(crate) fn add(&mut self, b: &Baseline) -> bool {
        let Ok(number) = u32::try_from(self.entries.len()) else {
            return false;
        };
        let index = self.entries.len();
        let id = b.deployment_id.as_deref().filter(|i| !i.is_empty());
        let identity = b.workload.as_deref().filter(|w| !w.is_empty()).map(|w| {
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
        let mut paths: SmallVec<[u32; 10]> = b
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
        let hash = identity.map_or(0, hash);
        if identity.is_some() {
            let entries = &self.entries;
            self.by_identity.insert_unique(hash, number, |i| {
                entries.get(*i as usize).map_or(0, |e| e.hash)
            });
        }
        self.entries.push(Entry {
            identity: identity.map(key).unwrap_or_default(),
            paths,
            startup_seconds: b.startup_seconds,
            hash,
            locked: b.locked,
        });
        self.containers.push(b.container.as_str().into());
        true
    }

    fn by_deployment_id(&self, id: &str, container: &str) -> Option<usize> {
        let list = self.by_id.get(id)?;
        list.iter()
            .copied()
            .find(|i| self.containers.get(*i).is_some_and(|c| &**c == container))
    }

    /// The baseline with this identity.
    fn by_identity(&self, parts: [&str; 4]) -> Option<usize> {
        self.by_identity
            .find(hash(parts), |i| {
                self.entries
                    .get(*i as usize)
                    .is_some_and(|e| is_key_of(&e.identity, parts))
            })
            .map(|i| *i as usize)
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
        self.by_identity(parts(
            p.cluster.as_deref(),
            p.namespace.as_deref(),
            p.workload()?,
            container,
        ))
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
    /// identity, even with the same concatenation; long parts have long lengths.
    #[test]
    fn identities_compare_part_by_part() {
        let parts = ["eu", "shop", "api", "web"];
        let k = key(parts);
        assert_eq!(k, key(parts));
        assert!(is_key_of(&k, parts));
        for other in [
            ["eus", "hop", "api", "web"],
            ["eu", "shop", "apiweb", ""],
            ["", "eushop", "api", "web"],
            ["eu", "shop", "api", "we"],
            ["eu", "shop", "api", "webx"],
        ] {
            assert_ne!(k, key(other), "{other:?}");
            assert!(!is_key_of(&k, other), "{other:?}");
        }
        assert!(!is_key_of(&k[..k.len() - 1], parts), "a truncated key");
        assert!(!is_key_of(&[], parts) && !is_key_of(&[0xff; 12], parts));
        assert_eq!(key(["", "", "", ""]).as_slice(), [0, 0, 0]);
        let long = "x".repeat(300);
        let k = key([&long, "", "", ""]);
        assert_eq!(k.get(..2), Some(&[0xac, 0x02][..]), "300 in LEB128");
        assert!(is_key_of(&k, [&long, "", "", ""]));
        assert_ne!(k, key([&long[..299], "x", "", ""]));
        assert!(!is_key_of(&k, [&long[..299], "x", "", ""]));
        assert_ne!(key([&long, "", "", ""]), key(["", &long, "", ""]));
    }

    /// Entries stay within two cache lines.
    #[test]
    fn entries_fill_two_cache_lines() {
        assert_eq!(std::mem::size_of::<Entry>(), 128);
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

    /// Many identities, some with long keys (not inline), each found as itself and
    /// never as another.
    #[test]
    fn many_identities_are_found_as_themselves() {
        let mut index = BaselineIndex::default();
        let name = |i: usize| format!("w{i}{}", "-long".repeat(i % 3 * 10));
        for i in 0..2000 {
            assert!(index.add(&baseline("shop", &name(i), "web", &["/bin/a"])));
        }
        for i in 0..2000 {
            let parts = ["", "shop", &name(i), "web"];
            assert_eq!(index.by_identity(parts), Some(i));
            assert_eq!(index.by_identity(["", "shop", &name(i), "we"]), None);
        }
        assert_eq!(index.by_identity(["", "shop", "w2000", "web"]), None);
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
