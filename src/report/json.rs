//! `-o json`: one array of objects, laid out byte for byte as llama-bench lays it out, with the
//! simulator's fields after llama-bench's 42 and its two sample arrays; the per-tier figures
//! are one `tiers` array of objects, in the system's tier order.
//!
//! The text is written by hand rather than through `serde_json` because llama-bench's layout
//! is not any serializer's: two-space indent, arrays on one line as `[ 1, 2 ]`, rates with six
//! decimals and samples in `%g`. Tools that diff or grep llama-bench files then work on ours.

use std::io::{self, Write};

use super::fields::{
    Value, fmt_fixed6, fmt_sample_ts, llama_bench_scalars, sim_scalars, tier_scalars,
};
use super::{BenchRecord, Exporter, TierUsage};

/// Writes records as llama-bench's `-o json` does: a `[`, one indented object per record, `]`.
#[derive(Debug, Clone, Default)]
pub struct JsonExporter {
    /// Whether a record has been written, so that the next one is preceded by a comma.
    written: bool,
}

impl JsonExporter {
    /// An exporter for one run.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Exporter for JsonExporter {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(b"[\n")
    }

    fn record(&mut self, out: &mut dyn Write, rec: &BenchRecord) -> io::Result<()> {
        let mut text = String::new();
        if self.written {
            text.push_str(",\n");
        }
        // The closing newline waits for the next record or the footer, as in llama-bench, so
        // that the separator can go right after the brace.
        object(&mut text, rec, Layout::Pretty);
        self.written = true;
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(b"\n]\n")?;
        out.flush()
    }
}

/// How an object is spread over lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// llama-bench's `-o json`: one field per line, indented as an element of the top array.
    Pretty,
    /// llama-bench's `-o jsonl`: the whole object on one line.
    Line,
}

/// Appends one record as a JSON object, without a trailing newline.
pub(super) fn object(buf: &mut String, rec: &BenchRecord, layout: Layout) {
    let mut fields: Vec<(&str, String)> = llama_bench_scalars(rec)
        .into_iter()
        .map(|(k, v)| (k, scalar(v)))
        .collect();
    fields.push((
        "samples_ns",
        array(rec.samples_ns.iter().map(u64::to_string)),
    ));
    fields.push((
        "samples_ts",
        array(rec.samples_ts.iter().map(|&x| sample_ts(x))),
    ));
    fields.extend(sim_scalars(rec).into_iter().map(|(k, v)| (k, scalar(v))));
    fields.push(("tiers", tiers(&rec.tiers, layout)));

    let (open, indent, sep, close) = match layout {
        Layout::Pretty => ("  {\n", "    ", ",\n", "\n  }"),
        Layout::Line => ("{", "", ", ", "}"),
    };
    buf.push_str(open);
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            // llama-bench's JSONL printer omits the space after the comma that ends
            // `samples_ns`; keeping the quirk keeps our lines a textual superset of its lines.
            buf.push_str(if layout == Layout::Line && *key == "samples_ts" {
                ","
            } else {
                sep
            });
        }
        buf.push_str(indent);
        buf.push_str(&quoted(key));
        buf.push_str(": ");
        buf.push_str(value);
    }
    buf.push_str(close);
}

/// A scalar as JSON text; non-finite floats become `null`, since JSON has no spelling for them
/// (llama-bench would print `nan`, which no JSON reader accepts).
fn scalar(v: Value<'_>) -> String {
    match v {
        Value::Str(s) => quoted(s),
        Value::UInt(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Float(x) if x.is_finite() => fmt_fixed6(x),
        Value::Float(_) => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
    }
}

/// A sample rate in llama-bench's `%g` spelling, or `null` when not finite.
fn sample_ts(x: f64) -> String {
    if x.is_finite() {
        fmt_sample_ts(x)
    } else {
        "null".to_owned()
    }
}

/// An array on one line, spaced as llama-bench spaces `samples_ns`.
fn array(items: impl Iterator<Item = String>) -> String {
    format!("[ {} ]", items.collect::<Vec<_>>().join(", "))
}

/// The per-tier objects, each on its own line in the pretty layout so that a tier reads as one
/// row.
fn tiers(tiers: &[TierUsage], layout: Layout) -> String {
    if tiers.is_empty() {
        return "[]".to_owned();
    }
    let objects: Vec<String> = tiers.iter().map(tier_object).collect();
    match layout {
        Layout::Pretty => format!("[\n      {}\n    ]", objects.join(",\n      ")),
        Layout::Line => array(objects.into_iter()),
    }
}

/// One tier as a single-line object, named first.
fn tier_object(t: &TierUsage) -> String {
    let mut fields = vec![format!("\"tier\": {}", quoted(&t.tier))];
    fields.extend(
        tier_scalars(t)
            .into_iter()
            .map(|(k, v)| format!("{}: {}", quoted(k), scalar(v))),
    );
    format!("{{{}}}", fields.join(", "))
}

/// A JSON string literal, escaped as llama-bench escapes: quote, backslash, and control
/// characters as `\u00XX`. Non-ASCII text passes through as UTF-8.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) <= 0x1f => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::llama_bench_field_names;
    use crate::report::testutil::{Keys, REAL_JSON, real_json_records, sample_records};
    use crate::report::{OutputFormat, RunInfo, export};

    /// The simulator's keys, after llama-bench's fields and sample arrays.
    pub(crate) const SIM_KEYS: [&str; 8] = [
        "system",
        "seed",
        "n_seq",
        "ttft_ms",
        "tpot_p50_ms",
        "tpot_p99_ms",
        "expert_hit_rate",
        "tiers",
    ];

    fn render(records: &[BenchRecord]) -> String {
        let mut buf = Vec::new();
        export(OutputFormat::Json, RunInfo::default(), &mut buf, records).unwrap();
        String::from_utf8(buf).unwrap()
    }

    /// `(key, raw value text)` of each top-level field of each object in llama-bench's pretty
    /// layout, where every such field sits on its own line with a four-space indent.
    fn pretty_fields(text: &str) -> Vec<Vec<(String, String)>> {
        let mut objects = Vec::new();
        for line in text.lines() {
            if line == "  {" {
                objects.push(Vec::new());
            } else if let Some(rest) = line.strip_prefix("    \"") {
                let (key, value) = rest.split_once("\": ").unwrap();
                let value = value.strip_suffix(',').unwrap_or(value);
                objects
                    .last_mut()
                    .unwrap()
                    .push((key.to_owned(), value.to_owned()));
            }
        }
        objects
    }

    #[test]
    fn keys_are_llama_benchs_in_order_then_the_simulators() {
        let ours: Vec<Keys> = serde_json::from_str(&render(&sample_records())).unwrap();
        let real: Vec<Keys> = serde_json::from_str(REAL_JSON).unwrap();
        let mut want: Vec<String> = llama_bench_field_names().map(str::to_owned).to_vec();
        want.extend(["samples_ns".to_owned(), "samples_ts".to_owned()]);
        assert_eq!(real[0].0, want);
        want.extend(SIM_KEYS.map(str::to_owned));
        for k in &ours {
            assert_eq!(k.0, want);
        }
    }

    #[test]
    fn sample_records_parse_with_llama_benchs_types() {
        let text = render(&sample_records());
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed.len(), 2);
        let tg = &parsed[1];
        assert_eq!(tg["n_depth"], 4096);
        assert_eq!(tg["cpu_info"], "NVIDIA H100 SXM5 \"simulated\"");
        assert_eq!(tg["cpu_strict"], false);
        assert_eq!(tg["repack"], true);
        assert_eq!(tg["no_op_offload"], 0);
        assert_eq!(tg["poll"], 50);
        assert_eq!(tg["tensor_split"], "0.00");
        assert_eq!(tg["samples_ns"][1], 1_014_691_356u64);
        assert_eq!(tg["tiers"][1]["tier"], "hbf");
        assert_eq!(tg["tiers"][1]["bytes_read"], 137_438_953_472u64);
        assert_eq!(tg["tiers"][1]["stall_ms"], 404.938271);
        assert_eq!(tg["tpot_p99_ms"], 9.0625);
    }

    #[test]
    fn layout_is_llama_benchs() {
        let text = render(&sample_records());
        assert!(text.starts_with("[\n  {\n    \"build_commit\": \"tiersim-0.1.0\",\n"));
        assert!(text.contains("\n  },\n  {\n"));
        assert!(text.ends_with("\n  }\n]\n"));
        assert!(text.contains("    \"avg_ts\": 12416.812346,\n"));
        assert!(text.contains("    \"samples_ns\": [ 41111111, 41358023 ],\n"));
        assert!(text.contains("    \"samples_ts\": [ 12454.1, 12379.6 ],\n"));
        assert!(
            text.contains(
                "    \"tiers\": [\n      {\"tier\": \"hbm\", \"bytes_read\": 4920734720, "
            )
        );
        assert!(REAL_JSON.starts_with("[\n  {\n    \"build_commit\": "));
        assert!(REAL_JSON.contains("\n  },\n  {\n") && REAL_JSON.ends_with("\n  }\n]\n"));
    }

    #[test]
    fn real_results_print_as_llama_bench_printed_them() {
        let values: Vec<serde_json::Value> = serde_json::from_str(REAL_JSON).unwrap();
        let ours = render(&real_json_records(values));
        let (real, ours) = (pretty_fields(REAL_JSON), pretty_fields(&ours));
        assert_eq!(real.len(), ours.len());
        for (real, ours) in real.iter().zip(&ours) {
            assert_eq!(real[..], ours[..real.len()]);
            assert_eq!(ours.len() - real.len(), SIM_KEYS.len());
        }
    }

    #[test]
    fn strings_are_escaped_and_non_finite_numbers_are_null() {
        let mut rec = sample_records().remove(0);
        rec.model_type = "a\\b\n\u{1}é".to_owned();
        rec.avg_ts = f64::INFINITY;
        rec.samples_ts[0] = f64::NAN;
        rec.tiers[0].utilisation = f64::NAN;
        let text = render(&[rec]);
        assert!(text.contains(r#""model_type": "a\\b\u000a\u0001é","#));
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed[0]["model_type"], "a\\b\n\u{1}é");
        assert!(parsed[0]["avg_ts"].is_null());
        assert!(parsed[0]["samples_ts"][0].is_null());
        assert!(parsed[0]["tiers"][0]["utilisation"].is_null());
    }

    #[test]
    fn empty_run_is_an_empty_array() {
        let text = render(&[]);
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert!(parsed.is_empty());
        let mut rec = sample_records().remove(0);
        rec.tiers.clear();
        rec.samples_ns.clear();
        rec.samples_ts.clear();
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&render(&[rec])).unwrap();
        assert_eq!(parsed[0]["tiers"], serde_json::json!([]));
        assert_eq!(parsed[0]["samples_ns"], serde_json::json!([]));
    }
}
