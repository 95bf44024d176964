//! Whole-string, case-insensitive patterns that are only literals (`curl`, `apt|dpkg`,
//! `kube\-system`, `kubeadmin.*`) match without the regex engine: most patterns of the
//! built-in library are such, and a compiled regex costs kilobytes each. Matching is
//! exactly that of `^(?i:PATTERN)$` in the regex crate, including its Unicode simple case
//! folding (the Kelvin sign matches `k`, the long s matches `s`) and `.` not matching `\n`.

/// One alternative: a lowercase ASCII literal, optionally followed by `.*`.
#[derive(Clone, Debug, PartialEq)]
struct Alternative {
    literal: String,
    any_suffix: bool,
}

/// A pattern made of literal alternatives.
#[derive(Clone, Debug, PartialEq)]
pub struct LiteralPattern(Vec<Alternative>);

impl LiteralPattern {
    /// The literal form of a pattern, when it has one: alternatives separated by `|`, each
    /// ASCII characters without regex operators (escaped punctuation allowed), optionally
    /// ending in `.*`.
    pub fn parse(pattern: &str) -> Option<Self> {
        let mut alternatives = Vec::new();
        let mut literal = String::new();
        let mut chars = pattern.chars().peekable();
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
                        any_suffix,
                    });
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
                    any_suffix = true;
                }
                Some('.' | '^' | '$' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}') => {
                    return None;
                }
                Some(c) if !c.is_ascii() || c.is_ascii_control() => return None,
                Some(c) => literal.push(c.to_ascii_lowercase()),
            }
        }
        Some(LiteralPattern(alternatives))
    }

    /// The literal form of a set of patterns (matching when any matches), when every one
    /// has one.
    pub fn parse_all(patterns: &[String]) -> Option<Self> {
        let mut alternatives = Vec::new();
        for p in patterns {
            alternatives.extend(LiteralPattern::parse(p)?.0);
        }
        Some(LiteralPattern(alternatives))
    }

    /// Whether the whole of `value` matches one alternative.
    pub fn is_match(&self, value: &str) -> bool {
        self.0.iter().any(|a| a.is_match(value))
    }
}

impl Alternative {
    fn is_match(&self, value: &str) -> bool {
        if value.is_ascii() {
            let Some(head) = value.get(..self.literal.len()) else {
                return false;
            };
            let rest = &value[self.literal.len()..];
            return head.eq_ignore_ascii_case(&self.literal)
                && if self.any_suffix {
                    !rest.contains('\n')
                } else {
                    rest.is_empty()
                };
        }
        // Non-ASCII: compare characters, with the two that fold to ASCII letters.
        let mut chars = value.chars();
        for want in self.literal.bytes() {
            let Some(c) = chars.next() else { return false };
            let folded = match c {
                '\u{212A}' => 'k',
                '\u{017F}' => 's',
                c => c.to_ascii_lowercase(),
            };
            if folded != char::from(want) {
                return false;
            }
        }
        if self.any_suffix {
            chars.all(|c| c != '\n')
        } else {
            chars.next().is_none()
        }
    }
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
        for not_literal in ["kube-.*x", r"\d+", "a(b)", "[ab]", "a.b", "a+", "^a", "é"] {
            assert_eq!(lit(not_literal), None, "{not_literal}");
        }
        assert!(lit("").is_some_and(|l| l.is_match("") && !l.is_match("a")));
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

    fn regex_of(pattern: &str) -> regex::Regex {
        regex::Regex::new(&crate::hir::regex_source(pattern, false)).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The literal matcher and the regex crate agree, on ASCII and tricky Unicode input.
        #[test]
        fn agrees_with_the_regex_crate(
            alternatives in prop::collection::vec(("[a-zA-Z0-9_:/ -]{0,6}", any::<bool>()), 1..4),
            value in "[a-zA-Z0-9_:/ \\-\n\u{212A}\u{017F}\u{0130}\u{0131}é]{0,10}",
            take_prefix in any::<bool>(),
        ) {
            let pattern: Vec<String> = alternatives
                .iter()
                .map(|(l, star)| format!("{}{}", regex::escape(l), if *star { ".*" } else { "" }))
                .collect();
            let pattern = pattern.join("|");
            let literal = LiteralPattern::parse(&pattern).unwrap();
            let re = regex_of(&pattern);
            // Values built from the literals themselves, so matches are frequent.
            let value = if take_prefix {
                let (l, _) = &alternatives[0];
                let swapped: String = l.chars().map(|c| match c { 'k' => '\u{212A}', 's' => '\u{017F}', c => c.to_ascii_uppercase() }).collect();
                format!("{swapped}{value}")
            } else {
                value
            };
            prop_assert_eq!(literal.is_match(&value), re.is_match(&value), "pattern {:?} value {:?}", pattern, value);
        }
    }
}
