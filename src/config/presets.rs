//! Presets embedded in the binary: the model specs in `models/*.yaml` and the system specs in
//! `models/systems/*.yaml`, so that `--model qwen2.5-3b-instruct-q4_k_m` or `--system h100-hbf`
//! works from any directory. Each preset is the YAML text of its file, parsed on use; every
//! figure in it carries its source in the file's `evidence:` map (DESIGN §3.3), and
//! [`Provenance`] lists the figures with those sources for `tiersim presets`.

use serde_yaml::Value;

use crate::config::error::ConfigError;

/// One embedded preset: its name (the file name without `.yaml`) and the file's YAML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Preset name, equal to the file name without `.yaml` and to the spec's `name` field.
    pub name: &'static str,
    /// The YAML text of the preset file.
    pub yaml: &'static str,
}

/// Model presets (`models/<name>.yaml`), parsed as [`crate::model::spec::ModelSpec`].
pub const MODELS: &[Preset] = &[
    Preset {
        name: "qwen2.5-3b-instruct-q4_k_m",
        yaml: include_str!("../../models/qwen2.5-3b-instruct-q4_k_m.yaml"),
    },
    Preset {
        name: "llama-3.1-8b-instruct-q4_k_m",
        yaml: include_str!("../../models/llama-3.1-8b-instruct-q4_k_m.yaml"),
    },
    Preset {
        name: "llama-3.1-8b-instruct-f16",
        yaml: include_str!("../../models/llama-3.1-8b-instruct-f16.yaml"),
    },
    Preset {
        name: "llama-3.1-70b-instruct-q4_k_m",
        yaml: include_str!("../../models/llama-3.1-70b-instruct-q4_k_m.yaml"),
    },
    Preset {
        name: "llama-2-7b-q4_0",
        yaml: include_str!("../../models/llama-2-7b-q4_0.yaml"),
    },
    Preset {
        name: "qwen3-30b-a3b-iq4_xs",
        yaml: include_str!("../../models/qwen3-30b-a3b-iq4_xs.yaml"),
    },
    Preset {
        name: "smollm2-135m-instruct-q4_1",
        yaml: include_str!("../../models/smollm2-135m-instruct-q4_1.yaml"),
    },
    Preset {
        name: "gemma-3-270m-q4_k_m",
        yaml: include_str!("../../models/gemma-3-270m-q4_k_m.yaml"),
    },
    Preset {
        name: "llama-3.1-405b-instruct-bf16",
        yaml: include_str!("../../models/llama-3.1-405b-instruct-bf16.yaml"),
    },
    Preset {
        name: "llama-4-maverick-17b-128e-instruct-bf16",
        yaml: include_str!("../../models/llama-4-maverick-17b-128e-instruct-bf16.yaml"),
    },
    Preset {
        name: "llama-4-maverick-ep8-rank-bf16",
        yaml: include_str!("../../models/llama-4-maverick-ep8-rank-bf16.yaml"),
    },
];

/// System presets (`models/systems/<name>.yaml`), parsed as
/// [`crate::config::system::SystemSpec`].
pub const SYSTEMS: &[Preset] = &[
    Preset {
        name: "h100",
        yaml: include_str!("../../models/systems/h100.yaml"),
    },
    Preset {
        name: "h100-hbf",
        yaml: include_str!("../../models/systems/h100-hbf.yaml"),
    },
    Preset {
        name: "h100-ssd",
        yaml: include_str!("../../models/systems/h100-ssd.yaml"),
    },
    Preset {
        name: "rtx4080",
        yaml: include_str!("../../models/systems/rtx4080.yaml"),
    },
    Preset {
        name: "laptop-ryzen3-5300u",
        yaml: include_str!("../../models/systems/laptop-ryzen3-5300u.yaml"),
    },
    Preset {
        name: "h100-hbf-ocp-g1",
        yaml: include_str!("../../models/systems/h100-hbf-ocp-g1.yaml"),
    },
    Preset {
        name: "h100-hbf-ocp-g2",
        yaml: include_str!("../../models/systems/h100-hbf-ocp-g2.yaml"),
    },
    Preset {
        name: "h100-hbf-ocp-g3",
        yaml: include_str!("../../models/systems/h100-hbf-ocp-g3.yaml"),
    },
    Preset {
        name: "h100-hbf-tr1us",
        yaml: include_str!("../../models/systems/h100-hbf-tr1us.yaml"),
    },
    Preset {
        name: "h100-hbf-tr4us",
        yaml: include_str!("../../models/systems/h100-hbf-tr4us.yaml"),
    },
    Preset {
        name: "h100-hbf-tr20us",
        yaml: include_str!("../../models/systems/h100-hbf-tr20us.yaml"),
    },
    Preset {
        name: "h100-hbf-tr30us",
        yaml: include_str!("../../models/systems/h100-hbf-tr30us.yaml"),
    },
    Preset {
        name: "h100-nvme-tail",
        yaml: include_str!("../../models/systems/h100-nvme-tail.yaml"),
    },
    Preset {
        name: "cpu-ddr5-server",
        yaml: include_str!("../../models/systems/cpu-ddr5-server.yaml"),
    },
    Preset {
        name: "a100-80gb",
        yaml: include_str!("../../models/systems/a100-80gb.yaml"),
    },
    Preset {
        name: "rtx4090",
        yaml: include_str!("../../models/systems/rtx4090.yaml"),
    },
    Preset {
        name: "h100-hbf-spec",
        yaml: include_str!("../../models/systems/h100-hbf-spec.yaml"),
    },
    Preset {
        name: "h100-hbf-flashlab",
        yaml: include_str!("../../models/systems/h100-hbf-flashlab.yaml"),
    },
    Preset {
        name: "h100-hbf-openhbf",
        yaml: include_str!("../../models/systems/h100-hbf-openhbf.yaml"),
    },
    Preset {
        name: "h100-hbf-son",
        yaml: include_str!("../../models/systems/h100-hbf-son.yaml"),
    },
    Preset {
        name: "h100-hbf-micron",
        yaml: include_str!("../../models/systems/h100-hbf-micron.yaml"),
    },
    Preset {
        name: "rubin-hbf-plus",
        yaml: include_str!("../../models/systems/rubin-hbf-plus.yaml"),
    },
    Preset {
        name: "rubin-hbf",
        yaml: include_str!("../../models/systems/rubin-hbf.yaml"),
    },
];

/// The named readings of the contested HBF figures (array parallelism, page per read, tR,
/// program time, interface), one system preset each, in order of their array's random-read
/// rate: the published device models disagree on them and the OCP spec leaves the parallelism
/// open, so a curve that matters is drawn under every reading. Each differs from `h100-hbf`
/// only in its HBF tier, and each figure of that tier cites the reading's source.
pub const READINGS: &[&str] = &[
    "h100-hbf-spec",
    "h100-hbf-flashlab",
    "h100-hbf-son",
    "h100-hbf-micron",
    "h100-hbf-openhbf",
];

/// The model preset called `name` (exact match), if there is one.
pub fn model(name: &str) -> Option<&'static Preset> {
    MODELS.iter().find(|p| p.name == name)
}

/// The system preset called `name` (exact match), if there is one.
pub fn system(name: &str) -> Option<&'static Preset> {
    SYSTEMS.iter().find(|p| p.name == name)
}

/// Which table a preset belongs to, and so which schema its YAML follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresetKind {
    /// A model spec (`models/<name>.yaml`).
    Model,
    /// A system spec (`models/systems/<name>.yaml`).
    System,
}

impl PresetKind {
    /// `model` or `system`, as the listing prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::System => "system",
        }
    }
}

/// Every embedded preset with its kind: models first, then systems, each in table order.
pub fn all() -> impl Iterator<Item = (PresetKind, &'static Preset)> {
    let models = MODELS.iter().map(|p| (PresetKind::Model, p));
    models.chain(SYSTEMS.iter().map(|p| (PresetKind::System, p)))
}

/// The preset called `name` in either table (names are unique across both), with its kind.
pub fn find(name: &str) -> Option<(PresetKind, &'static Preset)> {
    all().find(|(_, p)| p.name == name)
}

/// The source given to a figure whose path (and every parent of it) is missing from `evidence`.
pub const NO_EVIDENCE: &str = "none";

/// Top-level sections of a system spec that hold figures. `sim` is left out: it sets the
/// simulator's fidelity, not a property of the machine, so there is nothing to cite for it.
const SYSTEM_SECTIONS: &[&str] = &["compute", "tiers", "placement", "overlap", "experts"];

/// Keys that label rather than quantify (a tier's `name` is its address in the dotted path, its
/// `kind` only a class for reports), so they are not figures and need no evidence.
const LABELS: &[&str] = &["name", "kind", "description", "evidence"];

/// How a figure is backed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// Its source cites a datasheet, paper, measurement or derivation.
    Cited,
    /// Its source starts with `assumption`.
    Assumed,
    /// It has no evidence entry (source [`NO_EVIDENCE`]).
    Missing,
}

/// One figure of a preset: a leaf of its YAML, and where the figure comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// Dotted path; list elements are addressed by their `name` when they have one
    /// (`tiers.hbf.read_bw`), else by index (`quant.overrides.0.type`).
    pub path: String,
    /// The value as written (`1.6TB/s`, `[hbm, hbf]`).
    pub value: String,
    /// The evidence entry of the path or of its nearest parent that has one (line breaks
    /// folded), or [`NO_EVIDENCE`].
    pub source: String,
    /// The evidence key the source was found under, if any (the path itself or a parent).
    pub evidence_key: Option<String>,
}

impl Figure {
    /// Whether the figure is cited, assumed or without evidence. A source counts as an
    /// assumption only when it starts with the word (`docs/anchors.md: ...; 0.7 (assumption)` cites a
    /// range and counts as cited), so the count reflects what the first words claim.
    pub fn backing(&self) -> Backing {
        if self.evidence_key.is_none() {
            Backing::Missing
        } else if self
            .source
            .get(..10)
            .is_some_and(|w| w.eq_ignore_ascii_case("assumption"))
        {
            Backing::Assumed
        } else {
            Backing::Cited
        }
    }
}

/// How many figures of a preset are cited, assumed and without evidence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvidenceCounts {
    /// Figures whose source cites something.
    pub cited: usize,
    /// Figures whose source starts with `assumption`.
    pub assumed: usize,
    /// Figures with no evidence entry.
    pub missing: usize,
}

impl EvidenceCounts {
    /// Counts `figures` by [`Figure::backing`].
    pub fn of(figures: &[Figure]) -> Self {
        let mut c = Self::default();
        for f in figures {
            match f.backing() {
                Backing::Cited => c.cited += 1,
                Backing::Assumed => c.assumed += 1,
                Backing::Missing => c.missing += 1,
            }
        }
        c
    }
}

/// A preset's figures with their sources, as `tiersim presets <name>` prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// Model or system.
    pub kind: PresetKind,
    /// The spec's `name` field (empty when it has none).
    pub name: String,
    /// The spec's `description`, line breaks folded.
    pub description: String,
    /// Every figure, in file order.
    pub figures: Vec<Figure>,
    /// Evidence entries no figure uses (notes such as a fit's error, or a source for a field the
    /// file leaves at its default), as `(key, text)`.
    pub notes: Vec<(String, String)>,
}

impl Provenance {
    /// Reads the figures of a spec of `kind` from its YAML `text`; `origin` (`preset h100` or a
    /// path) names it in errors. Works on the YAML tree rather than the parsed spec so that every
    /// figure is listed as written, with its unit, and defaults the file does not state are not.
    pub fn from_yaml(kind: PresetKind, text: &str, origin: &str) -> Result<Self, ConfigError> {
        let parse_error = |message: String| ConfigError::Parse {
            origin: origin.to_owned(),
            message,
        };
        let doc = crate::config::load::yaml_document(text, origin)?;
        let Value::Mapping(top) = &doc else {
            return Err(parse_error(format!(
                "expected a {} spec (a YAML map with a `name` and an `evidence` map)",
                kind.as_str()
            )));
        };
        let text_of = |key: &str| {
            top.get(key)
                .and_then(Value::as_str)
                .map(fold)
                .unwrap_or_default()
        };
        let mut evidence = Vec::new();
        if let Some(Value::Mapping(map)) = top.get("evidence") {
            for (k, v) in map {
                if let (Some(k), Some(v)) = (scalar_text(k), scalar_text(v)) {
                    evidence.push((k, fold(&v)));
                }
            }
        }
        let mut leaves = Vec::new();
        for (key, value) in top {
            let Some(key) = scalar_text(key) else {
                continue;
            };
            let wanted = match kind {
                PresetKind::System => SYSTEM_SECTIONS.contains(&key.as_str()),
                // Every model field but the labels is a figure (arch and dimensions alike).
                PresetKind::Model => !LABELS.contains(&key.as_str()),
            };
            if wanted {
                walk(value, &mut vec![key], &mut leaves);
            }
        }
        let mut used = vec![false; evidence.len()];
        let figures = leaves
            .into_iter()
            .map(|(segments, value)| {
                // The leaf's own entry wins, else the nearest parent's (`tiers.hbf.read_latency`
                // covers its `lognormal.median` and `p99`).
                let found = (1..=segments.len()).rev().find_map(|n| {
                    let key = segments[..n].join(".");
                    evidence.iter().position(|(k, _)| *k == key)
                });
                let (source, evidence_key) = match found {
                    Some(i) => {
                        used[i] = true;
                        (evidence[i].1.clone(), Some(evidence[i].0.clone()))
                    }
                    None => (NO_EVIDENCE.to_owned(), None),
                };
                Figure {
                    path: segments.join("."),
                    value,
                    source,
                    evidence_key,
                }
            })
            .collect();
        let notes = evidence
            .into_iter()
            .zip(used)
            .filter_map(|(entry, used)| (!used).then_some(entry))
            .collect();
        Ok(Self {
            kind,
            name: text_of("name"),
            description: text_of("description"),
            figures,
            notes,
        })
    }

    /// The provenance of an embedded preset.
    pub fn of_preset(kind: PresetKind, preset: &Preset) -> Result<Self, ConfigError> {
        Self::from_yaml(kind, preset.yaml, &format!("preset {}", preset.name))
    }

    /// Figures counted by backing.
    pub fn counts(&self) -> EvidenceCounts {
        EvidenceCounts::of(&self.figures)
    }

    /// The report `tiersim presets <name>` prints: a header with the counts, the description
    /// wrapped, then one `path = value  [source]` line per figure, aligned (a source shared with
    /// the line above through a parent entry reads `same as above`), and the notes.
    pub fn render(&self) -> String {
        let c = self.counts();
        let mut out = format!(
            "{} {}: {} figures, {} cited, {} assumed, {} without evidence\n",
            self.kind.as_str(),
            self.name,
            self.figures.len(),
            c.cited,
            c.assumed,
            c.missing
        );
        for line in wrap(&self.description, 96) {
            out.push_str(&format!("  {line}\n"));
        }
        out.push('\n');
        let path_w = self.figures.iter().map(|f| f.path.len()).max().unwrap_or(0);
        // Long values (device names, layer lists) would push every source far right, so the
        // value column is as wide as the longest short value and long ones overflow it.
        let value_w = self
            .figures
            .iter()
            .map(|f| f.value.chars().count())
            .filter(|&n| n <= VALUE_COLUMN_MAX)
            .max()
            .unwrap_or(0);
        let mut previous_key = None;
        for f in &self.figures {
            // The parameters of one distribution share their parent's (often long) entry: print
            // it once, on the first of them.
            let repeat = f.evidence_key.is_some()
                && f.evidence_key.as_deref() != Some(f.path.as_str())
                && f.evidence_key == previous_key;
            let source = if repeat { "same as above" } else { &f.source };
            out.push_str(&format!(
                "{:path_w$} = {:value_w$}  [{source}]\n",
                f.path, f.value
            ));
            previous_key.clone_from(&f.evidence_key);
        }
        if !self.notes.is_empty() {
            out.push_str("\nevidence entries that name no figure:\n");
            let key_w = self.notes.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (k, v) in &self.notes {
                out.push_str(&format!("{k:key_w$}  [{v}]\n"));
            }
        }
        out
    }
}

/// Widest value that still sets the value column of [`Provenance::render`].
const VALUE_COLUMN_MAX: usize = 24;

/// Characters of a description `tiersim presets` shows before cutting it.
const SUMMARY_DESCRIPTION_MAX: usize = 80;

/// Collects the leaves under `node` as `(path segments, value text)`, in file order.
fn walk(node: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match node {
        Value::Mapping(map) => {
            for (k, v) in map {
                let Some(k) = scalar_text(k) else { continue };
                if LABELS.contains(&k.as_str()) {
                    continue;
                }
                path.push(k);
                walk(v, path, out);
                path.pop();
            }
        }
        Value::Sequence(items) => {
            // An empty list states nothing to cite; a list of scalars (`[hbm, hbf]`) is one
            // figure; a list of maps is walked element by element.
            if items.is_empty() {
                return;
            }
            let texts: Option<Vec<String>> = items.iter().map(scalar_text).collect();
            if let Some(texts) = texts {
                out.push((path.clone(), format!("[{}]", texts.join(", "))));
                return;
            }
            for (i, item) in items.iter().enumerate() {
                let segment = item
                    .get("name")
                    .and_then(Value::as_str)
                    .map_or_else(|| i.to_string(), str::to_owned);
                path.push(segment);
                walk(item, path, out);
                path.pop();
            }
        }
        Value::Tagged(tagged) => walk(&tagged.value, path, out),
        // `key:` with no value states nothing.
        Value::Null => {}
        scalar => {
            if let Some(text) = scalar_text(scalar) {
                out.push((path.clone(), text));
            }
        }
    }
}

/// A scalar as written: strings as they are, numbers and booleans in YAML's spelling.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Folds runs of whitespace (line breaks of block scalars included) into single spaces.
fn fold(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Greedy word wrap to lines of at most `width` characters (a longer word gets a line alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The first sentence of `text` (up to the first `.` followed by a space or the end), cut at a
/// word boundary with `...` when it is longer than `max` characters.
pub fn first_sentence(text: &str, max: usize) -> String {
    let text = fold(text);
    let mut chars = text.char_indices().peekable();
    let mut end = text.len();
    while let Some((i, c)) = chars.next() {
        // A full stop ends a sentence only before a space or the end, so `3.09 B` and
        // `qwen2.5` do not, and not after an abbreviation (`e.g.`, `et al.`).
        if c == '.'
            && chars.peek().is_none_or(|&(_, n)| n == ' ')
            && !ends_with_abbreviation(&text[..i])
        {
            end = i + 1;
            break;
        }
    }
    let sentence = &text[..end];
    if sentence.chars().count() <= max {
        return sentence.to_owned();
    }
    let keep = max.saturating_sub(3);
    let cut = sentence
        .char_indices()
        .nth(keep)
        .map_or(sentence.len(), |(i, _)| i);
    let head = &sentence[..cut];
    // Back up to the last space so no word is cut in half, unless that leaves too little.
    let mut head = match head.rfind(' ') {
        Some(i) if i >= keep / 2 => &head[..i],
        _ => head,
    };
    // `e.g....` reads badly: drop a trailing abbreviation with its dangling promise.
    if let Some(stem) = head.strip_suffix('.')
        && ends_with_abbreviation(stem)
    {
        head = stem.rfind(' ').map_or(stem, |i| &stem[..i]);
    }
    format!("{}...", head.trim_end_matches([' ', ',', ';', ':']))
}

/// Whether the word `before` ends with is an abbreviation whose full stop follows: single
/// letters between dots (`e.g`, `i.e`) or one of a few short words.
fn ends_with_abbreviation(before: &str) -> bool {
    let word = before.rsplit(' ').next().unwrap_or_default();
    let word = word.trim_start_matches(['(', '"', '\'']);
    let dotted = word.contains('.') && word.split('.').all(|part| part.chars().count() == 1);
    dotted || ["al", "vs", "cf", "approx", "Fig", "No"].contains(&word)
}

/// The table `tiersim presets` prints: a header, then per preset its kind, name, counts of
/// figures cited, assumed and without evidence, and the first sentence of its description.
pub fn summary() -> Result<String, ConfigError> {
    let rows = all()
        .map(|(kind, p)| Ok((kind, p.name, Provenance::of_preset(kind, p)?)))
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let name_w = rows.iter().map(|(_, n, _)| n.len()).max().unwrap_or(0);
    let mut out = format!(
        "{:6}  {:name_w$}  {:>5}  {:>7}  {:>4}  description\n",
        "kind", "name", "cited", "assumed", "none"
    );
    for (kind, name, prov) in &rows {
        let c = prov.counts();
        out.push_str(&format!(
            "{:6}  {name:name_w$}  {:>5}  {:>7}  {:>4}  {}\n",
            kind.as_str(),
            c.cited,
            c.assumed,
            c.missing,
            first_sentence(&prov.description, SUMMARY_DESCRIPTION_MAX)
        ));
    }
    Ok(out)
}

/// The report `tiersim presets <name>` prints (see [`Provenance::render`]). `name` is a preset
/// of either kind or, as for `--system`, a YAML file (a system when it has `tiers`, else a
/// model), so a user's own profile can be checked too. A name that is neither is
/// [`ConfigError::UnknownPreset`].
pub fn describe(name: &str) -> Result<String, ConfigError> {
    let path = std::path::Path::new(name);
    let looks_like_file = name.ends_with(".yaml") || name.ends_with(".yml") || name.contains('/');
    if path.is_file() || looks_like_file {
        let text = crate::config::load::read_spec(path)?;
        let is_system = crate::config::load::yaml_document(&text, name)
            .ok()
            .is_some_and(|doc| doc.get("tiers").is_some());
        let kind = if is_system {
            PresetKind::System
        } else {
            PresetKind::Model
        };
        return Ok(Provenance::from_yaml(kind, &text, name)?.render());
    }
    match find(name) {
        Some((kind, p)) => Ok(Provenance::of_preset(kind, p)?.render()),
        None => Err(ConfigError::UnknownPreset {
            kind: "model or system",
            name: name.to_owned(),
            known: all().map(|(_, p)| p.name).collect::<Vec<_>>().join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::system::SystemSpec;
    use crate::model::quant::QuantType;
    use crate::model::spec::{BlockTensor, ModelSpec};

    fn parse_model(p: &Preset) -> ModelSpec {
        serde_yaml::from_str(p.yaml).unwrap_or_else(|e| panic!("model preset {}: {e}", p.name))
    }

    fn parse_system(p: &Preset) -> SystemSpec {
        serde_yaml::from_str(p.yaml).unwrap_or_else(|e| panic!("system preset {}: {e}", p.name))
    }

    /// The type of block tensor `t` on `layer`: the last matching override, else the default.
    fn tensor_type(spec: &ModelSpec, t: BlockTensor, layer: u32) -> QuantType {
        spec.quant
            .overrides
            .iter()
            .rev()
            .find(|o| o.tensors.contains(&t) && o.layers.as_ref().is_none_or(|l| l.contains(layer)))
            .map_or(spec.quant.default, |o| o.ty)
    }

    /// Tensor bytes of the whole model, counted tensor by tensor as a GGUF file stores them:
    /// per layer q, k, v, o and the FFN (or router and experts) matrices, the f32 norm, head-norm
    /// and bias vectors; then the token embedding, the output matrix when untied, and the f32
    /// output norm.
    fn weight_bytes(spec: &ModelSpec) -> f64 {
        use BlockTensor::*;
        let d = f64::from(spec.d_model);
        let hd = f64::from(spec.head_dim);
        let q = f64::from(spec.n_heads) * hd;
        let kv = f64::from(spec.n_kv_heads) * hd;
        let f32 = |n: f64| QuantType::F32.bytes(n).0;
        let mut total = 0.0;
        for l in 0..spec.n_layers {
            let m = |t: BlockTensor, n: f64| tensor_type(spec, t, l).bytes(n).0;
            total += m(AttnQ, d * q) + m(AttnK, d * kv) + m(AttnV, d * kv) + m(AttnOutput, q * d);
            let ffn = |dim: u32, gate: BlockTensor, up: BlockTensor, down: BlockTensor| {
                let n = d * f64::from(dim);
                let g = if spec.ffn_gated { m(gate, n) } else { 0.0 };
                g + m(up, n) + m(down, n)
            };
            let dense = spec
                .moe
                .as_ref()
                .is_none_or(|moe| moe.dense_layers.as_ref().is_some_and(|s| s.contains(l)));
            if dense {
                total += ffn(spec.ffn_dim, FfnGate, FfnUp, FfnDown);
            } else {
                let moe = spec.moe.as_ref().unwrap();
                let router = d * f64::from(moe.n_experts);
                let has_router_override = spec
                    .quant
                    .overrides
                    .iter()
                    .any(|o| o.tensors.contains(&FfnGateInp));
                total += if has_router_override {
                    m(FfnGateInp, router)
                } else {
                    f32(router)
                };
                total += f64::from(moe.n_experts)
                    * ffn(moe.expert_ffn_dim, FfnGateExps, FfnUpExps, FfnDownExps);
                total += ffn(
                    moe.shared_expert_ffn_dim,
                    FfnGateShexp,
                    FfnUpShexp,
                    FfnDownShexp,
                );
            }
            let mut vectors =
                f64::from(spec.norms_per_layer) * d + f64::from(spec.head_norms_per_layer) * hd;
            if spec.qkv_bias {
                vectors += q + 2.0 * kv;
            }
            total += f32(vectors);
        }
        let table = f64::from(spec.vocab) * d;
        total += spec.quant.token_embd.bytes(table).0 + f32(d);
        if !spec.tied_embeddings {
            total += spec
                .quant
                .output
                .unwrap_or(spec.quant.default)
                .bytes(table)
                .0;
        }
        total
    }

    #[test]
    fn every_model_preset_parses_and_is_named_after_its_file() {
        for p in MODELS {
            let spec = parse_model(p);
            assert_eq!(spec.name, p.name, "name field of models/{}.yaml", p.name);
            if let Err(e) = crate::config::validate::model(&spec, p.name) {
                panic!("model preset {}: {e}", p.name);
            }
            assert!(!spec.evidence.is_empty(), "{} has no evidence", p.name);
            assert_eq!(spec.n_heads % spec.n_kv_heads, 0, "{}: GQA groups", p.name);
        }
    }

    #[test]
    fn every_system_preset_parses_and_is_named_after_its_file() {
        for p in SYSTEMS {
            let spec = parse_system(p);
            assert_eq!(
                spec.name, p.name,
                "name field of models/systems/{}.yaml",
                p.name
            );
            if let Err(e) = crate::config::validate::system(&spec, p.name) {
                panic!("system preset {}: {e}", p.name);
            }
            assert!(!spec.evidence.is_empty(), "{} has no evidence", p.name);
            for t in spec.tiers.iter().skip(1) {
                let what = format!("{}: tier {}", p.name, t.name);
                assert!(t.read_latency.is_some(), "{what} has no read_latency");
                assert!(t.write_latency.is_some(), "{what} has no write_latency");
                assert!(t.parallel_units.is_some(), "{what} has no parallel_units");
                assert!(t.queue_depth.is_some(), "{what} has no queue_depth");
                assert!(t.io_size.is_some(), "{what} has no io_size");
            }
            let names: Vec<&str> = spec.tiers.iter().map(|t| t.name.as_str()).collect();
            assert!(
                names.contains(&spec.placement.weights.default.as_str()),
                "{}",
                p.name
            );
            for t in &spec.placement.kv.tiers {
                assert!(names.contains(&t.as_str()), "{}: KV tier {t}", p.name);
            }
            for key in spec.evidence.keys() {
                let root = key.split('.').next().unwrap_or_default();
                assert!(
                    ["compute", "tiers", "placement", "overlap", "experts", "sim"].contains(&root),
                    "{}: evidence key {key}",
                    p.name
                );
            }
        }
    }

    #[test]
    fn flash_tiers_have_the_described_latencies() {
        let tier = |sys: &str, name: &str| {
            let spec = parse_system(system(sys).unwrap());
            spec.tiers.into_iter().find(|t| t.name == name).unwrap()
        };
        let us = |s: crate::units::Seconds| s.0 * 1e6;
        // HBF: lognormal tR with median 4 us, p99 10 us; mean ~4.32 us, so the array reads
        // 256 units x 4 KiB / 4.32 us ~ 243 GB/s.
        let hbf = tier("h100-hbf", "hbf");
        let read = hbf.read_latency.unwrap();
        assert!((us(read.quantile(0.5)) - 4.0).abs() < 1e-6);
        assert!((us(read.quantile(0.99)) - 10.0).abs() < 1e-6);
        let array = 256.0 * 4096.0 / read.mean().0;
        assert!((2.2e11..2.5e11).contains(&array), "HBF array rate {array}");
        let program = hbf.write_latency.unwrap().is_fixed().map(us).unwrap();
        assert!(
            (program - 100.0).abs() < 1e-9,
            "HBF program time {program} us"
        );
        // SSD: 99.9 % lognormal(60 us, 90 us) + 0.1 % 2 ms; mean ~63 us.
        let ssd = tier("h100-ssd", "ssd");
        let mean = us(ssd.read_latency.unwrap().mean());
        assert!(
            (62.0..64.0).contains(&mean),
            "SSD mean read latency {mean} us"
        );
    }

    fn provenance(name: &str) -> Provenance {
        let (kind, p) = find(name).unwrap_or_else(|| panic!("no preset {name}"));
        Provenance::of_preset(kind, p).unwrap_or_else(|e| panic!("{e}"))
    }

    fn figure<'a>(prov: &'a Provenance, path: &str) -> &'a Figure {
        prov.figures
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{} has no figure {path}", prov.name))
    }

    #[test]
    fn every_preset_figure_has_evidence() {
        let mut missing = Vec::new();
        for (kind, p) in all() {
            let prov = Provenance::of_preset(kind, p).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(prov.name, p.name);
            assert!(prov.figures.len() >= 10, "{}: too few figures", p.name);
            for f in prov
                .figures
                .iter()
                .filter(|f| f.backing() == Backing::Missing)
            {
                assert_eq!(f.source, NO_EVIDENCE);
                missing.push(format!(
                    "{} {}: {} = {}",
                    kind.as_str(),
                    p.name,
                    f.path,
                    f.value
                ));
            }
        }
        assert!(
            missing.is_empty(),
            "figures without evidence:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn system_figures_are_leaves_addressed_by_tier_name() {
        let prov = provenance("h100-hbf");
        assert_eq!(prov.kind, PresetKind::System);
        let bw = figure(&prov, "tiers.hbf.read_bw");
        assert_eq!(bw.value, "1.6TB/s");
        assert!(
            bw.source.starts_with("docs/anchors.md: SanDisk"),
            "{}",
            bw.source
        );
        assert_eq!(bw.backing(), Backing::Cited);
        // The distribution's parameters take the evidence of `tiers.hbf.read_latency`, folded
        // onto one line.
        let median = figure(&prov, "tiers.hbf.read_latency.lognormal.median");
        assert_eq!(median.value, "4us");
        assert_eq!(
            median.evidence_key.as_deref(),
            Some("tiers.hbf.read_latency")
        );
        assert!(!median.source.contains('\n'));
        assert_eq!(figure(&prov, "placement.kv.tiers").value, "[hbm, hbf]");
        assert_eq!(
            figure(&prov, "tiers.hbf.endurance.pe_cycles").value,
            "100000"
        );
        assert_eq!(
            figure(&prov, "tiers.hbm.write_bw").backing(),
            Backing::Assumed
        );
        // Labels and empty lists are not figures.
        for path in [
            "tiers.hbf.name",
            "tiers.hbf.kind",
            "placement.weights.rules",
        ] {
            assert!(prov.figures.iter().all(|f| f.path != path), "{path}");
        }
        assert!(prov.notes.is_empty(), "{:?}", prov.notes);
    }

    #[test]
    fn model_figures_include_nested_fields_and_list_elements() {
        let prov = provenance("qwen3-30b-a3b-iq4_xs");
        assert_eq!(prov.kind, PresetKind::Model);
        assert_eq!(figure(&prov, "n_layers").value, "48");
        assert_eq!(figure(&prov, "moe.n_experts").value, "128");
        let ty = figure(&prov, "quant.overrides.0.type");
        assert_eq!(ty.value, "q5_k");
        assert_eq!(ty.evidence_key.as_deref(), Some("quant.overrides"));
        assert_eq!(
            figure(&prov, "quant.overrides.1.tensors").value,
            "[ffn_gate_inp]"
        );
        assert!(
            prov.figures
                .iter()
                .all(|f| f.path != "name" && f.path != "description")
        );
    }

    #[test]
    fn provenance_counts_cited_assumed_and_missing() {
        let yaml = r#"
name: toy
description: A toy. Not a machine.
compute: {device: toy, peak_flops: 1TFLOP/s, layer_overhead: 1us}
tiers:
  - {name: hbm, kind: hbm, capacity: 1GB}
  - name: dev
    kind: ssd
    read_latency: {mixture: [{weight: 1, dist: 4us}]}
placement: {weights: {default: hbm, rules: []}, kv: {tiers: [hbm]}}
sim: {lanes: 8}
evidence:
  compute: "Assumption: every compute figure guessed"
  compute.device: "a datasheet"
  tiers.dev.read_latency: "a paper"
  tiers.dev.parallel_units: "a note for a field the file leaves out"
"#;
        let prov = Provenance::from_yaml(PresetKind::System, yaml, "test").unwrap();
        assert_eq!(prov.name, "toy");
        assert_eq!(prov.description, "A toy. Not a machine.");
        let paths: Vec<&str> = prov.figures.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "compute.device",
                "compute.peak_flops",
                "compute.layer_overhead",
                "tiers.hbm.capacity",
                "tiers.dev.read_latency.mixture.0.weight",
                "tiers.dev.read_latency.mixture.0.dist",
                "placement.weights.default",
                "placement.kv.tiers",
            ]
        );
        assert_eq!(figure(&prov, "compute.device").backing(), Backing::Cited);
        // The section's entry covers the figures without their own, case aside.
        assert_eq!(
            figure(&prov, "compute.peak_flops").backing(),
            Backing::Assumed
        );
        assert_eq!(
            figure(&prov, "tiers.dev.read_latency.mixture.0.dist").source,
            "a paper"
        );
        assert_eq!(
            prov.counts(),
            EvidenceCounts {
                cited: 3,
                assumed: 2,
                missing: 3
            }
        );
        assert_eq!(figure(&prov, "tiers.hbm.capacity").source, NO_EVIDENCE);
        assert_eq!(
            prov.notes,
            [(
                "tiers.dev.parallel_units".to_owned(),
                "a note for a field the file leaves out".to_owned()
            )]
        );
        let text = prov.render();
        assert!(
            text.starts_with("system toy: 8 figures, 3 cited, 2 assumed, 3 without evidence\n")
        );
        // Paths and values are padded to common widths so the sources line up.
        let source_columns: Vec<usize> = text
            .lines()
            .filter(|l| l.contains(" = "))
            .map(|l| l.find("  [").unwrap())
            .collect();
        assert_eq!(source_columns.len(), 8);
        assert!(source_columns.windows(2).all(|w| w[0] == w[1]), "{text}");
        assert!(text.contains("tiers.hbm.capacity"));
        // The mixture's second parameter shares the first one's parent entry.
        let dist = text
            .lines()
            .find(|l| l.starts_with("tiers.dev.read_latency.mixture.0.dist"))
            .unwrap();
        assert!(dist.ends_with("= 4us       [same as above]"), "{dist}");
        assert!(text.contains("[none]"));
        assert!(text.contains("evidence entries that name no figure:\ntiers.dev.parallel_units"));
        // Not a map: a parse error naming the origin, not a panic.
        let err = Provenance::from_yaml(PresetKind::Model, "- a\n- b\n", "list.yaml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("list.yaml: expected a model spec"),
            "{err}"
        );
    }

    #[test]
    fn first_sentence_is_cut_at_a_word_with_an_ellipsis() {
        assert_eq!(first_sentence("One. Two.", 80), "One.");
        assert_eq!(
            first_sentence("Qwen2.5-3B has 3.09 B\n  parameters. More.", 80),
            "Qwen2.5-3B has 3.09 B parameters."
        );
        assert_eq!(
            first_sentence("Figures from Son et al. and others. More.", 80),
            "Figures from Son et al. and others."
        );
        assert_eq!(first_sentence("No full stop", 80), "No full stop");
        assert_eq!(
            first_sentence("alpha beta gamma delta epsilon. Zeta.", 20),
            "alpha beta gamma..."
        );
        assert_eq!(first_sentence("in Q4_K_M, e.g. a file", 18), "in Q4_K_M...");
        assert_eq!(first_sentence("", 10), "");
        // Multi-byte text is cut on character boundaries.
        let cut = first_sentence("µµµµµµµµµµµµµµµµµµµµ", 10);
        assert_eq!(cut, "µµµµµµµ...");
    }

    #[test]
    fn summary_has_a_line_per_preset() {
        let text = summary().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("kind"));
        assert_eq!(lines.len(), 1 + MODELS.len() + SYSTEMS.len());
        for ((kind, p), line) in all().zip(&lines[1..]) {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words[..2], [kind.as_str(), p.name], "{line}");
            // cited, assumed, none
            assert_eq!(words[4], "0", "{line}");
            assert!(line.chars().count() <= 160, "{line}");
        }
    }

    #[test]
    fn describe_reports_a_preset_or_an_unknown_name() {
        let text = describe("h100-hbf-tr20us").unwrap();
        assert!(text.starts_with("system h100-hbf-tr20us: "));
        let latency = text
            .lines()
            .find(|l| l.starts_with("tiers.hbf.read_latency.lognormal.median"))
            .unwrap();
        assert!(
            latency.contains("= 20us") && latency.contains("Micron"),
            "{latency}"
        );
        assert!(
            describe("qwen2.5-3b-instruct-q4_k_m")
                .unwrap()
                .starts_with("model ")
        );
        match describe("nope") {
            Err(ConfigError::UnknownPreset { name, known, .. }) => {
                assert_eq!(name, "nope");
                assert!(known.contains("h100-nvme-tail") && known.contains("gemma-3-270m-q4_k_m"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            describe("no/such/file.yaml"),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn hbf_latency_variants_differ_from_h100_hbf_only_in_read_latency() {
        let base = parse_system(system("h100-hbf").unwrap());
        for (name, median_us) in [
            ("h100-hbf-tr1us", 1.0),
            ("h100-hbf-tr4us", 4.0),
            ("h100-hbf-tr20us", 20.0),
            ("h100-hbf-tr30us", 30.0),
        ] {
            let mut spec = parse_system(system(name).unwrap());
            let hbf = &spec.tiers[1];
            let read = hbf.read_latency.as_ref().unwrap();
            let median = read.quantile(0.5).0 * 1e6;
            let p99 = read.quantile(0.99).0 * 1e6;
            assert!((median - median_us).abs() < 1e-9 * median_us, "{name}");
            // h100-hbf's p99/median ratio.
            assert!((p99 / median - 2.5).abs() < 1e-9, "{name}");
            // The description quotes the array-side limit at the median: units x 4 KiB / tR.
            let limit = f64::from(hbf.parallel_units.unwrap()) * hbf.io_size.unwrap().0
                / (median_us * 1e-6);
            let gb = limit / 1e9;
            let quoted = if gb >= 1000.0 {
                let gb = gb.round() as u64;
                format!("{},{:03} GB/s", gb / 1000, gb % 1000)
            } else if gb >= 100.0 {
                format!("{gb:.0} GB/s")
            } else {
                format!("{gb:.1} GB/s")
            };
            assert!(spec.description.contains(&quoted), "{name}: {quoted}");
            spec.tiers[1].read_latency = base.tiers[1].read_latency.clone();
            spec.name = base.name.clone();
            spec.description = base.description.clone();
            spec.evidence = base.evidence.clone();
            assert_eq!(
                spec, base,
                "{name} differs from h100-hbf beyond its read latency"
            );
        }
    }

    #[test]
    fn readings_differ_from_h100_hbf_only_in_their_cited_hbf_tier() {
        let base = parse_system(system("h100-hbf").unwrap());
        // Array rate of each reading: units x page / tR, as its description quotes it.
        let expect = [
            ("h100-hbf-spec", 262.1e9),
            ("h100-hbf-flashlab", 262.1e9),
            ("h100-hbf-son", 1638.4e9),
            ("h100-hbf-micron", 2880.2e9),
            ("h100-hbf-openhbf", 4193.2e9),
        ];
        assert_eq!(READINGS, expect.map(|(n, _)| n));
        for (name, array) in expect {
            let mut spec = parse_system(system(name).unwrap());
            let hbf = &spec.tiers[1];
            let tr = hbf.read_latency.as_ref().unwrap();
            assert!(
                tr.is_fixed().is_some(),
                "{name}: the sources give tR as one figure"
            );
            let rate =
                f64::from(hbf.parallel_units.unwrap()) * hbf.io_size.unwrap().0 / tr.mean().0;
            assert!((rate / array - 1.0).abs() < 5e-4, "{name}: array {rate}");
            let prov = Provenance::of_preset(PresetKind::System, system(name).unwrap()).unwrap();
            for f in prov
                .figures
                .iter()
                .filter(|f| f.path.starts_with("tiers.hbf."))
            {
                assert_eq!(
                    f.evidence_key.as_deref(),
                    Some(f.path.as_str()),
                    "{name}: {} has no evidence of its own",
                    f.path
                );
            }
            assert!(prov.notes.is_empty(), "{name}: {:?}", prov.notes);
            spec.tiers[1] = base.tiers[1].clone();
            spec.name = base.name.clone();
            spec.description = base.description.clone();
            spec.label = base.label.clone();
            spec.evidence = base.evidence.clone();
            assert_eq!(
                spec, base,
                "{name} differs from h100-hbf beyond its HBF tier"
            );
        }
    }

    #[test]
    fn ocp_grades_set_the_link_and_a_hundredth_for_writes() {
        let base = parse_system(system("h100-hbf").unwrap());
        for (name, gbs) in [
            ("h100-hbf-ocp-g1", 384.0),
            ("h100-hbf-ocp-g2", 1536.0),
            ("h100-hbf-ocp-g3", 3072.0),
        ] {
            let mut spec = parse_system(system(name).unwrap());
            let hbf = &spec.tiers[1];
            assert!((hbf.read_bw.0 - gbs * 1e9).abs() < 1.0, "{name}");
            assert!((hbf.write_bw.0 - gbs * 1e7).abs() < 1.0, "{name}");
            // Every grade's link is above the array's random-read rate at tR = 4 us.
            let array = f64::from(hbf.parallel_units.unwrap()) * hbf.io_size.unwrap().0
                / hbf.read_latency.as_ref().unwrap().mean().0;
            assert!(array < hbf.read_bw.0, "{name}: array {array}");
            spec.tiers[1].read_bw = base.tiers[1].read_bw;
            spec.tiers[1].write_bw = base.tiers[1].write_bw;
            spec.name = base.name.clone();
            spec.description = base.description.clone();
            spec.evidence = base.evidence.clone();
            assert_eq!(
                spec, base,
                "{name} differs from h100-hbf beyond its bandwidths"
            );
        }
    }

    #[test]
    fn nvme_tail_reproduces_the_micron_9100_percentiles() {
        let spec = parse_system(system("h100-nvme-tail").unwrap());
        let read = spec.tiers[1].read_latency.clone().unwrap();
        let us = |p: f64| read.quantile(p).0 * 1e6;
        // docs/anchors.md, Micron 9100 4 KiB QD1: p50 104, p99 117, p99.999 306 us.
        assert!((us(0.5) - 104.0).abs() < 0.5, "p50 {}", us(0.5));
        assert!((us(0.99) - 117.0).abs() < 1.0, "p99 {}", us(0.99));
        assert!((us(0.99999) - 306.0).abs() < 3.0, "p99.999 {}", us(0.99999));
        // The mean falls short of the measured 108 us, as the evidence says.
        let mean = read.mean().0 * 1e6;
        assert!((104.0..104.4).contains(&mean), "mean {mean}");
        // Little's law: ~3M IOPS x the mean latency.
        let units = f64::from(spec.tiers[1].parallel_units.unwrap());
        assert!((units / (mean * 1e-6) / 3.0e6 - 1.0).abs() < 0.01);
    }

    #[test]
    fn cpu_server_figures_follow_their_arithmetic() {
        let spec = parse_system(system("cpu-ddr5-server").unwrap());
        // 96 cores x 2.4 GHz x 32 f32 FLOP/cycle.
        assert!((spec.compute.peak_flops.0 / (96.0 * 2.4e9 * 32.0) - 1.0).abs() < 1e-3);
        assert_eq!(spec.tiers[0].kind, crate::config::system::TierKind::Dram);
        // 12 channels x 8 B x 4800 MT/s.
        assert!((spec.tiers[0].read_bw.0 - 12.0 * 8.0 * 4.8e9).abs() < 1.0);
        // The SSD tier is h100-ssd's, figure for figure.
        let ssd = parse_system(system("h100-ssd").unwrap());
        assert_eq!(spec.tiers[1], ssd.tiers[1]);
    }

    #[test]
    fn preset_lookup_by_name() {
        assert_eq!(
            model("gemma-3-270m-q4_k_m").map(|p| p.name),
            Some("gemma-3-270m-q4_k_m")
        );
        assert_eq!(system("h100-hbf").map(|p| p.name), Some("h100-hbf"));
        assert!(model("no-such-model").is_none());
        assert!(system("h100-hbf.yaml").is_none());
        assert_eq!(find("h100").map(|(k, _)| k), Some(PresetKind::System));
        assert_eq!(
            find("gemma-3-270m-q4_k_m").map(|(k, _)| k),
            Some(PresetKind::Model)
        );
        assert_eq!(all().count(), MODELS.len() + SYSTEMS.len());
        let mut names: Vec<&str> = MODELS.iter().chain(SYSTEMS).map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            MODELS.len() + SYSTEMS.len(),
            "duplicate preset names"
        );
    }

    #[test]
    fn smollm2_bytes_match_the_real_file() {
        // llama-bench's model_size for SmolLM2-135M-Instruct.Q4_1.gguf
        // (data/llama-bench-2core-zen4/formats/smollm2_small.json).
        let spec = parse_model(model("smollm2-135m-instruct-q4_1").unwrap());
        assert_eq!(weight_bytes(&spec), 96_576_768.0);
    }

    #[test]
    fn quantised_presets_match_known_file_sizes() {
        // Tensor bytes computed from llama.cpp's Q4_K_M / IQ4_XS layouts; published GGUF files
        // add a few MB of metadata (tokenizer) on top.
        let expect = [
            // Official Qwen file, ~1.95 GiB in the seeds.
            ("qwen2.5-3b-instruct-q4_k_m", 2_098_976_768.0),
            // bartowski: 4.92 GB.
            ("llama-3.1-8b-instruct-q4_k_m", 4_912_898_048.0),
            // bartowski: 16.07 GB.
            ("llama-3.1-8b-instruct-f16", 16_061_054_976.0),
            // bartowski: 42.52 GB.
            ("llama-3.1-70b-instruct-q4_k_m", 42_512_531_456.0),
            ("qwen3-30b-a3b-iq4_xs", 16_362_379_264.0),
            ("gemma-3-270m-q4_k_m", 246_587_904.0),
        ];
        for (name, bytes) in expect {
            let spec = parse_model(model(name).unwrap());
            assert_eq!(weight_bytes(&spec), bytes, "{name}");
        }
    }
}
