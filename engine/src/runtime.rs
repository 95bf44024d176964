//! What compiled conditions call: the semantics of every test, junction and quantifier,
//! once. The matcher's closures (see `closures.rs`) call these with their constants
//! captured; Rust generated from a program by [`crate::codegen`] calls them with its
//! constants written in, so the compiler folds them into straight-line code.
//!
//! Every test reads a [`Val`] and is three-valued: a value of the wrong kind (missing,
//! most often) is [`Tri::Unknown`].

use crate::matcher::{exhausted, spend};
use crate::value::Children;
use std::cell::RefCell;
use std::cmp::Ordering;

pub use crate::matcher::{EvalOptions, Hit, LimitError, Matcher, PolicySet, Tri};
pub use crate::value::{
    Ctx, Obj, Val, children_inline as children, components_with_vulns, field_inline as field,
};
pub use palisade_lang::ast::CmpOp;
pub use palisade_lang::schema::{EnumKind, FieldId, Link, Stage};

/// Starts a record: a whole step budget, whatever the previous record left.
#[inline]
pub fn begin_record() {
    crate::matcher::reset_budget();
}

/// Ends a record: an error when it ran out of its step budget.
#[inline]
pub fn end_record() -> Result<(), LimitError> {
    if exhausted() { Err(LimitError) } else { Ok(()) }
}

/// Whether the rule at `position` may fire, by the guard index's `candidates` (see
/// [`Matcher::candidates`]; `None`: every rule may).
#[inline(always)]
pub fn may_fire(candidates: Option<u128>, position: u32) -> bool {
    candidates.is_none_or(|bits| bits.checked_shr(position).is_none_or(|b| b & 1 != 0))
}

/// `a and b` (`decisive` false) or `a or b` (`decisive` true), three-valued: `decisive`
/// wins, then unknown, else the other value; `second` is not evaluated when `first`
/// decides. Longer junctions nest: `(a and b) and c` evaluates and answers as `a and b
/// and c` does.
#[inline(always)]
pub fn junction(decisive: Tri, first: Tri, second: impl FnOnce() -> Tri) -> Tri {
    if first == decisive {
        return first;
    }
    match second() {
        Tri::Unknown => Tri::Unknown,
        s if s == decisive => s,
        _ => first,
    }
}

/// `body` on each child, one budget step each, until it is `decisive` (true for `any`,
/// false for `every`); otherwise unknown if it was unknown for some child, else the
/// other value. Unknown children (`None`) or a spent budget give unknown.
#[inline(always)]
pub fn quantify<'r>(
    children: Option<Children<'r>>,
    decisive: Tri,
    mut body: impl FnMut(Obj<'r>) -> Tri,
) -> Tri {
    let Some(children) = children else {
        return Tri::Unknown;
    };
    let mut out = decisive.negate();
    children.each_while(|child| {
        if !spend() {
            out = Tri::Unknown;
            return false;
        }
        match body(child) {
            Tri::Unknown => {
                out = Tri::Unknown;
                true
            }
            r if r == decisive => {
                out = r;
                false
            }
            _ => true,
        }
    });
    out
}

/// The sum of `each` over the children, one budget step each: one level of a `count`.
/// `None` when the children are unknown, the budget runs out, or `each` is `None`.
#[inline(always)]
pub fn count<'r>(
    children: Option<Children<'r>>,
    mut each: impl FnMut(Obj<'r>) -> Option<u64>,
) -> Option<u64> {
    let mut total: u64 = 0;
    for child in children? {
        if !spend() {
            return None;
        }
        total = total.saturating_add(each(child)?);
    }
    Some(total)
}

/// A count as the value a test reads.
#[inline(always)]
pub fn count_value(n: Option<u64>) -> Val<'static> {
    n.map_or(Val::Missing, |n| Val::Num(n as f64))
}

/// `map[key]`.
#[inline(always)]
pub fn map_value<'r>(map: Val<'r>, key: &str) -> Val<'r> {
    match map {
        Val::Map(m) => m.get(key).map_or(Val::Missing, |v| Val::Str(v)),
        _ => Val::Missing,
    }
}

/// `days_since(time)` at `now` (Unix seconds).
#[inline(always)]
pub fn days_since(time: Val<'_>, now: i64) -> Val<'static> {
    match time {
        Val::Time(t) => Val::Num((now - t) as f64 / 86_400.0),
        _ => Val::Missing,
    }
}

/// `has(x)`: known (never unknown).
#[inline(always)]
pub fn present(v: Val<'_>) -> Tri {
    Tri::of(!matches!(v, Val::Missing))
}

/// A boolean field used as a condition.
#[inline(always)]
pub fn truthy(v: Val<'_>) -> Tri {
    match v {
        Val::Bool(b) => Tri::of(b),
        _ => Tri::Unknown,
    }
}

/// A number compared with `x`.
#[inline(always)]
pub fn num(v: Val<'_>, op: CmpOp, x: f64) -> Tri {
    match v {
        Val::Num(y) => y
            .partial_cmp(&x)
            .map_or(Tri::Unknown, |o| Tri::of(op.holds(o))),
        _ => Tri::Unknown,
    }
}

/// A boolean compared with `x` (only `==` and `!=` check).
#[inline(always)]
pub fn boolean(v: Val<'_>, op: CmpOp, x: bool) -> Tri {
    match v {
        Val::Bool(y) => Tri::of(op.holds(if x == y {
            Ordering::Equal
        } else {
            Ordering::Less
        })),
        _ => Tri::Unknown,
    }
}

/// A time compared with `x` (Unix seconds).
#[inline(always)]
pub fn time(v: Val<'_>, op: CmpOp, x: i64) -> Tri {
    match v {
        Val::Time(y) => Tri::of(op.holds(y.cmp(&x))),
        _ => Tri::Unknown,
    }
}

/// `f` on a text value.
#[inline(always)]
pub fn on_str(v: Val<'_>, f: impl FnOnce(&str) -> bool) -> Tri {
    match v {
        Val::Str(y) => Tri::of(f(y)),
        _ => Tri::Unknown,
    }
}

/// `f` on a list value.
#[inline(always)]
pub fn on_list(v: Val<'_>, f: impl FnOnce(&[String]) -> bool) -> Tri {
    match v {
        Val::List(items) => Tri::of(f(items)),
        _ => Tri::Unknown,
    }
}

/// Text compared with `x`: equal or not (only `==` and `!=` check; text is not ordered).
#[inline(always)]
pub fn text(v: Val<'_>, op: CmpOp, x: &str) -> Tri {
    on_str(v, |y| match op {
        CmpOp::Eq => y == x,
        CmpOp::Ne => y != x,
        op => op.holds(if y == x {
            Ordering::Equal
        } else {
            Ordering::Less
        }),
    })
}

/// A number in a set (`negated`: not in it).
#[inline(always)]
pub fn in_nums(v: Val<'_>, set: &[f64], negated: bool) -> Tri {
    match v {
        Val::Num(y) => Tri::of(set.contains(&y) != negated),
        _ => Tri::Unknown,
    }
}

/// An enum value compared with the word at index `x` of `kind`. Records spell enum
/// values loosely (`RAW`, `Raw`, `raw`), which takes a scan of the enum's words;
/// `exact`, the word when it reads back as `x`, recognises the usual spelling with one
/// string comparison first.
#[inline(always)]
pub fn enumeration(v: Val<'_>, op: CmpOp, kind: EnumKind, x: u8, exact: Option<&str>) -> Tri {
    let Val::Str(y) = v else {
        return Tri::Unknown;
    };
    if exact == Some(y) {
        return Tri::of(op.holds(Ordering::Equal));
    }
    kind.index_of_record_value(y)
        .map_or(Tri::Unknown, |i| Tri::of(op.holds(i.cmp(&x))))
}

/// The word of `kind` at `x` when it reads back as `x` (see [`enumeration`]).
pub fn exact_word(kind: EnumKind, x: u8) -> Option<&'static str> {
    let word = kind.word(x);
    (kind.index_of_record_value(word) == Some(x)).then_some(word)
}

/// An enum value in a set of indexes (bit `i` of `mask`; `negated`: not in it).
#[inline(always)]
pub fn in_enums(v: Val<'_>, kind: EnumKind, mask: u32, negated: bool) -> Tri {
    match v {
        Val::Str(y) => kind.index_of_record_value(y).map_or(Tri::Unknown, |i| {
            Tri::of((i < 32 && mask & (1 << i) != 0) != negated)
        }),
        _ => Tri::Unknown,
    }
}

/// A map has `key`.
#[inline(always)]
pub fn map_has_key(v: Val<'_>, key: &str) -> Tri {
    match v {
        Val::Map(m) => Tri::of(m.contains_key(key)),
        _ => Tri::Unknown,
    }
}

/// `any` over a container's image: `body` on the image, one budget step; unknown without
/// a container or an image. With `memo` (a condition that reads only the image), the
/// result is kept per image in the matcher's memo for the dataset and clock, and reused
/// across the deployments that share the image.
#[inline(always)]
pub fn image_any<'r>(
    memo: Option<MemoCell<'_>>,
    container: Obj<'r>,
    c: &Ctx<'r>,
    body: impl FnOnce(Obj<'r>) -> Tri,
) -> Tri {
    let Obj::Container(container) = container else {
        return Tri::Unknown;
    };
    let Some(image) = c.dataset.image_of(container) else {
        return Tri::Unknown;
    };
    let key = match (memo, container.joined_image) {
        (Some(m), Some(index)) if c.dataset.generation != 0 => m.key(index, c),
        _ => None,
    };
    if let Some(key) = &key
        && let Some(known) = key.get()
    {
        return known;
    }
    if !spend() {
        return Tri::Unknown;
    }
    let out = body(Obj::Image(image));
    if let Some(key) = key
        && !exhausted()
    {
        key.set(out);
    }
    out
}

/// Most memo entries per thread: past it, images with higher indexes are evaluated every
/// time (the results are the same, only slower).
const MEMO_LIMIT: usize = 1 << 18;

/// The per-image memo of one matcher: results of its image-only conditions per (image,
/// condition), kept per thread (no locks on the hot path) and owned by the matcher, so
/// matchers never share or evict each other's entries, and dropping the matcher frees
/// them. Entries are valid for one dataset generation and one clock; [`ImageMemo::clear`]
/// makes every thread's entries stale at once.
#[derive(Debug, Default)]
pub struct ImageMemo {
    per_thread: thread_local::ThreadLocal<RefCell<MemoTable>>,
    /// Bumped by [`ImageMemo::clear`]: part of every entry's stamp.
    clears: std::sync::atomic::AtomicU64,
}

impl ImageMemo {
    /// Forgets every entry, on every thread (they are recomputed on the next evaluation).
    pub fn clear(&self) {
        self.clears
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Entries the calling thread holds since the last [`ImageMemo::clear`] (for any
    /// dataset and clock), for tests and diagnostics.
    pub fn entries_on_this_thread(&self) -> usize {
        let clears = self.clears.load(std::sync::atomic::Ordering::Relaxed);
        self.per_thread.get().map_or(0, |t| {
            let t = t.borrow();
            if t.stamp.0 != clears {
                return 0;
            }
            t.entries
                .iter()
                .filter(|&&e| e >> 2 == t.epoch && e & 3 != 0)
                .count()
        })
    }

    /// The cell of image-only condition `ordinal` of `width` (the matcher numbers them).
    #[inline(always)]
    pub fn cell(&self, ordinal: u32, width: usize) -> MemoCell<'_> {
        MemoCell {
            memo: self,
            ordinal: ordinal as usize,
            width,
        }
    }
}

/// Where an image-only condition's result sits in a matcher's [`ImageMemo`].
#[derive(Clone, Copy, Debug)]
pub struct MemoCell<'m> {
    memo: &'m ImageMemo,
    ordinal: usize,
    width: usize,
}

/// A memo entry for one image and one condition, valid for one dataset and clock.
struct MemoKey<'m> {
    table: &'m RefCell<MemoTable>,
    index: usize,
    stamp: (u64, u64, i64),
}

/// One thread's entries: per (image index, condition), `epoch << 2 | code`; an entry of an
/// older epoch is stale. The epoch changes with the dataset generation, the clock or a
/// clear, so changing them invalidates everything without clearing.
#[derive(Debug, Default)]
struct MemoTable {
    stamp: (u64, u64, i64),
    epoch: u32,
    entries: Vec<u32>,
}

impl<'m> MemoCell<'m> {
    /// The memo entry of this condition for the image at `index`, if it fits the memo.
    #[inline]
    fn key(self, index: usize, c: &Ctx<'_>) -> Option<MemoKey<'m>> {
        let index = index.checked_mul(self.width)?.checked_add(self.ordinal)?;
        (index < MEMO_LIMIT).then(|| MemoKey {
            table: self.memo.per_thread.get_or_default(),
            index,
            stamp: (
                self.memo.clears.load(std::sync::atomic::Ordering::Relaxed),
                c.dataset.generation,
                c.now,
            ),
        })
    }
}

impl MemoKey<'_> {
    fn get(&self) -> Option<Tri> {
        let m = self.table.borrow();
        if m.stamp != self.stamp {
            return None;
        }
        let entry = *m.entries.get(self.index)?;
        if entry >> 2 != m.epoch {
            return None;
        }
        match entry & 3 {
            1 => Some(Tri::True),
            2 => Some(Tri::False),
            3 => Some(Tri::Unknown),
            _ => None,
        }
    }

    fn set(self, value: Tri) {
        let mut m = self.table.borrow_mut();
        if m.stamp != self.stamp {
            m.stamp = self.stamp;
            m.epoch += 1;
            if m.epoch >= 1 << 30 {
                m.entries.clear();
                m.epoch = 1;
            }
        }
        if self.index >= m.entries.len() {
            let len = (self.index + 1).max(m.entries.len() * 2).min(MEMO_LIMIT);
            m.entries.resize(len, 0);
        }
        let code = match value {
            Tri::True => 1,
            Tri::False => 2,
            Tri::Unknown => 3,
        };
        let epoch = m.epoch;
        m.entries[self.index] = epoch << 2 | code;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> [Tri; 3] {
        [Tri::True, Tri::False, Tri::Unknown]
    }

    /// Kleene's `and` and `or`, as tables.
    fn kleene(decisive: Tri, a: Tri, b: Tri) -> Tri {
        if a == decisive || b == decisive {
            decisive
        } else if a == Tri::Unknown || b == Tri::Unknown {
            Tri::Unknown
        } else {
            decisive.negate()
        }
    }

    #[test]
    fn junctions_are_kleene_and_skip_what_they_need_not_evaluate() {
        for decisive in [Tri::True, Tri::False] {
            for a in all() {
                for b in all() {
                    let mut evaluated = false;
                    let out = junction(decisive, a, || {
                        evaluated = true;
                        b
                    });
                    assert_eq!(out, kleene(decisive, a, b), "{decisive:?} {a:?} {b:?}");
                    assert_eq!(evaluated, a != decisive, "{decisive:?} {a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn tests_on_the_wrong_kind_of_value_are_unknown() {
        let missing = Val::Missing;
        assert_eq!(present(missing), Tri::False);
        assert_eq!(truthy(missing), Tri::Unknown);
        assert_eq!(num(missing, CmpOp::Eq, 1.0), Tri::Unknown);
        assert_eq!(num(Val::Num(f64::NAN), CmpOp::Ne, 1.0), Tri::Unknown);
        assert_eq!(text(Val::Num(1.0), CmpOp::Eq, "1"), Tri::Unknown);
        assert_eq!(on_list(Val::Str("a"), |_| true), Tri::Unknown);
        assert_eq!(map_has_key(missing, "a"), Tri::Unknown);
        assert_eq!(in_nums(Val::Str("1"), &[1.0], false), Tri::Unknown);
    }

    #[test]
    fn enums_match_loosely_with_or_without_the_exact_word() {
        let kind = EnumKind::Severity;
        for x in 0..kind.values().len() as u8 {
            for spelling in [kind.word(x).to_string(), kind.word(x).to_uppercase()] {
                let v = Val::Str(&spelling);
                let fast = enumeration(v, CmpOp::Eq, kind, x, exact_word(kind, x));
                let slow = enumeration(v, CmpOp::Eq, kind, x, None);
                assert_eq!(fast, Tri::True, "{spelling}");
                assert_eq!(slow, Tri::True, "{spelling}");
            }
        }
        assert_eq!(
            enumeration(Val::Str("no such word"), CmpOp::Eq, kind, 0, None),
            Tri::Unknown
        );
    }
}
