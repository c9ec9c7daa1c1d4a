//! Loading specs: a preset name or a YAML file, then `--set` overrides, then the schema, then
//! validation — each step reporting where it failed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use serde::de::DeserializeOwned;
use serde_yaml::Value;

use crate::config::error::ConfigError;
use crate::config::presets::{self, Preset};
use crate::config::suggest;
use crate::config::system::SystemSpec;
use crate::config::validate;
use crate::model::gguf;
use crate::model::spec::ModelSpec;
use crate::{files, limits, units};

/// The model simulated when none is named: the seeds' model.
pub const DEFAULT_MODEL: &str = "qwen2.5-3b-instruct-q4_k_m";
/// The system simulated when none is named: HBM with KV spilling to HBF.
pub const DEFAULT_SYSTEM: &str = "h100-hbf";

/// A spec and where it came from (a path or `preset <name>`), for messages and result files.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<T> {
    /// The parsed, overridden and validated spec.
    pub spec: T,
    /// A path or `preset <name>`.
    pub origin: String,
}

/// One `--set key=value` override: a dotted path and a YAML value.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Path segments; a segment selects a map key, a list element by its `name`, or an index.
    pub path: Vec<String>,
    /// The value, parsed as YAML (`4us`, `16`, `[hbm, hbf]`).
    pub value: Value,
    /// The override as written, for messages.
    pub text: String,
}

impl Override {
    /// Parses `tiers.hbf.read_bw=800GB/s`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let err = |message: &str| ConfigError::Override {
            text: text.to_owned(),
            message: message.to_owned(),
        };
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| err("expected key=value, e.g. tiers.hbf.read_bw=800GB/s"))?;
        let value = document_text(value.trim())
            .map_err(|m| err(&format!("the value {m}")))
            .and_then(|v| {
                serde_yaml::from_str(v).map_err(|e| {
                    err(&format!(
                        "the value is not valid YAML ({})",
                        schema_words(&e.to_string())
                    ))
                })
            })?;
        Self::new(key.trim(), value, text)
    }

    /// An override setting the dotted `path` to a YAML value; `text` is how it was written.
    pub fn new(path: &str, value: Value, text: &str) -> Result<Self, ConfigError> {
        let path: Vec<String> = path.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Override {
                text: text.to_owned(),
                message:
                    "the key has an empty segment; expected a dotted path such as tiers.hbf.read_bw"
                        .into(),
            });
        }
        Ok(Self {
            path,
            value,
            text: text.to_owned(),
        })
    }

    /// Which spec the override targets, and the path inside it: `model.` goes to the model,
    /// `system.` or no prefix to the system.
    pub fn target(&self) -> (Target, &[String]) {
        match self.path[0].as_str() {
            "model" if self.path.len() > 1 => (Target::Model, &self.path[1..]),
            "system" if self.path.len() > 1 => (Target::System, &self.path[1..]),
            "serve" if self.path.len() > 1 => (Target::Serve, &self.path[1..]),
            _ => (Target::System, &self.path[..]),
        }
    }

    /// Writes the value at the path in `doc`, creating missing map keys (the schema then rejects
    /// keys that do not exist).
    pub fn apply(&self, doc: &mut Value, path: &[String]) -> Result<(), ConfigError> {
        let mut node = doc;
        for (i, seg) in path.iter().enumerate() {
            let here = || path[..=i].join(".");
            node = match node {
                Value::Mapping(map) => {
                    let key = Value::String(seg.clone());
                    if !map.contains_key(&key) {
                        map.insert(key.clone(), Value::Null);
                    }
                    map.get_mut(&key).expect("inserted above")
                }
                Value::Sequence(items) => {
                    let by_name = items.iter().position(|item| {
                        item.get("name").and_then(Value::as_str) == Some(seg.as_str())
                    });
                    let index =
                        by_name.or_else(|| seg.parse::<usize>().ok().filter(|&n| n < items.len()));
                    match index {
                        Some(n) => &mut items[n],
                        None => {
                            return Err(ConfigError::Override {
                                text: self.text.clone(),
                                message: format!(
                                    "`{}` names no element of the list (give an element's name or an index below {})",
                                    here(),
                                    items.len()
                                ),
                            });
                        }
                    }
                }
                Value::Null => {
                    *node = Value::Mapping(Default::default());
                    let Value::Mapping(map) = node else {
                        unreachable!()
                    };
                    map.entry(Value::String(seg.clone())).or_insert(Value::Null)
                }
                _ => {
                    return Err(ConfigError::Override {
                        text: self.text.clone(),
                        message: format!("`{}` is a value, not a map or list", path[..i].join(".")),
                    });
                }
            };
        }
        *node = self.value.clone();
        Ok(())
    }
}

/// Which spec an override applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The model spec.
    Model,
    /// The system spec.
    System,
    /// The serving workload (`serve.max_batch=32`).
    Serve,
}

/// Loads a model by preset name, YAML file or GGUF file (the default model when `None`),
/// applying overrides.
pub fn model(name: Option<&str>, sets: &[Override]) -> Result<Loaded<ModelSpec>, ConfigError> {
    if let Some(path) = name.filter(|n| n.to_ascii_lowercase().ends_with(".gguf")) {
        let spec = gguf::spec_from_file(Path::new(path)).map_err(|e| ConfigError::Parse {
            origin: path.to_owned(),
            message: e.to_string(),
        })?;
        let text = serde_yaml::to_string(&spec).expect("a spec serialises");
        let loaded = load_text::<ModelSpec>(text, path.to_owned(), sets, Target::Model)?;
        validate::model(&loaded.spec, &loaded.origin)?;
        return Ok(loaded);
    }
    let loaded = load::<ModelSpec>(
        name.unwrap_or(DEFAULT_MODEL),
        "model",
        presets::MODELS,
        sets,
        Target::Model,
    )?;
    validate::model(&loaded.spec, &loaded.origin)?;
    Ok(loaded)
}

/// Loads a system by preset name or path (the default system when `None`), applying overrides.
pub fn system(name: Option<&str>, sets: &[Override]) -> Result<Loaded<SystemSpec>, ConfigError> {
    let loaded = load::<SystemSpec>(
        name.unwrap_or(DEFAULT_SYSTEM),
        "system",
        presets::SYSTEMS,
        sets,
        Target::System,
    )?;
    validate::system(&loaded.spec, &loaded.origin)?;
    Ok(loaded)
}

/// Parses YAML text into a spec, naming the offending field on failure.
pub fn parse<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, ConfigError> {
    from_value(yaml_document(text, origin)?, origin)
}

/// The YAML document of `text`: a leading byte-order mark dropped, flow nesting bounded before
/// the parser recurses, and the parser's message in the schema's words.
pub fn yaml_document(text: &str, origin: &str) -> Result<Value, ConfigError> {
    let parse_err = |message: String| ConfigError::Parse {
        origin: origin.to_owned(),
        message,
    };
    let text = document_text(text).map_err(|m| parse_err(format!("the document {m}")))?;
    serde_yaml::from_str(text)
        .map_err(|e| parse_err(format!("not valid YAML: {}", schema_words(&e.to_string()))))
}

/// `text` without a leading UTF-8 byte-order mark, once its bracket nesting is known to be
/// within [`limits::NESTING`]; otherwise the clause saying by how much it is past.
///
/// Editors on Windows start files with a BOM, which YAML parsers read as a second document and
/// JSON parsers as a stray character. And serde's parsers recurse per `[` or `{`, in time that
/// grows with the square of the depth in serde_yaml: counting the depth first, in one pass,
/// turns a 100,000-deep document into an error in microseconds.
pub fn document_text(text: &str) -> Result<&str, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let depth = limits::bracket_depth(text);
    limits::NESTING
        .check(depth as u64)
        .map(|_| text)
        .map_err(|e| e.to_string())
}

/// A serde message rewritten in the words of the file schema: Rust type names (`struct
/// EmpiricalSpec`, `u32`, `a Value::Tagged enum`) mean nothing to someone writing YAML, and
/// values quoted by the parser are shortened to [`units::elide`]'s length.
pub fn schema_words(message: &str) -> String {
    static RULES: OnceLock<Vec<(regex::Regex, &'static str)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            // serde_yaml's wording for an externally tagged enum met with a scalar or list.
            (r"a Value::Tagged enum", "one of the documented forms"),
            (
                r"a YAML tag starting with '!'",
                "one of the documented forms",
            ),
            (
                r"(?:internally tagged |adjacently tagged )?enum \w+",
                "one of the documented forms",
            ),
            (r"variant of untagged enum \w+", "accepted form"),
            (r"(?:tuple |newtype |unit )?struct \w+", "a map of fields"),
            (r"\bu8\b", "a whole number from 0 to 255"),
            (r"\bu16\b", "a whole number from 0 to 65,535"),
            (r"\bu32\b", "a whole number from 0 to 4,294,967,295"),
            (r"\bu(?:64|128|size)\b", "a whole number of at least 0"),
            (r"\bi(?:8|16|32|64|128|size)\b", "a whole number"),
            (r"\bf(?:32|64)\b", "a number"),
            (r"\bchar\b", "a single character"),
            (r"\ba sequence\b", "a list"),
            // serde prints a YAML `.nan` or `.inf` the Rust way.
            (r"floating point `NaN`", "the number `.nan`"),
            (r"floating point `(-?)inf`", "the number `${1}.inf`"),
            // A float formatted back into text by a deserializer that wanted a string.
            (r"`NaN`", "`.nan`"),
            (r"`(-?)inf`", "`${1}.inf`"),
            (r"\b(?:Option|Vec|HashMap|BTreeMap|Box)<[^>]*>", "a value"),
        ]
        .into_iter()
        .map(|(p, w)| (regex::Regex::new(p).expect("a valid pattern"), w))
        .collect()
    });
    let mut out = message.to_owned();
    for (re, words) in rules {
        out = re.replace_all(&out, *words).into_owned();
    }
    elide_quoted(&out)
}

/// Every backquoted or double-quoted span of `message` longer than [`units::elide`] allows,
/// shortened in the middle: a 309-digit number read back in full buries the sentence.
pub(crate) fn elide_quoted(message: &str) -> String {
    static QUOTED: OnceLock<regex::Regex> = OnceLock::new();
    let re = QUOTED.get_or_init(|| regex::Regex::new(r#"`[^`]*`|"[^"]*""#).expect("valid"));
    let out = re.replace_all(message, |c: &regex::Captures<'_>| {
        let m = &c[0];
        let (open, inner) = m.split_at(1);
        let inner = &inner[..inner.len() - 1];
        format!("{open}{}{open}", units::elide(inner))
    });
    // An unquoted run of digits (serde_yaml echoes numbers bare) is shortened too.
    static DIGITS: OnceLock<regex::Regex> = OnceLock::new();
    let digits = DIGITS.get_or_init(|| regex::Regex::new(r"[0-9.eE+-]{41,}").expect("valid"));
    digits
        .replace_all(&out, |c: &regex::Captures<'_>| units::elide(&c[0]))
        .into_owned()
}

fn from_value<T: DeserializeOwned>(doc: Value, origin: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(doc).map_err(|e| schema_error(e, origin))
}

fn schema_error(e: serde_path_to_error::Error<serde_yaml::Error>, origin: &str) -> ConfigError {
    let path = e.path().to_string();
    let inner = schema_words(&e.into_inner().to_string());
    let message = if path == "." || path.is_empty() {
        inner
    } else {
        format!("field `{path}`: {inner}")
    };
    ConfigError::Parse {
        origin: origin.to_owned(),
        message,
    }
}

fn load<T: DeserializeOwned>(
    name: &str,
    kind: &'static str,
    table: &[Preset],
    sets: &[Override],
    target: Target,
) -> Result<Loaded<T>, ConfigError> {
    let (text, origin) = read_named(name, kind, table)?;
    load_text(text, origin, sets, target)
}

/// Parses YAML `text` from `origin` into a spec after applying the overrides aimed at `target`.
pub(crate) fn load_text<T: DeserializeOwned>(
    text: String,
    origin: String,
    sets: &[Override],
    target: Target,
) -> Result<Loaded<T>, ConfigError> {
    let mut doc = parsed(&text, &origin)?;
    for set in sets {
        let (t, path) = set.target();
        if t == target {
            set.apply(&mut doc, path)?;
        }
    }
    let spec = serde_path_to_error::deserialize(doc).map_err(|e| {
        // Rebuilt only on failure: the override that broke the schema is named with list
        // elements as it names them, which the consumed document no longer can.
        let mut doc = parsed(&text, &origin).unwrap_or(Value::Null);
        for set in sets.iter().filter(|s| s.target().0 == target) {
            let _ = set.apply(&mut doc, set.target().1);
        }
        suggest::blame(&e, &doc, sets, target).unwrap_or_else(|| schema_error(e, &origin))
    })?;
    Ok(Loaded { spec, origin })
}

/// The YAML document of `text`, parsed once per process: a sweep resolves every point from
/// the same preset text with its own overrides, and parsing a preset with its evidence costs
/// more than simulating a short test.
fn parsed(text: &str, origin: &str) -> Result<Value, ConfigError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Value>>> = OnceLock::new();
    /// Texts above this size are parsed every time rather than kept.
    const MAX_CACHED_TEXT: usize = 1 << 20;
    /// Distinct documents kept; beyond it the cache stops growing.
    const MAX_CACHED_DOCS: usize = 256;
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(doc) = cache.lock().ok().and_then(|c| c.get(text).cloned()) {
        return Ok(doc);
    }
    let doc = yaml_document(text, origin)?;
    if text.len() <= MAX_CACHED_TEXT
        && let Ok(mut c) = cache.lock()
        && c.len() < MAX_CACHED_DOCS
    {
        c.insert(text.to_owned(), doc.clone());
    }
    Ok(doc)
}

/// Reads a spec file whole, within [`limits::FILE_BYTES`], refusing what is not UTF-8 text: a
/// path such as `/dev/zero` would otherwise be read until memory runs out.
pub fn read_spec(path: &Path) -> Result<String, ConfigError> {
    files::read_text(path).map_err(|e| ConfigError::Read {
        path: e.path,
        source: std::io::Error::other(e.reason),
    })
}

/// Reads a file when `name` is one (or looks like one), else the embedded preset.
fn read_named(
    name: &str,
    kind: &'static str,
    table: &[Preset],
) -> Result<(String, String), ConfigError> {
    let path = Path::new(name);
    let looks_like_file = name.ends_with(".yaml") || name.ends_with(".yml") || name.contains('/');
    if path.is_file() || looks_like_file {
        return Ok((read_spec(path)?, path.display().to_string()));
    }
    match table.iter().find(|p| p.name == name) {
        Some(p) => Ok((p.yaml.to_owned(), format!("preset {name}"))),
        None => Err(ConfigError::UnknownPreset {
            kind,
            name: name.to_owned(),
            known: table.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
        }),
    }
}
