//! `-o csv`: llama-bench's columns (without the sample arrays, which its CSV leaves out), then
//! the simulator's, then six columns per tier named `<tier>_<figure>`.

use std::io::{self, Write};

use csv::{QuoteStyle, Terminator, WriterBuilder};

use super::{
    BenchRecord, Exporter, TierUsage, Value, fmt_fixed6, llama_bench_scalars, sim_scalars,
    tier_scalars,
};

/// Writes records as llama-bench's `-o csv` does: a bare header line, then one row per record
/// with every field quoted.
///
/// The tier columns come from the first record, since a CSV header cannot grow later; every
/// record of a run must therefore list the same tiers in the same order, which holds when the
/// run simulates one system.
#[derive(Debug, Clone, Default)]
pub struct CsvExporter {
    /// Tier names of the header once it is written.
    tiers: Option<Vec<String>>,
}

impl CsvExporter {
    /// An exporter for one run.
    pub fn new() -> Self {
        Self::default()
    }

    fn write_header(&mut self, out: &mut dyn Write, tiers: &[TierUsage]) -> io::Result<()> {
        // llama-bench leaves its header unquoted; quoting only where a tier name needs it
        // keeps the line identical to llama-bench's over the shared columns.
        write_row(out, QuoteStyle::Necessary, &column_names(tiers))?;
        self.tiers = Some(tiers.iter().map(|t| t.tier.clone()).collect());
        Ok(())
    }
}

impl Exporter for CsvExporter {
    fn header(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        // Deferred to the first record, which names the tiers.
        Ok(())
    }

    fn record(&mut self, out: &mut dyn Write, rec: &BenchRecord) -> io::Result<()> {
        match &self.tiers {
            None => self.write_header(out, &rec.tiers)?,
            Some(names) if !names.iter().eq(rec.tiers.iter().map(|t| &t.tier)) => {
                let got: Vec<&str> = rec.tiers.iter().map(|t| t.tier.as_str()).collect();
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "test {} has tiers [{}] but the CSV columns are for tiers [{}]",
                        rec.test_name(),
                        got.join(", "),
                        names.join(", ")
                    ),
                ));
            }
            Some(_) => {}
        }
        let mut values: Vec<String> = llama_bench_scalars(rec)
            .into_iter()
            .chain(sim_scalars(rec))
            .map(|(_, v)| text(v))
            .collect();
        for t in &rec.tiers {
            values.extend(tier_scalars(t).into_iter().map(|(_, v)| text(v)));
        }
        write_row(out, QuoteStyle::Always, &values)
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        // A run without records still gets its header, as llama-bench's does.
        if self.tiers.is_none() {
            self.write_header(out, &[])?;
        }
        Ok(())
    }
}

/// The header's names, from the same tables that produce the values so that the two cannot
/// drift apart.
fn column_names(tiers: &[TierUsage]) -> Vec<String> {
    let mut names: Vec<String> = llama_bench_scalars(&NAMES_ONLY)
        .map(|(k, _)| k)
        .into_iter()
        .chain(sim_scalars(&NAMES_ONLY).map(|(k, _)| k))
        .map(str::to_owned)
        .collect();
    for t in tiers {
        names.extend(tier_scalars(t).map(|(f, _)| format!("{}_{f}", t.tier)));
    }
    names
}

/// A record that only lends its field names, for a header written before any record exists.
const NAMES_ONLY: BenchRecord = BenchRecord {
    build_commit: String::new(),
    build_number: 0,
    cpu_info: String::new(),
    gpu_info: String::new(),
    backends: String::new(),
    model_filename: String::new(),
    model_type: String::new(),
    model_size: 0,
    model_n_params: 0,
    n_batch: 0,
    n_ubatch: 0,
    n_threads: 0,
    type_k: String::new(),
    type_v: String::new(),
    n_gpu_layers: 0,
    n_cpu_moe: 0,
    no_kv_offload: false,
    flash_attn: 0,
    tensor_buft_overrides: String::new(),
    n_prompt: 0,
    n_gen: 0,
    n_depth: 0,
    test_time: String::new(),
    avg_ns: 0,
    stddev_ns: 0,
    avg_ts: 0.0,
    stddev_ts: 0.0,
    samples_ns: Vec::new(),
    samples_ts: Vec::new(),
    system: String::new(),
    seed: 0,
    n_seq: 0,
    ttft_ms: 0.0,
    tpot_p50_ms: 0.0,
    tpot_p99_ms: 0.0,
    expert_hit_rate: None,
    tiers: Vec::new(),
};

/// A value as llama-bench writes it in CSV: integers plainly, floats as C's `%f`.
fn text(v: Value<'_>) -> String {
    match v {
        Value::Str(s) => s.to_owned(),
        Value::UInt(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        // An absent figure (a tier without wear) is an empty field.
        Value::Float(x) if x.is_nan() => String::new(),
        Value::Float(x) => fmt_fixed6(x),
        Value::Bool(b) => u8::from(b).to_string(),
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
        export(
            OutputFormat::Csv,
            RunInfo::new("h100-hbf", 42),
            &mut buf,
            records,
        )?;
        Ok(String::from_utf8(buf).unwrap())
    }

    const HEADER: &str = "build_commit,build_number,cpu_info,gpu_info,backends,model_filename,\
        model_type,model_size,model_n_params,n_batch,n_ubatch,n_threads,type_k,type_v,\
        n_gpu_layers,n_cpu_moe,no_kv_offload,flash_attn,tensor_buft_overrides,n_prompt,n_gen,n_depth,test_time,avg_ns,stddev_ns,avg_ts,\
        stddev_ts,system,seed,n_seq,ttft_ms,tpot_p50_ms,tpot_p99_ms,expert_hit_rate,\
        hbm_bytes_read,hbm_bytes_written,hbm_read_gbps,hbm_write_gbps,hbm_utilisation,hbm_stall_ms,hbm_lifetime_years,\
        hbf_bytes_read,hbf_bytes_written,hbf_read_gbps,hbf_write_gbps,hbf_utilisation,hbf_stall_ms,hbf_lifetime_years";

    #[test]
    fn header_then_fully_quoted_rows() {
        let text = render(&sample_records()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], HEADER);
        for row in &lines[1..] {
            assert!(
                row.starts_with("\"tiersim-0.1.0\",\"1\",\"NVIDIA H100 SXM5 \"\"simulated\"\"\",")
            );
            assert!(row.contains(",\"models/llama-3.1-8b,q4_k_m.yaml\","));
        }
        assert!(lines[2].ends_with(",\"137438953472\",\"2147483648\",\"5497.558139\",\"85.899346\",\"0.437500\",\"404.938271\",\"\""));

        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.len() == header.len()));
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        assert_eq!(&rows[1][col("n_depth")], "4096");
        assert_eq!(&rows[1][col("avg_ts")], "126.439200");
        assert_eq!(&rows[0][col("cpu_info")], "NVIDIA H100 SXM5 \"simulated\"");
        assert_eq!(&rows[0][col("hbf_stall_ms")], "3.500000");
        assert!(header.iter().all(|h| !h.starts_with("samples_")));
    }

    #[test]
    fn llama_bench_columns_keep_llama_benchs_order_and_spelling() {
        let real = REAL_CSV.lines().next().unwrap();
        let real: Vec<&str> = real.split(',').collect();
        let ours: Vec<&str> = HEADER.split(',').collect();
        let lb: Vec<&str> = ours
            .iter()
            .copied()
            .take_while(|&h| h != "system")
            .collect();
        assert_eq!(lb.len(), 27);
        assert!(lb.iter().all(|h| real.contains(h)), "all are llama-bench's");
        let real_subset: Vec<&str> = real.iter().copied().filter(|h| lb.contains(h)).collect();
        assert_eq!(real_subset, lb);
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

        let (real_lines, our_lines): (Vec<&str>, Vec<&str>) =
            (REAL_CSV.lines().collect(), text.lines().collect());
        assert_eq!(real_lines.len(), our_lines.len());
        // Identical text up to the first llama-bench column we do not have.
        assert!(our_lines[0].starts_with("build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,model_size,model_n_params,n_batch,n_ubatch,n_threads,"));
        for (real, ours) in real_lines[1..].iter().zip(&our_lines[1..]) {
            let head = &real[..real.find(",\"0x0\"").unwrap() + 1];
            assert!(ours.starts_with(head), "{ours}\n{head}");
        }
        let mut ours = csv::Reader::from_reader(text.as_bytes());
        let our_header = ours.headers().unwrap().clone();
        for (real, row) in rows.iter().zip(ours.records().map(Result::unwrap)) {
            for (i, name) in our_header.iter().enumerate().take(24) {
                let j = header.iter().position(|h| h == name).unwrap();
                assert_eq!(&row[i], &real[j], "{name}");
            }
        }
    }

    #[test]
    fn records_with_other_tiers_are_refused() {
        let mut recs = sample_records();
        recs[1].tiers.pop();
        let err = render(&recs).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("tg128 @ d4096 has tiers [hbm]"));
    }

    #[test]
    fn empty_run_is_a_header() {
        let text = render(&[]).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.ends_with("expert_hit_rate\n"));
    }
}
