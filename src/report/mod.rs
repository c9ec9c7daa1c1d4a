//! Exporters for simulated `llama-bench` results: `md`, `csv`, `json`, `jsonl` and `sql`, each
//! laid out as `llama-bench -o <format>` lays it out, with every one of llama-bench's 42 fields
//! in its order and the simulator's figures after them (DESIGN §3.2); `md`, a table for people,
//! shows llama-bench's columns only.
//!
//! Exporters stream: the simulator writes the header, then each record as soon as its test
//! finishes (as llama-bench does, so a long run shows progress and a killed run keeps its
//! finished tests), then the footer. Nothing here reads a clock ([`TestClock`] dates tests on
//! simulated time), so identical records give byte-identical output.

mod clock;
mod csv;
mod fields;
mod json;
mod jsonl;
mod md;
pub mod numfmt;
pub mod plot;
mod record;
mod sql;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

pub use self::clock::{TestClock, format_utc, parse_utc};
pub use self::csv::CsvExporter;
pub use self::fields::{LLAMA_BENCH_FIELD_COUNT, llama_bench_field_names};
pub use self::json::JsonExporter;
pub use self::jsonl::JsonlExporter;
pub use self::md::{MdColumns, MdExporter};
pub use self::record::{
    BUILD_COMMIT, BUILD_NUMBER, BenchRecord, TierUsage, UnmodelledSettings, test_name,
};
pub use self::sql::SqlExporter;

/// Writes a run's results in one format, record by record.
///
/// Call [`header`](Exporter::header) once, [`record`](Exporter::record) for each test in the
/// order they finish, then [`footer`](Exporter::footer) once. Exporters keep the little state
/// the format needs (whether a separator is due, the CSV columns), so the caller only forwards
/// records.
pub trait Exporter: Send {
    /// Writes what precedes the first record (the md table head, the JSON array's opening).
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()>;

    /// Writes one record and flushes, so that a reader of the stream sees each test as it ends.
    ///
    /// Fails with [`io::ErrorKind::InvalidData`] when the record cannot share the output with
    /// the earlier ones (a CSV row whose tiers differ from the header's columns).
    fn record(&mut self, out: &mut dyn Write, rec: &BenchRecord) -> io::Result<()>;

    /// Writes what follows the last record (the md footer line, the JSON array's closing).
    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()>;
}

/// What an exporter needs to know about the whole run before its first record, as llama-bench's
/// printers know its command line. The default shows llama-bench's md columns for a CPU
/// backend with every parameter at its default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunInfo {
    /// Which optional llama-bench columns the md table shows.
    pub md_columns: MdColumns,
}

/// An output format of `tiersim simulate -o`, named as llama-bench names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OutputFormat {
    /// A markdown table, llama-bench's default.
    #[default]
    Md,
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// SQLite statements: `CREATE TABLE IF NOT EXISTS llama_bench`, then one `INSERT` per test.
    Sql,
}

impl OutputFormat {
    /// Every format, in the order the error message lists them.
    pub const ALL: [OutputFormat; 5] = [Self::Md, Self::Csv, Self::Json, Self::Jsonl, Self::Sql];

    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Md => "md",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Jsonl => "jsonl",
            Self::Sql => "sql",
        }
    }

    /// A fresh exporter for one run in this format.
    pub fn exporter(self, run: RunInfo) -> Box<dyn Exporter> {
        match self {
            Self::Md => Box::new(MdExporter::new(run)),
            Self::Csv => Box::new(CsvExporter::new()),
            Self::Json => Box::new(JsonExporter::new()),
            Self::Jsonl => Box::new(JsonlExporter::new()),
            Self::Sql => Box::new(SqlExporter::new()),
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The text given as an output format is not one tiersim writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format `{0}`: expected md, csv, json, jsonl or sql")]
pub struct UnknownFormat(pub String);

impl FromStr for OutputFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// Writes a whole run at once: header, every record, footer.
pub fn export(
    format: OutputFormat,
    run: RunInfo,
    out: &mut dyn Write,
    records: &[BenchRecord],
) -> io::Result<()> {
    let mut exporter = format.exporter(run);
    exporter.header(out)?;
    for rec in records {
        exporter.record(out, rec)?;
    }
    exporter.footer(out)
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Records and parsers shared by the exporters' tests.

    use std::fmt;

    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

    use super::{BenchRecord, TierUsage, UnmodelledSettings};

    /// The real llama-bench outputs the exporters are compared against (SmolLM2-135M Q4_1 on a
    /// 2-core Zen 4, `-p 32 -n 8 -d 0,64 -r 2`; each file another run).
    pub const REAL_JSON: &str = include_str!("../../tests/data/llama-bench/smollm2_small.json");
    pub const REAL_JSONL: &str = include_str!("../../tests/data/llama-bench/smollm2_small.jsonl");
    pub const REAL_CSV: &str = include_str!("../../tests/data/llama-bench/smollm2_small.csv");
    pub const REAL_MD: &str = include_str!("../../tests/data/llama-bench/smollm2_small.md");
    pub const REAL_SQL: &str = include_str!("../../tests/data/llama-bench/smollm2_small.sql");

    fn tier(name: &str, read: u64, stall_ms: f64) -> TierUsage {
        TierUsage {
            tier: name.to_owned(),
            bytes_read: read,
            bytes_written: read / 64,
            read_gbps: read as f64 / 2.5e7,
            write_gbps: read as f64 / 1.6e9,
            utilisation: 0.4375,
            stall_ms,
            lifetime_years: None,
        }
    }

    /// A prompt test and a deep decode test on a two-tier system, with a quote and a comma in
    /// the strings to exercise escaping.
    pub fn sample_records() -> Vec<BenchRecord> {
        let pp = BenchRecord {
            build_commit: "tiersim-0.1.0".to_owned(),
            build_number: 1,
            cpu_info: "NVIDIA H100 SXM5 \"simulated\"".to_owned(),
            gpu_info: String::new(),
            backends: "CUDA".to_owned(),
            model_filename: "models/llama-3.1-8b,q4_k_m.yaml".to_owned(),
            model_type: "llama 8B Q4_K - Medium".to_owned(),
            model_size: 4_920_734_720,
            model_n_params: 8_030_261_248,
            n_batch: 2048,
            n_ubatch: 512,
            n_threads: 2,
            type_k: "f16".to_owned(),
            type_v: "f16".to_owned(),
            n_gpu_layers: -1,
            n_cpu_moe: 0,
            no_kv_offload: false,
            tensor_buft_overrides: "none".to_owned(),
            flash_attn: -1,
            repack: true,
            unmodelled: UnmodelledSettings::default(),
            n_prompt: 512,
            n_gen: 0,
            n_depth: 0,
            test_time: "2026-01-01T00:00:00Z".to_owned(),
            avg_ns: 41_234_567,
            stddev_ns: 123_456,
            avg_ts: 12416.812345678,
            stddev_ts: 37.25,
            samples_ns: vec![41_111_111, 41_358_023],
            samples_ts: vec![12454.0540, 12379.5678],
            system: "h100-hbf".to_owned(),
            seed: 42,
            n_seq: 1,
            ttft_ms: 41.234567,
            tpot_p50_ms: 0.0,
            tpot_p99_ms: 0.0,
            expert_hit_rate: None,
            tiers: vec![
                tier("hbm", 4_920_734_720, 0.0),
                tier("hbf", 1_073_741_824, 3.5),
            ],
        };
        let tg = BenchRecord {
            n_prompt: 0,
            n_gen: 128,
            n_depth: 4096,
            test_time: "2026-01-01T00:00:01Z".to_owned(),
            avg_ns: 1_012_345_678,
            stddev_ns: 2_345_678,
            avg_ts: 126.4392,
            stddev_ts: 0.2929,
            samples_ns: vec![1_010_000_000, 1_014_691_356],
            samples_ts: vec![126.7327, 126.1467],
            ttft_ms: 7.9,
            tpot_p50_ms: 7.8125,
            tpot_p99_ms: 9.0625,
            expert_hit_rate: None,
            tiers: vec![
                tier("hbm", 629_854_044_160, 0.0),
                tier("hbf", 137_438_953_472, 404.9382712),
            ],
            ..pp.clone()
        };
        vec![pp, tg]
    }

    /// The keys of one JSON object, in the order the text lists them (which a parsed
    /// `serde_json::Value` forgets).
    pub struct Keys(pub Vec<String>);

    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct KeysVisitor;
            impl<'de> Visitor<'de> for KeysVisitor {
                type Value = Keys;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(KeysVisitor)
        }
    }

    /// A record holding a real llama-bench result's fields, looked up by llama-bench's names
    /// (every one must be there); `samples_ts` is recomputed from `samples_ns` as llama-bench
    /// computes it, so that its printed form tests the formatting rather than echoing a parsed
    /// value.
    pub fn record_from_fields(get: impl Fn(&str) -> Option<String>) -> BenchRecord {
        let s = |k: &str| get(k).unwrap_or_else(|| panic!("field {k} missing"));
        let n = |k: &str| s(k).parse::<i64>().unwrap();
        let b = |k: &str| matches!(s(k).as_str(), "true" | "1");
        let samples_ns: Vec<u64> = get("samples_ns")
            .map(|v| serde_json::from_str(&v).unwrap())
            .unwrap_or_default();
        let tokens = (n("n_prompt") + n("n_gen")) as f64;
        BenchRecord {
            build_commit: s("build_commit"),
            build_number: n("build_number") as u32,
            cpu_info: s("cpu_info"),
            gpu_info: s("gpu_info"),
            backends: s("backends"),
            model_filename: s("model_filename"),
            model_type: s("model_type"),
            model_size: n("model_size") as u64,
            model_n_params: n("model_n_params") as u64,
            n_batch: n("n_batch") as u32,
            n_ubatch: n("n_ubatch") as u32,
            n_threads: n("n_threads") as u32,
            type_k: s("type_k"),
            type_v: s("type_v"),
            n_gpu_layers: n("n_gpu_layers") as i32,
            n_cpu_moe: n("n_cpu_moe") as u32,
            no_kv_offload: b("no_kv_offload"),
            tensor_buft_overrides: s("tensor_buft_overrides"),
            flash_attn: n("flash_attn") as i32,
            repack: b("repack"),
            unmodelled: UnmodelledSettings {
                cpu_mask: s("cpu_mask"),
                cpu_strict: b("cpu_strict"),
                poll: n("poll") as u32,
                split_mode: s("split_mode"),
                main_gpu: n("main_gpu") as i32,
                devices: s("devices"),
                tensor_split: s("tensor_split"),
                load_mode: s("load_mode"),
                lazy_mode: s("lazy_mode"),
                embeddings: b("embeddings"),
                no_op_offload: b("no_op_offload"),
                no_host: b("no_host"),
                fit_target_mib: n("fit_target") as u64,
                fit_min_ctx: n("fit_min_ctx") as u32,
            },
            n_prompt: n("n_prompt") as u32,
            n_gen: n("n_gen") as u32,
            n_depth: n("n_depth") as u32,
            test_time: s("test_time"),
            avg_ns: n("avg_ns") as u64,
            stddev_ns: n("stddev_ns") as u64,
            avg_ts: s("avg_ts").parse().unwrap(),
            stddev_ts: s("stddev_ts").parse().unwrap(),
            samples_ts: samples_ns
                .iter()
                .map(|&t| 1e9 * tokens / t as f64)
                .collect(),
            samples_ns,
            system: "zen4-2core".to_owned(),
            seed: 7,
            n_seq: 1,
            ttft_ms: 1.5,
            tpot_p50_ms: 0.0,
            tpot_p99_ms: 0.0,
            expert_hit_rate: None,
            tiers: vec![tier("dram", 96_576_768, 0.0)],
        }
    }

    /// The records of a llama-bench JSON array or JSONL text.
    pub fn real_json_records(values: Vec<serde_json::Value>) -> Vec<BenchRecord> {
        values
            .iter()
            .map(|v| {
                record_from_fields(|k| {
                    v.get(k).map(|x| match x {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_by_name_and_refuse_others() {
        for f in OutputFormat::ALL {
            assert_eq!(f.name().parse::<OutputFormat>(), Ok(f));
            assert_eq!(f.to_string(), f.name());
        }
        let err = "xml".parse::<OutputFormat>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown output format `xml`: expected md, csv, json, jsonl or sql"
        );
        assert_eq!(OutputFormat::default(), OutputFormat::Md);
    }

    #[test]
    fn export_is_byte_identical_for_identical_records() {
        let recs = testutil::sample_records();
        for f in OutputFormat::ALL {
            let render = || {
                let mut buf = Vec::new();
                export(f, RunInfo::default(), &mut buf, &recs).unwrap();
                buf
            };
            let first = render();
            assert!(!first.is_empty());
            assert_eq!(first, render(), "{f}");
        }
    }
}
