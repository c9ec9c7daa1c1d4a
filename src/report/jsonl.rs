//! `-o jsonl`: one JSON object per line, spelled as llama-bench spells its JSONL lines, with the
//! simulator's fields after llama-bench's.

use std::io::{self, Write};

use super::json::{Layout, object};
use super::{BenchRecord, Exporter};

/// Writes records as llama-bench's `-o jsonl` does: each record a complete object on its own
/// line, with nothing before or after, so that an interrupted run still leaves valid lines.
#[derive(Debug, Clone, Default)]
pub struct JsonlExporter;

impl JsonlExporter {
    /// An exporter for one run.
    pub fn new() -> Self {
        Self
    }
}

impl Exporter for JsonlExporter {
    fn header(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn record(&mut self, out: &mut dyn Write, rec: &BenchRecord) -> io::Result<()> {
        let mut line = String::new();
        object(&mut line, rec, Layout::Line);
        line.push('\n');
        out.write_all(line.as_bytes())?;
        out.flush()
    }

    fn footer(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{Keys, REAL_JSONL, real_json_records, sample_records};
    use crate::report::{OutputFormat, RunInfo, export};

    fn render(records: &[BenchRecord]) -> String {
        let mut buf = Vec::new();
        export(OutputFormat::Jsonl, RunInfo::default(), &mut buf, records).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn one_valid_object_per_line_with_the_json_keys() {
        let recs = sample_records();
        let text = render(&recs);
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), recs.len());
        let mut pretty = Vec::new();
        crate::report::export(OutputFormat::Json, RunInfo::default(), &mut pretty, &recs).unwrap();
        let pretty: Vec<Keys> = serde_json::from_slice(&pretty).unwrap();
        for ((line, rec), keys) in lines.iter().zip(&recs).zip(&pretty) {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["n_prompt"], rec.n_prompt);
            assert_eq!(value["tiers"][1]["tier"], "hbf");
            assert_eq!(serde_json::from_str::<Keys>(line).unwrap().0, keys.0);
        }
        assert!(lines[1].contains(
            r#""tpot_p99_ms": 9.062500, "expert_hit_rate": null, "tiers": [ {"tier": "hbm", "#
        ));
    }

    #[test]
    fn real_results_print_as_llama_bench_printed_them() {
        let values: Vec<serde_json::Value> = REAL_JSONL
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let ours = render(&real_json_records(values));
        for (real, ours) in REAL_JSONL.lines().zip(ours.lines()) {
            // llama-bench's line up to its closing brace, then the simulator's fields.
            let head = real.strip_suffix('}').unwrap();
            assert!(ours.starts_with(head), "{ours}\n{head}");
            assert!(ours[head.len()..].starts_with(", \"system\": "));
        }
    }
}
