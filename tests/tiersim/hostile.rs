//! Hostile input, as issue 14 tried it: every case exits 2 with one sentence naming the flag,
//! field or file, the value and the limit, or gives a correct result; none aborts, hangs or
//! writes outside `--out`, and a failed command leaves nothing behind.

use std::path::{Path, PathBuf};

use crate::helpers::{fails_with, scratch, stdout, tiersim};

fn demo_spec() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sweeps/shard-demo.yaml")
}

/// Writes `text` as `name` in `dir` and returns its path as a string.
fn file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn counts_past_their_limits_are_refused_before_anything_is_allocated() {
    for (args, needles) in [
        (
            vec!["simulate", "-r", "4294967295"],
            vec!["-r", "4,294,967,295 repetitions", "limit of 10,000"],
        ),
        (
            vec!["simulate", "-ngl", "0-4294967295"],
            vec!["-ngl", "`0-4294967295`", "limit of 10,000"],
        ),
        (
            vec!["simulate", "-p", "1-1000000000+1"],
            vec!["-p", "values in one list"],
        ),
        (
            vec!["simulate", "-d", "0-4000000000+1"],
            vec!["-d", "values in one list"],
        ),
        (
            vec!["simulate", "--set", "model.n_layers=4294967295"],
            vec!["n_layers", "4,294,967,295 layers", "limit of 4,096"],
        ),
        (
            vec!["simulate", "-n", "17000000"],
            vec!["-n", "17,000,000 tokens", "limit of 16,777,216"],
        ),
        (
            vec!["simulate", "-n", "16000000", "-r", "5"],
            vec!["layer-steps", "limit of 2,000,000,000"],
        ),
        (
            vec!["simulate", "-p", "1-5000", "-n", "1-5000", "-d", "1-100"],
            vec!["1,000,000 test cases", "limit of 100,000"],
        ),
        (
            vec!["serve", "--set", "serve.requests=4294967295"],
            vec!["requests", "limit of 1,000,000"],
        ),
        (
            vec!["stage", "--chunk", "1B"],
            vec!["--chunk", "`1B`", "transfers", "limit of 10,000,000"],
        ),
        (
            vec![
                "ceiling",
                "--tier-mbps",
                "1000",
                "--model",
                "qwen2.5-3b-instruct-q4_k_m",
                "--io-size",
                "1B",
                "--fine",
            ],
            vec!["--io-size", "transfers", "per token"],
        ),
        (
            vec!["sweep", "--threads", "100000", "--no-progress"],
            vec!["--threads", "100,000 threads", "limit of 1,024"],
        ),
        (
            vec!["simulate", "-p=-1"],
            vec!["-p", "`-1`", "non-negative integer"],
        ),
    ] {
        fails_with(&args, &needles);
    }
}

#[test]
fn non_finite_and_zero_figures_are_refused_and_the_clock_never_saturates_silently() {
    for (args, needles) in [
        (
            vec!["ceiling", "--tier-mbps", "-5"],
            vec!["--tier-mbps", "`-5`"],
        ),
        (
            vec!["ceiling", "--tier-mbps", "nan"],
            vec!["--tier-mbps", "`nan`"],
        ),
        (
            vec!["ceiling", "--tier-mbps", "inf"],
            vec!["--tier-mbps", "`inf`"],
        ),
        (
            vec!["ceiling", "--tier-mbps", "1000", "--op-lat-ms", "-1"],
            vec!["--op-lat-ms", "`-1`"],
        ),
        (
            vec!["ceiling", "--tier-mbps", "1000", "--queue-depth", "0"],
            vec!["--queue-depth", "is 0"],
        ),
        (
            vec!["ceiling", "--tier-mbps", "1000", "--parallel-units", "0"],
            vec!["--parallel-units", "is 0"],
        ),
        (
            vec![
                "ceiling",
                "--tier-mbps",
                "1000",
                "--model",
                "qwen2.5-3b-instruct-q4_k_m",
                "--context",
                "0",
            ],
            vec!["--context", "is 0"],
        ),
        (
            vec!["ceiling", "--tier-mbps", "1000", "--read-latency", "1e20s"],
            vec!["clock's range", "213.5 days"],
        ),
        (
            vec!["stage", "--source-mbps", "0"],
            vec!["--source-mbps", "`0`"],
        ),
    ] {
        fails_with(&args, &needles);
    }
    // simulate streams its records as llama-bench does: the header may precede the error, but
    // no record carries a saturated time.
    let out = tiersim(&[
        "simulate",
        "-p",
        "0",
        "-n",
        "4",
        "-r",
        "1",
        "-o",
        "csv",
        "--set",
        "placement.weights.default=hbf",
        "--set",
        "tiers.hbf.read_latency=1e20s",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("clock's range"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).lines().count() <= 1);
}

#[test]
fn hostile_sweep_and_requirement_specs_fail_fast_and_leave_nothing_behind() {
    let dir = scratch("hostile-specs");
    let head = "model: smollm2-135m-instruct-q4_1\nsystem: h100-hbf\n";
    let cases = [
        (
            "steps.yaml",
            format!(
                "name: s\n{head}vary:\n- {{param: tiers.hbf.read_bw, range: {{from: 1GB/s, to: 2GB/s, steps: 4294967295}}}}\n"
            ),
            vec!["4,294,967,295 values on one sweep axis", "limit of 100,000"],
        ),
        (
            "axes.yaml",
            format!(
                "name: s\n{head}grid: true\nvary:\n{}",
                (0..8)
                    .map(|i| format!(
                        "- {{param: tiers.hbf.parallel_units, range: {{from: {}, to: {}, steps: 256}}}}\n",
                        i + 1,
                        i + 300
                    ))
                    .collect::<String>()
            ),
            vec!["sweep points", "more than"],
        ),
        (
            "repeats.yaml",
            format!(
                "name: s\n{head}repeats: 4294967295\nvary:\n- {{param: tiers.hbf.read_bw, values: [1GB/s]}}\n"
            ),
            vec!["`repeats`", "4,294,967,295 repetitions"],
        ),
        (
            "batch.yaml",
            format!(
                "name: s\n{head}tests: {{n_batch: [0]}}\nvary:\n- {{param: tiers.hbf.read_bw, values: [1GB/s]}}\n"
            ),
            vec!["tests.n_batch", "contains 0"],
        ),
        (
            "escape.yaml",
            format!(
                "name: ../../escaped\n{head}vary:\n- {{param: tiers.hbf.read_bw, values: [1GB/s]}}\n"
            ),
            vec!["`name`", "path separator"],
        ),
        (
            "absolute.yaml",
            format!(
                "name: /tmp/tiersim-escaped\n{head}vary:\n- {{param: tiers.hbf.read_bw, values: [1GB/s]}}\n"
            ),
            vec!["`name`", "path separator"],
        ),
    ];
    for (name, text, needles) in cases {
        let spec = file(&dir, name, &text);
        let out = dir.join(format!("out-{name}"));
        fails_with(
            &[
                "sweep",
                &spec,
                "--out",
                out.to_str().unwrap(),
                "--no-progress",
            ],
            &needles,
        );
        assert!(
            files_under(&out).is_empty(),
            "{name}: {:?}",
            files_under(&out)
        );
    }
    assert!(!dir.join("escaped").exists() && !Path::new("/tmp/tiersim-escaped.csv").exists());

    let require = |extra: &str| {
        format!(
            "name: r\n{head}tests: {{n_prompt: [0], n_gen: [4]}}\nsolve: {{param: tiers.hbf.read_bw, bounds: [1GB/s, 2TB/s]{extra}}}\n"
        )
    };
    for (name, text, needles) in [
        (
            "tol.yaml",
            require(", tolerance: 1e-14%") + "targets: [\"tg >= 0.9*baseline\"]\n",
            vec!["solve.tolerance", "`1e-14%`", "0.0001%"],
        ),
        (
            "nan.yaml",
            require("") + "targets: [\"tg >= nan*baseline\"]\n",
            vec!["targets", "`nan`", "positive, finite factor"],
        ),
        (
            "axis.yaml",
            require("")
                + "targets: [\"tg >= 0.9*baseline\"]\nover:\n- {param: tiers.hbf.parallel_units, range: {from: 1, to: 9, steps: 4294967295}}\n",
            vec!["values on one sweep axis"],
        ),
    ] {
        let spec = file(&dir, name, &text);
        let out = dir.join(format!("out-{name}"));
        fails_with(
            &["require", &spec, "--out", out.to_str().unwrap()],
            &needles,
        );
        assert!(files_under(&out).is_empty());
    }
}

#[test]
fn a_trace_past_the_models_context_is_refused_by_line() {
    let dir = scratch("hostile-trace");
    file(
        &dir,
        "long.csv",
        "arrival_s,prompt_tokens,output_tokens\n0,64,8\n0.5,1,1000000\n",
    );
    let spec = file(&dir, "long.yaml", "trace: long.csv\n");
    fails_with(
        &["serve", &spec],
        &[
            "long.csv line 3",
            "1000000 output",
            "context of 32768 tokens",
        ],
    );
}

#[test]
fn merge_verifies_what_it_joins_and_never_overwrites_an_input() {
    let dir = scratch("hostile-merge");
    let shards = dir.join("shards");
    for i in 0..2 {
        stdout(&[
            "sweep",
            demo_spec().to_str().unwrap(),
            "--out",
            shards.to_str().unwrap(),
            "--shard",
            &format!("{i}/2"),
            "--threads",
            "1",
            "--no-progress",
        ]);
    }
    let shard = |i: usize| shards.join(format!("shard-demo.shard-{i}-of-2.csv"));
    let (s0, s1) = (shard(0), shard(1));
    let (a, b) = (s0.to_str().unwrap(), s1.to_str().unwrap());
    let merged = dir.join("merged.csv");
    let m = merged.to_str().unwrap();

    fails_with(
        &["sweep", "merge", a, a, "--out", m],
        &["repeats shard 0/2"],
    );
    fails_with(
        &["sweep", "merge", a, b, "--out", a],
        &["--out", "is also an input"],
    );
    assert!(!merged.exists());

    let original = std::fs::read_to_string(&s1).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    // A shard cut in the middle of its rows, and one cut in the middle of a record.
    let cut_rows = lines[..lines.len() / 2].join("\n") + "\n";
    std::fs::write(&s1, &cut_rows).unwrap();
    fails_with(&["sweep", "merge", a, b, "--out", m], &["truncated"]);
    std::fs::write(&s1, &original[..original.len() - 7]).unwrap();
    fails_with(&["sweep", "merge", a, b, "--out", m], &["cut record"]);
    // Point ids that the shard does not own, or that are not ids.
    for bad in ["999999999999", "-1"] {
        let edited = original.replacen(
            &format!("\n{}", lines[1].split(',').next().unwrap()),
            &format!("\n{bad}"),
            1,
        );
        std::fs::write(&s1, edited).unwrap();
        fails_with(
            &["sweep", "merge", a, b, "--out", m],
            &[&format!("`{bad}`")],
        );
    }
    assert!(!merged.exists(), "a failed merge leaves nothing");
    std::fs::write(&s1, &original).unwrap();
    let out = stdout(&["sweep", "merge", a, b, "--out", m]);
    assert!(out.contains("merged 2 shards"), "{out}");
}

#[test]
fn write_failures_name_the_path_and_come_before_the_work() {
    let dir = scratch("hostile-writes");
    let a_file = file(&dir, "a-file", "x");
    let missing = dir.join("missing").join("x.csv");
    let missing = missing.to_str().unwrap();
    fails_with(
        &["sweep", "--out", &a_file, "--no-progress"],
        &[&a_file, "is a file; expected a directory"],
    );
    fails_with(
        &["ceiling", "--tier-mbps", "1000", "--csv", missing],
        &[missing, "does not exist"],
    );
    fails_with(&["plot", missing], &[missing, "has no readable sidecar"]);
    assert!(!dir.join("missing").exists(), "no empty folder");
    let calibrate = tiersim(&[
        "calibrate",
        "--model",
        "smollm2-135m-instruct-q4_1",
        "--system",
        "calibration/xeon-2core-base.yaml",
        "--out",
        missing,
        "tests/data/llama-bench/smollm2_small.json",
    ]);
    let err = String::from_utf8_lossy(&calibrate.stderr);
    assert_eq!(calibrate.status.code(), Some(2), "{err}");
    assert!(
        err.contains(missing) && err.contains("does not exist"),
        "{err}"
    );
}
