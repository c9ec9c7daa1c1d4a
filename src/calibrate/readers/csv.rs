//! llama-bench `-o csv`: a bare header line, then one row per result with every field quoted
//! (tiersim's adds its own and per-tier columns after llama-bench's).

use serde_json::{Map, Value};

use super::{BenchRow, ReadError, RowSource, row_from_fields};

/// The fields a header must name for its rows to be results.
const REQUIRED: [&str; 5] = ["model_type", "n_prompt", "n_gen", "avg_ts", "stddev_ts"];

pub(super) fn read(text: &str, origin: &str) -> Result<Vec<BenchRow>, ReadError> {
    let mut records = records(text, origin)?.into_iter();
    let Some((header_line, header)) = records.next() else {
        return Ok(Vec::new());
    };
    let at = |line: u64| RowSource::line(origin, usize::try_from(line).unwrap_or(usize::MAX));
    if let Some(missing) = REQUIRED.iter().find(|c| !header.iter().any(|h| h == *c)) {
        if records.as_slice().is_empty() && !text.trim_start().contains('\n') {
            return Err(ReadError::truncated(
                at(header_line),
                format!("expected the CSV header to continue up to its `{missing}` column"),
            ));
        }
        return Err(ReadError::invalid(
            at(header_line),
            format!("the CSV header has no `{missing}` column; expected llama-bench's CSV header"),
        ));
    }
    let text_cut = !text.ends_with('\n');
    let mut rows = Vec::new();
    let mut records = records.peekable();
    while let Some((line, record)) = records.next() {
        let is_last = records.peek().is_none();
        if record.len() != header.len() {
            let message = format!(
                "expected {} fields as in the header, found {}",
                header.len(),
                record.len()
            );
            return Err(if is_last && text_cut && record.len() < header.len() {
                ReadError::truncated(at(line), message)
            } else {
                ReadError::invalid(at(line), message)
            });
        }
        let map: Map<String, Value> = header
            .iter()
            .zip(record)
            .map(|(k, v)| (k.clone(), Value::String(v)))
            .collect();
        rows.push(row_from_fields(&map, at(line))?);
    }
    Ok(rows)
}

/// Every non-empty record with the line it starts on.
fn records(text: &str, origin: &str) -> Result<Vec<(u64, Vec<String>)>, ReadError> {
    // An odd number of quote characters means a quoted field never closes, which the csv crate
    // would silently end at the end of the text: only a cut-off file looks like that.
    if text.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
        let line = text.lines().count().max(1);
        return Err(ReadError::truncated(
            RowSource::line(origin, line),
            "expected the closing `\"` of a quoted field",
        ));
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for result in reader.records() {
        let record = result.map_err(|e| {
            let line = e.position().map_or(1, |p| p.line());
            ReadError::invalid(
                RowSource::line(origin, usize::try_from(line).unwrap_or(usize::MAX)),
                format!("not valid CSV ({e})"),
            )
        })?;
        if record.len() == 1 && record[0].trim().is_empty() {
            continue;
        }
        let line = record.position().map_or(1, |p| p.line());
        out.push((line, record.iter().map(str::to_owned).collect()));
    }
    Ok(out)
}
