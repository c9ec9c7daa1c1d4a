//! What a `--set` override that the schema rejected most likely meant. Presets parse on their
//! own, so a schema error at a path an override wrote is that override's fault: the error then
//! names the override as typed and, where the fix is guessable, says it — the nearest known key
//! by edit distance, the `serve.`/`model.` prefix a key belongs under, or that a field takes a
//! plain number where a quantity with a unit was given.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_yaml::Value;

use crate::config::error::ConfigError;
use crate::config::load::{Override, Target};
use crate::model::spec::ModelSpec;
use crate::serving::spec::ServeSpec;
use crate::units::{Bytes, BytesPerSec, FlopsPerSec, Seconds};

/// The schema error of a document built with `sets` (those aimed at `target` applied to `doc`),
/// restated as the error of the override that caused it; `None` when no override wrote the
/// failing path, so the caller reports the schema error as it is.
pub(crate) fn blame(
    error: &serde_path_to_error::Error<serde_yaml::Error>,
    doc: &Value,
    sets: &[Override],
    target: Target,
) -> Option<ConfigError> {
    let failing = written_path(error.path(), doc)?;
    let inner = error.inner().to_string();
    let set = sets
        .iter()
        .filter(|s| s.target().0 == target)
        .rev()
        .find(|s| covers(s.target().1, &failing))?;
    let (_, path) = set.target();
    // The part of the override's path in front of the spec's own keys (`serve.`, `model.`).
    let prefix = &set.path[..set.path.len() - path.len()];
    let value = set.text.split_once('=').map_or("", |(_, v)| v.trim());
    let message = if let Some(unknown) = UnknownField::parse(&inner) {
        let depth = failing.len() - 1;
        unknown_key(
            &unknown,
            prefix,
            &path[..depth],
            &path[depth + 1..],
            value,
            target,
        )
    } else if let Some(given) = unit_where_number(&inner) {
        let field = set.path.join(".");
        let key = path.last().map_or("", String::as_str);
        format!(
            "`{field}` is {}, not {}; give it without a unit",
            plain_number(key),
            quantity(&given)
        )
    } else {
        format!("`{}`: {inner}", set.path.join("."))
    };
    // In the schema's words, with long values elided, as every other schema error.
    Some(ConfigError::Override {
        text: crate::units::elide(&set.text),
        message: crate::config::load::schema_words(&crate::config::load::elide_quoted(&message)),
    })
}

/// One step of the failing field's path: a map key, or a list element with its index and its
/// `name` where it has one (an override may select it either way).
struct Step {
    key: String,
    index: Option<usize>,
}

/// The serde path of the failing field, its list elements named from `doc`.
fn written_path(path: &serde_path_to_error::Path, doc: &Value) -> Option<Vec<Step>> {
    use serde_path_to_error::Segment;
    let mut node = Some(doc);
    let mut out = Vec::new();
    for seg in path {
        let step = match seg {
            Segment::Seq { index } => {
                node = node.and_then(|n| n.get(*index));
                let name = node.and_then(|i| i.get("name")).and_then(Value::as_str);
                Step {
                    key: name.map_or_else(|| index.to_string(), str::to_owned),
                    index: Some(*index),
                }
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                node = node.and_then(|n| n.get(key.as_str()));
                Step {
                    key: key.clone(),
                    index: None,
                }
            }
            Segment::Unknown => return None,
        };
        out.push(step);
    }
    (!out.is_empty()).then_some(out)
}

/// Whether an override writing `set` wrote the field at `failing` or a field inside it.
fn covers(set: &[String], failing: &[Step]) -> bool {
    failing.len() <= set.len()
        && set
            .iter()
            .zip(failing)
            .all(|(s, f)| *s == f.key || (f.index.is_some() && s.parse::<usize>().ok() == f.index))
}

/// serde's `unknown field `x`, expected one of `a`, `b`` message, taken apart.
struct UnknownField {
    /// The key as given.
    given: String,
    /// The keys the schema accepts at that level.
    expected: Vec<String>,
}

impl UnknownField {
    fn parse(message: &str) -> Option<Self> {
        let rest = message.strip_prefix("unknown field `")?;
        let (given, expected) = rest.split_once('`')?;
        // Every other backtick-quoted word after the key is an accepted key.
        let expected = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        Some(Self {
            given: given.to_owned(),
            expected,
        })
    }
}

/// The message for an unknown key at `parent.<given>.<rest>`: the key under its own prefix
/// when it belongs to another spec, else the nearest accepted key, else the accepted keys.
fn unknown_key(
    unknown: &UnknownField,
    prefix: &[String],
    parent: &[String],
    rest: &[String],
    value: &str,
    target: Target,
) -> String {
    let dotted = |segs: &[&str]| segs.join(".");
    let mut candidates: Vec<(String, String)> = unknown
        .expected
        .iter()
        .map(|k| {
            let mut segs: Vec<&str> = prefix.iter().map(String::as_str).collect();
            segs.extend(parent.iter().map(String::as_str));
            segs.push(k);
            segs.extend(rest.iter().map(String::as_str));
            (k.clone(), dotted(&segs))
        })
        .collect();
    // A key at the top of the system spec without a prefix may belong to the model or the
    // serving workload, which take theirs only with `model.` or `serve.` in front.
    if target == Target::System && prefix.is_empty() && parent.is_empty() {
        for (other, keys) in [("serve", ServeSpec::keys()), ("model", ModelSpec::keys())] {
            for k in keys {
                let mut segs = vec![other, k];
                segs.extend(rest.iter().map(String::as_str));
                candidates.push(((*k).to_owned(), dotted(&segs)));
            }
        }
    }
    let here = {
        let mut segs: Vec<&str> = prefix.iter().map(String::as_str).collect();
        segs.extend(parent.iter().map(String::as_str));
        segs.push(&unknown.given);
        segs.extend(rest.iter().map(String::as_str));
        dotted(&segs)
    };
    let nearest = candidates
        .iter()
        .map(|(key, path)| (distance(&unknown.given, key), path))
        .filter(|(d, _)| *d <= tolerance(&unknown.given))
        .min_by_key(|(d, _)| *d);
    match nearest {
        Some((_, path)) => format!("`{here}` is not a setting; did you mean --set {path}={value}?"),
        None => {
            let within = match (parent.is_empty(), target) {
                (false, _) => format!("under `{}`", parent.join(".")),
                (true, Target::System) => "of a system".to_owned(),
                (true, Target::Model) => "of a model".to_owned(),
                (true, Target::Serve) => "of the serving workload".to_owned(),
            };
            let others = if parent.is_empty() && target == Target::System && prefix.is_empty() {
                " (a model's keys take `model.` in front, the serving workload's `serve.`)"
            } else {
                ""
            };
            format!(
                "`{here}` is not a setting; the keys {within} are {}{others}",
                unknown.expected.join(", ")
            )
        }
    }
}

/// Edit distance between keys, ignoring case.
fn distance(a: &str, b: &str) -> usize {
    strsim::levenshtein(&a.to_ascii_lowercase(), &b.to_ascii_lowercase())
}

/// The largest edit distance still read as a typo of a key: a third of its length, at least
/// two, so that `n_layer` finds `n_layers` but `seed` does not find `sim`.
fn tolerance(key: &str) -> usize {
    (key.chars().count() / 3).max(2)
}

/// The text a field that wants a plain number was given, when serde rejected it for being a
/// string (`5us` for `latency_scale`).
fn unit_where_number(message: &str) -> Option<String> {
    let rest = message.strip_prefix("invalid type: string \"")?;
    let (given, expected) = rest.split_once("\", expected ")?;
    let numeric = [
        "f64", "f32", "u8", "u16", "u32", "u64", "usize", "i32", "i64",
    ];
    let wants_number = numeric.contains(&expected)
        || expected.contains("integer")
        || expected.contains("floating point");
    wants_number.then(|| given.to_owned())
}

/// What kind of plain number a field takes, from the naming of the schema's fields.
fn plain_number(key: &str) -> String {
    if key.ends_with("_scale") {
        "a plain multiplier (e.g. 4)".to_owned()
    } else if key.ends_with("_efficiency") {
        "a plain fraction of the peak (e.g. 0.5)".to_owned()
    } else {
        "a plain number".to_owned()
    }
}

/// The quantity `text` reads as (`a time (5us)`), so the message says what was confused.
fn quantity(text: &str) -> String {
    let kind = if Seconds::parse(text).is_ok() {
        "a time"
    } else if BytesPerSec::parse(text).is_ok() {
        "a bandwidth"
    } else if FlopsPerSec::parse(text).is_ok() {
        "a FLOP rate"
    } else if Bytes::parse(text).is_ok() {
        "a size"
    } else {
        return format!("`{text}`");
    };
    format!("{kind} (`{text}`)")
}

/// The top-level keys of a spec, read from its `Deserialize` implementation so that they can
/// never drift from the schema.
trait Keys {
    fn keys() -> &'static [&'static str];
}

impl<T: for<'de> Deserialize<'de>> Keys for T {
    fn keys() -> &'static [&'static str] {
        let mut fields = None;
        // The probe records the field list and refuses to go on, so the error is expected.
        let _ = T::deserialize(FieldProbe(&mut fields));
        fields.unwrap_or(&[])
    }
}

/// A deserializer that only records the field names a struct asks for.
struct FieldProbe<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::system::SystemSpec;

    #[test]
    fn the_probe_reads_each_schema_s_top_level_keys() {
        assert!(SystemSpec::keys().contains(&"tiers"));
        assert!(ServeSpec::keys().contains(&"arrival_rate_per_s"));
        assert!(ModelSpec::keys().contains(&"n_layers"));
    }

    #[test]
    fn serde_s_unknown_field_message_is_taken_apart() {
        let u =
            UnknownField::parse("unknown field `rd`, expected one of `name`, `read_bw`").unwrap();
        assert_eq!(u.given, "rd");
        assert_eq!(u.expected, ["name", "read_bw"]);
        let two = UnknownField::parse("unknown field `x`, expected `a` or `b`").unwrap();
        assert_eq!(two.expected, ["a", "b"]);
    }

    #[test]
    fn a_typo_is_within_tolerance_and_another_word_is_not() {
        assert!(distance("n_layer", "n_layers") <= tolerance("n_layer"));
        assert!(distance("seed", "sim") > tolerance("seed"));
    }

    #[test]
    fn a_unit_given_to_a_plain_number_is_recognised() {
        let m = "invalid type: string \"5us\", expected f64";
        assert_eq!(unit_where_number(m).as_deref(), Some("5us"));
        assert_eq!(quantity("5us"), "a time (`5us`)");
        assert_eq!(quantity("8GB/s"), "a bandwidth (`8GB/s`)");
        assert!(unit_where_number("invalid type: string \"x\", expected a time").is_none());
    }
}
