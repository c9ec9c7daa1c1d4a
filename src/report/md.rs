//! `-o md`: llama-bench's markdown table, with the simulator's latency and stall columns after
//! `t/s` and a footer naming the tiersim version, system and seed.

use std::io::{self, Write};

use super::{BenchRecord, Exporter, RunInfo, fmt_fixed};

/// Which optional llama-bench columns the md table shows.
///
/// llama-bench chooses its columns from the command line before the first test runs: a
/// parameter gets a column when it was given more than one value or a value other than its
/// default (see [`MdColumns::shows`]). The caller, which holds the command line, decides; the
/// exporter only lays out what it is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MdColumns {
    /// `ngl`: llama-bench shows it for every non-CPU backend.
    pub n_gpu_layers: bool,
    /// `n_cpu_moe` (`-ncmoe`).
    pub n_cpu_moe: bool,
    /// `threads`: llama-bench shows it for CPU backends, or when `-t` is not the default.
    pub n_threads: bool,
    /// `n_batch` (`-b`).
    pub n_batch: bool,
    /// `n_ubatch` (`-ub`).
    pub n_ubatch: bool,
    /// `type_k` (`-ctk`).
    pub type_k: bool,
    /// `type_v` (`-ctv`).
    pub type_v: bool,
    /// `nkvo` (`-nkvo`).
    pub no_kv_offload: bool,
    /// `fa` (`-fa`).
    pub flash_attn: bool,
    /// `ot` (`-ot`).
    pub override_tensors: bool,
    /// `npl`: sequences decoding together (tiersim's, after llama-batched-bench's `-npl`).
    pub n_seq: bool,
}

impl MdColumns {
    /// llama-bench's default `-b`.
    pub const DEFAULT_N_BATCH: u32 = 2048;
    /// llama-bench's default `-ub`.
    pub const DEFAULT_N_UBATCH: u32 = 512;
    /// llama-bench's default `-ctk` and `-ctv`.
    pub const DEFAULT_CACHE_TYPE: &'static str = "f16";
    /// llama-bench's default `-fa` (auto), as its records spell it.
    pub const DEFAULT_FLASH_ATTN: i32 = -1;

    /// The columns llama-bench shows for `backends` when no optional parameter is set: `threads`
    /// on a CPU backend, `ngl` on any other.
    pub fn for_backend(backends: &str) -> Self {
        let cpu = ["CPU", "BLAS", "ZenDNN"]
            .iter()
            .any(|b| backends.contains(b));
        Self {
            n_gpu_layers: !cpu,
            n_cpu_moe: false,
            n_threads: cpu,
            n_batch: false,
            n_ubatch: false,
            type_k: false,
            type_v: false,
            no_kv_offload: false,
            flash_attn: false,
            override_tensors: false,
            n_seq: false,
        }
    }

    /// Whether llama-bench would show a parameter given `values` on the command line: more than
    /// one value, or one that is not `default`.
    pub fn shows<T: PartialEq>(values: &[T], default: &T) -> bool {
        values.len() > 1 || values.iter().any(|v| v != default)
    }
}

impl Default for MdColumns {
    /// llama-bench's columns for a CPU backend with every parameter at its default.
    fn default() -> Self {
        Self::for_backend("CPU")
    }
}

/// One table column: title, width (negative for left-aligned, as in llama-bench's printf
/// widths) and how a record fills it.
struct Column {
    title: &'static str,
    width: isize,
    value: fn(&BenchRecord) -> String,
}

/// Writes records as llama-bench's `-o md` does: a table head, one row per record, then a line
/// naming what produced the table.
pub struct MdExporter {
    run: RunInfo,
    columns: Vec<Column>,
}

impl MdExporter {
    /// An exporter for `run`, with the columns its [`MdColumns`] asks for.
    pub fn new(run: RunInfo) -> Self {
        let c = run.md_columns;
        let optional: [(bool, Column); 11] = [
            (
                c.n_gpu_layers,
                col("ngl", 3, |r| r.n_gpu_layers.to_string()),
            ),
            (
                c.n_cpu_moe,
                col("n_cpu_moe", 10, |r| r.n_cpu_moe.to_string()),
            ),
            (c.n_threads, col("threads", 7, |r| r.n_threads.to_string())),
            (c.n_batch, col("n_batch", 7, |r| r.n_batch.to_string())),
            (c.n_ubatch, col("n_ubatch", 8, |r| r.n_ubatch.to_string())),
            (c.type_k, col("type_k", 6, |r| r.type_k.clone())),
            (c.type_v, col("type_v", 6, |r| r.type_v.clone())),
            (
                c.no_kv_offload,
                col("nkvo", 13, |r| u8::from(r.no_kv_offload).to_string()),
            ),
            (c.flash_attn, col("fa", 3, |r| r.flash_attn.to_string())),
            (
                c.override_tensors,
                col("ot", -21, |r| r.tensor_buft_overrides.clone()),
            ),
            (c.n_seq, col("npl", 4, |r| r.n_seq.to_string())),
        ];
        let mut columns = vec![
            col("model", -30, |r| r.model_type.clone()),
            col("size", 10, |r| size(r.model_size)),
            col("params", 10, |r| params(r.model_n_params)),
            col("backend", -10, |r| r.backends.clone()),
        ];
        columns.extend(optional.into_iter().filter_map(|(on, c)| on.then_some(c)));
        columns.extend([
            col("test", 15, BenchRecord::test_name),
            // Widths count characters here, not bytes, so `±` needs none of llama-bench's
            // byte-count correction.
            col("t/s", 20, |r| {
                format!("{} ± {}", fmt_fixed(r.avg_ts, 2), fmt_fixed(r.stddev_ts, 2))
            }),
            col("ttft ms", 10, |r| fmt_fixed(r.ttft_ms, 2)),
            col("tpot p99 ms", 11, |r| {
                if r.n_gen == 0 {
                    "-".to_owned()
                } else {
                    fmt_fixed(r.tpot_p99_ms, 2)
                }
            }),
            col("stall %", 12, worst_stall),
        ]);
        Self { run, columns }
    }

    fn line(&self, cell: impl Fn(&Column) -> String) -> String {
        let mut line = String::from("|");
        for c in &self.columns {
            let text = cell(c);
            let w = c.width.unsigned_abs();
            if c.width < 0 {
                line.push_str(&format!(" {text:<w$} |"));
            } else {
                line.push_str(&format!(" {text:>w$} |"));
            }
        }
        line.push('\n');
        line
    }
}

fn col(title: &'static str, width: isize, value: fn(&BenchRecord) -> String) -> Column {
    Column {
        title,
        width,
        value,
    }
}

/// Model size as llama-bench prints it: MiB below one GiB, GiB above.
fn size(bytes: u64) -> String {
    const GIB: u64 = 1 << 30;
    if bytes < GIB {
        format!("{:.2} MiB", bytes as f64 / 1024.0 / 1024.0)
    } else {
        format!("{:.2} GiB", bytes as f64 / GIB as f64)
    }
}

/// Parameter count as llama-bench prints it: millions below a billion, billions above.
fn params(n: u64) -> String {
    if n < 1_000_000_000 {
        format!("{:.2} M", n as f64 / 1e6)
    } else {
        format!("{:.2} B", n as f64 / 1e9)
    }
}

/// The non-local tier that stalled compute longest, and that stall as a percentage of the
/// repetition's wall time: the one figure that says whether the slow tier matters for this
/// test. `-` when the system has no tier beyond the local one.
fn worst_stall(r: &BenchRecord) -> String {
    // The first tier is compute-local: its traffic is the roofline, not a stall.
    let worst = r
        .tiers
        .iter()
        .skip(1)
        .reduce(|a, b| if b.stall_ms > a.stall_ms { b } else { a });
    match worst {
        Some(t) if r.avg_ns > 0 => {
            let pct = t.stall_ms * 1e6 / r.avg_ns as f64 * 100.0;
            format!("{} {}", t.tier, fmt_fixed(pct, 1))
        }
        _ => "-".to_owned(),
    }
}

impl Exporter for MdExporter {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let titles = self.line(|c| c.title.to_owned());
        let rule = self.line(|c| {
            let dashes = "-".repeat(c.width.unsigned_abs() - 1);
            format!("{dashes}{}", if c.width > 0 { ':' } else { '-' })
        });
        out.write_all(titles.as_bytes())?;
        out.write_all(rule.as_bytes())
    }

    fn record(&mut self, out: &mut dyn Write, rec: &BenchRecord) -> io::Result<()> {
        out.write_all(self.line(|c| (c.value)(rec)).as_bytes())?;
        out.flush()
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let RunInfo {
            tiersim_version,
            system,
            seed,
            ..
        } = &self.run;
        writeln!(
            out,
            "\ntiersim {tiersim_version}, system {system}, seed {seed}"
        )?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{REAL_JSON, REAL_MD, real_json_records, sample_records};
    use crate::report::{OutputFormat, export};

    fn render(records: &[BenchRecord], columns: MdColumns) -> String {
        let mut run = RunInfo::new("h100-hbf", 42);
        run.tiersim_version = "0.1.0".to_owned();
        run.md_columns = columns;
        let mut buf = Vec::new();
        export(OutputFormat::Md, run, &mut buf, records).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn table(text: &str) -> Vec<&str> {
        text.lines().take_while(|l| !l.is_empty()).collect()
    }

    #[test]
    fn columns_align_and_footer_names_the_run() {
        let text = render(&sample_records(), MdColumns::for_backend("CUDA"));
        let rows = table(&text);
        assert_eq!(rows.len(), 4);
        let width = rows[0].chars().count();
        for row in &rows {
            assert_eq!(row.chars().count(), width, "{row}");
            assert_eq!(row.matches('|').count(), 11, "{row}");
        }
        assert_eq!(
            rows[0],
            "| model                          |       size |     params | backend    | ngl |\
             \x20           test |                  t/s |    ttft ms | tpot p99 ms |      stall % |"
        );
        assert_eq!(
            rows[1],
            "| ------------------------------ | ---------: | ---------: | ---------- | --: |\
             \x20--------------: | -------------------: | ---------: | ----------: | -----------: |"
        );
        assert_eq!(
            rows[2],
            "| llama 8B Q4_K - Medium         |   4.58 GiB |     8.03 B | CUDA       |  -1 |\
             \x20          pp512 |     12416.81 ± 37.25 |      41.23 |           - |      hbf 8.5 |"
        );
        assert!(rows[3].ends_with(
            "|   tg128 @ d4096 |        126.44 ± 0.29 |       7.90 |        9.06 |     hbf 40.0 |"
        ));
        assert!(text.ends_with("|\n\ntiersim 0.1.0, system h100-hbf, seed 42\n"));
    }

    #[test]
    fn real_results_print_as_llama_bench_printed_them() {
        let values: Vec<serde_json::Value> = serde_json::from_str(REAL_JSON).unwrap();
        let mut recs = real_json_records(values);
        let real = table(REAL_MD);
        // The md file is another run than the JSON one: take its rates from its own rows.
        for (rec, row) in recs.iter_mut().zip(&real[2..]) {
            let ts = row.trim_end_matches(" |").rsplit("| ").next().unwrap();
            let (avg, sd) = ts.trim().split_once(" ± ").unwrap();
            rec.avg_ts = avg.parse().unwrap();
            rec.stddev_ts = sd.parse().unwrap();
        }
        let text = render(&recs, MdColumns::default());
        let ours = table(&text);
        assert_eq!(ours.len(), real.len());
        for (ours, real) in ours.iter().zip(&real) {
            // Our columns follow llama-bench's, so its whole line begins ours.
            assert!(ours.starts_with(real), "\n{ours}\n{real}");
        }
    }

    #[test]
    fn optional_columns_follow_llama_benchs_order_and_widths() {
        let columns = MdColumns {
            n_ubatch: MdColumns::shows(&[256, 512], &MdColumns::DEFAULT_N_UBATCH),
            type_k: MdColumns::shows(&["q8_0"], &MdColumns::DEFAULT_CACHE_TYPE),
            type_v: MdColumns::shows(&["f16"], &MdColumns::DEFAULT_CACHE_TYPE),
            flash_attn: MdColumns::shows(&[1], &MdColumns::DEFAULT_FLASH_ATTN),
            ..MdColumns::default()
        };
        assert!(columns.n_ubatch && columns.type_k && !columns.type_v && columns.flash_attn);
        let text = render(&sample_records(), columns);
        let rows = table(&text);
        assert!(
            rows[0]
                .contains("| backend    | threads | n_ubatch | type_k |  fa |            test |")
        );
        assert!(rows[1].contains("| ---------- | ------: | -------: | -----: | --: |"));
        assert!(rows[2].contains("| CUDA       |       2 |      512 |    f16 |  -1 |"));
        let width = rows[0].chars().count();
        assert!(rows.iter().all(|r| r.chars().count() == width));
    }

    #[test]
    fn llama_bench_defaults_pick_threads_or_ngl_by_backend() {
        assert!(MdColumns::default().n_threads && !MdColumns::default().n_gpu_layers);
        let gpu = MdColumns::for_backend("CUDA");
        assert!(gpu.n_gpu_layers && !gpu.n_threads);
        assert!(MdColumns::for_backend("BLAS").n_threads);
        assert!(!MdColumns::shows(&[2048], &MdColumns::DEFAULT_N_BATCH));
    }

    #[test]
    fn stall_needs_a_tier_beyond_the_local_one() {
        let mut rec = sample_records().remove(1);
        rec.tiers.truncate(1);
        assert_eq!(worst_stall(&rec), "-");
        rec.tiers.clear();
        assert_eq!(worst_stall(&rec), "-");
        assert_eq!(size(96_576_768), "92.10 MiB");
        assert_eq!(params(134_515_008), "134.52 M");
    }
}
