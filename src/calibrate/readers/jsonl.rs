//! llama-bench `-o jsonl`: one result object per line; blank lines are allowed.

use serde_json::Value;

use super::json::json_message;
use super::{BenchRow, ReadError, RowSource, row_from_fields};

pub(super) fn read(text: &str, origin: &str) -> Result<Vec<BenchRow>, ReadError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let last = lines.len() - 1;
    let mut rows = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = RowSource::line(origin, i + 1);
        let value: Value = serde_json::from_str(line).map_err(|e| {
            // Only the final, unterminated line can be cut short by the end of the text; an
            // incomplete object on an earlier line is a corrupt line.
            if e.is_eof() && i == last {
                ReadError::truncated(at.clone(), "expected the JSON object to be complete")
            } else if e.is_eof() {
                ReadError::invalid(
                    at.clone(),
                    "the JSON object ends before the line does; expected one whole object per line",
                )
            } else {
                ReadError::invalid(at.clone(), json_message(&e))
            }
        })?;
        let Value::Object(map) = value else {
            return Err(ReadError::invalid(
                at,
                "expected a JSON object with llama-bench's fields on the line",
            ));
        };
        rows.push(row_from_fields(&map, at)?);
    }
    Ok(rows)
}
