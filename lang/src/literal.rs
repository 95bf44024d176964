//! Whole-string, case-insensitive patterns that are only literals (`curl`, `apt|dpkg`,
//! `kube\-system`, `kubeadmin.*`, `.*(SECRET|TOKEN).*`) match without the regex engine:
//! most patterns of the built-in library are such, and a compiled regex costs kilobytes
//! each. Matching is exactly that of `^(?i:PATTERN)$` in the regex crate, including its
//! Unicode simple case folding (the Kelvin sign matches `k`, the long s matches `s`) and
//! `.` not matching `\n`.

/// One alternative: a lowercase ASCII literal, optionally preceded and followed by `.*`.
#[derive(Clone, Debug, PartialEq)]
struct Alternative {
    literal: String,
    any_prefix: bool,
    any_suffix: bool,
}

/// What a byte of a value means to the one-pass search for `.*literal.*` alternatives.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ByteClass {
    /// Nothing: the search goes on.
    Other,
    /// The first byte (in either case) of some literal.
    First,
    /// A newline, which `.*` does not cover: no such alternative matches.
    Newline,
    /// Part of a non-ASCII character, which may fold to an ASCII letter.
    NonAscii,
}

/// A pattern made of literal alternatives.
#[derive(Clone, Debug, PartialEq)]
pub struct LiteralPattern {
    /// Alternatives anchored at the start or the end of the value.
    anchored: Vec<Alternative>,
    /// The literals of `.*literal.*` alternatives, found in one pass over the value.
    anywhere: Vec<String>,
    /// What each byte of a value means to the search for `anywhere`.
    anywhere_bytes: Box<[ByteClass; 256]>,
    /// When every alternative is a whole literal (no `.*`): bit `min(n, 63)` for each
    /// literal length `n` (the lengths an ASCII value must have to match), and the most
    /// bytes any matching value has (a character that folds to an ASCII letter takes up
    /// to three: the Kelvin sign).
    exact_lengths: Option<(u64, usize)>,
    /// The length of the shortest of `anywhere`.
    anywhere_min_len: usize,
    /// With [`KEYED_ALTERNATIVES`] anchored alternatives or more: the first bytes of those
    /// anchored at the start, and the last bytes of the `.*literal` ones. (Fewer are
    /// compared one by one, which costs less than the lookup.)
    end_keys: Option<(EndKeys, EndKeys)>,
}

/// Anchored alternatives from which a value is first looked up by its ends.
const KEYED_ALTERNATIVES: usize = 4;

/// The first (or last) `width` bytes, lowercased, of a set of literals, packed in a `u32`
/// each and sorted: an ASCII value whose own bytes there are not among them matches none
/// of the literals (most values are rejected by one search of a few keys, not by a
/// comparison per literal).
#[derive(Clone, Debug, PartialEq)]
struct EndKeys {
    /// Bytes of each key: at most 4, and at most the shortest literal's length.
    width: usize,
    /// The keys, sorted, without repeats.
    keys: Vec<u32>,
}

impl EndKeys {
    /// The keys of `literals` (lowercase ASCII) at their start, or at their end.
    fn of<'a>(literals: impl Iterator<Item = &'a str> + Clone, at_end: bool) -> EndKeys {
        let width = literals.clone().map(str::len).min().unwrap_or(0).min(4);
        let mut keys: Vec<u32> = literals
            .map(|l| end_key(l.as_bytes(), width, at_end))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        EndKeys { width, keys }
    }

    /// Whether an ASCII value may match one of the literals: it has their key at that end.
    /// True when a literal is empty (every value has its key); false when there are none
    /// (most patterns have alternatives at one end only).
    fn admit(&self, value: &[u8], at_end: bool) -> bool {
        !self.keys.is_empty()
            && value.len() >= self.width
            && self
                .keys
                .binary_search(&end_key(value, self.width, at_end))
                .is_ok()
    }
}

/// The first or last `width` (at most 4, at most `bytes.len()`) bytes, lowercased, as a
/// `u32`.
fn end_key(bytes: &[u8], width: usize, at_end: bool) -> u32 {
    let end = if at_end {
        &bytes[bytes.len() - width..]
    } else {
        &bytes[..width]
    };
    end.iter()
        .fold(0, |key, b| key << 8 | u32::from(b.to_ascii_lowercase()))
}

impl LiteralPattern {
    /// The literal form of a pattern, when it has one: alternatives separated by `|`, each
    /// ASCII characters without regex operators (escaped punctuation allowed), optionally
    /// starting and ending with `.*`; or one group of such alternatives, `(...)` or
    /// `(?:...)`, optionally preceded and followed by `.*` (which then apply to each).
    pub fn parse(pattern: &str) -> Option<Self> {
        Self::parse_group(pattern).or_else(|| Self::parse_alternatives(pattern, false, false))
    }

    /// `[.*](alternatives)[.*]`.
    fn parse_group(pattern: &str) -> Option<Self> {
        let (any_prefix, rest) = match pattern.strip_prefix(".*") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let rest = rest
            .strip_prefix("(?:")
            .or_else(|| rest.strip_prefix('('))?;
        let (inner, any_suffix) = match rest.strip_suffix(").*") {
            Some(inner) => (inner, true),
            None => (rest.strip_suffix(')')?, false),
        };
        Self::parse_alternatives(inner, any_prefix, any_suffix)
    }

    /// Alternatives separated by `|`; `.*` before and after the group applies to each.
    fn parse_alternatives(pattern: &str, group_prefix: bool, group_suffix: bool) -> Option<Self> {
        let mut alternatives = Vec::new();
        let mut literal = String::new();
        let mut chars = pattern.chars().peekable();
        let mut any_prefix = false;
        let mut any_suffix = false;
        loop {
            let c = chars.next();
            if any_suffix && !matches!(c, None | Some('|')) {
                return None;
            }
            match c {
                None | Some('|') => {
                    alternatives.push(Alternative {
                        literal: std::mem::take(&mut literal),
                        any_prefix: any_prefix || group_prefix,
                        any_suffix: any_suffix || group_suffix,
                    });
                    any_prefix = false;
                    any_suffix = false;
                    if c.is_none() {
                        break;
                    }
                }
                // `\<` and `\>` are word boundaries, not characters.
                Some('\\') => match chars.next() {
                    Some(n) if n.is_ascii_punctuation() && n != '<' && n != '>' => {
                        literal.push(n.to_ascii_lowercase())
                    }
                    _ => return None,
                },
                Some('.') if chars.peek() == Some(&'*') => {
                    chars.next();
                    if literal.is_empty() && !any_prefix {
                        any_prefix = true;
                    } else {
                        any_suffix = true;
                    }
                }
                Some('.' | '^' | '$' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}') => {
                    return None;
                }
                Some(c) if !c.is_ascii() || c.is_ascii_control() => return None,
                Some(c) => literal.push(c.to_ascii_lowercase()),
            }
        }
        Some(LiteralPattern::of(alternatives))
    }

    fn of(alternatives: Vec<Alternative>) -> LiteralPattern {
        let (anywhere, anchored): (Vec<Alternative>, Vec<Alternative>) = alternatives
            .into_iter()
            .partition(|a| a.any_prefix && a.any_suffix);
        let mut anywhere_bytes = Box::new([ByteClass::Other; 256]);
        anywhere_bytes[usize::from(b'\n')] = ByteClass::Newline;
        anywhere_bytes[0x80..].fill(ByteClass::NonAscii);
        // (An empty literal is found everywhere: `found_anywhere` checks for one first.)
        // Literals are printable ASCII, so no first byte is a newline or non-ASCII.
        for b in anywhere.iter().filter_map(|a| a.literal.as_bytes().first()) {
            for b in [*b, b.to_ascii_uppercase()] {
                anywhere_bytes[usize::from(b)] = ByteClass::First;
            }
        }
        let exact_lengths =
            (anywhere.is_empty() && anchored.iter().all(|a| !a.starred())).then(|| {
                let mask = anchored
                    .iter()
                    .fold(0u64, |mask, a| mask | 1 << a.literal.len().min(63));
                let longest = anchored.iter().map(|a| a.literal.len()).max().unwrap_or(0);
                (mask, longest.saturating_mul(3))
            });
        let end_keys = (anchored.len() >= KEYED_ALTERNATIVES).then(|| {
            let heads = anchored.iter().filter(|a| !a.any_prefix);
            let tails = anchored.iter().filter(|a| a.any_prefix);
            (
                EndKeys::of(heads.map(|a| a.literal.as_str()), false),
                EndKeys::of(tails.map(|a| a.literal.as_str()), true),
            )
        });
        LiteralPattern {
            exact_lengths,
            end_keys,
            anchored,
            anywhere_min_len: anywhere.iter().map(|a| a.literal.len()).min().unwrap_or(0),
            anywhere: anywhere.into_iter().map(|a| a.literal).collect(),
            anywhere_bytes,
        }
    }

    /// The literal form of a set of patterns (matching when any matches), when every one
    /// has one.
    pub fn parse_all(patterns: &[String]) -> Option<Self> {
        let mut alternatives = Vec::new();
        for p in patterns {
            let one = LiteralPattern::parse(p)?;
            alternatives.extend(one.anchored);
            alternatives.extend(one.anywhere.into_iter().map(|literal| Alternative {
                literal,
                any_prefix: true,
                any_suffix: true,
            }));
        }
        Some(LiteralPattern::of(alternatives))
    }

    /// For ASCII values, what a match needs: the value, lowercased, equals one of the
    /// first list or starts with one of the second (the `literal.*` alternatives). `None`
    /// when an alternative may match elsewhere in the value (`.*literal`).
    pub fn anchored_at_start(&self) -> Option<(Vec<&str>, Vec<&str>)> {
        if !self.anywhere.is_empty() || self.anchored.iter().any(|a| a.any_prefix) {
            return None;
        }
        let (prefixes, exact): (Vec<&Alternative>, Vec<&Alternative>) =
            self.anchored.iter().partition(|a| a.any_suffix);
        Some((
            exact.iter().map(|a| a.literal.as_str()).collect(),
            prefixes.iter().map(|a| a.literal.as_str()).collect(),
        ))
    }

    /// Whether the whole of `value` matches one alternative.
    pub fn is_match(&self, value: &str) -> bool {
        // Most values of a whole-literal pattern fail on their length alone: ASCII ones,
        // and any too long for every literal.
        if let Some((lengths, max_bytes)) = self.exact_lengths
            && lengths & 1 << value.len().min(63) == 0
        {
            return value.len() <= max_bytes
                && !value.is_ascii()
                && self.anchored_match(value, false);
        }
        (!self.anywhere.is_empty() && self.found_anywhere(value))
            || (!self.anchored.is_empty() && self.anchored_match(value, value.is_ascii()))
    }

    /// Whether an anchored alternative matches `value` (`ascii`: whether it is ASCII).
    fn anchored_match(&self, value: &str, ascii: bool) -> bool {
        // What `.*` covers must not hold a newline, and literals hold none: a starred
        // alternative matches only a value without one (looked for once, when needed).
        let mut newline = None;
        let mut has_newline = || *newline.get_or_insert_with(|| value.contains('\n'));
        if ascii {
            let bytes = value.as_bytes();
            // An alternative matches only a value with its first bytes (or, after `.*`,
            // its last): most values have neither.
            if let Some((heads, tails)) = &self.end_keys
                && !heads.admit(bytes, false)
                && !tails.admit(bytes, true)
            {
                return false;
            }
            self.anchored
                .iter()
                .any(|a| a.is_match_ascii(bytes) && (!a.starred() || !has_newline()))
        } else {
            self.anchored
                .iter()
                .any(|a| a.is_match_unicode(value) && (!a.starred() || !has_newline()))
        }
    }

    /// Whether one of the `.*literal.*` alternatives matches: a literal occurs and the
    /// value has no newline. One pass over the bytes finds literals by their first byte
    /// and stops at a newline; at a non-ASCII byte the value is compared by characters
    /// instead.
    fn found_anywhere(&self, value: &str) -> bool {
        let bytes = value.as_bytes();
        // Every literal character takes at least one byte of the value.
        let Some(last_start) = bytes.len().checked_sub(self.anywhere_min_len) else {
            return false;
        };
        if self.anywhere_min_len == 0 {
            return !bytes.contains(&b'\n');
        }
        let mut from = 0;
        // The next byte that is not `Other`, found by a tight loop.
        while let Some(found) = bytes[from..]
            .iter()
            .position(|&b| self.anywhere_bytes[usize::from(b)] != ByteClass::Other)
        {
            let i = from + found;
            let rest = &bytes[i..];
            match self.anywhere_bytes[usize::from(bytes[i])] {
                ByteClass::First => {
                    if i <= last_start
                        && self.anywhere.iter().any(|literal| {
                            rest.get(..literal.len())
                                .is_some_and(|head| head.eq_ignore_ascii_case(literal.as_bytes()))
                        })
                    {
                        // The bytes before were searched for newlines already.
                        return !rest.contains(&b'\n');
                    }
                }
                ByteClass::Newline => return false,
                ByteClass::NonAscii => {
                    return !bytes.contains(&b'\n')
                        && self.anywhere.iter().any(|literal| {
                            Alternative::contains_unicode(value, literal.as_bytes())
                        });
                }
                ByteClass::Other => {}
            }
            from = i + 1;
        }
        false
    }
}

impl Alternative {
    fn starred(&self) -> bool {
        self.any_prefix || self.any_suffix
    }

    /// Where the literal may sit in an ASCII value (newlines aside).
    fn is_match_ascii(&self, value: &[u8]) -> bool {
        let literal = self.literal.as_bytes();
        let n = literal.len();
        // The length, then the byte at the anchored end, then the whole literal: most
        // values differ in one of the first two, which cost less than a comparison.
        let lower = |b: Option<&u8>| b.map(u8::to_ascii_lowercase);
        let first_same = || lower(value.first()) == literal.first().copied();
        let last_same = || lower(value.last()) == literal.last().copied();
        match (self.any_prefix, self.any_suffix) {
            (false, false) => {
                value.len() == n && (n == 0 || first_same()) && value.eq_ignore_ascii_case(literal)
            }
            (false, true) => {
                value.len() >= n
                    && (n == 0 || first_same())
                    && value[..n].eq_ignore_ascii_case(literal)
            }
            (true, false) => {
                value.len() >= n
                    && (n == 0 || last_same())
                    && value[value.len() - n..].eq_ignore_ascii_case(literal)
            }
            // (Kept in `anywhere` by `LiteralPattern::of`; correct here all the same.)
            (true, true) => contains_ignore_ascii_case(value, literal),
        }
    }

    /// Where the literal may sit in a value with non-ASCII characters (newlines aside):
    /// characters compared from each possible start (only the first without `.*` before).
    fn is_match_unicode(&self, value: &str) -> bool {
        let starts = value.char_indices().map(|(i, _)| i).chain([value.len()]);
        for start in starts {
            if let Some(n) = literal_at(&value[start..], self.literal.as_bytes())
                && (self.any_suffix || start + n == value.len())
            {
                return true;
            }
            if !self.any_prefix {
                break;
            }
        }
        false
    }

    /// Whether `literal` occurs anywhere in a value with non-ASCII characters.
    fn contains_unicode(value: &str, literal: &[u8]) -> bool {
        let mut starts = value.char_indices().map(|(i, _)| i).chain([value.len()]);
        starts.any(|start| literal_at(&value[start..], literal).is_some())
    }
}

/// The byte length of the literal at the start of `value`, with the two non-ASCII
/// characters that fold to ASCII letters.
fn literal_at(value: &str, literal: &[u8]) -> Option<usize> {
    let mut chars = value.char_indices();
    for &want in literal {
        let (_, c) = chars.next()?;
        let folded = match c {
            '\u{212A}' => 'k',
            '\u{017F}' => 's',
            c => c.to_ascii_lowercase(),
        };
        if folded != char::from(want) {
            return None;
        }
    }
    Some(chars.next().map_or(value.len(), |(i, _)| i))
}

/// Whether `haystack` contains `needle` (lowercase ASCII), ignoring ASCII case: candidates
/// are found by the first byte, then compared.
fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let first_upper = first.to_ascii_uppercase();
    let Some(last_start) = haystack.len().checked_sub(needle.len()) else {
        return false;
    };
    haystack[..=last_start].iter().enumerate().any(|(i, &b)| {
        (b == first || b == first_upper)
            && haystack[i + 1..i + needle.len()].eq_ignore_ascii_case(rest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn literal_forms() {
        let lit = |p: &str| LiteralPattern::parse(p);
        assert!(lit("kube-system").is_some());
        assert!(lit(r"kube\-proxy").is_some_and(|l| l.is_match("KUBE-PROXY")));
        assert!(lit("apt|dpkg").is_some_and(|l| l.is_match("dpkg") && !l.is_match("apt|dpkg")));
        assert!(
            lit("kubeadmin.*").is_some_and(|l| l.is_match("kubeadmin-x") && !l.is_match("x\n"))
        );
        assert!(
            lit(".*(SECRET|token).*").is_some_and(|l| l.is_match("MY_SECRET_KEY")
                && l.is_match("Token")
                && !l.is_match("SECRE")
                && !l.is_match("A_SECRET\nB"))
        );
        assert!(lit(".*key|(?:b)").is_none());
        let start = lit("apt|DPKG|llvm-.*").and_then(|l| {
            l.anchored_at_start()
                .map(|(e, p)| (e.join(","), p.join(",")))
        });
        assert_eq!(start, Some(("apt,dpkg".into(), "llvm-".into())));
        assert!(lit("a|.*b").is_some_and(|l| l.anchored_at_start().is_none()));
        let set = LiteralPattern::parse_all(&[".*a.*".into(), "b".into(), "(?:c|d).*".into()]);
        assert!(set.is_some_and(|l| l.is_match("xAx")
            && l.is_match("b")
            && !l.is_match("bb")
            && l.is_match("dx")
            && !l.is_match("xd")));
        assert!(lit("(?:ab|cd)").is_some_and(|l| l.is_match("CD") && !l.is_match("abcd")));
        assert!(lit(".*\\.sh").is_some_and(|l| l.is_match("/tmp/x.sh") && !l.is_match("x.sha")));
        for not_literal in [
            "kube-.*x", r"\d+", "a(b)", "(a)b", "(a)|(b)", "((a))", "[ab]", "a.b", "a+", "^a", "é",
            "a.*b",
        ] {
            assert_eq!(lit(not_literal), None, "{not_literal}");
        }
        assert!(lit("").is_some_and(|l| l.is_match("") && !l.is_match("a")));
    }

    #[test]
    fn whole_literals_reject_ascii_values_by_length_but_not_folded_characters() {
        let Some(tools) = LiteralPattern::parse("rpm|microdnf|dnf|yum|kubectl") else {
            panic!("a literal pattern");
        };
        for (value, matches) in [
            ("yum", true),
            ("MicroDNF", true),
            ("yum2", false),
            ("rpm\n", false),
            ("", false),
            // The Kelvin sign and the long s fold to ASCII letters in more bytes than one.
            ("\u{212A}ubectl", true),
            ("kubect\u{017F}", false),
            ("\u{017F}\u{212A}", false),
        ] {
            assert_eq!(tools.is_match(value), matches, "{value:?}");
            assert_eq!(
                regex_of("rpm|microdnf|dnf|yum|kubectl").is_match(value),
                matches,
                "{value:?}"
            );
        }
        let Some(s) = LiteralPattern::parse("ssh|ss") else {
            panic!("a literal pattern");
        };
        assert!(s.is_match("\u{017F}\u{017F}h") && s.is_match("s\u{017F}") && !s.is_match("ssss"));
        // Two Kelvin signs are six bytes: as long as a value matching `kk` can be.
        let Some(kk) = LiteralPattern::parse("kk|x") else {
            panic!("a literal pattern");
        };
        assert!(kk.is_match("\u{212A}\u{212A}") && !kk.is_match("\u{212A}\u{212A}\u{212A}"));
    }

    #[test]
    fn escaped_punctuation_is_literal_except_word_boundaries() {
        for c in (0u8..128)
            .map(char::from)
            .filter(char::is_ascii_punctuation)
        {
            let pattern = format!("\\{c}");
            let literal = LiteralPattern::parse(&pattern);
            // Every escape taken as a literal is one for the regex crate too.
            assert_eq!(
                literal.is_some(),
                regex_of(&pattern).is_match(&c.to_string()),
                "{pattern}"
            );
            assert_eq!(literal.is_some(), c != '<' && c != '>', "{pattern}");
        }
    }

    #[test]
    fn end_keys_admit_only_values_with_a_literals_end() {
        // StackRox's miner pattern: `.*literal` alternatives, one `.*literal.*`.
        let miners = LiteralPattern::parse(
            ".*sgminer|.*cgminer|.*cpuminer|.*minerd|.*geth|.*xmr-stak.*|.*xmrig",
        )
        .unwrap();
        let (heads, tails) = miners.end_keys.as_ref().unwrap();
        assert_eq!(tails.width, 4);
        assert!(heads.keys.is_empty());
        // No alternative anchored at the start: no value gets in by its start.
        assert!(!heads.admit(b"", false) && !heads.admit(b"sgminer", false));
        for (value, admitted) in [
            ("server", false),
            ("bash", false),
            ("miner", true),
            ("geth", true),
            ("/opt/XMRIG", true),
            ("minerd", true),
            ("cgminer", true),
            ("rig", false),
        ] {
            assert_eq!(tails.admit(value.as_bytes(), true), admitted, "{value}");
            // Admitted or not, the pattern answers as the regex crate does.
            assert_eq!(
                miners.is_match(value),
                regex_of(".*sgminer|.*cgminer|.*cpuminer|.*minerd|.*geth|.*xmr-stak.*|.*xmrig")
                    .is_match(value),
                "{value}"
            );
        }
        // Anchored at the start, the shortest literal sets the width; an empty literal
        // admits every value.
        let starts = LiteralPattern::parse("ip|ifconfig.*|route|arp").unwrap();
        let (heads, _) = starts.end_keys.as_ref().unwrap();
        assert_eq!(heads.width, 2);
        assert!(heads.admit(b"IFUP", false));
        assert!(!heads.admit(b"server", false));
        assert!(!heads.admit(b"i", false));
        let empty = LiteralPattern::parse("|abc|de|fgh").unwrap();
        let (heads, _) = empty.end_keys.as_ref().unwrap();
        assert!(heads.admit(b"", false) && heads.admit(b"zzz", false));
        // Fewer alternatives are compared one by one.
        assert!(
            LiteralPattern::parse("ip|route|arp")
                .unwrap()
                .end_keys
                .is_none()
        );
    }

    #[test]
    fn many_alternatives_and_a_huge_value_answer_in_bounded_time() {
        // 20,000 `.*literal` and start-anchored alternatives: the key lookup is built once
        // and answers a megabyte value, or one short value, the way a scan would.
        let tails: Vec<String> = (0..10_000).map(|i| format!(".*x{i:05}")).collect();
        let heads: Vec<String> = (0..10_000).map(|i| format!("y{i:05}.*")).collect();
        let pattern = [tails, heads].concat().join("|");
        let literal = LiteralPattern::parse(&pattern).unwrap();
        let (heads, tails) = literal.end_keys.as_ref().unwrap();
        assert_eq!((heads.width, tails.width), (4, 4));
        let huge = "z".repeat(1 << 20);
        assert!(!literal.is_match(&huge));
        assert!(literal.is_match(&format!("{huge}X09999")));
        assert!(literal.is_match(&format!("Y00042{huge}")));
        assert!(!literal.is_match(&format!("{huge}x1000")));
        assert!(!literal.is_match("y0004"));
    }

    fn regex_of(pattern: &str) -> regex::Regex {
        regex::Regex::new(&crate::hir::regex_source(pattern, false).unwrap()).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The literal matcher and the regex crate agree, on ASCII and tricky Unicode input.
        #[test]
        fn agrees_with_the_regex_crate(
            alternatives in prop::collection::vec(("[a-zA-Z0-9_:/ -]{0,6}", any::<bool>(), any::<bool>()), 1..7),
            group in prop::option::of((any::<bool>(), any::<bool>(), any::<bool>())),
            before in "[a-zA-Z0-9_ \n\u{212A}\u{017F}é]{0,4}",
            value in "[a-zA-Z0-9_:/ \\-\n\u{212A}\u{017F}\u{0130}\u{0131}é]{0,10}",
            take_literal in any::<bool>(),
        ) {
            let pattern: Vec<String> = alternatives
                .iter()
                .map(|(l, pre, post)| format!(
                    "{}{}{}",
                    if *pre { ".*" } else { "" },
                    regex::escape(l),
                    if *post { ".*" } else { "" }
                ))
                .collect();
            let pattern = pattern.join("|");
            // Optionally one group, `(...)` or `(?:...)`, with `.*` around it.
            let pattern = match group {
                Some((pre, post, capturing)) => format!(
                    "{}{}{pattern}){}",
                    if pre { ".*" } else { "" },
                    if capturing { "(" } else { "(?:" },
                    if post { ".*" } else { "" }
                ),
                None => pattern,
            };
            let literal = LiteralPattern::parse(&pattern).unwrap();
            let re = regex_of(&pattern);
            // Values built around the literals themselves, so matches are frequent.
            let value = if take_literal {
                let (l, _, _) = &alternatives[0];
                let swapped: String = l.chars().map(|c| match c { 'k' => '\u{212A}', 's' => '\u{017F}', c => c.to_ascii_uppercase() }).collect();
                format!("{before}{swapped}{value}")
            } else {
                value
            };
            prop_assert_eq!(literal.is_match(&value), re.is_match(&value), "pattern {:?} value {:?}", pattern, value);
        }
    }
}
