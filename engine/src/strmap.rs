//! A map from a policy's constant strings (set members, guard values) to a small value,
//! built once when a matcher loads and looked up per record. Most values a record holds
//! are not members: a length mask rejects them without reading a byte. Members of up to 8
//! bytes (process names, most set members) are packed into a `u64` key and looked up in an
//! open-addressed table: a multiply, a shift and a compare of two integers, with no string
//! comparison and no hashing loop. Longer members are kept sorted and binary-searched.

/// Strings mapped to values of `V`.
#[derive(Clone)]
pub(crate) struct StrMap<V: Copy> {
    /// Bit `n` set when a member is `n` bytes long (63: 63 or more).
    lengths: u64,
    /// Members of up to [`SHORT`] bytes, by packed key; a power-of-two length.
    short: Box<[Slot<V>]>,
    /// Mixes keys (see [`home`]).
    multiplier: u64,
    /// `64 - log2(short.len())`: the top bits of the mixed key index `short`.
    shift: u32,
    /// Members longer than [`SHORT`] bytes, sorted.
    long: Box<[(Box<str>, V)]>,
}

/// Longest member packed into a key.
const SHORT: usize = 8;

/// One place of the short table: `len` is the member's length plus one, 0 when empty.
#[derive(Clone, Copy)]
struct Slot<V: Copy> {
    key: u64,
    len: u8,
    value: V,
}

/// The length-mask bit of a string.
#[inline]
pub(crate) fn length_bit(s: &str) -> u64 {
    1u64 << s.len().min(63)
}

/// `bytes` (at most [`SHORT`] of them) as a key that, together with the length, tells
/// them apart from every other string of that length: the first and last four bytes
/// (overlapping when shorter than 8, so every byte is in), or for 1 to 3 bytes the first,
/// middle and last byte.
#[inline(always)]
pub(crate) fn short_key(bytes: &[u8]) -> u64 {
    if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        return u64::from(u32::from_le_bytes(*first)) | u64::from(u32::from_le_bytes(*last)) << 32;
    }
    match (bytes.first(), bytes.get(bytes.len() / 2), bytes.last()) {
        (Some(&a), Some(&b), Some(&c)) => u64::from(a) | u64::from(b) << 8 | u64::from(c) << 16,
        _ => 0,
    }
}

/// Where the search for a key starts: multiply-shift with a random multiplier drawn per
/// map, so that members cannot be chosen to pile up in one run of the table.
#[inline(always)]
fn home(key: u64, len: usize, multiplier: u64, shift: u32) -> usize {
    ((key ^ len as u64).wrapping_mul(multiplier) >> shift) as usize
}

/// A random odd multiplier.
fn random_multiplier() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64) | 1
}

/// Sorts `entries` by `order` and keeps each once, the values of equal ones combined with
/// `merge` (in linear-logarithmic time: a policy may hold millions of members).
pub(crate) fn merged<T>(
    mut entries: Vec<T>,
    order: impl Fn(&T, &T) -> std::cmp::Ordering,
    merge: impl Fn(&mut T, &T),
) -> Vec<T> {
    entries.sort_by(&order);
    entries.dedup_by(|later, kept| {
        let same = order(later, kept).is_eq();
        if same {
            merge(kept, later);
        }
        same
    });
    entries
}

impl<V: Copy + Default> StrMap<V> {
    /// The map of `entries`; a member given twice gets the values combined with `merge`.
    pub(crate) fn new<'a>(
        entries: impl IntoIterator<Item = (&'a str, V)>,
        merge: impl Fn(V, V) -> V,
    ) -> StrMap<V> {
        let mut lengths = 0;
        let mut short: Vec<(usize, u64, V)> = Vec::new();
        let mut long: Vec<(Box<str>, V)> = Vec::new();
        for (member, value) in entries {
            lengths |= length_bit(member);
            if member.len() <= SHORT {
                short.push((member.len(), short_key(member.as_bytes()), value));
            } else {
                long.push((member.into(), value));
            }
        }
        let short = merged(
            short,
            |a, b| (a.0, a.1).cmp(&(b.0, b.1)),
            |kept, later| kept.2 = merge(kept.2, later.2),
        );
        let long = merged(
            long,
            |a, b| a.0.cmp(&b.0),
            |kept, later| kept.1 = merge(kept.1, later.1),
        );
        // At most half full, so every search meets an empty place.
        let size = (short.len() * 2).next_power_of_two().max(2);
        let shift = 64 - size.trailing_zeros();
        let multiplier = random_multiplier();
        let empty = Slot {
            key: 0,
            len: 0,
            value: V::default(),
        };
        let mut table = vec![empty; size].into_boxed_slice();
        for (len, key, value) in short {
            let mut at = home(key, len, multiplier, shift);
            while table[at].len != 0 {
                at = (at + 1) & (size - 1);
            }
            table[at] = Slot {
                key,
                len: len as u8 + 1,
                value,
            };
        }
        StrMap {
            lengths,
            short: table,
            multiplier,
            shift,
            long: long.into_boxed_slice(),
        }
    }

    /// The value of `s`, if it is a member.
    #[inline(always)]
    pub(crate) fn get(&self, s: &str) -> Option<V> {
        self.get_bytes(s.as_bytes())
    }

    /// The value of the string whose bytes are `s`, if it is a member (bytes order as
    /// their strings do, so no check that they are UTF-8 is needed).
    #[inline(always)]
    pub(crate) fn get_bytes(&self, s: &[u8]) -> Option<V> {
        if self.lengths & (1u64 << s.len().min(63)) == 0 {
            return None;
        }
        if s.len() > SHORT {
            let at = self
                .long
                .binary_search_by(|(m, _)| m.as_bytes().cmp(s))
                .ok()?;
            return self.long.get(at).map(|(_, v)| *v);
        }
        let key = short_key(s);
        let len = s.len() as u8 + 1;
        let mask = self.short.len() - 1;
        let mut at = home(key, s.len(), self.multiplier, self.shift);
        loop {
            let slot = self.short.get(at)?;
            if slot.len == 0 {
                return None;
            }
            if slot.key == key && slot.len == len {
                return Some(slot.value);
            }
            at = (at + 1) & mask;
        }
    }

    /// Whether `s` is a member.
    #[inline]
    pub(crate) fn contains(&self, s: &str) -> bool {
        self.get(s).is_some()
    }
}

/// A prefix of at most [`SHORT`] bytes compared as a packed key, longer ones as text.
#[derive(Clone)]
pub(crate) struct Prefix {
    text: Box<str>,
    key: u64,
}

impl Prefix {
    /// The prefix `text`.
    pub(crate) fn new(text: &str) -> Prefix {
        Prefix {
            text: text.into(),
            key: short_key(text.as_bytes()),
        }
    }

    /// The prefix.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whether the string whose bytes are `s` starts with the prefix.
    #[inline(always)]
    pub(crate) fn starts_bytes(&self, s: &[u8]) -> bool {
        let n = self.text.len();
        match s.get(..n) {
            Some(head) if n <= SHORT => short_key(head) == self.key,
            Some(head) => head == self.text.as_bytes(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Strings from a small alphabet, so that near misses are common.
    fn word() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[abé\\x00]{0,11}").expect("valid regex")
    }

    #[test]
    fn short_keys_tell_strings_of_one_length_apart() {
        // Every string of 0..=4 bytes over 3 letters, and a few longer.
        let mut all = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = all
                .iter()
                .flat_map(|w| ["a", "b", "\0"].map(|c| format!("{w}{c}")))
                .collect();
            all.extend(longer);
        }
        all.sort();
        all.dedup();
        let mut seen = std::collections::HashSet::new();
        for w in &all {
            assert!(seen.insert((w.len(), short_key(w.as_bytes()))), "{w:?}");
        }
        assert_eq!(seen.len(), all.len());
    }

    #[test]
    fn large_maps_hold_every_member_once() {
        // A policy may list millions of members (sources go up to 16 MiB): building is
        // linear-logarithmic, and duplicates merge.
        let members: Vec<String> = (0..200_000u32)
            .map(|i| match i % 3 {
                0 => format!("{:x}", i / 2),
                1 => format!("member-{}", i / 2),
                _ => format!("{}", i % 1000),
            })
            .collect();
        let map = StrMap::new(members.iter().map(|m| (m.as_str(), 1u32)), |a, b| a + b);
        let mut counts = std::collections::HashMap::new();
        for m in &members {
            *counts.entry(m.as_str()).or_insert(0u32) += 1;
        }
        for (m, n) in &counts {
            assert_eq!(map.get(m), Some(*n), "{m:?}");
        }
        for absent in ["", "member-", "member-100000x", "zzzzzzzzz", "1000x"] {
            assert_eq!(map.get(absent), None, "{absent:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn lookups_agree_with_a_hash_set(members in proptest::collection::vec(word(), 0..24), probes in proptest::collection::vec(word(), 0..24)) {
            let map = StrMap::new(members.iter().enumerate().map(|(i, m)| (m.as_str(), 1u64 << i)), |a, b| a | b);
            for p in members.iter().chain(&probes) {
                let expected = members.iter().enumerate().filter(|(_, m)| *m == p).fold(0u64, |bits, (i, _)| bits | 1 << i);
                prop_assert_eq!(map.get(p).unwrap_or(0), expected, "{:?}", p);
                prop_assert_eq!(map.contains(p), expected != 0);
                prop_assert_eq!(map.get_bytes(p.as_bytes()).unwrap_or(0), expected, "{:?}", p);
            }
        }

        #[test]
        fn prefixes_agree_with_starts_with(prefix in word(), s in word()) {
            prop_assert_eq!(Prefix::new(&prefix).starts_bytes(s.as_bytes()), s.starts_with(&prefix));
            let extended = format!("{prefix}{s}");
            prop_assert!(Prefix::new(&prefix).starts_bytes(extended.as_bytes()));
        }
    }
}
