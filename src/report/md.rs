//! `-o md`: llama-bench's markdown table — `model`, `size`, `params`, `backend`, `threads`, a
//! column for each parameter given a non-default value or several values, `test`, `t/s` — and
//! its `build:` footer line. The simulator's own figures are in the other formats.

use std::io::{self, Write};

use super::fields::{Value, fmt_fixed, llama_bench_scalars, llama_bench_value};
use super::{BUILD_COMMIT, BUILD_NUMBER, BenchRecord, Exporter, RunInfo};

/// Which optional columns the md table shows.
///
/// llama-bench chooses its columns from the command line before the first test runs: a
/// parameter gets a column when it was given more than one value or a value other than its
/// default (see [`MdColumns::shows`]). The caller, which holds the command line, decides; the
/// exporter only lays out what it is told, in llama-bench's column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MdColumns {
    /// `ngl`: llama-bench shows it for every non-CPU backend.
    pub n_gpu_layers: bool,
    /// `n_cpu_moe` (`-ncmoe`).
    pub n_cpu_moe: bool,
    /// `threads`: llama-bench shows it for CPU backends, or when `-t` is not the default.
    pub n_threads: bool,
    /// `cpu_mask` (`-C`).
    pub cpu_mask: bool,
    /// `cpu_strict` (`--cpu-strict`).
    pub cpu_strict: bool,
    /// `poll` (`--poll`).
    pub poll: bool,
    /// `n_batch` (`-b`).
    pub n_batch: bool,
    /// `n_ubatch` (`-ub`).
    pub n_ubatch: bool,
    /// `type_k` (`-ctk`).
    pub type_k: bool,
    /// `type_v` (`-ctv`).
    pub type_v: bool,
    /// `main_gpu` (`-mg`).
    pub main_gpu: bool,
    /// `sm` (`-sm`).
    pub split_mode: bool,
    /// `nkvo` (`-nkvo`).
    pub no_kv_offload: bool,
    /// `fa` (`-fa`).
    pub flash_attn: bool,
    /// `dev` (`-dev`).
    pub devices: bool,
    /// `ts` (`-ts`).
    pub tensor_split: bool,
    /// `ot` (`-ot`).
    pub override_tensors: bool,
    /// `lm` (`-lm`).
    pub load_mode: bool,
    /// `lazy_mode` (`-lzm`).
    pub lazy_mode: bool,
    /// `embd` (`-embd`).
    pub embeddings: bool,
    /// `nopo` (`-nopo`).
    pub no_op_offload: bool,
    /// `noh` (`--no-host`).
    pub no_host: bool,
    /// `rpk` (`--repack`).
    pub repack: bool,
    /// `fitt` (`-fitt`).
    pub fit_target: bool,
    /// `fitc` (`-fitc`).
    pub fit_min_ctx: bool,
    /// `npl`: sequences decoding together (tiersim's, after llama-batched-bench's `-npl`),
    /// just before `test`.
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
            cpu_mask: false,
            cpu_strict: false,
            poll: false,
            n_batch: false,
            n_ubatch: false,
            type_k: false,
            type_v: false,
            main_gpu: false,
            split_mode: false,
            no_kv_offload: false,
            flash_attn: false,
            devices: false,
            tensor_split: false,
            override_tensors: false,
            load_mode: false,
            lazy_mode: false,
            embeddings: false,
            no_op_offload: false,
            no_host: false,
            repack: false,
            fit_target: false,
            fit_min_ctx: false,
            n_seq: false,
        }
    }

    /// Whether llama-bench would show a parameter given `values` on the command line: more than
    /// one value, or one that is not `default`.
    pub fn shows<T: PartialEq>(values: &[T], default: &T) -> bool {
        values.len() > 1 || values.iter().any(|v| v != default)
    }

    /// The llama-bench fields shown, in llama-bench's column order.
    fn fields(&self) -> Vec<&'static str> {
        [
            (self.n_gpu_layers, "n_gpu_layers"),
            (self.n_cpu_moe, "n_cpu_moe"),
            (self.n_threads, "n_threads"),
            (self.cpu_mask, "cpu_mask"),
            (self.cpu_strict, "cpu_strict"),
            (self.poll, "poll"),
            (self.n_batch, "n_batch"),
            (self.n_ubatch, "n_ubatch"),
            (self.type_k, "type_k"),
            (self.type_v, "type_v"),
            (self.main_gpu, "main_gpu"),
            (self.split_mode, "split_mode"),
            (self.no_kv_offload, "no_kv_offload"),
            (self.flash_attn, "flash_attn"),
            (self.devices, "devices"),
            (self.tensor_split, "tensor_split"),
            (self.override_tensors, "tensor_buft_overrides"),
            (self.load_mode, "load_mode"),
            (self.lazy_mode, "lazy_mode"),
            (self.embeddings, "embeddings"),
            (self.no_op_offload, "no_op_offload"),
            (self.no_host, "no_host"),
            (self.repack, "repack"),
            (self.fit_target, "fit_target"),
            (self.fit_min_ctx, "fit_min_ctx"),
        ]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect()
    }
}

impl Default for MdColumns {
    /// llama-bench's columns for a CPU backend with every parameter at its default.
    fn default() -> Self {
        Self::for_backend("CPU")
    }
}

/// What a column shows.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Model,
    Size,
    Params,
    Backend,
    /// A llama-bench field, spelled as its CSV spells it.
    Field(&'static str),
    NSeq,
    Test,
    Rate,
}

/// One table column: title, width (negative for left-aligned, as in llama-bench's printf
/// widths) and what fills it.
#[derive(Debug, Clone, Copy)]
struct Column {
    title: &'static str,
    width: isize,
    cell: Cell,
}

/// llama-bench's md title of a field.
fn title(field: &'static str) -> &'static str {
    match field {
        "n_gpu_layers" => "ngl",
        "split_mode" => "sm",
        "n_threads" => "threads",
        "no_kv_offload" => "nkvo",
        "flash_attn" => "fa",
        "load_mode" => "lm",
        "embeddings" => "embd",
        "no_op_offload" => "nopo",
        "no_host" => "noh",
        "repack" => "rpk",
        "devices" => "dev",
        "tensor_split" => "ts",
        "tensor_buft_overrides" => "ot",
        "fit_target" => "fitt",
        "fit_min_ctx" => "fitc",
        other => other,
    }
}

/// llama-bench's md width of a field: a few fixed ones, else the name's length (at least 10),
/// left-aligned for text.
fn width(field: &'static str) -> isize {
    match field {
        "n_gpu_layers" | "flash_attn" | "repack" => 3,
        "n_threads" | "n_batch" => 7,
        "n_ubatch" => 8,
        "type_k" | "type_v" | "split_mode" => 6,
        "load_mode" => 10,
        "devices" => -12,
        "no_op_offload" | "no_host" => 4,
        _ => {
            let w = field.len().max(10) as isize;
            let text = llama_bench_scalars(&BenchRecord::default())
                .iter()
                .any(|(k, v)| *k == field && matches!(v, Value::Str(_)));
            if text { -w } else { w }
        }
    }
}

/// Writes records as llama-bench's `-o md` does: a table head, one row per record, then the
/// `build:` line.
pub struct MdExporter {
    columns: Vec<Column>,
}

impl MdExporter {
    /// An exporter for `run`, with the columns its [`MdColumns`] asks for.
    pub fn new(run: RunInfo) -> Self {
        let col = |title, width, cell| Column { title, width, cell };
        let mut columns = vec![
            col("model", -30, Cell::Model),
            col("size", 10, Cell::Size),
            col("params", 10, Cell::Params),
            col("backend", -10, Cell::Backend),
        ];
        columns.extend(
            run.md_columns
                .fields()
                .into_iter()
                .map(|f| col(title(f), width(f), Cell::Field(f))),
        );
        if run.md_columns.n_seq {
            columns.push(col("npl", 4, Cell::NSeq));
        }
        columns.extend([col("test", 15, Cell::Test), col("t/s", 20, Cell::Rate)]);
        Self { columns }
    }

    fn line(&self, text: impl Fn(&Column) -> String) -> String {
        let mut line = String::from("|");
        for c in &self.columns {
            let text = text(c);
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

/// What `r` shows in a column.
fn cell_text(cell: Cell, r: &BenchRecord) -> String {
    match cell {
        Cell::Model => r.model_type.clone(),
        Cell::Size => size(r.model_size),
        Cell::Params => params(r.model_n_params),
        Cell::Backend => r.backends.clone(),
        Cell::Field(f) => llama_bench_value(r, f).unwrap_or_default(),
        Cell::NSeq => r.n_seq.to_string(),
        Cell::Test => r.test_name(),
        // Widths count characters here, not bytes, so `±` needs none of llama-bench's
        // byte-count correction.
        Cell::Rate => format!("{} ± {}", fmt_fixed(r.avg_ts, 2), fmt_fixed(r.stddev_ts, 2)),
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
        out.write_all(self.line(|c| cell_text(c.cell, rec)).as_bytes())?;
        out.flush()
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "\nbuild: {BUILD_COMMIT} ({BUILD_NUMBER})")?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{REAL_JSON, REAL_MD, real_json_records, sample_records};
    use crate::report::{OutputFormat, export};

    fn render(records: &[BenchRecord], columns: MdColumns) -> String {
        let run = RunInfo {
            md_columns: columns,
        };
        let mut buf = Vec::new();
        export(OutputFormat::Md, run, &mut buf, records).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn table(text: &str) -> Vec<&str> {
        text.lines().take_while(|l| !l.is_empty()).collect()
    }

    #[test]
    fn columns_align_and_the_footer_is_the_build_line() {
        let text = render(&sample_records(), MdColumns::for_backend("CUDA"));
        let rows = table(&text);
        assert_eq!(rows.len(), 4);
        let width = rows[0].chars().count();
        for row in &rows {
            assert_eq!(row.chars().count(), width, "{row}");
            assert_eq!(row.matches('|').count(), 8, "{row}");
        }
        assert_eq!(
            rows[0],
            "| model                          |       size |     params | backend    | ngl |\
             \x20           test |                  t/s |"
        );
        assert_eq!(
            rows[1],
            "| ------------------------------ | ---------: | ---------: | ---------- | --: |\
             \x20--------------: | -------------------: |"
        );
        assert_eq!(
            rows[2],
            "| llama 8B Q4_K - Medium         |   4.58 GiB |     8.03 B | CUDA       |  -1 |\
             \x20          pp512 |     12416.81 ± 37.25 |"
        );
        assert!(rows[3].ends_with("|   tg128 @ d4096 |        126.44 ± 0.29 |"));
        let footer = format!("|\n\nbuild: tiersim-{} (0)\n", env!("CARGO_PKG_VERSION"));
        assert!(text.ends_with(&footer), "{text}");
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
        assert_eq!(table(&text), real);
    }

    #[test]
    fn optional_columns_follow_llama_benchs_order_and_widths() {
        let columns = MdColumns {
            n_ubatch: MdColumns::shows(&[256, 512], &MdColumns::DEFAULT_N_UBATCH),
            type_k: MdColumns::shows(&["q8_0"], &MdColumns::DEFAULT_CACHE_TYPE),
            type_v: MdColumns::shows(&["f16"], &MdColumns::DEFAULT_CACHE_TYPE),
            flash_attn: MdColumns::shows(&[1], &MdColumns::DEFAULT_FLASH_ATTN),
            poll: true,
            load_mode: true,
            devices: true,
            repack: true,
            fit_target: true,
            ..MdColumns::default()
        };
        assert!(columns.n_ubatch && columns.type_k && !columns.type_v && columns.flash_attn);
        let text = render(&sample_records(), columns);
        let rows = table(&text);
        assert!(rows[0].contains(
            "| backend    | threads |       poll | n_ubatch | type_k |  fa | dev          \
             |         lm | rpk |       fitt |            test |"
        ));
        assert!(rows[1].contains(
            "| ---------- | ------: | ---------: | -------: | -----: | --: | ------------ \
             | ---------: | --: | ---------: |"
        ));
        assert!(rows[2].contains(
            "| CUDA       |       2 |         50 |      512 |    f16 |  -1 | auto         \
             |       auto |   1 |          0 |"
        ));
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
        assert_eq!(size(96_576_768), "92.10 MiB");
        assert_eq!(params(134_515_008), "134.52 M");
    }
}
