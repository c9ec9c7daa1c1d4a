//! llama-bench `-o md`: a markdown table whose columns depend on the command line.
//!
//! llama-bench shows `model`, `size`, `params`, `backend`, then a column for each parameter that
//! was given a non-default value or several values (`threads`, `ngl`, `n_ubatch`, `type_k`,
//! `fa`, ...), then `test` and `t/s`; tiersim adds `ttft ms`, `tpot p99 ms` and `stall %`. So
//! columns are found by their titles, and any column this reader does not know goes to
//! [`BenchRow::extra`](super::BenchRow::extra). Lines outside tables (the `build:` footer,
//! tiersim's footer, log lines before the table) are skipped; tables without `test` and `t/s`
//! columns are not llama-bench's and are skipped too.

use std::collections::BTreeMap;

use super::{
    BenchRow, ReadError, RowSource, parse_flash_attn, parse_mean_sd, parse_test_name, shorten,
};

/// Whether `text` holds a markdown table anywhere: a `|` line followed by a `| --- |` rule.
pub(super) fn has_table(text: &str) -> bool {
    let mut prev_is_row = false;
    for line in text.lines() {
        let line = line.trim();
        if prev_is_row && is_rule(line) {
            return true;
        }
        prev_is_row = line.starts_with('|');
    }
    false
}

/// The trimmed cells of a `| a | b |` line, or `None` when it does not start and end with `|`.
fn cells(line: &str) -> Option<Vec<&str>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(str::trim).collect())
}

/// Whether a line is a markdown rule: every cell dashes, optionally with alignment colons.
fn is_rule(line: &str) -> bool {
    cells(line).is_some_and(|cs| cs.iter().all(|c| is_rule_cell(c)))
}

fn is_rule_cell(c: &str) -> bool {
    let dashes = c.strip_prefix(':').unwrap_or(c);
    let dashes = dashes.strip_suffix(':').unwrap_or(dashes);
    !dashes.is_empty() && dashes.bytes().all(|b| b == b'-')
}

/// What a column holds, from its title.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    Model,
    Size,
    Params,
    Backend,
    Threads,
    NBatch,
    NUbatch,
    TypeK,
    TypeV,
    FlashAttn,
    Test,
    Rate,
    /// Kept in `extra` under this name.
    Other(String),
}

impl Column {
    fn from_title(title: &str) -> Self {
        match title {
            "model" => Self::Model,
            "size" => Self::Size,
            "params" => Self::Params,
            "backend" => Self::Backend,
            "threads" => Self::Threads,
            "n_batch" => Self::NBatch,
            "n_ubatch" => Self::NUbatch,
            "type_k" => Self::TypeK,
            "type_v" => Self::TypeV,
            "fa" => Self::FlashAttn,
            "test" => Self::Test,
            "t/s" => Self::Rate,
            other => Self::Other(field_name(other).to_owned()),
        }
    }
}

/// llama-bench's field name for an md column title it abbreviates, so that `extra` uses the
/// same keys whichever format a row came from.
fn field_name(title: &str) -> &str {
    match title {
        "ngl" => "n_gpu_layers",
        "ncmoe" => "n_cpu_moe",
        "sm" => "split_mode",
        "mg" => "main_gpu",
        "nkvo" => "no_kv_offload",
        "mmap" => "use_mmap",
        "dio" => "use_direct_io",
        "embd" => "embeddings",
        "ts" => "tensor_split",
        "ot" => "tensor_buft_overrides",
        "nopo" => "no_op_offload",
        "noh" => "no_host",
        "dev" => "devices",
        other => other,
    }
}

/// A table being read: its columns, or `None` for a table that is not llama-bench's.
struct Table {
    columns: Option<Vec<Column>>,
    header_line: usize,
    width: usize,
}

pub(super) fn read(text: &str, origin: &str) -> Result<Vec<BenchRow>, ReadError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let last = lines.len() - 1;
    // The final line is cut short when the text does not end with a newline; a problem there
    // is then a truncation rather than corruption.
    let cut = |i: usize| i == last && !text.ends_with('\n');
    let at = |i: usize| RowSource::line(origin, i + 1);

    let mut rows = Vec::new();
    let mut saw_llama_table = false;
    let mut table: Option<Table> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if !line.starts_with('|') {
            if table.is_some() && !line.is_empty() && interrupts_table(&lines[i + 1..]) {
                return Err(ReadError::invalid(
                    at(i),
                    format!(
                        "expected a table row `| … |` or a blank line ending the table, found `{}`",
                        shorten(line)
                    ),
                ));
            }
            table = None;
            i += 1;
            continue;
        }
        let Some(t) = &table else {
            let new = header(&lines, i, last, &cut, origin)?;
            saw_llama_table |= new.columns.is_some();
            table = Some(new);
            i += 2;
            continue;
        };
        let Some(cs) = cells(line) else {
            return Err(if cut(i) {
                ReadError::truncated(at(i), "expected the table row to end with `|`")
            } else {
                ReadError::invalid(at(i), "table row does not end with `|`; expected `| … |`")
            });
        };
        if cs.len() != t.width {
            return Err(if cut(i) {
                ReadError::truncated(at(i), format!("expected {} cells in the row", t.width))
            } else {
                ReadError::invalid(
                    at(i),
                    format!(
                        "row has {} cells but the header at line {} has {}; expected one cell per column",
                        cs.len(),
                        t.header_line,
                        t.width
                    ),
                )
            });
        }
        if let Some(columns) = &t.columns {
            rows.push(row(columns, &cs, at(i))?);
        }
        i += 1;
    }
    if !saw_llama_table {
        return Err(ReadError::NoRows {
            origin: origin.to_owned(),
            reason: "no markdown table has llama-bench's `test` and `t/s` columns".to_owned(),
        });
    }
    Ok(rows)
}

/// Whether the `|` line that follows a non-table line continues the table rather than starting
/// a new one (a new one has a rule under its header): the non-table line is then garbage inside
/// the table, not its end.
fn interrupts_table(rest: &[&str]) -> bool {
    let mut rest = rest.iter().map(|l| l.trim()).skip_while(|l| l.is_empty());
    match (rest.next(), rest.next()) {
        (Some(next), after) => next.starts_with('|') && !after.is_some_and(is_rule),
        (None, _) => false,
    }
}

/// The table whose header is line `i`, checking the rule under it.
fn header(
    lines: &[&str],
    i: usize,
    last: usize,
    cut: &dyn Fn(usize) -> bool,
    origin: &str,
) -> Result<Table, ReadError> {
    let at = |i: usize| RowSource::line(origin, i + 1);
    let Some(titles) = cells(lines[i]) else {
        return Err(if cut(i) {
            ReadError::truncated(at(i), "expected the table header to end with `|`")
        } else {
            ReadError::invalid(
                at(i),
                "line starts with `|` but does not end with one; expected a table header `| … |`",
            )
        });
    };
    let rule = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
    let rule_ok = cells(rule).is_some_and(|cs| cs.len() == titles.len() && is_rule(rule));
    if !rule_ok {
        // A rule cut short, or nothing after the header, is a truncation; anything else under a
        // `|` line means the line is not a header at all.
        let ends = i + 1 > last
            || (i + 1 == last
                && (rule.is_empty() || (cut(i + 1) && rule.chars().all(|c| "|-: ".contains(c)))));
        return Err(if ends {
            ReadError::truncated(
                at((i + 1).min(last)),
                "expected the `| --- |` rule line under the table header",
            )
        } else {
            ReadError::invalid(
                at(i),
                "`|` line outside a table; expected a table header followed by a `| --- |` rule line",
            )
        });
    }
    let columns: Vec<Column> = titles.iter().map(|t| Column::from_title(t)).collect();
    let llama = columns.contains(&Column::Test) && columns.contains(&Column::Rate);
    if llama && !columns.contains(&Column::Model) {
        return Err(ReadError::invalid(
            at(i),
            "table header has `test` and `t/s` but no `model` column; expected llama-bench's header",
        ));
    }
    Ok(Table {
        columns: llama.then_some(columns),
        header_line: i + 1,
        width: titles.len(),
    })
}

fn row(columns: &[Column], cells: &[&str], at: RowSource) -> Result<BenchRow, ReadError> {
    let bad = |title: &str, cell: &str, expected: &str| {
        ReadError::invalid(
            at.clone(),
            format!("`{title}` cell `{}` is not {expected}", shorten(cell)),
        )
    };
    let uint = |title: &str, cell: &str| {
        cell.parse::<u32>()
            .map_err(|_| bad(title, cell, "an unsigned integer"))
    };
    let mut r = BenchRow {
        model_type: String::new(),
        model_filename: None,
        model_size: None,
        model_n_params: None,
        backend: None,
        n_threads: None,
        n_batch: None,
        n_ubatch: None,
        type_k: None,
        type_v: None,
        flash_attn: None,
        n_prompt: 0,
        n_gen: 0,
        n_depth: 0,
        avg_ts: 0.0,
        stddev_ts: 0.0,
        samples_ts: Vec::new(),
        extra: BTreeMap::new(),
        source: at.clone(),
    };
    for (column, &cell) in columns.iter().zip(cells) {
        match column {
            Column::Model => r.model_type = cell.to_owned(),
            Column::Size => {
                r.model_size = Some(
                    parse_size(cell).ok_or_else(|| bad("size", cell, "a size like `92.10 MiB`"))?,
                );
            }
            Column::Params => {
                r.model_n_params = Some(
                    parse_count(cell)
                        .ok_or_else(|| bad("params", cell, "a count like `134.52 M`"))?,
                );
            }
            Column::Backend => r.backend = Some(cell.to_owned()),
            Column::Threads => r.n_threads = Some(uint("threads", cell)?),
            Column::NBatch => r.n_batch = Some(uint("n_batch", cell)?),
            Column::NUbatch => r.n_ubatch = Some(uint("n_ubatch", cell)?),
            Column::TypeK => r.type_k = Some(cell.to_owned()),
            Column::TypeV => r.type_v = Some(cell.to_owned()),
            Column::FlashAttn => {
                r.flash_attn = Some(
                    parse_flash_attn(cell)
                        .ok_or_else(|| bad("fa", cell, "-1, 0, 1, `auto`, `off` or `on`"))?,
                );
            }
            Column::Test => {
                (r.n_prompt, r.n_gen, r.n_depth) = parse_test_name(cell).ok_or_else(|| {
                    bad(
                        "test",
                        cell,
                        "a llama-bench test name such as `pp512`, `tg128`, `pp512+tg128` or `tg128 @ d4096`",
                    )
                })?;
            }
            Column::Rate => {
                (r.avg_ts, r.stddev_ts) =
                    parse_mean_sd(cell).ok_or_else(|| bad("t/s", cell, "`mean ± sd`"))?;
            }
            Column::Other(name) => {
                r.extra.insert(name.clone(), cell.to_owned());
            }
        }
    }
    Ok(r)
}

/// Bytes of a size as llama-bench prints it (`92.10 MiB`, `4.58 GiB`), rounded: the printed
/// figure has only two decimals, so the result is within 0.005 of the unit.
fn parse_size(s: &str) -> Option<u64> {
    let (x, unit) = split_unit(s)?;
    let scale = match unit {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return None,
    };
    to_u64(x * scale)
}

/// A parameter count as llama-bench prints it (`134.52 M`, `8.03 B`), rounded like
/// [`parse_size`].
fn parse_count(s: &str) -> Option<u64> {
    let (x, unit) = split_unit(s)?;
    let scale = match unit {
        "" => 1.0,
        "K" | "k" => 1e3,
        "M" => 1e6,
        "B" | "G" => 1e9,
        "T" => 1e12,
        _ => return None,
    };
    to_u64(x * scale)
}

fn split_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let at = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let x: f64 = s[..at].trim().parse().ok()?;
    Some((x, s[at..].trim()))
}

fn to_u64(x: f64) -> Option<u64> {
    (x.is_finite() && (0.0..1.8e19).contains(&x)).then(|| x.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts_read_as_llama_bench_prints_them() {
        assert_eq!(parse_size("92.10 MiB"), Some(96_573_850));
        assert_eq!(parse_size("4.58 GiB"), Some(4_917_737_554));
        assert_eq!(parse_size("92.10 XB"), None);
        assert_eq!(parse_size("MiB"), None);
        assert_eq!(parse_size("1e400 MiB"), None);
        assert_eq!(parse_count("134.52 M"), Some(134_520_000));
        assert_eq!(parse_count("8.03 B"), Some(8_030_000_000));
        assert_eq!(parse_count("-1 M"), None);
    }

    #[test]
    fn rules_and_tables_are_recognised() {
        assert!(is_rule("| --- | ---: | :--: |"));
        assert!(!is_rule("| --- | abc |"));
        assert!(!is_rule("|"));
        assert!(!is_rule("| |"));
        assert!(has_table("log line\n| a | b |\n| - | - |\n"));
        assert!(!has_table("| a | b |\n| c | d |\n"));
    }

    #[test]
    fn abbreviated_titles_map_to_field_names() {
        assert_eq!(
            Column::from_title("ngl"),
            Column::Other("n_gpu_layers".into())
        );
        assert_eq!(
            Column::from_title("stall %"),
            Column::Other("stall %".into())
        );
        assert_eq!(Column::from_title("fa"), Column::FlashAttn);
    }
}
