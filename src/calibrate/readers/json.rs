//! llama-bench `-o json`: one array of result objects (tiersim's adds its fields after
//! llama-bench's). Several arrays one after another, as appending runs to one file gives, are
//! read as one sequence of records.

use serde_json::{Deserializer, Value};

use super::{BenchRow, ReadError, RowSource, row_from_fields};

pub(super) fn read(text: &str, origin: &str) -> Result<Vec<BenchRow>, ReadError> {
    let mut rows = Vec::new();
    for value in values(text, origin)? {
        let Value::Array(items) = value else {
            return Err(ReadError::invalid(
                RowSource::record(origin, rows.len() + 1),
                "expected a JSON array of llama-bench results, found another JSON value",
            ));
        };
        for item in items {
            let at = RowSource::record(origin, rows.len() + 1);
            let Value::Object(map) = item else {
                return Err(ReadError::invalid(
                    at,
                    "expected a JSON object with llama-bench's fields",
                ));
            };
            rows.push(row_from_fields(&map, at)?);
        }
    }
    Ok(rows)
}

/// Every top-level JSON value of `text`, in order.
pub(super) fn values(text: &str, origin: &str) -> Result<Vec<Value>, ReadError> {
    Deserializer::from_str(text)
        .into_iter::<Value>()
        .map(|v| v.map_err(|e| json_error(&e, origin, "the JSON value to be complete")))
        .collect()
}

/// A serde_json error as a [`ReadError`] at its line, with serde's own wording of the problem.
pub(super) fn json_error(e: &serde_json::Error, origin: &str, expected: &str) -> ReadError {
    let at = RowSource::line(origin, e.line().max(1));
    if e.is_eof() {
        return ReadError::truncated(at, format!("expected {expected}"));
    }
    ReadError::invalid(at, json_message(e))
}

/// serde_json's wording of a syntax or data error, with the column; the line is left to the
/// caller's [`RowSource`].
pub(super) fn json_message(e: &serde_json::Error) -> String {
    // serde_json ends its messages with the position, which the caller gives in its own form.
    let message = e.to_string();
    let message = message
        .rfind(" at line ")
        .map_or(message.as_str(), |i| &message[..i]);
    format!("invalid JSON at column {}: {message}", e.column())
}
