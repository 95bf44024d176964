//! The literal starts and ends that every match of a whole-string regex has: a value that
//! starts with none of the first, or ends with none of the second, cannot match, and is
//! told so without running the regex engine. `process.name ~ /(/[s]*bin/){0,1}(ba|c|z){0,1}sh/`
//! matches only names ending in `sh` (in either case, or with the long s that folds to
//! `s`), so `server` is rejected after comparing two bytes. The regex engine's own setup
//! for a short value costs far more than that, and most values a policy sees do not match.
//!
//! The literals come from `regex_syntax`'s extractor, the one the regex crate builds its
//! prefilters from: when it gives a finite set, every match starts (or ends) with one of
//! them. A set that is infinite, holds the empty string, or is too large to compare
//! quickly gives no check.

/// Most literals compared on one side; larger sets cost more than they save.
#[cfg(feature = "regex-affixes")]
const MAX_LITERALS: usize = 16;

/// The starts and ends every match has (each `None` when there is no useful set).
#[derive(Debug, Default)]
pub(crate) struct Affixes {
    prefixes: Option<Side>,
    suffixes: Option<Side>,
}

/// The literals of one side, and the bytes they have at the value's edge (their first
/// bytes for prefixes, last for suffixes): most values are rejected by that byte alone.
#[derive(Debug)]
struct Side {
    literals: Box<[Box<[u8]>]>,
    /// Bit `b % 64` of word `b / 64` for each edge byte `b`.
    edges: [u64; 4],
}

impl Side {
    #[cfg(feature = "regex-affixes")]
    fn new(literals: Vec<&[u8]>, edge: fn(&[u8]) -> Option<&u8>) -> Side {
        let mut edges = [0u64; 4];
        for &b in literals.iter().filter_map(|l| edge(l)) {
            edges[usize::from(b >> 6)] |= 1 << (b & 63);
        }
        Side {
            literals: literals.into_iter().map(Box::from).collect(),
            edges,
        }
    }

    /// Whether the value, whose edge byte is `edge`, may hold one of the literals there,
    /// judged by that byte.
    #[inline(always)]
    fn may(&self, edge: Option<&u8>) -> bool {
        edge.is_some_and(|&b| self.edges[usize::from(b >> 6)] >> (b & 63) & 1 != 0)
    }
}

impl Affixes {
    /// No affixes: built without the `regex-affixes` feature, every value runs the regex.
    #[cfg(not(feature = "regex-affixes"))]
    pub(crate) fn of(_source: &str) -> Affixes {
        Affixes::default()
    }

    /// The affixes of the regex `source` (in the regex crate's syntax, matched against the
    /// whole value); none when it does not parse.
    #[cfg(feature = "regex-affixes")]
    pub(crate) fn of(source: &str) -> Affixes {
        use regex_syntax::hir::literal::{ExtractKind, Extractor};
        let Ok(hir) = regex_syntax::Parser::new().parse(source) else {
            return Affixes::default();
        };
        let side = |kind: ExtractKind,
                    covers: fn(&[u8], &[u8]) -> bool,
                    edge: fn(&[u8]) -> Option<&u8>| {
            let seq = Extractor::new().kind(kind).extract(&hir);
            let mut literals: Vec<&[u8]> = seq.literals()?.iter().map(|l| l.as_bytes()).collect();
            if literals.is_empty() || literals.iter().any(|l| l.is_empty()) {
                return None;
            }
            // A value that starts with `bash` starts with `ba` too: the shorter literal
            // alone decides (case variants of a long word reduce to those of its end).
            literals.sort_by_key(|l| l.len());
            let mut kept: Vec<&[u8]> = Vec::new();
            for literal in literals {
                if !kept.iter().any(|k| covers(literal, k)) {
                    kept.push(literal);
                }
            }
            (kept.len() <= MAX_LITERALS).then(|| Side::new(kept, edge))
        };
        Affixes {
            prefixes: side(ExtractKind::Prefix, <[u8]>::starts_with, <[u8]>::first),
            suffixes: side(ExtractKind::Suffix, <[u8]>::ends_with, <[u8]>::last),
        }
    }

    /// Whether `value` starts and ends as every match does (false: it cannot match).
    #[inline]
    pub(crate) fn admit(&self, value: &str) -> bool {
        let value = value.as_bytes();
        // The edge bytes first (a bit each), then the literals on the sides that let the
        // value through. Every literal has a byte, so an empty value has neither.
        let (first, last) = (value.first(), value.last());
        self.prefixes.as_ref().is_none_or(|p| p.may(first))
            && self.suffixes.as_ref().is_none_or(|s| s.may(last))
            && self
                .prefixes
                .as_ref()
                .is_none_or(|p| p.literals.iter().any(|l| value.starts_with(l)))
            && self
                .suffixes
                .as_ref()
                .is_none_or(|s| s.literals.iter().any(|l| value.ends_with(l)))
    }

    /// Whether there is a check on either side.
    #[cfg(test)]
    fn checks(&self) -> bool {
        self.prefixes.is_some() || self.suffixes.is_some()
    }
}

#[cfg(test)]
#[cfg(feature = "regex-affixes")]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The whole-string, case-insensitive source the matcher compiles a pattern to.
    fn whole(pattern: &str) -> String {
        palisade_lang::hir::regex_source(pattern, false).expect("a whole regex")
    }

    #[test]
    fn names_that_cannot_match_are_rejected_by_their_ends() {
        let shells = Affixes::of(&whole(r"(\/[s]*bin\/){0,1}(ba|c|z){0,1}sh"));
        assert!(shells.checks());
        for name in ["bash", "sh", "/bin/zsh", "/sbin/SH", "ba\u{17F}h"] {
            assert!(shells.admit(name), "{name}");
        }
        for name in ["server", "shell", "", "s"] {
            assert!(!shells.admit(name), "{name}");
        }
        // The Kelvin sign folds to `k`: it is one of the starts.
        let kube = Affixes::of(&whole("kub[a-z]+"));
        assert!(kube.admit("\u{212A}ubelet") && kube.admit("KUBElet") && !kube.admit("cube"));
    }

    #[test]
    fn patterns_without_fixed_ends_check_nothing() {
        for pattern in [".*", "[a-z]+", "(a|b)*", "x?", ".*(SECRET|TOKEN).*"] {
            let affixes = Affixes::of(&whole(pattern));
            assert!(!affixes.checks() || affixes.admit("x"), "{pattern}");
        }
        assert!(!Affixes::of(&whole("[a-z]+")).checks());
        assert!(!Affixes::of("(").checks());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// A value the regex matches is never rejected (values from the patterns' own
        /// letters, in both cases and with characters that fold, so matches are common).
        #[test]
        fn every_match_is_admitted(
            pattern in prop::sample::select(vec![
                r"(\/[s]*bin\/){0,1}(ba|c|z){0,1}sh", "ab|cd", "a(b|c)d", "a.*z", "[ab]c[de]",
                "(ab)+", "x(y|z){1,3}", "k.s", "sh?", "(?:s|k)(?:h|k)", "a|b.*|c", "ab.{0,2}c",
            ]),
            value in "[abcdksxyzhinKSZ/\u{17F}\u{212A}.]{0,7}",
        ) {
            let source = whole(pattern);
            let regex = regex::Regex::new(&source).expect("compiles");
            prop_assert!(!regex.is_match(&value) || Affixes::of(&source).admit(&value), "{} on {:?}", pattern, value);
        }
    }
}
