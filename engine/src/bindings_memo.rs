//! The bindings that `check`'s enumeration found under an image, kept per image so that
//! the containers that run the same image (in one deployment or across the records of a
//! run) replay them instead of walking the image's components and vulnerabilities again.
//! Evaluation remembers whether an image-only condition holds ([`crate::runtime::ImageMemo`]);
//! a report needs every combination of objects that makes it hold, one message each.
//!
//! An entry holds, for one image record and one `any` node over a container's image whose
//! body reads only the image, each combination the body yielded: the places of its objects
//! in their lists (see [`crate::value::position_of`]), the slots it bound, and how much of
//! the message budget the walk had spent on the way, so that a replay stops where the walk
//! would have stopped. Entries are kept per thread, like the image memo, and valid for one
//! dataset generation, one clock and until [`BindingsMemo::clear`].

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Most words (positions, slot masks, budget counts) one thread keeps; further images are
/// walked every time rather than remembered.
const MAX_WORDS_PER_THREAD: usize = 1 << 22;

/// The combinations one `any` node's body yielded under one image.
#[derive(Debug)]
pub(crate) struct Found {
    /// The slots the body binds, parents before children.
    pub(crate) slots: Box<[u16]>,
    /// Per combination, `2 + slots.len()` words: the budget spent since the previous
    /// combination, the body's slots it bound (a mask over `slots`' order), then the place
    /// of each bound slot's object ([`u32::MAX`] for an unbound one).
    pub(crate) words: Box<[u32]>,
    /// The budget spent after the last combination.
    pub(crate) trailing: u32,
}

impl Found {
    /// The words of each combination.
    pub(crate) fn combinations(&self) -> std::slice::ChunksExact<'_, u32> {
        self.words.chunks_exact(2 + self.slots.len())
    }
}

/// Per thread, the [`Found`] combinations by image and node; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct BindingsMemo {
    per_thread: thread_local::ThreadLocal<RefCell<Table>>,
    /// Bumped by [`BindingsMemo::clear`]: part of every entry's stamp.
    clears: AtomicU64,
}

/// Most entries (images times nodes) one thread keeps; the others are walked every time.
const MAX_ENTRIES_PER_THREAD: usize = 1 << 18;

/// One thread's entries and what they were found under.
#[derive(Debug, Default)]
struct Table {
    /// (clears, dataset generation, clock) of the entries.
    stamp: (u64, u64, i64),
    /// By `image * width + ordinal` (see [`Place`]): `None` when not looked for yet;
    /// `Some(None)` when the body's combinations could not be kept (too many, or an
    /// object without a place), and the enumeration walks the image.
    entries: Vec<Option<Option<Arc<Found>>>>,
    /// Words held by `entries`.
    words: usize,
}

/// Where one node's entry for one image sits: the image's place in the dataset, and the
/// node's place among the `width` memoised nodes of the program.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place {
    /// The image's index in the dataset.
    pub(crate) image: usize,
    /// The node's ordinal.
    pub(crate) ordinal: u32,
    /// Memoised nodes in the program.
    pub(crate) width: usize,
}

impl Place {
    /// The entry's index, if it fits a thread's table.
    fn index(self) -> Option<usize> {
        let index = self
            .image
            .checked_mul(self.width)?
            .checked_add(self.ordinal as usize)?;
        (index < MAX_ENTRIES_PER_THREAD).then_some(index)
    }
}

impl BindingsMemo {
    /// Forgets every entry, on every thread.
    pub(crate) fn clear(&self) {
        self.clears.fetch_add(1, Ordering::Relaxed);
    }

    fn stamp(&self, generation: u64, now: i64) -> (u64, u64, i64) {
        (self.clears.load(Ordering::Relaxed), generation, now)
    }

    /// The entry at `place`: `None` when there is none yet, `Some(None)` when the
    /// combinations could not be kept.
    pub(crate) fn get(
        &self,
        place: Place,
        generation: u64,
        now: i64,
    ) -> Option<Option<Arc<Found>>> {
        let table = self.per_thread.get()?.borrow();
        if table.stamp != self.stamp(generation, now) {
            return None;
        }
        table.entries.get(place.index()?)?.clone()
    }

    /// Keeps `found` as the entry at `place`, unless it does not fit the thread's table.
    pub(crate) fn set(&self, place: Place, generation: u64, now: i64, found: Option<Arc<Found>>) {
        let Some(index) = place.index() else {
            return;
        };
        let stamp = self.stamp(generation, now);
        let mut table = self.per_thread.get_or_default().borrow_mut();
        if table.stamp != stamp {
            table.stamp = stamp;
            table.entries.clear();
            table.words = 0;
        }
        let words = 1 + found.as_ref().map_or(0, |f| f.words.len() + f.slots.len());
        if table.words + words > MAX_WORDS_PER_THREAD {
            return;
        }
        table.words += words;
        if index >= table.entries.len() {
            table.entries.resize(index + 1, None);
        }
        table.entries[index] = Some(found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(n: u32) -> Option<Arc<Found>> {
        Some(Arc::new(Found {
            slots: Box::new([3]),
            words: vec![1, 1, n].into_boxed_slice(),
            trailing: 0,
        }))
    }

    fn at(image: usize, ordinal: u32) -> Place {
        Place {
            image,
            ordinal,
            width: 16,
        }
    }

    fn third_word(entry: Option<Option<Arc<Found>>>) -> Option<u32> {
        entry.flatten().map(|f| f.words[2])
    }

    #[test]
    fn entries_hold_for_their_generation_clock_and_clear_only() {
        let memo = BindingsMemo::default();
        assert!(memo.get(at(0, 7), 1, 100).is_none());
        memo.set(at(0, 7), 1, 100, found(5));
        memo.set(at(1, 7), 1, 100, None);
        assert_eq!(third_word(memo.get(at(0, 7), 1, 100)), Some(5));
        assert!(matches!(memo.get(at(1, 7), 1, 100), Some(None)));
        assert!(memo.get(at(0, 8), 1, 100).is_none());
        // Another dataset generation, another clock: stale.
        assert!(memo.get(at(0, 7), 2, 100).is_none());
        assert!(memo.get(at(0, 7), 1, 101).is_none());
        memo.clear();
        assert!(memo.get(at(0, 7), 1, 100).is_none());
        // A new stamp drops the old entries.
        memo.set(at(2, 7), 1, 100, found(6));
        assert!(memo.get(at(0, 7), 1, 100).is_none());
        assert_eq!(third_word(memo.get(at(2, 7), 1, 100)), Some(6));
    }

    #[test]
    fn a_thread_keeps_at_most_its_share() {
        let memo = BindingsMemo::default();
        let big = |n: usize| {
            Some(Arc::new(Found {
                slots: Box::new([1]),
                words: vec![0; n].into_boxed_slice(),
                trailing: 0,
            }))
        };
        memo.set(at(0, 1), 1, 0, big(MAX_WORDS_PER_THREAD - 10));
        memo.set(at(1, 1), 1, 0, big(100));
        assert!(memo.get(at(0, 1), 1, 0).is_some());
        assert!(memo.get(at(1, 1), 1, 0).is_none());
    }

    #[test]
    fn threads_keep_their_own_entries() {
        let memo = BindingsMemo::default();
        memo.set(at(0, 1), 1, 0, found(9));
        std::thread::scope(|s| {
            s.spawn(|| assert!(memo.get(at(0, 1), 1, 0).is_none()));
        });
        assert_eq!(third_word(memo.get(at(0, 1), 1, 0)), Some(9));
    }
}
