//! Readers for measured `llama-bench` results in every format it writes (`md`, `csv`, `json`,
//! `jsonl`, `sql`), for the predecessor Python harness's JSON and for the Findings tables
//! transcribed into `calibration/`, all into one row type, [`BenchRow`].
//!
//! The format is detected from the content ([`detect`]) because result files get renamed, piped
//! and captured from stderr (`-oe json`) with whatever extension the shell gave them. tiersim's
//! own exporters write the same formats with extra fields, so reading its output back works too:
//! fields this module has no column for are kept verbatim in [`BenchRow::extra`].
//!
//! Every failure is a [`ReadError`] naming the input, the line (or record) and what was expected.
//! No input makes a reader panic.

mod csv;
mod findings;
mod harness;
mod json;
mod jsonl;
mod md;
mod sql;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

pub use self::findings::{read_findings_csv, read_findings_str};

/// One measured llama-bench result row: one test (`pp512`, `tg128 @ d4096`, ...) under one set
/// of parameters, with its rate.
///
/// Fields a format does not carry are `None` (the md table has no file name; the harness JSON
/// has no model size). Sizes read from the md table are approximate, since llama-bench prints
/// them rounded (`92.10 MiB`, `134.52 M`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchRow {
    /// llama.cpp's model description (`llama 256M Q4_1`); for the harness, the model file's
    /// stem; for the Findings tables, their `model` column.
    pub model_type: String,
    /// Path of the model file as llama-bench was given it.
    pub model_filename: Option<String>,
    /// Model weight size in bytes.
    pub model_size: Option<u64>,
    /// Model parameter count.
    pub model_n_params: Option<u64>,
    /// Backend names as llama-bench joins them (`CPU`, `CUDA`, `BLAS,CPU`).
    pub backend: Option<String>,
    /// Thread count (`-t`).
    pub n_threads: Option<u32>,
    /// Logical batch size (`-b`).
    pub n_batch: Option<u32>,
    /// Physical batch size (`-ub`).
    pub n_ubatch: Option<u32>,
    /// KV cache key type (`-ctk`), a ggml type name such as `f16` or `q8_0`.
    pub type_k: Option<String>,
    /// KV cache value type (`-ctv`).
    pub type_v: Option<String>,
    /// Flash attention (`-fa`) as llama-bench records it: `-1` auto, `0` off, `1` on. Rows that
    /// differ only in it are different measurements, so it is kept beside the KV types.
    pub flash_attn: Option<i32>,
    /// Prompt tokens processed in the timed part.
    pub n_prompt: u32,
    /// Tokens generated in the timed part.
    pub n_gen: u32,
    /// Tokens already in the KV cache before the timed part (`-d`); 0 where the format predates it.
    pub n_depth: u32,
    /// Mean rate over the repetitions, in tokens per second (NaN where the source wrote `null`).
    pub avg_ts: f64,
    /// Sample standard deviation of the repetitions' rates, in tokens per second; 0 where the
    /// source gives no spread (the harness without `± sd`, the Findings tables).
    pub stddev_ts: f64,
    /// Each repetition's rate, in tokens per second; empty where the format leaves them out
    /// (md, csv, sql, the harness).
    pub samples_ts: Vec<f64>,
    /// Every other field of the source, by its source name (md display names such as `ngl` are
    /// mapped to llama-bench's field names), with its text: `build_commit`, `test_time`,
    /// `repack`, `load_mode`, tiersim's `system`, `seed`, `ttft_ms`, ... Non-string JSON values
    /// are kept as JSON text.
    pub extra: BTreeMap<String, String>,
    /// Where the row came from, for error messages and reports.
    pub source: RowSource,
}

impl BenchRow {
    /// The test's name as llama-bench prints it: `pp512`, `tg128`, `pp512+tg128`, with
    /// ` @ d4096` appended when the KV cache was pre-filled.
    pub fn test_name(&self) -> String {
        let mut name = match (self.n_prompt, self.n_gen) {
            (p, 0) if p > 0 => format!("pp{p}"),
            (0, g) if g > 0 => format!("tg{g}"),
            (p, g) => format!("pp{p}+tg{g}"),
        };
        if self.n_depth > 0 {
            name.push_str(&format!(" @ d{}", self.n_depth));
        }
        name
    }
}

/// Where a row or an error is in its input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowSource {
    /// The input's name: the path given to [`read_file`] or the origin given to [`read_str`].
    pub origin: String,
    /// The line or record within it.
    pub position: Position,
}

impl RowSource {
    fn line(origin: &str, line: usize) -> Self {
        Self {
            origin: origin.to_owned(),
            position: Position::Line(line),
        }
    }

    fn record(origin: &str, record: usize) -> Self {
        Self {
            origin: origin.to_owned(),
            position: Position::Record(record),
        }
    }
}

impl fmt::Display for RowSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.origin, self.position)
    }
}

/// A place in an input: a 1-based line for line-oriented formats, a 1-based record number for
/// JSON arrays and the harness's objects, whose records span many lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Position {
    /// 1-based line number.
    Line(usize),
    /// 1-based record number, counted over the whole input.
    Record(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// An input format [`read_str`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Format {
    /// llama-bench `-o md`: a markdown table (tiersim's adds columns after `t/s`).
    Md,
    /// llama-bench `-o csv`: a header line, then one quoted row per result.
    Csv,
    /// llama-bench `-o json`: one array of result objects.
    Json,
    /// llama-bench `-o jsonl`: one result object per line.
    Jsonl,
    /// llama-bench `-o sql`: `CREATE TABLE` then one `INSERT INTO` per result.
    Sql,
    /// The predecessor harness's `run_llama_bench.py` output: objects with `pp_tps`/`tg_tps`
    /// (and optionally `rows` of `{test, tps}`), one per file, per line or in an array.
    HarnessJson,
}

impl Format {
    /// The format's short name, as llama-bench's `-o` names it (`harness-json` for the harness).
    pub fn name(self) -> &'static str {
        match self {
            Self::Md => "md",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Jsonl => "jsonl",
            Self::Sql => "sql",
            Self::HarnessJson => "harness-json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an input could not be read. Every message is one sentence naming the input, the line or
/// record, and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read the file: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The content matches none of the formats.
    #[error(
        "{origin}: unrecognised format (it starts with `{start}`); expected llama-bench output \
         (md, csv, json, jsonl or sql) or the harness's JSON with `pp_tps`/`tg_tps`"
    )]
    UnknownFormat {
        /// The input's name.
        origin: String,
        /// The input's first non-blank line, shortened.
        start: String,
    },
    /// The text ends where more was required: a cut-off download, a killed run, a partial copy.
    #[error("{at}: {expected}, but the text ends there (is the file truncated?)")]
    Truncated {
        /// Where the text ends.
        at: RowSource,
        /// What should have followed.
        expected: String,
    },
    /// The text is in a known format but wrong at one place.
    #[error("{at}: {message}")]
    Invalid {
        /// The line or record at fault.
        at: RowSource,
        /// What is wrong and what was expected there.
        message: String,
    },
    /// The input is well formed but holds no result rows.
    #[error("{origin}: no usable rows: {reason}")]
    NoRows {
        /// The input's name.
        origin: String,
        /// What was found instead.
        reason: String,
    },
}

impl ReadError {
    fn invalid(at: RowSource, message: impl Into<String>) -> Self {
        Self::Invalid {
            at,
            message: message.into(),
        }
    }

    fn truncated(at: RowSource, expected: impl Into<String>) -> Self {
        Self::Truncated {
            at,
            expected: expected.into(),
        }
    }
}

/// The format of `text`, judged from its content, or `None` when it is none of them.
///
/// The first non-blank line (past any SQL `--` comments) decides: `[` or `{` is JSON (the
/// harness's when it names `pp_tps` or `tg_tps` and never llama-bench's `avg_ts`, or when it is
/// a pretty-printed object; otherwise a `[` array, or JSONL for a `{` line), `|` a markdown
/// table, `CREATE TABLE`/`INSERT INTO` SQL, and a comma-separated header naming `build_commit`,
/// `avg_ts` or `n_prompt` CSV. A markdown table further down (a `|` line followed by a
/// `| --- |` rule) also counts, since captured stdout may carry log lines before the table.
pub fn detect(text: &str) -> Option<Format> {
    let text = strip_bom(text);
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("--"))?;
    if first.starts_with('[') || first.starts_with('{') {
        let llama = text.contains("\"avg_ts\"");
        let harness = !llama && (text.contains("\"pp_tps\"") || text.contains("\"tg_tps\""));
        return Some(if harness {
            Format::HarnessJson
        } else if first.starts_with('[') {
            Format::Json
        } else if llama || first != "{" {
            Format::Jsonl
        } else {
            // A pretty-printed object is not JSONL; the harness's is the only such format, and
            // a file cut before its `pp_tps` is then reported as its truncation.
            Format::HarnessJson
        });
    }
    if first.starts_with('|') {
        return Some(Format::Md);
    }
    let upper: String = first
        .chars()
        .take(12)
        .collect::<String>()
        .to_ascii_uppercase();
    if upper.starts_with("CREATE TABLE") || upper.starts_with("INSERT INTO") {
        return Some(Format::Sql);
    }
    // llama-bench's CSV header starts with `build_commit`, which also recognises a header cut
    // short before the columns that matter, so that its reader can report the truncation.
    let csv_header = first.contains(',')
        && first
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .any(|c| c == "avg_ts" || c == "n_prompt" || c == "build_commit");
    if csv_header {
        return Some(Format::Csv);
    }
    if md::has_table(text) {
        return Some(Format::Md);
    }
    None
}

/// Reads every result row of `text`, detecting its format; `origin` names the text in errors
/// and in each row's [`RowSource`].
pub fn read_str(text: &str, origin: &str) -> Result<Vec<BenchRow>, ReadError> {
    let text = strip_bom(text);
    if text.trim().is_empty() {
        return Err(ReadError::NoRows {
            origin: origin.to_owned(),
            reason: "the text is empty".to_owned(),
        });
    }
    if detect(text).is_none() && findings::has_header(text) {
        return read_findings_str(text, origin);
    }
    let format = detect(text).ok_or_else(|| ReadError::UnknownFormat {
        origin: origin.to_owned(),
        start: shorten(
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or(""),
        ),
    })?;
    read_str_as(format, text, origin)
}

/// Reads every result row of `text` as `format`, for callers that know the format already.
pub fn read_str_as(format: Format, text: &str, origin: &str) -> Result<Vec<BenchRow>, ReadError> {
    let text = strip_bom(text);
    if matches!(format, Format::Json | Format::Jsonl | Format::HarnessJson) {
        crate::config::load::document_text(text).map_err(|m| {
            ReadError::invalid(RowSource::line(origin, 1), format!("the document {m}"))
        })?;
    }
    let rows = match format {
        Format::Md => md::read(text, origin)?,
        Format::Csv => csv::read(text, origin)?,
        Format::Json => json::read(text, origin)?,
        Format::Jsonl => jsonl::read(text, origin)?,
        Format::Sql => sql::read(text, origin)?,
        Format::HarnessJson => harness::read(text, origin)?,
    };
    if rows.is_empty() {
        return Err(ReadError::NoRows {
            origin: origin.to_owned(),
            reason: format!("the {format} text holds no result"),
        });
    }
    Ok(rows)
}

/// Reads every result row of the file at `path`, detecting its format from the content.
pub fn read_file(path: &Path) -> Result<Vec<BenchRow>, ReadError> {
    let origin = path.display().to_string();
    let text = read_text(path, &origin)?;
    read_str(&text, &origin)
}

/// The file's text, or an error naming the line of the first byte that is not UTF-8.
fn read_text(path: &Path, origin: &str) -> Result<String, ReadError> {
    use std::io::Read;
    let io = |source| ReadError::Io {
        path: origin.to_owned(),
        source,
    };
    // Bounded like every text input (files::read_text), but the UTF-8 check below names the
    // line, which a measurements file needs.
    let limit = crate::limits::FILE_BYTES;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit.max + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    if bytes.len() as u64 > limit.max {
        return Err(io(std::io::Error::other(format!(
            "it is larger than tiersim's limit of {} MiB for a text input; {}",
            limit.max >> 20,
            limit.split
        ))));
    }
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..bad].iter().filter(|&&b| b == b'\n').count();
        ReadError::invalid(
            RowSource::line(origin, line),
            format!("byte {bad} is not UTF-8; expected a text file"),
        )
    })
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// At most 40 characters of `s`, for quoting input in messages.
fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

/// llama-bench's field names that [`BenchRow`] has a field for; every other field of a record
/// goes to [`BenchRow::extra`].
const ROW_FIELDS: [&str; 17] = [
    "model_type",
    "model_filename",
    "model_size",
    "model_n_params",
    "backends",
    "n_threads",
    "n_batch",
    "n_ubatch",
    "type_k",
    "type_v",
    "flash_attn",
    "n_prompt",
    "n_gen",
    "n_depth",
    "avg_ts",
    "stddev_ts",
    "samples_ts",
];

/// A row from one record of named fields, as llama-bench's json, jsonl, csv and sql give them.
///
/// Text formats hand in every value as a JSON string; the accessors accept numbers either way so
/// that one mapping serves all four.
fn row_from_fields(map: &Map<String, Value>, source: RowSource) -> Result<BenchRow, ReadError> {
    let f = Fields { map, at: &source };
    let extra = map
        .iter()
        .filter(|(k, _)| !ROW_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), value_text(v)))
        .collect();
    Ok(BenchRow {
        model_type: f.req_str("model_type")?,
        model_filename: f.opt_str("model_filename")?,
        model_size: f.opt_uint("model_size")?,
        model_n_params: f.opt_uint("model_n_params")?,
        backend: f.opt_str("backends")?,
        n_threads: f.opt_uint("n_threads")?,
        n_batch: f.opt_uint("n_batch")?,
        n_ubatch: f.opt_uint("n_ubatch")?,
        type_k: f.opt_str("type_k")?,
        type_v: f.opt_str("type_v")?,
        flash_attn: f.opt_flash_attn("flash_attn")?,
        n_prompt: f.req_uint("n_prompt")?,
        n_gen: f.req_uint("n_gen")?,
        n_depth: f.opt_uint("n_depth")?.unwrap_or(0),
        avg_ts: f.req_f64("avg_ts")?,
        stddev_ts: f.req_f64("stddev_ts")?,
        samples_ts: f.f64_list("samples_ts")?,
        extra,
        source: source.clone(),
    })
}

/// A string value as itself, anything else as its JSON text.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Typed access to one record's fields, with errors naming the record and the field.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    at: &'a RowSource,
}

impl Fields<'_> {
    fn bad(&self, key: &str, v: &Value, expected: &str) -> ReadError {
        ReadError::invalid(
            self.at.clone(),
            format!(
                "field `{key}` is `{}`; expected {expected}",
                shorten(&value_text(v))
            ),
        )
    }

    fn missing(&self, key: &str, expected: &str) -> ReadError {
        ReadError::invalid(
            self.at.clone(),
            format!("field `{key}` is missing; expected {expected}"),
        )
    }

    /// The value, treating JSON `null` and empty text as absent (llama-bench's CSV leaves
    /// fields empty, SQL writes `NULL`).
    fn get(&self, key: &str) -> Option<&Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(v) => Some(v),
        }
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>, ReadError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v @ Value::Number(_)) => Ok(Some(v.to_string())),
            Some(v) => Err(self.bad(key, v, "a string")),
        }
    }

    fn req_str(&self, key: &str) -> Result<String, ReadError> {
        self.opt_str(key)?
            .ok_or_else(|| self.missing(key, "a string"))
    }

    fn opt_uint<T: TryFrom<u64>>(&self, key: &str) -> Result<Option<T>, ReadError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let what = "an unsigned integer in range";
        let n = match v {
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|x| x.fract() == 0.0 && (0.0..1.8e19).contains(x))
                    .map(|x| x as u64)
            }),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        n.and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| self.bad(key, v, what))
    }

    fn req_uint<T: TryFrom<u64>>(&self, key: &str) -> Result<T, ReadError> {
        self.opt_uint(key)?
            .ok_or_else(|| self.missing(key, "an unsigned integer"))
    }

    /// A rate; `null` reads as NaN because tiersim's JSON writes non-finite rates as `null`.
    fn req_f64(&self, key: &str) -> Result<f64, ReadError> {
        match self.map.get(key) {
            None => Err(self.missing(key, "a number")),
            Some(Value::Null) => Ok(f64::NAN),
            Some(v) => as_f64(v).ok_or_else(|| self.bad(key, v, "a number")),
        }
    }

    fn f64_list(&self, key: &str) -> Result<Vec<f64>, ReadError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(f64::NAN),
                    v => as_f64(v).ok_or_else(|| self.bad(key, v, "an array of numbers")),
                })
                .collect(),
            Some(v) => Err(self.bad(key, v, "an array of numbers")),
        }
    }

    fn opt_flash_attn(&self, key: &str) -> Result<Option<i32>, ReadError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let n = match v {
            Value::Bool(b) => Some(i32::from(*b)),
            Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            Value::String(s) => parse_flash_attn(s),
            _ => None,
        };
        n.map(Some)
            .ok_or_else(|| self.bad(key, v, "-1, 0, 1, `auto`, `off` or `on`"))
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Flash attention as llama-bench spells it in its records (`-1`/`0`/`1`), on its command line
/// (`auto`/`off`/`on`) or as older versions recorded it (`true`/`false`).
fn parse_flash_attn(s: &str) -> Option<i32> {
    match s.trim().to_ascii_lowercase().as_str() {
        "auto" => Some(-1),
        "off" | "false" | "no" => Some(0),
        "on" | "true" | "yes" => Some(1),
        other => other.parse().ok(),
    }
}

/// `(n_prompt, n_gen, n_depth)` of a llama-bench test name: `pp512`, `tg128`, `pp512+tg128`,
/// each optionally followed by ` @ d<depth>`.
fn parse_test_name(s: &str) -> Option<(u32, u32, u32)> {
    let (main, depth) = match s.split_once('@') {
        Some((main, depth)) => (main.trim(), depth.trim().strip_prefix('d')?.parse().ok()?),
        None => (s.trim(), 0),
    };
    let (p, g) = match main.split_once('+') {
        Some((pp, tg)) => (
            pp.trim().strip_prefix("pp")?.parse().ok()?,
            tg.trim().strip_prefix("tg")?.parse().ok()?,
        ),
        None => match (main.strip_prefix("pp"), main.strip_prefix("tg")) {
            (Some(p), _) => (p.parse().ok()?, 0),
            (_, Some(g)) => (0, g.parse().ok()?),
            _ => return None,
        },
    };
    Some((p, g, depth))
}

/// `(mean, sd)` of a rate printed as llama-bench's md prints it, `271.22 ± 9.65` (`+/-` is
/// accepted for hand-typed tables).
fn parse_mean_sd(s: &str) -> Option<(f64, f64)> {
    let s = s.trim();
    let (mean, sd) = s.split_once('±').or_else(|| s.split_once("+/-"))?;
    Some((mean.trim().parse().ok()?, sd.trim().parse().ok()?))
}
