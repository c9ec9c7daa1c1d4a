//! `-o csv`: llama-bench's 42 columns (without the sample arrays, which its CSV leaves out), so
//! `avg_ts` is column 40 counting from 0 as in llama-bench's, then the simulator's columns and
//! eight per tier named by position (`tier0`, `tier0_bytes_read`, ...).

use std::io::{self, Write};

use csv::{QuoteStyle, Terminator, WriterBuilder};

use super::fields::{blank_record, flat_fields};
use super::{BenchRecord, Exporter};

/// Writes records as llama-bench's `-o csv` does: a bare header line, then one row per record
/// with every field quoted.
///
/// The tier columns come from the first record, since a CSV header cannot grow later; every
/// record of a run must therefore have as many tiers, which holds when the run simulates one
/// system.
#[derive(Debug, Clone, Default)]
pub struct CsvExporter {
    /// Tiers per row once the header is written.
    tiers: Option<usize>,
}

impl CsvExporter {
    /// An exporter for one run.
    pub fn new() -> Self {
        Self::default()
    }

    fn write_header(&mut self, out: &mut dyn Write, tiers: usize) -> io::Result<()> {
        let names: Vec<String> = flat_fields(&blank_record(tiers))
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        // llama-bench leaves its header unquoted.
        write_row(out, QuoteStyle::Never, &names)?;
        self.tiers = Some(tiers);
        Ok(())
    }
}

impl Exporter for CsvExporter {
    fn header(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        // Deferred to the first record, which says how many tiers there are.
        Ok(())
    }

    fn record(&mut self, out: &mut dyn Write, rec: &BenchRecord) -> io::Result<()> {
        match self.tiers {
            None => self.write_header(out, rec.tiers.len())?,
            Some(n) if n != rec.tiers.len() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "test {} has {} tiers but the CSV columns are for {n}",
                        rec.test_name(),
                        rec.tiers.len()
                    ),
                ));
            }
            Some(_) => {}
        }
        let values: Vec<String> = flat_fields(rec)
            .into_iter()
            .map(|(_, v)| v.text())
            .collect();
        write_row(out, QuoteStyle::Always, &values)
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        // A run without records still gets its header, as llama-bench's does.
        if self.tiers.is_none() {
            self.write_header(out, 0)?;
        }
        Ok(())
    }
}

/// Writes one CSV line; quotes inside fields are doubled, as llama-bench doubles them.
fn write_row(out: &mut dyn Write, style: QuoteStyle, fields: &[String]) -> io::Result<()> {
    let mut w = WriterBuilder::new()
        .quote_style(style)
        .terminator(Terminator::Any(b'\n'))
        .from_writer(&mut *out);
    w.write_record(fields)?;
    w.flush()?;
    drop(w);
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{REAL_CSV, record_from_fields, sample_records};
    use crate::report::{OutputFormat, RunInfo, export};

    fn render(records: &[BenchRecord]) -> io::Result<String> {
        let mut buf = Vec::new();
        export(OutputFormat::Csv, RunInfo::default(), &mut buf, records)?;
        Ok(String::from_utf8(buf).unwrap())
    }

    const SIM_HEADER: &str = "system,seed,n_seq,ttft_ms,tpot_p50_ms,tpot_p99_ms,expert_hit_rate,\
        tier0,tier0_bytes_read,tier0_bytes_written,tier0_read_gbps,tier0_write_gbps,tier0_utilisation,tier0_stall_ms,tier0_lifetime_years,\
        tier1,tier1_bytes_read,tier1_bytes_written,tier1_read_gbps,tier1_write_gbps,tier1_utilisation,tier1_stall_ms,tier1_lifetime_years";

    #[test]
    fn header_is_llama_benchs_then_the_simulators() {
        let text = render(&sample_records()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let real_header = REAL_CSV.lines().next().unwrap();
        assert_eq!(lines[0], format!("{real_header},{SIM_HEADER}"));
        for row in &lines[1..] {
            assert!(
                row.starts_with("\"tiersim-0.1.0\",\"1\",\"NVIDIA H100 SXM5 \"\"simulated\"\"\",")
            );
            assert!(row.contains(",\"models/llama-3.1-8b,q4_k_m.yaml\","));
        }
        assert!(lines[2].ends_with(",\"hbf\",\"137438953472\",\"2147483648\",\"5497.558139\",\"85.899346\",\"0.437500\",\"404.938271\",\"\""));

        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.len() == header.len()));
        assert_eq!(&header[40], "avg_ts");
        assert_eq!(&rows[1][40], "126.439200");
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        assert_eq!(&rows[1][col("n_depth")], "4096");
        assert_eq!(&rows[0][col("cpu_info")], "NVIDIA H100 SXM5 \"simulated\"");
        assert_eq!(&rows[0][col("tier1_stall_ms")], "3.500000");
        assert_eq!(&rows[0][col("repack")], "1");
        assert_eq!(&rows[0][col("cpu_mask")], "0x0");
    }

    #[test]
    fn real_results_print_as_llama_bench_printed_them() {
        let mut reader = csv::Reader::from_reader(REAL_CSV.as_bytes());
        let header = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let recs: Vec<BenchRecord> = rows
            .iter()
            .map(|row| {
                record_from_fields(|k| {
                    header
                        .iter()
                        .position(|h| h == k)
                        .map(|i| row[i].to_owned())
                })
            })
            .collect();
        let text = render(&recs).unwrap();
        // Every line is llama-bench's line, then the simulator's columns.
        for (real, ours) in REAL_CSV.lines().zip(text.lines()) {
            let (head, tail) = ours.split_at(real.len());
            assert_eq!(head, real);
            assert!(tail.starts_with(','), "{tail}");
        }
        assert_eq!(text.lines().count(), REAL_CSV.lines().count());
    }

    #[test]
    fn records_with_another_tier_count_are_refused() {
        let mut recs = sample_records();
        recs[1].tiers.pop();
        let err = render(&recs).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("tg128 @ d4096 has 1 tiers"));
    }

    #[test]
    fn empty_run_is_a_header() {
        let text = render(&[]).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.ends_with(
            ",stddev_ts,system,seed,n_seq,ttft_ms,tpot_p50_ms,tpot_p99_ms,expert_hit_rate\n"
        ));
    }
}
