//! From measured rows to the points a fit or a validation compares with the simulator: files
//! read whatever their format, rows filtered (`--exclude`, one thread count), each row matched
//! to the model it measured, and turned into the [`TestCase`] the simulator runs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::calibrate::error::CalibrateError;
use crate::calibrate::readers::{self, BenchRow, ReadError};
use crate::model::quant::QuantType;
use crate::model::spec::ModelSpec;
use crate::model::traffic::ModelTraffic;
use crate::scenario::TestCase;

/// llama-bench's default logical batch, for formats that do not record it.
pub const DEFAULT_N_BATCH: u32 = 2048;
/// llama-bench's default physical batch, for formats that do not record it.
pub const DEFAULT_N_UBATCH: u32 = 512;
/// How far a row's `model_size` (or `model_n_params`) may be from the spec's and still be the
/// same model: llama-bench's md table prints sizes rounded to 0.01 MiB, and a re-quantisation
/// of the same model with another tensor layout moves the size by more than this.
pub const SIZE_TOLERANCE: f64 = 0.03;
/// How far a parameter count read from a model name (`3B`, `135M`) may be from the spec's:
/// names round (`3B` is 3.09 B, `8B` is 8.03 B) but not by half.
pub const NAME_TOLERANCE: f64 = 1.5;

/// What a test measures: prompt processing, token generation, or both (`pg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `pp<p>`: prompt tokens only.
    Pp,
    /// `tg<n>`: generated tokens only.
    Tg,
    /// `pp<p>+tg<n>`: both, reported as `(p + n) / time`.
    Pg,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 3] = [Kind::Pp, Kind::Tg, Kind::Pg];

    /// The kind of a test with `n_prompt` prompt and `n_gen` generated tokens.
    pub fn of(n_prompt: u32, n_gen: u32) -> Self {
        match (n_prompt, n_gen) {
            (_, 0) => Self::Pp,
            (0, _) => Self::Tg,
            _ => Self::Pg,
        }
    }

    /// `pp`, `tg` or `pg`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pp => "pp",
            Self::Tg => "tg",
            Self::Pg => "pg",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One measured row made ready for the simulator.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The row as read.
    pub row: BenchRow,
    /// The test the simulator runs for it.
    pub case: TestCase,
    /// What it measures.
    pub kind: Kind,
    /// Index of its model in the model list the selection was made with.
    pub model: usize,
}

impl Point {
    /// The measured rate, tokens per second.
    pub fn measured(&self) -> f64 {
        self.row.avg_ts
    }

    /// Tokens the rate counts: `n_prompt + n_gen`.
    pub fn tokens(&self) -> f64 {
        f64::from(self.case.n_prompt) + f64::from(self.case.n_gen)
    }

    /// The test's name with whatever departs from llama-bench's defaults:
    /// `tg32 @ d2048 ctk q8_0 fa off`.
    pub fn label(&self) -> String {
        let mut s = self.row.test_name();
        if self.case.n_ubatch != DEFAULT_N_UBATCH {
            s.push_str(&format!(" ub{}", self.case.n_ubatch));
        }
        if self.case.n_batch != DEFAULT_N_BATCH {
            s.push_str(&format!(" b{}", self.case.n_batch));
        }
        if self.case.type_k != QuantType::F16 {
            s.push_str(&format!(" ctk {}", self.case.type_k));
        }
        if self.case.type_v != QuantType::F16 {
            s.push_str(&format!(" ctv {}", self.case.type_v));
        }
        match self.row.flash_attn {
            Some(0) => s.push_str(" fa off"),
            Some(1) => s.push_str(" fa on"),
            _ => {}
        }
        for key in ["repack", "load_mode"] {
            if let Some(v) = self.row.extra.get(key) {
                let default = matches!(
                    (key, v.as_str()),
                    ("repack", "true") | ("load_mode", "auto")
                );
                if !default {
                    s.push_str(&format!(" {key} {v}"));
                }
            }
        }
        s
    }

    /// The leave-one-group-out group: the kind and the depth (`tg @ d2048`).
    pub fn group(&self) -> String {
        if self.case.n_depth > 0 {
            format!("{} @ d{}", self.kind, self.case.n_depth)
        } else {
            self.kind.name().to_owned()
        }
    }

    /// The configuration that makes two rows repeat measurements of one test: the simulated
    /// case, the model, flash attention and the other llama-bench settings kept in `extra`.
    pub fn config_key(&self) -> String {
        let extra: Vec<String> = ["repack", "load_mode", "poll", "cpu_mask"]
            .iter()
            .filter_map(|k| self.row.extra.get(*k).map(|v| format!("{k}={v}")))
            .collect();
        format!(
            "{}|{:?}|{:?}|{}",
            self.model,
            self.case,
            self.row.flash_attn,
            extra.join(",")
        )
    }
}

/// Reads every row of every file: llama-bench output in any format it writes, the harness's
/// JSON, or a Findings table from `calibration/` (recognised when no llama-bench format is).
pub fn read_files<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<BenchRow>, CalibrateError> {
    let mut rows = Vec::new();
    for path in paths {
        let path = path.as_ref();
        match readers::read_file(path) {
            Ok(r) => rows.extend(r),
            Err(e @ ReadError::UnknownFormat { .. }) => match readers::read_findings_csv(path) {
                Ok(r) => rows.extend(r),
                // A file that is not a Findings table either is best described by what
                // llama-bench's formats expected.
                Err(_) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        }
    }
    Ok(rows)
}

/// `--exclude KEY=V1,V2`: leave out rows whose `KEY` is one of the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    /// A llama-bench field (`n_prompt`, `n_depth`, `type_k`, `flash_attn`), `test` for the
    /// test name (`pp64`, `tg32 @ d2048`), or any column the source carries.
    pub key: String,
    /// Values as written.
    pub values: Vec<String>,
}

impl Exclusion {
    /// Parses `n_prompt=64` or `test=pp64,tg64`.
    pub fn parse(text: &str) -> Result<Self, CalibrateError> {
        let (key, values) = text.split_once('=').ok_or_else(|| {
            CalibrateError::usage(
                "--exclude",
                format!("`{text}` is not KEY=VALUE[,VALUE]; expected e.g. n_prompt=64"),
            )
        })?;
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if key.trim().is_empty() || values.is_empty() {
            return Err(CalibrateError::usage(
                "--exclude",
                format!("`{text}` has no key or no value; expected e.g. n_prompt=64"),
            ));
        }
        Ok(Self {
            key: key.trim().to_owned(),
            values,
        })
    }

    /// Whether `row` is excluded. A column of the source wins over the row field of the same
    /// name, so that `n_prompt=64` also drops the tg rows of a Findings sweep point `p = 64`.
    pub fn matches(&self, row: &BenchRow) -> bool {
        field_text(row, &self.key).is_some_and(|v| self.values.contains(&v))
    }
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.values.join(","))
    }
}

fn field_text(row: &BenchRow, key: &str) -> Option<String> {
    if let Some(v) = row.extra.get(key) {
        return Some(v.clone());
    }
    let opt = |v: Option<u32>| v.map(|v| v.to_string());
    match key {
        "test" => Some(row.test_name()),
        "model_type" => Some(row.model_type.clone()),
        "n_prompt" => Some(row.n_prompt.to_string()),
        "n_gen" => Some(row.n_gen.to_string()),
        "n_depth" => Some(row.n_depth.to_string()),
        "n_threads" => opt(row.n_threads),
        "n_batch" => opt(row.n_batch),
        "n_ubatch" => opt(row.n_ubatch),
        "type_k" => row.type_k.clone(),
        "type_v" => row.type_v.clone(),
        "flash_attn" => row.flash_attn.map(|v| v.to_string()),
        "source" => Some(row.source.origin.clone()),
        _ => None,
    }
}

/// The points selected from the rows, and what the selection did, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The points, in the order of the files and rows.
    pub points: Vec<Point>,
    /// The thread count kept, when the rows record one.
    pub threads: Option<u32>,
    /// One sentence per decision: rows excluded, thread count chosen, rows unusable.
    pub notes: Vec<String>,
}

/// Selects the rows to compare with the simulator and turns them into points.
///
/// `models` are the specs of `--model`, in order; every row is matched to one of them by its
/// recorded size (or parameter count, or the size in its name). Rows of a model not given are an
/// error, not silently skipped: a profile fitted to a mixture would carry a per-model error as
/// if it were physics. `threads` keeps that thread count; without it, the most common one.
pub fn select(
    rows: Vec<BenchRow>,
    models: &[ModelSpec],
    threads: Option<u32>,
    exclude: &[Exclusion],
) -> Result<Selection, CalibrateError> {
    let mut notes = Vec::new();
    let total = rows.len();
    let rows: Vec<BenchRow> = rows
        .into_iter()
        .filter(|r| !exclude.iter().any(|e| e.matches(r)))
        .collect();
    if rows.len() < total {
        let list: Vec<String> = exclude.iter().map(ToString::to_string).collect();
        notes.push(format!(
            "{} of {total} rows excluded by --exclude {}",
            total - rows.len(),
            list.join(" --exclude ")
        ));
    }
    if rows.is_empty() {
        return Err(CalibrateError::Rows(
            "no rows are left after --exclude; expected at least one pp or tg row".to_owned(),
        ));
    }
    let assigned = assign_models(&rows, models, &mut notes)?;

    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for r in &rows {
        if let Some(t) = r.n_threads {
            *counts.entry(t).or_default() += 1;
        }
    }
    let chosen = match threads {
        Some(t) => {
            if !counts.contains_key(&t) && !counts.is_empty() {
                let have: Vec<String> = counts.keys().map(ToString::to_string).collect();
                return Err(CalibrateError::usage(
                    "--threads",
                    format!(
                        "no row ran with {t} threads; the rows have {}",
                        have.join(", ")
                    ),
                ));
            }
            Some(t)
        }
        // Ties go to the larger thread count, the configuration a benchmark usually targets.
        None => counts
            .iter()
            .max_by_key(|&(t, n)| (*n, *t))
            .map(|(&t, _)| t),
    };
    if let Some(t) = chosen {
        let kept = counts.get(&t).copied().unwrap_or(0);
        let how = if threads.is_some() {
            "as asked"
        } else {
            "the most common"
        };
        let mut note = format!("threads {t} ({how}: {kept} of {} rows)", rows.len());
        if counts.len() > 1 {
            let others: Vec<String> = counts
                .iter()
                .filter(|&(&n, _)| n != t)
                .map(|(n, c)| format!("{c} at {n}"))
                .collect();
            note.push_str(&format!("; left out: {}", others.join(", ")));
        }
        notes.push(note);
    }
    let unknown_threads = rows.iter().filter(|r| r.n_threads.is_none()).count();
    if unknown_threads > 0 && chosen.is_some() {
        notes.push(format!(
            "{unknown_threads} rows record no thread count and are kept"
        ));
    }

    let mut points = Vec::new();
    let mut unusable = Vec::new();
    let mut uncovered = Vec::new();
    for (row, model) in rows.into_iter().zip(assigned) {
        if let (Some(t), Some(c)) = (row.n_threads, chosen)
            && t != c
        {
            continue;
        }
        if !(row.avg_ts.is_finite() && row.avg_ts > 0.0) || row.n_prompt + row.n_gen == 0 {
            unusable.push(row.source.to_string());
            continue;
        }
        if let Some(setting) = uncovered_setting(&row) {
            uncovered.push(format!("{} ({setting})", row.source));
            continue;
        }
        let case = case_of(&row, chosen)?;
        points.push(Point {
            kind: Kind::of(row.n_prompt, row.n_gen),
            case,
            model,
            row,
        });
    }
    if !unusable.is_empty() {
        notes.push(format!(
            "{} rows without a positive rate or without tokens left out ({})",
            unusable.len(),
            unusable.join(", ")
        ));
    }
    if !uncovered.is_empty() {
        notes.push(format!(
            "{} rows with a setting the simulator's physics does not cover left out, not fitted: {}",
            uncovered.len(),
            uncovered.join(", ")
        ));
    }
    if points.is_empty() {
        return Err(CalibrateError::Rows(
            "no usable rows: every row was excluded, of another thread count, or has no rate"
                .to_owned(),
        ));
    }
    Ok(Selection {
        points,
        threads: chosen,
        notes,
    })
}

/// The simulator's test for a row, with llama-bench's defaults where the format is silent.
fn case_of(row: &BenchRow, threads: Option<u32>) -> Result<TestCase, CalibrateError> {
    let kv = |t: &Option<String>, field: &str| match t {
        None => Ok(QuantType::F16),
        Some(name) => QuantType::from_name(name.trim()).ok_or_else(|| {
            CalibrateError::Rows(format!(
                "{}: {field} `{name}` is not a KV type the simulator knows; expected f16, bf16, \
                 f32, q8_0, q4_0, q4_1, q5_0, q5_1 or iq4_nl",
                row.source
            ))
        }),
    };
    let n_batch = row.n_batch.unwrap_or(DEFAULT_N_BATCH).max(1);
    Ok(TestCase {
        n_prompt: row.n_prompt,
        n_gen: row.n_gen,
        n_depth: row.n_depth,
        n_batch,
        n_ubatch: row.n_ubatch.unwrap_or(DEFAULT_N_UBATCH).max(1),
        n_seq: 1,
        type_k: kv(&row.type_k, "type_k")?,
        type_v: kv(&row.type_v, "type_v")?,
        n_threads: row.n_threads.or(threads).unwrap_or(0),
        flash_attn: row.flash_attn.and_then(|f| match f {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }),
        repack: row
            .extra
            .get("repack")
            .is_none_or(|v| v != "false" && v != "0"),
        stage_from: None,
    })
}

/// llama-bench settings that change speed in ways the simulator does not model, with the
/// values it does (llama-bench's defaults). Flash attention, KV types, batch sizes, threads and
/// repacking are modelled; `load_mode` changes only the untimed load.
const UNCOVERED: [(&str, &[&str]); 6] = [
    ("poll", &["50"]),
    ("cpu_mask", &["0x0"]),
    ("cpu_strict", &["false", "0"]),
    ("embeddings", &["false", "0"]),
    ("no_op_offload", &["0", "false"]),
    ("n_cpu_moe", &["0"]),
];

/// The first setting of `row` the physics does not cover, as `key=value`.
fn uncovered_setting(row: &BenchRow) -> Option<String> {
    UNCOVERED.iter().find_map(|(key, ok)| {
        let v = row.extra.get(*key)?;
        (!ok.contains(&v.trim())).then(|| format!("{key}={v}"))
    })
}

/// What a row says about its model's size.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Identity {
    /// Tensor bytes (llama-bench's `model_size`).
    Bytes(f64),
    /// Parameters (`model_n_params`).
    Params(f64),
    /// Parameters as the model's name rounds them (`3B`, `135M`).
    NamedParams(f64),
    /// Nothing.
    Unknown,
}

impl Identity {
    fn of(row: &BenchRow) -> Self {
        if let Some(b) = row.model_size.filter(|&b| b > 0) {
            Self::Bytes(b as f64)
        } else if let Some(p) = row.model_n_params.filter(|&p| p > 0) {
            Self::Params(p as f64)
        } else if let Some(p) = params_in_name(&row.model_type) {
            Self::NamedParams(p)
        } else {
            Self::Unknown
        }
    }

    /// Whether a model of `traffic` could be this one; `None` when the row cannot tell.
    fn matches(self, traffic: &ModelTraffic) -> Option<bool> {
        let close = |a: f64, b: f64| (a / b - 1.0).abs() <= SIZE_TOLERANCE;
        match self {
            Self::Bytes(b) => Some(close(b, traffic.model_size.0)),
            Self::Params(p) => Some(close(p, traffic.n_params)),
            Self::NamedParams(p) => {
                let r = p / traffic.n_params;
                Some((1.0 / NAME_TOLERANCE..=NAME_TOLERANCE).contains(&r))
            }
            Self::Unknown => None,
        }
    }

    /// Whether two rows are of the same model as far as the rows alone can tell.
    fn same(self, other: Self) -> bool {
        let close = |a: f64, b: f64| (a / b - 1.0).abs() <= SIZE_TOLERANCE;
        match (self, other) {
            (Self::Bytes(a), Self::Bytes(b)) | (Self::Params(a), Self::Params(b)) => close(a, b),
            _ => false,
        }
    }

    fn describe(self) -> String {
        match self {
            Self::Bytes(b) => format!("{:.1} MB", b / 1e6),
            Self::Params(p) | Self::NamedParams(p) => format!("{:.0} M parameters", p / 1e6),
            Self::Unknown => "size not recorded".to_owned(),
        }
    }
}

/// The parameter count a model name states: the first token like `3B`, `0.5B` or `135M`
/// between separators (`Qwen2.5-3B-Instruct`, `qwen2.5-3b-instruct-q4_k_m`).
fn params_in_name(name: &str) -> Option<f64> {
    name.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .find_map(|tok| {
            let (num, unit) = tok.split_at(tok.len().checked_sub(1)?);
            let scale = match unit {
                "B" | "b" => 1e9,
                "M" | "m" => 1e6,
                _ => return None,
            };
            let v: f64 = num.parse().ok()?;
            (v > 0.0 && !num.is_empty() && num.chars().next()?.is_ascii_digit())
                .then_some(v * scale)
        })
}

/// One model as the rows present it: rows that agree on their identity, or, without one, on
/// their model description.
#[derive(Debug)]
struct RowModel {
    identity: Identity,
    name: String,
    origin: String,
    rows: Vec<usize>,
}

/// Matches every row to one of `models`; errors when the rows are of a model not given or of
/// several models where one was given.
fn assign_models(
    rows: &[BenchRow],
    models: &[ModelSpec],
    notes: &mut Vec<String>,
) -> Result<Vec<usize>, CalibrateError> {
    if models.is_empty() {
        return Err(CalibrateError::usage(
            "--model",
            "is missing; give the model the rows measured (a preset name or a YAML/GGUF file)",
        ));
    }
    let mut groups: Vec<RowModel> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let id = Identity::of(r);
        let found = groups.iter_mut().find(|g| match (g.identity, id) {
            (Identity::Bytes(_) | Identity::Params(_), _) => g.identity.same(id),
            _ => g.name == r.model_type && !matches!(id, Identity::Bytes(_) | Identity::Params(_)),
        });
        match found {
            Some(g) => g.rows.push(i),
            None => groups.push(RowModel {
                identity: id,
                name: r.model_type.clone(),
                origin: r.source.origin.clone(),
                rows: vec![i],
            }),
        }
    }
    let traffic: Vec<ModelTraffic> = models.iter().map(ModelTraffic::new).collect();
    let describe =
        |g: &RowModel| format!("`{}` ({}) in {}", g.name, g.identity.describe(), g.origin);
    let spec_size = |m: usize| {
        format!(
            "{} is {:.1} MB, {:.0} M parameters",
            models[m].name,
            traffic[m].model_size.0 / 1e6,
            traffic[m].n_params / 1e6
        )
    };
    let mut assigned = vec![0usize; rows.len()];
    let mut unchecked = Vec::new();
    let mut by_name = Vec::new();
    for g in &groups {
        let matching: Vec<usize> = (0..models.len())
            .filter(|&m| g.identity.matches(&traffic[m]) == Some(true))
            .collect();
        let model = match (matching.as_slice(), g.identity) {
            ([m], _) => *m,
            (_, Identity::Unknown) if models.len() == 1 => {
                unchecked.push(describe(g));
                0
            }
            ([], _) if models.len() == 1 && groups.len() == 1 => {
                return Err(CalibrateError::Rows(format!(
                    "the rows are of another model: {}, but {}; give the --model they measured",
                    describe(g),
                    spec_size(0)
                )));
            }
            _ if models.len() == 1 => {
                let list: Vec<String> = groups.iter().map(describe).collect();
                return Err(CalibrateError::Rows(format!(
                    "rows of several models: give --model for each (the rows hold {}; --model \
                     gives one, {})",
                    list.join("; "),
                    spec_size(0)
                )));
            }
            ([], Identity::Unknown) => {
                return Err(CalibrateError::Rows(format!(
                    "cannot tell which --model the rows {} measured: they record no size; give \
                     files of one model at a time",
                    describe(g)
                )));
            }
            ([], _) => {
                let specs: Vec<String> = (0..models.len()).map(spec_size).collect();
                return Err(CalibrateError::Rows(format!(
                    "rows of a model not given: {} matches none of --model ({}); give --model \
                     for each model the rows measured",
                    describe(g),
                    specs.join("; ")
                )));
            }
            _ => {
                let names: Vec<&str> = matching.iter().map(|&m| models[m].name.as_str()).collect();
                return Err(CalibrateError::Rows(format!(
                    "cannot tell which model the rows {} measured: {} all match; give files of \
                     one model at a time",
                    describe(g),
                    names.join(", ")
                )));
            }
        };
        if let Identity::NamedParams(_) = g.identity {
            by_name.push(format!("{} as {}", describe(g), models[model].name));
        }
        for &i in &g.rows {
            assigned[i] = model;
        }
    }
    let unknown_groups = groups
        .iter()
        .filter(|g| g.identity == Identity::Unknown)
        .count();
    if unknown_groups > 1 {
        let list: Vec<String> = groups.iter().map(describe).collect();
        return Err(CalibrateError::Rows(format!(
            "rows of several models: give --model for each (the rows hold {}, and some record no \
             size to match by)",
            list.join("; ")
        )));
    }
    if !by_name.is_empty() {
        notes.push(format!(
            "rows without a recorded size matched by the parameter count in their model name: {}",
            by_name.join("; ")
        ));
    }
    if !unchecked.is_empty() {
        notes.push(format!(
            "rows {} record no size: taken to be {} unchecked",
            unchecked.join(", "),
            models[0].name
        ));
    }
    Ok(assigned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;

    fn smollm2() -> ModelSpec {
        load::model(Some("smollm2-135m-instruct-q4_1"), &[])
            .unwrap()
            .spec
    }

    fn qwen() -> ModelSpec {
        load::model(Some("qwen2.5-3b-instruct-q4_k_m"), &[])
            .unwrap()
            .spec
    }

    fn rows(text: &str) -> Vec<BenchRow> {
        readers::read_str(text, "test.jsonl").unwrap()
    }

    const TWO_MODELS: &str = r#"{"model_type": "llama 256M Q4_1", "model_size": 96576768, "n_threads": 2, "n_prompt": 512, "n_gen": 0, "avg_ts": 300.0, "stddev_ts": 1.0}
{"model_type": "qwen2 3B Q4_K - Medium", "model_size": 2098976768, "n_threads": 2, "n_prompt": 0, "n_gen": 32, "avg_ts": 9.0, "stddev_ts": 0.1}
"#;

    #[test]
    fn names_state_parameter_counts() {
        assert_eq!(params_in_name("Qwen2.5-3B-Instruct Q4_K_M"), Some(3e9));
        assert_eq!(params_in_name("qwen2.5-3b-instruct-q4_k_m"), Some(3e9));
        assert_eq!(params_in_name("llama 135M Q4_1"), Some(135e6));
        assert_eq!(params_in_name("Qwen2.5-0.5B"), Some(0.5e9));
        assert_eq!(params_in_name("Q4_K_M"), None);
    }

    #[test]
    fn rows_of_two_models_with_one_model_given_are_an_error() {
        let e = select(rows(TWO_MODELS), &[smollm2()], None, &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("rows of several models: give --model for each"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 2);
        let e = select(rows(TWO_MODELS), &[], None, &[]).unwrap_err();
        assert!(e.to_string().contains("--model"), "{e}");
    }

    #[test]
    fn rows_of_two_models_with_both_given_are_matched() {
        let s = select(rows(TWO_MODELS), &[qwen(), smollm2()], None, &[]).unwrap();
        let models: Vec<usize> = s.points.iter().map(|p| p.model).collect();
        assert_eq!(models, [1, 0]);
        assert_eq!(s.threads, Some(2));
    }

    #[test]
    fn rows_with_settings_the_physics_does_not_cover_are_listed_not_fitted() {
        let text = r#"{"model_type": "m", "model_size": 96576768, "n_threads": 2, "n_prompt": 64, "n_gen": 0, "avg_ts": 300.0, "stddev_ts": 1.0, "poll": 50}
{"model_type": "m", "model_size": 96576768, "n_threads": 2, "n_prompt": 64, "n_gen": 0, "avg_ts": 280.0, "stddev_ts": 1.0, "poll": 0}
{"model_type": "m", "model_size": 96576768, "n_threads": 2, "n_prompt": 0, "n_gen": 16, "avg_ts": 100.0, "stddev_ts": 1.0, "flash_attn": 0, "repack": false}
"#;
        let s = select(rows(text), &[smollm2()], None, &[]).unwrap();
        // Flash attention off and repacking off are modelled; a poll of 0 is not.
        assert_eq!(s.points.len(), 2);
        assert_eq!(s.points[1].case.flash_attn, Some(false));
        assert!(!s.points[1].case.repack);
        let note = s
            .notes
            .iter()
            .find(|n| n.contains("does not cover"))
            .unwrap();
        assert!(
            note.starts_with("1 rows") && note.contains("poll=0"),
            "{note}"
        );
    }

    #[test]
    fn rows_of_another_model_are_an_error() {
        let one = TWO_MODELS.lines().next().unwrap();
        let e = select(rows(one), &[qwen()], None, &[]).unwrap_err();
        assert!(e.to_string().contains("another model"), "{e}");
    }

    #[test]
    fn the_most_common_thread_count_is_kept_and_exclusions_apply() {
        let text = r#"{"model_type": "m", "model_size": 96576768, "n_threads": 1, "n_prompt": 64, "n_gen": 0, "avg_ts": 150.0, "stddev_ts": 1.0}
{"model_type": "m", "model_size": 96576768, "n_threads": 2, "n_prompt": 64, "n_gen": 0, "avg_ts": 300.0, "stddev_ts": 1.0}
{"model_type": "m", "model_size": 96576768, "n_threads": 2, "n_prompt": 0, "n_gen": 16, "n_depth": 256, "type_k": "q8_0", "avg_ts": 100.0, "stddev_ts": 1.0}
"#;
        let s = select(rows(text), &[smollm2()], None, &[]).unwrap();
        assert_eq!(s.threads, Some(2));
        assert_eq!(s.points.len(), 2);
        assert_eq!(s.points[1].kind, Kind::Tg);
        assert_eq!(s.points[1].case.type_k, QuantType::Q8_0);
        assert_eq!(s.points[1].label(), "tg16 @ d256 ctk q8_0");
        assert_eq!(s.points[1].group(), "tg @ d256");
        let s = select(rows(text), &[smollm2()], Some(1), &[]).unwrap();
        assert_eq!(s.points.len(), 1);
        let ex = Exclusion::parse("n_depth=256").unwrap();
        let s = select(rows(text), &[smollm2()], None, &[ex]).unwrap();
        assert_eq!(s.points.len(), 1);
        assert!(select(rows(text), &[smollm2()], Some(4), &[]).is_err());
        assert!(Exclusion::parse("n_depth").is_err());
    }

    #[test]
    fn findings_tables_are_read_and_their_sweep_points_excluded_whole() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/findings_v1_cold.csv");
        let rows = read_files(&[path]).unwrap();
        assert_eq!(rows.len(), 18);
        let ex = Exclusion::parse("n_prompt=64").unwrap();
        let s = select(rows, &[qwen()], None, &[ex]).unwrap();
        // The p = 64 sweep points carry their pp64 and their tg rows out together.
        assert_eq!(s.points.len(), 12);
        assert_eq!(s.threads, Some(8));
        assert!(
            s.notes.iter().any(|n| n.contains("parameter count")),
            "{:?}",
            s.notes
        );
    }
}
