//! The pp/tg tables of the predecessor's Findings, transcribed into `calibration/*.csv`.
//!
//! Each file starts with `#` comment lines saying which seed and section it comes from, then a
//! header whose column names carry their units (`pp_tps`, `tg_median_tps`), then one row per
//! sweep point `(n_prompt, n_gen)`. A sweep point ran llama-bench with `-p P -n N`, which runs two
//! separate tests, `ppP` and `tgN`; so each row gives up to two [`BenchRow`]s.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::{BenchRow, Fields, ReadError, RowSource, read_text};

/// Column names that hold the pp rate, in order of preference.
const PP: [&str; 2] = ["pp_tps", "pp_median_tps"];
/// Column names that hold the tg rate, in order of preference.
const TG: [&str; 2] = ["tg_tps", "tg_median_tps"];

/// Reads a Findings pp/tg table from `calibration/` into rows: per CSV row, a `pp<n_prompt>` row
/// from the pp rate and a `tg<n_gen>` row from the tg rate.
///
/// Every column of the CSV row is also kept in each row's [`BenchRow::extra`], since a tg row
/// alone would otherwise lose the `n_prompt` of the sweep point it was measured at. The tables
/// give no spread per point, so `stddev_ts` is 0.
pub fn read_findings_csv(path: &Path) -> Result<Vec<BenchRow>, ReadError> {
    let origin = path.display().to_string();
    read_findings_str(&read_text(path, &origin)?, &origin)
}

/// [`read_findings_csv`] on text already in memory; `origin` names it in errors.
pub fn read_findings_str(text: &str, origin: &str) -> Result<Vec<BenchRow>, ReadError> {
    let text = super::strip_bom(text);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let line_of = |r: &::csv::StringRecord| {
        r.position()
            .map_or(1, |p| usize::try_from(p.line()).unwrap_or(usize::MAX))
    };
    let mut header: Option<(Vec<String>, usize)> = None;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(1, |p| p.line());
            ReadError::invalid(
                RowSource::line(origin, usize::try_from(line).unwrap_or(usize::MAX)),
                format!("not valid CSV ({e})"),
            )
        })?;
        let at = RowSource::line(origin, line_of(&record));
        let Some((names, _)) = &header else {
            let names: Vec<String> = record.iter().map(|s| s.trim().to_owned()).collect();
            check_header(&names, &at)?;
            header = Some((names, line_of(&record)));
            continue;
        };
        if record.len() != names.len() {
            return Err(ReadError::invalid(
                at,
                format!(
                    "expected {} fields as in the header, found {}",
                    names.len(),
                    record.len()
                ),
            ));
        }
        let map: Map<String, Value> = names
            .iter()
            .zip(record.iter())
            .map(|(k, v)| (k.clone(), Value::String(v.trim().to_owned())))
            .collect();
        rows.extend(point_rows(&map, at)?);
    }
    if rows.is_empty() {
        return Err(ReadError::NoRows {
            origin: origin.to_owned(),
            reason: "the findings table has no row with a pp or tg rate".to_owned(),
        });
    }
    Ok(rows)
}

/// Whether the first line after the `#` comments is a Findings header, so that an error further
/// down is reported as one in a Findings table rather than as an unknown format.
pub(super) fn has_header(text: &str) -> bool {
    let Some(line) = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
    else {
        return false;
    };
    let names: Vec<String> = line
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_owned())
        .collect();
    check_header(&names, &RowSource::line("", 1)).is_ok()
}

fn check_header(names: &[String], at: &RowSource) -> Result<(), ReadError> {
    let has = |c: &str| names.iter().any(|n| n == c);
    for required in ["model", "n_prompt", "n_gen"] {
        if !has(required) {
            return Err(ReadError::invalid(
                at.clone(),
                format!("the header has no `{required}` column; expected a findings pp/tg table"),
            ));
        }
    }
    if !PP.iter().chain(&TG).any(|c| has(c)) {
        return Err(ReadError::invalid(
            at.clone(),
            "the header has no pp or tg rate column; expected `pp_tps`, `tg_tps`, \
             `pp_median_tps` or `tg_median_tps`",
        ));
    }
    Ok(())
}

/// The pp and tg rows of one sweep point.
fn point_rows(map: &Map<String, Value>, at: RowSource) -> Result<Vec<BenchRow>, ReadError> {
    let f = Fields { map, at: &at };
    let n_prompt: u32 = f.req_uint("n_prompt")?;
    let n_gen: u32 = f.req_uint("n_gen")?;
    let extra: BTreeMap<String, String> = map
        .iter()
        .map(|(k, v)| (k.clone(), super::value_text(v)))
        .collect();
    let row = |n_prompt, n_gen, avg_ts| -> Result<BenchRow, ReadError> {
        Ok(BenchRow {
            model_type: f.req_str("model")?,
            model_filename: f.opt_str("model_filename")?,
            model_size: None,
            model_n_params: None,
            backend: None,
            n_threads: f.opt_uint("n_threads")?,
            n_batch: None,
            n_ubatch: None,
            type_k: None,
            type_v: None,
            flash_attn: None,
            n_prompt,
            n_gen,
            n_depth: f.opt_uint("n_depth")?.unwrap_or(0),
            avg_ts,
            stddev_ts: 0.0,
            samples_ts: Vec::new(),
            extra: extra.clone(),
            source: at.clone(),
        })
    };
    let rate = |columns: &[&str]| -> Result<Option<f64>, ReadError> {
        match columns.iter().find(|c| map.contains_key(**c)) {
            Some(c) if f.get(c).is_some() => f.req_f64(c).map(Some),
            _ => Ok(None),
        }
    };
    let mut rows = Vec::new();
    if let Some(pp) = rate(&PP)? {
        rows.push(row(n_prompt, 0, pp)?);
    }
    if let Some(tg) = rate(&TG)? {
        rows.push(row(0, n_gen, tg)?);
    }
    Ok(rows)
}
