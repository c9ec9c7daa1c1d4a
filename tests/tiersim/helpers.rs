//! Shared helpers: building machines from inline YAML and running the binary as a user does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use tiersim::config::load;
use tiersim::config::system::SystemSpec;
use tiersim::config::validate;
use tiersim::model::quant::QuantType;
use tiersim::scenario::{self, TestCase, TestOutcome};
use tiersim::sim::machine::Machine;

/// A system whose only tier is local, with the given local bandwidth and compute figures.
pub fn local_system(bw: &str, flops: &str, layer_overhead: &str, step_overhead: &str) -> String {
    format!(
        r#"
name: local-only
compute:
  device: test
  peak_flops: {flops}
  prefill_efficiency: 0.5
  decode_efficiency: 0.25
  attention_efficiency: 0.125
  memory_efficiency: 0.8
  layer_overhead: {layer_overhead}
  step_overhead: {step_overhead}
tiers:
  - {{name: hbm, kind: hbm, capacity: 80GB, read_bw: {bw}, write_bw: {bw}}}
placement:
  weights: {{default: hbm}}
  kv: {{tiers: [hbm]}}
"#
    )
}

/// A system with an effectively infinite local tier and every weight on one device tier.
pub fn streamed_system(bw: &str, latency: &str, units: u32, qd: u32, io: &str) -> String {
    format!(
        r#"
name: streamed
compute:
  device: test
  peak_flops: 1e30FLOP/s
  prefill_efficiency: 1
  decode_efficiency: 1
  memory_efficiency: 1
  layer_overhead: 0s
  step_overhead: 0s
tiers:
  - {{name: hbm, kind: hbm, capacity: 80GB, read_bw: 1e30B/s, write_bw: 1e30B/s}}
  - name: dev
    kind: hbf
    capacity: 512GB
    read_bw: {bw}
    write_bw: {bw}
    read_latency: {latency}
    write_latency: {latency}
    parallel_units: {units}
    queue_depth: {qd}
    io_size: {io}
placement:
  weights: {{default: dev}}
  kv: {{tiers: [hbm]}}
overlap: {{mode: none}}
"#
    )
}

/// Parses and validates an inline system.
pub fn system(yaml: &str) -> SystemSpec {
    let s: SystemSpec = load::parse(yaml, "test").expect("test system parses");
    validate::system(&s, "test").expect("test system is valid");
    s
}

/// A preset model placed on an inline or preset system.
pub fn machine(model: &str, system: &SystemSpec) -> Machine {
    let m = load::model(Some(model), &[]).expect("preset model");
    Machine::new(&m.spec, system).expect("fits")
}

/// A llama-bench test with f16 KV and default batches.
pub fn case(n_prompt: u32, n_gen: u32, n_depth: u32) -> TestCase {
    TestCase {
        n_prompt,
        n_gen,
        n_depth,
        n_batch: 2048,
        n_ubatch: 512,
        n_seq: 1,
        type_k: QuantType::F16,
        type_v: QuantType::F16,
        n_threads: 1,
        flash_attn: None,
        repack: true,
        stage_from: None,
    }
}

/// Runs `case` with `reps` repetitions and returns the outcome.
pub fn run(m: &Machine, case: &TestCase, reps: u32, seed: u64) -> TestOutcome {
    scenario::run_test(m, case, reps, seed, 0).expect("test runs")
}

/// Mean tokens per second of an outcome, as llama-bench's avg_ts.
pub fn avg_ts(case: &TestCase, out: &TestOutcome) -> f64 {
    let n = f64::from(case.n_prompt + case.n_gen);
    out.samples.iter().map(|s| n / s.0).sum::<f64>() / out.samples.len() as f64
}

/// Runs the tiersim binary with `args`.
pub fn tiersim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tiersim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tiersim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs the binary and returns its standard output, failing on a non-zero exit.
pub fn stdout(args: &[&str]) -> String {
    let out = tiersim(args);
    assert!(
        out.status.success(),
        "tiersim {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs the binary expecting exit status 2, no results and a one-line message containing every
/// needle; returns the message.
pub fn fails_with(args: &[&str], needles: &[&str]) -> String {
    let out = tiersim(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{err}` lacks `{n}`");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty(), "no results on failure: {args:?}");
    err
}

/// The rows of `-o csv` output as column name to value.
pub fn csv_rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("a well-formed row");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// Column `col` of a CSV row as a number, naming the column when it is missing or not a number.
pub fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    row.get(col)
        .unwrap_or_else(|| panic!("no column {col}"))
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

/// The single row of `-o csv` output as column name to value.
pub fn csv_row(text: &str) -> HashMap<String, String> {
    let mut rows = csv_rows(text);
    assert_eq!(rows.len(), 1, "one row: {text}");
    rows.pop().unwrap()
}

/// Runs `tiersim sweep merge` over the `n` shard files `STEM.shard-i-of-n.csv` in `dir` into
/// `out`.
pub fn merge_shards(dir: &std::path::Path, stem: &str, n: usize, out: &std::path::Path) {
    let inputs: Vec<String> = (0..n)
        .map(|i| {
            dir.join(format!("{stem}.shard-{i}-of-{n}.csv"))
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec!["sweep", "merge"];
    args.extend(inputs.iter().map(String::as_str));
    args.extend(["--out", out.to_str().unwrap()]);
    stdout(&args);
}
