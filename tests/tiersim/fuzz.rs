//! Property tests over every parser and the argument layer (issue 14, item 7): real inputs,
//! randomly mutated, must parse or fail with one sentence in the schema's words, never panic,
//! and finish within a budget. Seeds are fixed so CI sees the same cases every run; a failure
//! found once is kept in `fuzz.proptest-regressions` beside this file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};
use tiersim::calibrate::readers;
use tiersim::config::load;
use tiersim::config::system::SystemSpec;
use tiersim::model::gguf;
use tiersim::model::spec::ModelSpec;
use tiersim::tier::fio::{FioLatency, FioOp};

use crate::helpers::{scratch, tiersim};

/// Wall-clock budget of one parse in a debug build; the hostile cases of the issue took
/// seconds to minutes before their fixes.
const BUDGET: Duration = Duration::from_secs(5);

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x0071_3514),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

fn root(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root(rel)).unwrap()
}

/// Words that only a Rust programmer reads: a message holding one leaks the implementation.
const LEAKS: [&str; 12] = [
    "struct ", " enum ", "Value::", "u32", "u64", "usize", "i64", "f64", "Option<", "Vec<",
    "panicked", "NaN",
];

/// A message a user can read: one line, no Rust type names.
fn assert_clear(message: &str) {
    assert!(!message.contains('\n'), "more than one line: {message}");
    for leak in LEAKS {
        assert!(!message.contains(leak), "`{leak}` in: {message}");
    }
}

/// Runs `f`, asserting it stays within [`BUDGET`] and that an error reads clearly.
fn within_budget<T, E: std::fmt::Display>(f: impl FnOnce() -> Result<T, E>) {
    let t = Instant::now();
    let out = f();
    assert!(t.elapsed() < BUDGET, "took {:?}", t.elapsed());
    if let Err(e) = out {
        assert_clear(&e.to_string());
    }
}

/// Fragments a hostile or careless writer inserts: brackets, anchors, tags, non-numbers, huge
/// numbers, a byte-order mark, quotes, separators.
const TOKENS: [&str; 28] = [
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "-",
    "\n",
    "  ",
    "'",
    "\"",
    "#",
    "&a",
    "*a",
    "!x",
    ".nan",
    ".inf",
    "-1",
    "0",
    "1e308",
    "4294967295",
    "18446744073709551616",
    "\u{feff}",
    "1e308TB/s",
    "|",
    "\t",
    "null",
    "~",
];

/// One edit: kind, position as a fraction of the text, a length, a token.
type Edit = (u8, f64, usize, usize);

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec((0u8..5, 0.0f64..1.0, 0usize..64, 0..TOKENS.len()), 1..6)
}

/// `text` with the edits applied at character boundaries.
fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut s = text.to_owned();
    for &(kind, at, len, token) in edits {
        let mut i = ((s.len() as f64) * at) as usize;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        let mut j = (i + len).min(s.len());
        while !s.is_char_boundary(j) {
            j -= 1;
        }
        match kind {
            0 => s.insert_str(i, TOKENS[token]),
            1 => s.replace_range(i..j, ""),
            2 => s.replace_range(i..j, TOKENS[token]),
            3 => {
                let copy = s[i..j].to_owned();
                s.insert_str(i, &copy);
            }
            _ => s.truncate(i),
        }
    }
    s
}

/// A long number as a value: the message quotes at most about 40 characters of it.
fn huge_number() -> String {
    "9".repeat(309)
}

fn files_in(dir: &str, ext: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root(dir))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == ext).then(|| std::fs::read_to_string(p).ok())?
        })
        .collect();
    out.sort();
    out
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn model_specs_parse_or_fail_clearly(which in 0usize..8, e in edits()) {
        let seeds = files_in("models", "yaml");
        let text = mutate(&seeds[which % seeds.len()], &e);
        within_budget(|| {
            load::parse::<ModelSpec>(&text, "m.yaml")
                .and_then(|m| tiersim::config::validate::model(&m, "m.yaml").map(|()| m))
        });
    }

    #[test]
    fn system_specs_parse_or_fail_clearly(which in 0usize..16, e in edits()) {
        let seeds = files_in("models/systems", "yaml");
        let text = mutate(&seeds[which % seeds.len()], &e);
        within_budget(|| {
            load::parse::<SystemSpec>(&text, "s.yaml")
                .and_then(|s| tiersim::config::validate::system(&s, "s.yaml").map(|()| s))
        });
    }

    #[test]
    fn set_overrides_apply_or_fail_clearly(
        path in prop::sample::select(vec![
            "tiers.hbm.read_bw", "tiers.hbf.read_latency", "tiers.0.capacity", "compute.peak_flops",
            "placement.kv.budget", "model.n_layers", "model.quant", "tiers", "overlap.mode",
            "tiers.hbf.queue_depth", "placement.weights", "x.y.z",
        ]),
        value in prop::sample::select(vec![
            "800GB/s", "4us", "-1", ".nan", "1e308TB/s", "[", "{lognormal: 3}", "[1, 2]", "abc",
            "99999999999999999999999999999999999999999999999999", "{}", "", "\u{feff}1TB/s",
            "{fixed: 4us}", "0B",
        ]),
    ) {
        let text = format!("{path}={value}");
        within_budget(|| {
            let o = load::Override::parse(&text)?;
            let sets = [o];
            load::model(Some("smollm2-135m-instruct-q4_1"), &sets)?;
            load::system(Some("h100-hbf"), &sets)
        });
    }

    #[test]
    fn llama_bench_outputs_read_or_fail_clearly(which in 0usize..8, e in edits()) {
        let seeds = files_in("tests/data/llama-bench", "json")
            .into_iter()
            .chain(files_in("tests/data/llama-bench", "jsonl"))
            .chain(files_in("tests/data/llama-bench", "md"))
            .chain(files_in("tests/data/llama-bench", "csv"))
            .chain(files_in("tests/data/llama-bench", "sql"))
            .chain(files_in("calibration", "csv").into_iter().take(2))
            .collect::<Vec<_>>();
        let text = mutate(&seeds[which % seeds.len()], &e);
        within_budget(|| readers::read_str(&text, "bench.out"));
    }

    #[test]
    fn fio_results_read_or_fail_clearly(which in 0usize..10, e in edits()) {
        let seeds = files_in("tests/data/fio", "json");
        let text = mutate(&seeds[which % seeds.len()], &e);
        within_budget(|| FioLatency::from_json(&text, None, FioOp::Read));
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn sweep_and_require_specs_parse_or_fail_clearly(which in 0usize..6, e in edits()) {
        let seeds = files_in("models/sweeps", "yaml");
        let text = mutate(&seeds[which % seeds.len()], &e);
        within_budget(|| {
            let spec: tiersim::sweep::spec::SweepSpec = load::parse(&text, "s.yaml")?;
            spec.axis_values("s.yaml").map_err(tiersim::config::error::ConfigError::from)
        });
        within_budget(|| tiersim::sweep::require::Prepared::load(&text, "r.yaml").map(|_| ()));
    }

    #[test]
    fn serve_specs_and_traces_load_or_fail_clearly(
        lengths in prop::sample::select(vec![
            "64", "{fixed: 64}", "hello", "-1", "{uniform: 3}", "{uniform: {min: 9, max: 3}}",
            "{lognormal: {median: .nan, p99: 1}}", "[1]", "{fixed: 1, uniform: {min: 1, max: 2}}",
            "99999999999999999999999999999999999999999", "{bogus: 1}",
        ]),
        e in edits(),
    ) {
        let dir = scratch("fuzz-serve");
        let spec = dir.join("serve.yaml");
        std::fs::write(&spec, format!("requests: 4\nprompt_tokens: {lengths}\n")).unwrap();
        within_budget(|| tiersim::serving::spec::ServeSpec::load(Some(&spec), &[]));
        let trace = dir.join("trace.csv");
        std::fs::write(
            &trace,
            mutate("prompt_tokens,output_tokens,arrival_s\n128,32,0\n256,64,0.5\n", &e),
        )
        .unwrap();
        within_budget(|| tiersim::serving::trace::read(&trace, 8192));
    }

    #[test]
    fn gguf_headers_read_or_fail_clearly(
        which in 0usize..2,
        flips in prop::collection::vec((0.0f64..1.0, any::<u8>()), 0..8),
        wide in prop::option::of((0.0f64..1.0, any::<u64>())),
        cut in prop::option::of(0.0f64..1.0),
    ) {
        let name = ["smollm2-135m-instruct-q4_1", "gemma-3-270m-q4_k_m"][which];
        let mut bytes = std::fs::read(root(&format!("tests/data/gguf/{name}.header.gguf"))).unwrap();
        for (at, b) in flips {
            let i = ((bytes.len() as f64) * at) as usize % bytes.len();
            bytes[i] = b;
        }
        // A count or length overwritten with an arbitrary 64-bit value.
        if let Some((at, v)) = wide {
            let i = ((bytes.len() as f64) * at) as usize % (bytes.len() - 8);
            bytes[i..i + 8].copy_from_slice(&v.to_le_bytes());
        }
        if let Some(c) = cut {
            bytes.truncate(((bytes.len() as f64) * c) as usize);
        }
        within_budget(|| {
            let h = gguf::read_header(bytes.as_slice(), &gguf::Limits::default())?;
            gguf::to_model_spec(&h, name)
        });
    }
}

/// Arguments a user might get wrong, for the CLI layer.
const ARGS: [&str; 24] = [
    "-p",
    "-n",
    "-d",
    "-r",
    "--ngl",
    "-t",
    "--set",
    "-o",
    "-1",
    "0",
    "abc",
    "=",
    "4294967295",
    "1-1000000000+1",
    "0-4294967295",
    "1e308",
    "",
    "json",
    "tiers.hbm.read_bw=.nan",
    "model.n_layers=4294967295",
    "--model",
    "--system",
    "nosuch",
    "h100",
];

proptest! {
    #![proptest_config(config(32))]

    /// The binary as a user runs it: exit 0, or exit 2 with one sentence (clap's own usage
    /// errors, which span lines by design, exit 2 too).
    #[test]
    fn the_command_line_exits_0_or_2(
        cmd in prop::sample::select(vec!["simulate", "serve", "stage", "ceiling", "model"]),
        args in prop::collection::vec(prop::sample::select(ARGS.to_vec()), 1..5),
    ) {
        let mut all = vec![cmd];
        if cmd == "model" {
            all.push("inspect");
        }
        all.extend(&args);
        // Keep generated runs short: the layer under test is the parsing, not the simulation.
        all.extend(["-m", "smollm2-135m-instruct-q4_1", "--system", "h100"]);
        if cmd == "simulate" {
            all.extend(["-r", "1"]);
        }
        let t = Instant::now();
        let out = tiersim(&all);
        prop_assert!(t.elapsed() < Duration::from_secs(20), "{all:?} took {:?}", t.elapsed());
        let code = out.status.code();
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert!(matches!(code, Some(0) | Some(2)), "{all:?}: {code:?} {stderr}");
        if code == Some(2) && !stderr.starts_with("error:") {
            let line = stderr.trim_end();
            prop_assert!(line.starts_with("tiersim: "), "{all:?}: {stderr}");
            assert_clear(line);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: each case of issue 14 this suite was written for.

#[test]
fn a_hundred_thousand_nested_brackets_are_refused_at_once() {
    let deep = "[".repeat(100_000);
    let t = Instant::now();
    let e = load::parse::<ModelSpec>(&deep, "deep.yaml")
        .unwrap_err()
        .to_string();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(
        e.contains("100,000 levels of nesting") && e.contains("64"),
        "{e}"
    );
    let json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let e = readers::read_str(&json, "deep.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("levels of nesting"), "{e}");
    let e = FioLatency::from_json(&format!("{{\"jobs\": {json}}}"), None, FioOp::Read)
        .unwrap_err()
        .to_string();
    assert!(e.contains("levels of nesting"), "{e}");
    let e = load::Override::parse(&format!("tiers.hbm.read_bw={deep}"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("levels of nesting"), "{e}");
}

#[test]
fn a_device_is_not_read_until_memory_runs_out() {
    let e = load::model(Some("/dev/zero"), &[]).unwrap_err().to_string();
    assert!(e.contains("/dev/zero") && e.contains("limit"), "{e}");
    let e = gguf::read_file(Path::new("/dev/zero"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
    // A header past its byte bound: an array of strings the limits allow, longer than the
    // bound the caller set.
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    b.extend(1u64.to_le_bytes());
    b.extend(1u64.to_le_bytes());
    b.push(b'k');
    b.extend(9u32.to_le_bytes()); // array
    b.extend(0u32.to_le_bytes()); // of u8
    b.extend(4096u64.to_le_bytes());
    b.extend([0u8; 4096]);
    let limits = gguf::Limits {
        max_header_bytes: 1024,
        ..gguf::Limits::default()
    };
    let e = gguf::read_header(b.as_slice(), &limits)
        .unwrap_err()
        .to_string();
    assert!(e.contains("header size") && e.contains("1024"), "{e}");
    assert!(gguf::read_header(b.as_slice(), &gguf::Limits::default()).is_ok());
}

#[test]
fn a_byte_order_mark_is_read_past() {
    let model = format!("\u{feff}{}", read("models/smollm2-135m-instruct-q4_1.yaml"));
    load::parse::<ModelSpec>(&model, "bom.yaml").unwrap();
    let bench = format!(
        "\u{feff}{}",
        read("tests/data/llama-bench/smollm2_small.json")
    );
    assert!(!readers::read_str(&bench, "bom.json").unwrap().is_empty());
    let fio = format!("\u{feff}{}", read("tests/data/fio/randread-psync-qd1.json"));
    FioLatency::from_json(&fio, None, FioOp::Read).unwrap();
    let dir = scratch("fuzz-bom");
    let trace = dir.join("t.csv");
    std::fs::write(&trace, "\u{feff}prompt_tokens,output_tokens\n16,4\n").unwrap();
    assert_eq!(
        tiersim::serving::trace::read(&trace, 8192).unwrap().len(),
        1
    );
}

#[test]
fn serve_lengths_take_a_bare_count_and_name_their_forms() {
    let dir = scratch("fuzz-lengths");
    let spec = dir.join("s.yaml");
    std::fs::write(&spec, "requests: 4\noutput_tokens: 64\n").unwrap();
    let s = tiersim::serving::spec::ServeSpec::load(Some(&spec), &[]).unwrap();
    assert_eq!(s.output_tokens, tiersim::serving::spec::Lengths::Fixed(64));
    std::fs::write(&spec, "requests: 4\noutput_tokens: hello\n").unwrap();
    let e = tiersim::serving::spec::ServeSpec::load(Some(&spec), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("output_tokens")
            && e.contains("expected a token count or one of {fixed: N}, {uniform: "),
        "{e}"
    );
    assert_clear(&e);
}

#[test]
fn wrong_types_are_named_in_the_schemas_words() {
    for (set, needle) in [
        (
            "tiers.hbm.read_latency={empirical: 3}",
            "expected a map of fields",
        ),
        (
            "model.n_layers=-1",
            "expected a whole number from 0 to 4,294,967,295",
        ),
        ("tiers=3", "expected a list"),
        ("compute=3", "expected a map of fields"),
    ] {
        let o = [load::Override::parse(set).unwrap()];
        let e = load::model(Some("smollm2-135m-instruct-q4_1"), &o)
            .err()
            .or_else(|| load::system(Some("h100"), &o).err())
            .unwrap()
            .to_string();
        assert!(e.contains(needle), "{set}: {e}");
        assert_clear(&e);
    }
}

#[test]
fn quantities_are_finite_and_quoted_as_typed() {
    let e = tiersim::units::BytesPerSec::parse("1e308TB/s")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`1e308TB/s`") && e.contains("too large"), "{e}");
    let long = format!("{}GB/s", huge_number());
    let e = tiersim::units::BytesPerSec::parse(&long)
        .unwrap_err()
        .to_string();
    assert!(e.len() < 200 && e.contains('…'), "{e}");
    let sweep = "name: t\nmodel: smollm2-135m-instruct-q4_1\nsystem: h100\nvary:\n- {param: \
                 tiers.hbm.read_bw, range: {from: .nan, to: 1TB/s, steps: 3}}\n";
    let spec: tiersim::sweep::spec::SweepSpec = load::parse(sweep, "s.yaml").unwrap();
    let e = spec.axis_values("s.yaml").unwrap_err().to_string();
    assert!(
        e.contains(".nan") && e.contains("finite") && !e.contains("different units"),
        "{e}"
    );
    let o = [load::Override::parse(&format!("model.n_layers={}", huge_number())).unwrap()];
    let e = load::model(Some("smollm2-135m-instruct-q4_1"), &o)
        .unwrap_err()
        .to_string();
    assert!(!e.contains(&"9".repeat(41)) && e.contains('…'), "{e}");
}

#[test]
fn a_findings_table_with_one_bad_field_names_its_line_and_column() {
    let text = read("calibration/findings_v1_cold.csv");
    let bad = text.replacen(",18.26,", ",oops,", 1);
    let line = 1 + bad[..bad.find("oops").unwrap()].matches('\n').count();
    let e = readers::read_str(&bad, "cold.csv").unwrap_err().to_string();
    assert!(
        e.contains(&format!("line {line}"))
            && e.contains("pp_median_tps")
            && !e.contains("unrecognised"),
        "{e}"
    );
    let dir = scratch("fuzz-findings");
    let staging = read("calibration/findings_v2_weight_tier_staging.csv");
    let first_row = staging
        .lines()
        .position(|l| l.starts_with(|c: char| c.is_ascii_digit()));
    let lines: Vec<&str> = staging.lines().collect();
    let row = first_row.unwrap();
    let mut fields: Vec<&str> = lines[row].split(',').collect();
    fields[3] = "x";
    let broken = fields.join(",");
    let text = lines
        .iter()
        .enumerate()
        .map(|(i, l)| if i == row { broken.as_str() } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let p = dir.join("staging.csv");
    std::fs::write(&p, text).unwrap();
    let out = tiersim(&["stage", "--compare", p.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("line {}", row + 1)) && stderr.contains("stage_median_seconds"),
        "{stderr}"
    );
}

#[test]
fn fio_min_above_max_and_all_zero_tables_are_refused() {
    let text = read("tests/data/fio/randread-psync-qd1.json");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let clat = &mut v["jobs"][0]["read"]["clat_ns"];
    let (min, max) = (clat["min"].clone(), clat["max"].clone());
    clat["min"] = max;
    clat["max"] = min;
    let e = FioLatency::from_json(&v.to_string(), None, FioOp::Read)
        .unwrap_err()
        .to_string();
    assert!(e.contains("clat_ns.min") && e.contains("above"), "{e}");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (_, p) in v["jobs"][0]["read"]["clat_ns"]["percentile"]
        .as_object_mut()
        .unwrap()
    {
        *p = 0.into();
    }
    let e = FioLatency::from_json(&v.to_string(), None, FioOp::Read)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("percentile") && e.contains("every latency is 0"),
        "{e}"
    );
}
