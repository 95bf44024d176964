//! The reference evaluator: a deliberately simple interpreter over the checked AST, used
//! as the oracle the compiled matcher is tested against. It shares only the record
//! readers ([`crate::value`]); regexes and globs are compiled on every use, sets are
//! scanned linearly. Scopes and exclusions are not its concern: it answers whether a
//! rule's condition holds on a record.

use crate::matcher::Tri;
use crate::value::{self, Ctx, Obj, Val};
use palisade_lang::ast::{CmpOp, Quant};
use palisade_lang::hir::{self, Cond, Operand, Rule, Test};
use std::cmp::Ordering;

/// Whether `rule`'s condition holds on the record `root`.
pub fn eval_rule<'r>(rule: &Rule, root: Obj<'r>, ctx: &Ctx<'r>) -> Tri {
    let mut env = vec![Obj::None; rule.bindings.len().max(1)];
    env[0] = root;
    eval(rule, &rule.cond, &mut env, ctx)
}

fn kleene_and(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Tri::False, _) | (_, Tri::False) => Tri::False,
        (Tri::True, Tri::True) => Tri::True,
        _ => Tri::Unknown,
    }
}

fn kleene_or(a: Tri, b: Tri) -> Tri {
    kleene_and(a.negate(), b.negate()).negate()
}

fn objects<'r>(
    rule: &Rule,
    binding: usize,
    env: &[Obj<'r>],
    ctx: &Ctx<'r>,
) -> Option<Vec<Obj<'r>>> {
    let (parent, link) = rule.bindings[binding].source?;
    Some(value::children(env[parent], link, ctx)?.collect())
}

fn eval<'r>(rule: &Rule, c: &Cond, env: &mut Vec<Obj<'r>>, ctx: &Ctx<'r>) -> Tri {
    match c {
        Cond::And(cs) => cs
            .iter()
            .fold(Tri::True, |acc, x| kleene_and(acc, eval(rule, x, env, ctx))),
        Cond::Or(cs) => cs
            .iter()
            .fold(Tri::False, |acc, x| kleene_or(acc, eval(rule, x, env, ctx))),
        Cond::Not(x) => eval(rule, x, env, ctx).negate(),
        Cond::Quant {
            quant,
            binding,
            body,
        } => {
            let Some(objs) = objects(rule, *binding, env, ctx) else {
                return Tri::Unknown;
            };
            let results: Vec<Tri> = objs
                .into_iter()
                .map(|o| {
                    env[*binding] = o;
                    eval(rule, body, env, ctx)
                })
                .collect();
            match quant {
                Quant::Every => results.into_iter().fold(Tri::True, kleene_and),
                Quant::Any | Quant::No => results.into_iter().fold(Tri::False, kleene_or),
            }
        }
        Cond::Test { operand, test, .. } => {
            let v = operand_value(rule, operand, env, ctx);
            apply(test, v)
        }
    }
}

enum RefVal<'r> {
    Val(Val<'r>),
    Count(Option<usize>),
}

fn operand_value<'r>(rule: &Rule, o: &Operand, env: &mut Vec<Obj<'r>>, ctx: &Ctx<'r>) -> Val<'r> {
    let rv = match o {
        Operand::Field { binding, field } => RefVal::Val(value::field(env[*binding], *field, ctx)),
        Operand::MapValue {
            binding,
            field,
            key,
        } => RefVal::Val(match value::field(env[*binding], *field, ctx) {
            Val::Map(m) => m
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(Val::Missing, |(_, v)| Val::Str(v)),
            _ => Val::Missing,
        }),
        Operand::DaysSince { binding, field } => {
            RefVal::Val(match value::field(env[*binding], *field, ctx) {
                Val::Time(t) => Val::Num((ctx.now - t) as f64 / 86_400.0),
                _ => Val::Missing,
            })
        }
        Operand::Count { chain, filter } => {
            RefVal::Count(count(rule, chain, filter.as_deref(), env, ctx))
        }
    };
    match rv {
        RefVal::Val(v) => v,
        RefVal::Count(Some(n)) => Val::Num(n as f64),
        RefVal::Count(None) => Val::Missing,
    }
}

fn count<'r>(
    rule: &Rule,
    chain: &[usize],
    filter: Option<&Cond>,
    env: &mut Vec<Obj<'r>>,
    ctx: &Ctx<'r>,
) -> Option<usize> {
    match chain.split_first() {
        None => Some(filter.is_none_or(|f| eval(rule, f, env, ctx) == Tri::True) as usize),
        Some((b, rest)) => {
            let mut total = 0;
            for o in objects(rule, *b, env, ctx)? {
                env[*b] = o;
                total += count(rule, rest, filter, env, ctx)?;
            }
            Some(total)
        }
    }
}

fn cmp(op: CmpOp, ord: Option<Ordering>) -> Tri {
    ord.map_or(Tri::Unknown, |o| Tri::of(op.holds(o)))
}

fn regex_match(pattern: &str, search: bool, s: &str) -> bool {
    hir::regex_source(pattern, search)
        .ok()
        .and_then(|source| regex::Regex::new(&source).ok())
        .is_some_and(|r| r.is_match(s))
}

fn enum_index(kind: palisade_lang::schema::EnumKind, s: &str) -> Option<u8> {
    kind.index_of_record_value(s)
}

fn apply(test: &Test, v: Val<'_>) -> Tri {
    if let Test::Present = test {
        return Tri::of(!matches!(v, Val::Missing));
    }
    match (test, v) {
        (_, Val::Missing) => Tri::Unknown,
        (Test::Truthy, Val::Bool(b)) => Tri::of(b),
        (Test::Num(op, x), Val::Num(y)) => cmp(*op, y.partial_cmp(x)),
        (Test::Str(op, x), Val::Str(y)) => cmp(
            *op,
            Some(if y == x {
                Ordering::Equal
            } else {
                Ordering::Greater
            }),
        ),
        (Test::Bool(op, x), Val::Bool(y)) => cmp(
            *op,
            Some(if y == *x {
                Ordering::Equal
            } else {
                Ordering::Greater
            }),
        ),
        (Test::Time(op, x), Val::Time(y)) => cmp(*op, Some(y.cmp(x))),
        (Test::Enum(op, kind, x), Val::Str(y)) => cmp(*op, enum_index(*kind, y).map(|i| i.cmp(x))),
        (Test::Regex { patterns, negated }, Val::Str(y)) => {
            Tri::of(patterns.iter().any(|p| regex_match(p, false, y)) != *negated)
        }
        (Test::Search(p), Val::Str(y)) => Tri::of(regex_match(p, true, y)),
        (Test::Substring(x), Val::Str(y)) => Tri::of(y.contains(x.as_str())),
        (Test::Glob(g), Val::Str(y)) => Tri::of(hir::build_glob(g).is_ok_and(|m| m.is_match(y))),
        (Test::Prefix(x), Val::Str(y)) => Tri::of(y.starts_with(x.as_str())),
        (Test::Suffix(x), Val::Str(y)) => Tri::of(y.ends_with(x.as_str())),
        (Test::InStrs { values, negated }, Val::Str(y)) => {
            Tri::of(values.iter().any(|x| x == y) != *negated)
        }
        (Test::InNums { values, negated }, Val::Num(y)) => Tri::of(values.contains(&y) != *negated),
        (
            Test::InEnums {
                kind,
                values,
                negated,
            },
            Val::Str(y),
        ) => match enum_index(*kind, y) {
            Some(i) => Tri::of(values.contains(&i) != *negated),
            None => Tri::Unknown,
        },
        (Test::ListHas(x), Val::List(items)) => Tri::of(items.iter().any(|i| i == x)),
        (Test::ListHasAny(xs), Val::List(items)) => Tri::of(items.iter().any(|i| xs.contains(i))),
        (Test::ListMatch { patterns, negated }, Val::List(items)) => Tri::of(
            items
                .iter()
                .any(|i| patterns.iter().any(|p| regex_match(p, false, i)))
                != *negated,
        ),
        (Test::MapHasKey(k), Val::Map(m)) => Tri::of(m.keys().any(|x| x == k)),
        _ => Tri::Unknown,
    }
}
