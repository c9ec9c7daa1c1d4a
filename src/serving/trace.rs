//! Request traces: a CSV with `prompt_tokens` and `output_tokens` per request and, optionally,
//! `arrival_s` (seconds from the start of the trace).

use std::path::Path;

use crate::limits;
use crate::serving::Request;
use crate::units::Seconds;

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened or read.
    #[error("cannot read trace {path}: {source}")]
    Read {
        /// The trace.
        path: String,
        /// The reader's reason.
        source: csv::Error,
    },
    /// A required column is missing.
    #[error(
        "trace {path}: no `{column}` column; expected a header with prompt_tokens,output_tokens and optionally arrival_s"
    )]
    Column {
        /// The trace.
        path: String,
        /// The missing column.
        column: &'static str,
    },
    /// A value is not what the column holds.
    #[error("trace {path} line {line}: `{column}` is `{value}`; expected {expected}")]
    Value {
        /// The trace.
        path: String,
        /// 1-based line in the file (the header is line 1).
        line: u64,
        /// The column.
        column: &'static str,
        /// The text found.
        value: String,
        /// What the column holds.
        expected: &'static str,
    },
    /// Arrival times go backwards.
    #[error(
        "trace {path} line {line}: arrival_s {value} is earlier than the line before; expected times in order"
    )]
    Order {
        /// The trace.
        path: String,
        /// 1-based line.
        line: u64,
        /// The arrival time found.
        value: f64,
    },
    /// The file is too large to read, or holds more requests than a run may serve.
    #[error("trace {path}: {reason}")]
    Limit {
        /// The trace.
        path: String,
        /// Which limit, and how to stay within it.
        reason: String,
    },
    /// A request needs more tokens than the model's context holds.
    #[error(
        "trace {path} line {line}: {prompt} prompt + {output} output tokens is past the model's \
         context of {context} tokens; expected requests that fit it (llama-server refuses a \
         prompt past its context and stops a generation at it)"
    )]
    Context {
        /// The trace.
        path: String,
        /// 1-based line.
        line: u64,
        /// Prompt tokens.
        prompt: u32,
        /// Output tokens.
        output: u32,
        /// The model's context length.
        context: u64,
    },
    /// No request in the file.
    #[error("trace {path} holds no request")]
    Empty {
        /// The trace.
        path: String,
    },
}

/// Reads the requests of the trace at `path`, each within `context` tokens (prompt and output);
/// `arrival_s` is `None` for every request when the trace has no such column.
pub fn read(path: &Path, context: u64) -> Result<Vec<(Option<Seconds>, Request)>, TraceError> {
    let name = path.display().to_string();
    let read_err = |source| TraceError::Read {
        path: name.clone(),
        source,
    };
    let limit_err = |reason: String| TraceError::Limit {
        path: name.clone(),
        reason,
    };
    let text = crate::files::read_text(path).map_err(|e| limit_err(e.reason))?;
    // A spreadsheet's "CSV UTF-8" starts with a byte-order mark, which would join the first
    // column's name.
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(body.as_bytes());
    let headers = reader.headers().map_err(read_err)?.clone();
    let col = |column: &'static str| headers.iter().position(|h| h == column);
    let need = |column: &'static str| {
        col(column).ok_or(TraceError::Column {
            path: name.clone(),
            column,
        })
    };
    let prompt_col = need("prompt_tokens")?;
    let output_col = need("output_tokens")?;
    let arrival_col = col("arrival_s");

    let mut out = Vec::new();
    let mut last = 0.0f64;
    for record in reader.records() {
        let record = record.map_err(read_err)?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("");
        let value_err = |column, value: &str, expected| TraceError::Value {
            path: name.clone(),
            line,
            column,
            value: value.to_owned(),
            expected,
        };
        let tokens = |i: usize, column: &'static str| {
            let text = field(i);
            match text.parse::<u32>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(value_err(column, text, "a positive whole number of tokens")),
            }
        };
        let prompt = tokens(prompt_col, "prompt_tokens")?;
        let output = tokens(output_col, "output_tokens")?;
        if u64::from(prompt) + u64::from(output) > context {
            return Err(TraceError::Context {
                path: name.clone(),
                line,
                prompt,
                output,
                context,
            });
        }
        limits::REQUESTS
            .check(out.len() as u64 + 1)
            .map_err(|e| limit_err(e.to_string()))?;
        let arrival = match arrival_col {
            None => None,
            Some(i) => {
                let text = field(i);
                let t = text
                    .parse::<f64>()
                    .ok()
                    .filter(|t| t.is_finite() && *t >= 0.0)
                    .ok_or_else(|| {
                        value_err("arrival_s", text, "a non-negative number of seconds")
                    })?;
                if t < last {
                    return Err(TraceError::Order {
                        path: name.clone(),
                        line,
                        value: t,
                    });
                }
                last = t;
                Some(Seconds(t))
            }
        };
        out.push((
            arrival,
            Request {
                arrival: Seconds::ZERO,
                prompt,
                output,
            },
        ));
    }
    if out.is_empty() {
        return Err(TraceError::Empty { path: name });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_lengths_and_times() {
        let (_d, p) = write("arrival_s,prompt_tokens,output_tokens\n0,100,20\n0.5, 7 ,3\n");
        let r = read(&p, u64::MAX).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].0, Some(Seconds(0.5)));
        assert_eq!((r[1].1.prompt, r[1].1.output), (7, 3));
    }

    #[test]
    fn negative_lengths_name_line_and_column() {
        let (_d, p) = write("prompt_tokens,output_tokens\n100,20\n-5,3\n");
        let e = read(&p, u64::MAX).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("prompt_tokens") && e.contains("-5"),
            "{e}"
        );
    }

    #[test]
    fn missing_column_and_disorder_are_errors() {
        let (_d, p) = write("prompt,output_tokens\n1,2\n");
        assert!(
            read(&p, u64::MAX)
                .unwrap_err()
                .to_string()
                .contains("prompt_tokens")
        );
        let (_d, p) = write("arrival_s,prompt_tokens,output_tokens\n2,1,1\n1,1,1\n");
        assert!(
            read(&p, u64::MAX)
                .unwrap_err()
                .to_string()
                .contains("earlier")
        );
        let (_d, p) = write("prompt_tokens,output_tokens\n");
        assert!(
            read(&p, u64::MAX)
                .unwrap_err()
                .to_string()
                .contains("no request")
        );
    }
}
