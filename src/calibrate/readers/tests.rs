//! The readers on real llama-bench output, on tiersim's own exports, and on broken input.

use std::path::{Path, PathBuf};

use super::*;
use crate::report::testutil::sample_records;
use crate::report::{MdColumns, OutputFormat, RunInfo, export};

const MD: &str = include_str!("../../../tests/data/llama-bench/smollm2_small.md");
const CSV: &str = include_str!("../../../tests/data/llama-bench/smollm2_small.csv");
const JSON: &str = include_str!("../../../tests/data/llama-bench/smollm2_small.json");
const JSONL: &str = include_str!("../../../tests/data/llama-bench/smollm2_small.jsonl");
const SQL: &str = include_str!("../../../tests/data/llama-bench/smollm2_small.sql");
const OE_MD: &str = include_str!("../../../tests/data/llama-bench/smollm2_small_oe-json_stdout.md");
const OE_JSON: &str =
    include_str!("../../../tests/data/llama-bench/smollm2_small_oe-json_stderr.json");
const HARNESS: &str = include_str!("../../../tests/data/llama-bench/harness_bench_p256_n256.json");

/// The small real run in each format, with its format.
const SMALL: [(&str, &str, Format); 5] = [
    ("smollm2_small.md", MD, Format::Md),
    ("smollm2_small.csv", CSV, Format::Csv),
    ("smollm2_small.json", JSON, Format::Json),
    ("smollm2_small.jsonl", JSONL, Format::Jsonl),
    ("smollm2_small.sql", SQL, Format::Sql),
];

/// The 14 real `-o json -r 5` runs and how many results each holds (one per parameter
/// combination of its command line, see the fixtures' README).
const RUNS: [(&str, usize); 14] = [
    ("smollm2-135m-q4_1__fa_tg32_d0-2048__t2.json", 4),
    ("smollm2-135m-q4_1__kvtype_pp512__t2.json", 4),
    ("smollm2-135m-q4_1__kvtype_tg32_d0-2048__t2.json", 8),
    ("smollm2-135m-q4_1__loadmode_pp512_tg128__t2.json", 4),
    ("smollm2-135m-q4_1__pg128-64__t2.json", 1),
    ("smollm2-135m-q4_1__pp128_depth__t2.json", 3),
    ("smollm2-135m-q4_1__pp512_ubatch__t2.json", 5),
    ("smollm2-135m-q4_1__pp_sweep__t1.json", 6),
    ("smollm2-135m-q4_1__pp_sweep__t2.json", 6),
    ("smollm2-135m-q4_1__repack_pp512_tg128__t2.json", 4),
    ("smollm2-135m-q4_1__tg32_depth__t1.json", 5),
    ("smollm2-135m-q4_1__tg32_depth__t2.json", 5),
    ("smollm2-135m-q4_1__tg_sweep__t1.json", 5),
    ("smollm2-135m-q4_1__tg_sweep__t2.json", 5),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/llama-bench")
        .join(name)
}

fn calibration(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("calibration")
        .join(name)
}

fn tests_of(rows: &[BenchRow]) -> Vec<(u32, u32, u32)> {
    rows.iter()
        .map(|r| (r.n_prompt, r.n_gen, r.n_depth))
        .collect()
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

fn message(e: &ReadError) -> String {
    e.to_string()
}

#[test]
fn detects_every_real_file_from_its_content() {
    for (name, text, format) in SMALL {
        assert_eq!(detect(text), Some(format), "{name}");
    }
    assert_eq!(detect(OE_MD), Some(Format::Md));
    assert_eq!(detect(OE_JSON), Some(Format::Json));
    assert_eq!(detect(HARNESS), Some(Format::HarnessJson));
    for (name, _) in RUNS {
        let text = std::fs::read_to_string(fixture(&format!("runs/{name}"))).unwrap();
        assert_eq!(detect(&text), Some(Format::Json), "{name}");
    }
    // Log lines before a table, as a captured terminal gives, still make it md.
    assert_eq!(detect(&format!("main: loading\n{MD}")), Some(Format::Md));
    assert_eq!(detect("hello\nworld\n"), None);
    assert_eq!(detect(""), None);
}

#[test]
fn every_format_of_the_small_run_gives_the_same_tests_and_parameters() {
    let want = vec![(32, 0, 0), (0, 8, 0), (32, 0, 64), (0, 8, 64)];
    for (name, text, _) in SMALL {
        let rows = read_str(text, name).unwrap();
        assert_eq!(tests_of(&rows), want, "{name}");
        for r in &rows {
            assert_eq!(r.model_type, "llama 256M Q4_1", "{name}");
            assert_eq!(r.backend.as_deref(), Some("CPU"), "{name}");
            assert_eq!(r.n_threads, Some(2), "{name}");
            let size = r.model_size.unwrap() as f64;
            let params = r.model_n_params.unwrap() as f64;
            // md prints them rounded to 0.01 MiB and 0.01 M.
            assert!(
                (size - 96_576_768.0).abs() <= 0.005 * 1024.0 * 1024.0,
                "{name}"
            );
            assert!((params - 134_515_008.0).abs() <= 0.005e6, "{name}");
            if name.ends_with(".md") {
                assert_eq!(r.model_filename, None);
            } else {
                assert_eq!(r.model_size, Some(96_576_768), "{name}");
                assert_eq!(r.n_ubatch, Some(512), "{name}");
                assert_eq!(r.type_k.as_deref(), Some("f16"), "{name}");
                assert_eq!(r.flash_attn, Some(-1), "{name}");
                assert_eq!(
                    r.model_filename.as_deref(),
                    Some("models/SmolLM2-135M-Instruct.Q4_1.gguf")
                );
                assert_eq!(r.extra["build_commit"], "0c1e570", "{name}");
                assert!(!r.extra.contains_key("avg_ts"), "{name}");
            }
        }
        assert_eq!(rows[2].test_name(), "pp32 @ d64");
        assert_eq!(rows[1].source.to_string(), {
            let at = match name.rsplit('.').next().unwrap() {
                "json" => "record 2",
                "md" => "line 4",
                "csv" => "line 3",
                "jsonl" => "line 2",
                _ => "line 47",
            };
            format!("{name} {at}")
        });
    }
}

#[test]
fn rates_read_to_the_printed_precision() {
    // Each format file is its own run, so each is checked against its own first line's rate.
    let first = [
        ("smollm2_small.md", MD, 271.22, 9.65),
        ("smollm2_small.csv", CSV, 307.426987, 32.350357),
        ("smollm2_small.json", JSON, 341.093504, 0.466409),
        ("smollm2_small.jsonl", JSONL, 331.367001, 3.512542),
        ("smollm2_small.sql", SQL, 317.575170, 17.097337),
    ];
    for (name, text, avg, sd) in first {
        let rows = read_str(text, name).unwrap();
        assert_eq!((rows[0].avg_ts, rows[0].stddev_ts), (avg, sd), "{name}");
    }
    let json = read_str(JSON, "j").unwrap();
    assert_eq!(json[3].samples_ts, vec![113.51, 124.062]);
    assert!(read_str(CSV, "c").unwrap()[0].samples_ts.is_empty());
}

#[test]
fn one_run_printed_as_md_and_json_reads_the_same() {
    let md = read_str(OE_MD, "stdout.md").unwrap();
    let json = read_str(OE_JSON, "stderr.json").unwrap();
    assert_eq!(tests_of(&md), tests_of(&json));
    assert_eq!(md.len(), 2);
    for (m, j) in md.iter().zip(&json) {
        assert_eq!(m.avg_ts, round_to(j.avg_ts, 2));
        assert_eq!(m.stddev_ts, round_to(j.stddev_ts, 2));
        assert_eq!(m.model_type, j.model_type);
        assert_eq!(m.backend, j.backend);
        assert_eq!(m.n_threads, j.n_threads);
    }
}

#[test]
fn all_real_json_runs_parse_with_their_row_counts() {
    let mut total = 0;
    for (name, count) in RUNS {
        let rows = read_file(&fixture(&format!("runs/{name}"))).unwrap();
        assert_eq!(rows.len(), count, "{name}");
        for r in &rows {
            assert_eq!(r.samples_ts.len(), 5, "{name}: -r 5");
            // avg_ts is the mean of the per-repetition rates, which are printed to 6 digits.
            let mean = r.samples_ts.iter().sum::<f64>() / 5.0;
            assert!((mean / r.avg_ts - 1.0).abs() < 1e-5, "{name}");
            assert!(r.avg_ts > 0.0 && r.stddev_ts >= 0.0);
        }
        total += rows.len();
    }
    assert_eq!(total, 65);

    let fa = read_file(&fixture(&format!("runs/{}", RUNS[0].0))).unwrap();
    let mut fa_values: Vec<_> = fa.iter().map(|r| r.flash_attn.unwrap()).collect();
    fa_values.sort();
    assert_eq!(fa_values, [0, 0, 1, 1]);
    let kv = read_file(&fixture(&format!("runs/{}", RUNS[2].0))).unwrap();
    assert!(kv.iter().any(|r| r.type_k.as_deref() == Some("q8_0")));
    assert_eq!(tests_of(&kv).iter().filter(|t| t.2 == 2048).count(), 4);
    let pg = read_file(&fixture(&format!("runs/{}", RUNS[4].0))).unwrap();
    assert_eq!(pg[0].test_name(), "pp128+tg64");
    let repack = read_file(&fixture(&format!("runs/{}", RUNS[9].0))).unwrap();
    let mut flags: Vec<&str> = repack.iter().map(|r| r.extra["repack"].as_str()).collect();
    flags.sort();
    assert_eq!(flags, ["false", "false", "true", "true"]);
    let ub = read_file(&fixture(&format!("runs/{}", RUNS[6].0))).unwrap();
    let ubatches: Vec<_> = ub.iter().map(|r| r.n_ubatch.unwrap()).collect();
    assert_eq!(ubatches, [32, 64, 128, 256, 512]);
}

fn render(format: OutputFormat, columns: MdColumns) -> String {
    let run = RunInfo {
        md_columns: columns,
    };
    let mut buf = Vec::new();
    export(format, run, &mut buf, &sample_records()).unwrap();
    String::from_utf8(buf).unwrap()
}

#[test]
fn tiersims_own_exports_read_back() {
    let records = sample_records();
    for format in OutputFormat::ALL {
        let text = render(format, MdColumns::default());
        let origin = format!("ours.{format}");
        assert_eq!(detect(&text).map(|f| f.name()), Some(format.name()));
        let rows = read_str(&text, &origin).unwrap();
        assert_eq!(rows.len(), records.len(), "{format}");
        for (row, rec) in rows.iter().zip(&records) {
            assert_eq!(
                (row.n_prompt, row.n_gen, row.n_depth),
                (rec.n_prompt, rec.n_gen, rec.n_depth)
            );
            assert_eq!(row.model_type, rec.model_type);
            assert_eq!(row.backend.as_deref(), Some(rec.backends.as_str()));
            assert_eq!(row.n_threads, Some(rec.n_threads));
            let decimals = if format == OutputFormat::Md { 2 } else { 6 };
            assert_eq!(row.avg_ts, round_to(rec.avg_ts, decimals), "{format}");
            assert_eq!(row.stddev_ts, round_to(rec.stddev_ts, decimals), "{format}");
            if format != OutputFormat::Md {
                assert_eq!(row.model_size, Some(rec.model_size));
                assert_eq!(row.model_filename.as_deref(), Some(&*rec.model_filename));
                assert_eq!(row.extra["cpu_info"], rec.cpu_info, "quotes survive");
                assert_eq!(row.extra["system"], "h100-hbf");
                assert_eq!(row.extra["seed"], "42");
                let ttft: f64 = row.extra["ttft_ms"].parse().unwrap();
                assert!((ttft - rec.ttft_ms).abs() < 1e-6);
                assert!(row.extra.contains_key("tpot_p99_ms"));
            }
            if matches!(format, OutputFormat::Json | OutputFormat::Jsonl) {
                assert_eq!(row.samples_ts.len(), rec.samples_ts.len());
                assert!(row.extra["tiers"].contains("\"hbf\""));
            }
            if matches!(format, OutputFormat::Csv | OutputFormat::Sql) {
                assert!(row.extra.contains_key("tier1_stall_ms"));
            }
        }
    }
    // A GPU table with llama-bench's optional columns.
    let columns = MdColumns {
        n_ubatch: true,
        type_k: true,
        flash_attn: true,
        ..MdColumns::for_backend("CUDA")
    };
    let rows = read_str(&render(OutputFormat::Md, columns), "gpu.md").unwrap();
    assert_eq!(rows[1].test_name(), "tg128 @ d4096");
    assert_eq!(rows[0].n_ubatch, Some(512));
    assert_eq!(rows[0].type_k.as_deref(), Some("f16"));
    assert_eq!(rows[0].flash_attn, Some(-1));
    assert_eq!(rows[0].n_threads, None);
    assert_eq!(rows[0].extra["n_gpu_layers"], "-1");
    // Printed as `4.58 GiB`: exact to 0.005 GiB.
    let printed = rows[0].model_size.unwrap() as f64;
    assert!((printed - records[0].model_size as f64).abs() <= 0.005 * (1u64 << 30) as f64);
}

#[test]
fn hand_written_md_with_every_test_kind() {
    let text = "\
| model | size | params | backend | ngl | n_batch | type_v | fa | test | t/s |
| --- | ---: | ---: | --- | --: | --: | --: | --: | ---: | ---: |
| llama 8B Q4_K - Medium | 4.58 GiB | 8.03 B | CUDA | 99 | 1024 | q8_0 | 1 | pp512+tg128 | 1234.50 ± 3.20 |
| llama 8B Q4_K - Medium | 4.58 GiB | 8.03 B | CUDA | 99 | 1024 | q8_0 | 1 | tg8 @ d2048 | 98.70 +/- 0.10 |
";
    let rows = read_str(text, "gpu.md").unwrap();
    assert_eq!(tests_of(&rows), [(512, 128, 0), (0, 8, 2048)]);
    assert_eq!(rows[0].n_batch, Some(1024));
    assert_eq!(rows[0].type_v.as_deref(), Some("q8_0"));
    assert_eq!(rows[1].avg_ts, 98.70);
    assert_eq!(rows[0].model_n_params, Some(8_030_000_000));
    assert_eq!(rows[0].source.to_string(), "gpu.md line 3");
}

#[test]
fn harness_json_maps_pp_tps_and_tg_tps_to_rows() {
    let rows = read_file(&fixture("harness_bench_p256_n256.json")).unwrap();
    assert_eq!(tests_of(&rows), [(256, 0, 0), (0, 256, 0)]);
    assert_eq!((rows[0].avg_ts, rows[0].stddev_ts), (28.59, 0.41));
    assert_eq!((rows[1].avg_ts, rows[1].stddev_ts), (7.47, 0.05));
    assert_eq!(rows[0].n_threads, Some(8));
    assert_eq!(rows[0].model_type, "qwen2.5-3b-instruct-q4_k_m");
    assert_eq!(rows[0].extra["mode"], "warm");
    assert!(!rows[0].extra.contains_key("pp_tps"));

    // Without `rows`, the lengths come from the parameters; a sweep writes one object a line.
    let sweep = "\
{\"model\": \"m.gguf\", \"t\": 8, \"p\": 64, \"n\": 128, \"pp_tps\": 20.5, \"tg_tps\": \"8.37\"}

{\"args\": {\"n_prompt\": 128, \"n_gen\": 64}, \"pp_tps\": 25.31, \"tg_tps\": null}
";
    assert_eq!(detect(sweep), Some(Format::HarnessJson));
    let rows = read_str(sweep, "sweep.jsonl").unwrap();
    assert_eq!(tests_of(&rows), [(64, 0, 0), (0, 128, 0), (128, 0, 0)]);
    assert_eq!(rows[1].avg_ts, 8.37);
    assert_eq!(rows[1].stddev_ts, 0.0);
    assert_eq!(rows[2].source.to_string(), "sweep.jsonl record 2");
    assert_eq!(rows[2].model_type, "");

    let array = "[{\"p\": 16, \"pp_tps\": 1.5}, {\"n\": 4, \"tg_tps\": 2.5}]";
    assert_eq!(read_str(array, "a").unwrap().len(), 2);

    let err = read_str("{\"n\": 4, \"pp_tps\": 20.5}", "h.json").unwrap_err();
    assert_eq!(
        message(&err),
        "h.json record 1: field `p` is missing; expected the prompt length of `pp_tps` \
         (as `p` or `n_prompt`, or a `pp<N>` entry in `rows`)"
    );
    let err = read_str(
        "{\"pp_tps\": 1, \"rows\": [{\"test\": \"warmup\", \"tps\": 1}]}",
        "h.json",
    )
    .unwrap_err();
    assert!(
        message(&err).contains("field `rows[0].test` is `warmup`"),
        "{err}"
    );
}

#[test]
fn findings_tables_read_as_pp_and_tg_rows() {
    let warm = read_findings_csv(&calibration("findings_v1_warm.csv")).unwrap();
    assert_eq!(warm.len(), 18);
    let pp64: Vec<f64> = warm
        .iter()
        .filter(|r| (r.n_prompt, r.n_gen) == (64, 0))
        .map(|r| r.avg_ts)
        .collect();
    assert_eq!(pp64, [20.21, 22.81, 27.35]);
    assert_eq!(warm[1].test_name(), "tg64");
    assert_eq!(warm[1].extra["n_prompt"], "64");
    assert_eq!(warm[0].model_type, "Qwen2.5-3B-Instruct Q4_K_M");
    assert_eq!(warm[0].n_threads, Some(8));
    // Three comment lines and the header precede the first row.
    assert_eq!(warm[0].source.position, Position::Line(5));

    let cold = read_findings_csv(&calibration("findings_v1_cold.csv")).unwrap();
    assert_eq!(cold.len(), 18);
    assert_eq!(cold.last().unwrap().avg_ts, 12.05);
    assert_eq!(cold.last().unwrap().extra["tg_max_tps"], "12.19");

    for plain in [
        "findings_v2_weight_tier_staging.csv",
        "findings_v1_warm_vs_cold.csv",
        "hyperbench_v0_baseline.csv",
    ] {
        let err = read_findings_csv(&calibration(plain)).unwrap_err();
        assert!(matches!(err, ReadError::Invalid { .. }), "{plain}: {err}");
    }
}

#[test]
fn findings_comparison_agrees_with_the_two_tables_it_compares() {
    // A transcription check: the seed printed the deltas from unrounded medians, so they match
    // the rounded tables to within rounding.
    let warm = read_findings_csv(&calibration("findings_v1_warm.csv")).unwrap();
    let cold = read_findings_csv(&calibration("findings_v1_cold.csv")).unwrap();
    let text = std::fs::read_to_string(calibration("findings_v1_warm_vs_cold.csv")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .collect();
    assert_eq!(lines.len(), 9);
    for (i, line) in lines.iter().enumerate() {
        let v: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
        let (pp_w, pp_c, pp_d, tg_w, tg_c, tg_d) = (v[2], v[3], v[4], v[5], v[6], v[7]);
        assert_eq!((warm[2 * i].avg_ts, cold[2 * i].avg_ts), (pp_w, pp_c));
        assert_eq!(
            (warm[2 * i + 1].avg_ts, cold[2 * i + 1].avg_ts),
            (tg_w, tg_c)
        );
        assert!(((pp_c / pp_w - 1.0) * 100.0 - pp_d).abs() < 0.1, "{line}");
        assert!(((tg_c / tg_w - 1.0) * 100.0 - tg_d).abs() < 0.2, "{line}");
    }
}

#[test]
fn bad_rate_names_file_line_and_expectation() {
    let text = MD.replace("271.22 ± 9.65", "abc");
    let err = read_str(&text, "runs.md").unwrap_err();
    assert_eq!(
        message(&err),
        "runs.md line 3: `t/s` cell `abc` is not `mean ± sd`"
    );
    let text = MD.replace("pp32 @ d64", "pp32 at 64");
    let err = read_str(&text, "runs.md").unwrap_err();
    assert!(message(&err).starts_with("runs.md line 5: `test` cell `pp32 at 64` is not"));
}

#[test]
fn truncated_files_say_so_with_their_line() {
    let cut = |text: &str, at: usize| text[..at].to_owned();
    let err = read_str(&cut(JSON, JSON.len() / 2), "runs.json").unwrap_err();
    assert!(matches!(err, ReadError::Truncated { .. }), "{err}");
    assert!(message(&err).starts_with("runs.json line "), "{err}");
    assert!(message(&err).ends_with("but the text ends there (is the file truncated?)"));

    let err = read_str(&cut(CSV, CSV.len() - 20), "runs.csv").unwrap_err();
    assert_eq!(
        message(&err),
        "runs.csv line 5: expected the closing `\"` of a quoted field, but the text ends there \
         (is the file truncated?)"
    );
    // Cut between two complete fields: the quotes balance but the row is short.
    let err = read_str(&cut(CSV, CSV.rfind(",\"").unwrap()), "runs.csv").unwrap_err();
    assert_eq!(
        message(&err),
        "runs.csv line 5: expected 42 fields as in the header, found 41, but the text ends \
         there (is the file truncated?)"
    );

    // Cut before `pp_tps` appears: still the harness's pretty object, not JSONL.
    let err = read_str(&cut(HARNESS, 40), "bench.json").unwrap_err();
    assert_eq!(
        message(&err),
        "bench.json line 2: expected the JSON value to be complete, but the text ends there \
         (is the file truncated?)"
    );

    let jsonl_cut = JSONL.trim_end().len() - 3;
    let err = read_str(&cut(JSONL, jsonl_cut), "runs.jsonl").unwrap_err();
    assert!(message(&err).starts_with("runs.jsonl line 4: expected the JSON object"));

    let md_cut = MD.find("tg8 @ d64").unwrap() + 5;
    let err = read_str(&cut(MD, md_cut), "runs.md").unwrap_err();
    assert_eq!(
        message(&err),
        "runs.md line 6: expected the table row to end with `|`, but the text ends there \
         (is the file truncated?)"
    );

    let sql_cut = SQL.rfind("'2026").unwrap() + 3;
    let err = read_str(&cut(SQL, sql_cut), "runs.sql").unwrap_err();
    assert_eq!(
        message(&err),
        "runs.sql line 49: expected the closing `'` of a quoted value, but the text ends there \
         (is the file truncated?)"
    );
    let err = read_str(&cut(SQL, SQL.trim_end().len() - 1), "runs.sql").unwrap_err();
    assert!(message(&err).starts_with("runs.sql line 49: expected the statement to end with `;`"));
}

#[test]
fn inputs_without_rows_say_so() {
    for (text, origin) in [
        ("", "empty.md"),
        ("  \n\n", "blank.json"),
        ("[]", "none.json"),
        ("[\n]\n", "none.json"),
        (&MD[..MD.find("| llama").unwrap()], "head.md"),
        (CSV.lines().next().unwrap(), "head.csv"),
        (&SQL[..SQL.find("INSERT").unwrap()], "schema.sql"),
        ("| a | b |\n| - | - |\n| 1 | 2 |\n", "other-table.md"),
    ] {
        let err = read_str(text, origin).unwrap_err();
        assert!(matches!(err, ReadError::NoRows { .. }), "{origin}: {err}");
        assert!(message(&err).starts_with(&format!("{origin}: no usable rows: ")));
    }
}

#[test]
fn unknown_and_garbled_inputs_are_refused_where_they_go_wrong() {
    let err = read_str("hello, world\nfoo\n", "notes.txt").unwrap_err();
    assert_eq!(
        message(&err),
        "notes.txt: unrecognised format (it starts with `hello, world`); expected llama-bench \
         output (md, csv, json, jsonl or sql) or the harness's JSON with `pp_tps`/`tg_tps`"
    );

    // A stray line inside a table, between rows.
    let lines: Vec<&str> = MD.lines().collect();
    let garbled = [&lines[..3], &["oops, not a row"], &lines[3..]]
        .concat()
        .join("\n");
    let err = read_str(&garbled, "runs.md").unwrap_err();
    assert_eq!(
        message(&err),
        "runs.md line 4: expected a table row `| … |` or a blank line ending the table, found \
         `oops, not a row`"
    );
    let short = MD.replacen("|       2 |            pp32 |", "|            pp32 |", 1);
    let err = read_str(&short, "runs.md").unwrap_err();
    assert!(
        message(&err).starts_with("runs.md line 3: row has 6 cells but the header at line 1 has 7")
    );

    let lines: Vec<&str> = JSONL.lines().collect();
    let garbled = [&lines[..2], &["{not json}"], &lines[2..]]
        .concat()
        .join("\n");
    let err = read_str(&garbled, "runs.jsonl").unwrap_err();
    assert!(
        message(&err).starts_with("runs.jsonl line 3: invalid JSON at column 2: "),
        "{err}"
    );

    let lines: Vec<&str> = CSV.lines().collect();
    let garbled = [&lines[..2], &["\"x\",\"y\""], &lines[2..]]
        .concat()
        .join("\n");
    let err = read_str(&garbled, "runs.csv").unwrap_err();
    assert_eq!(
        message(&err),
        "runs.csv line 3: expected 42 fields as in the header, found 2"
    );

    let garbled = SQL.replacen("INSERT INTO", "DELETE FROM", 1);
    let err = read_str(&garbled, "runs.sql").unwrap_err();
    assert_eq!(
        message(&err),
        "runs.sql line 46: expected a `CREATE TABLE` or `INSERT INTO` statement, found `DELETE`"
    );
    let garbled = SQL.replacen("'0c1e570', ", "", 1);
    let err = read_str(&garbled, "runs.sql").unwrap_err();
    assert!(
        message(&err).starts_with("runs.sql line 46: the INSERT names 42 columns but gives 41")
    );

    let garbled = JSON.replacen("\"n_prompt\": 32", "\"n_prompt\": \"many\"", 1);
    let err = read_str(&garbled, "runs.json").unwrap_err();
    assert_eq!(
        message(&err),
        "runs.json record 1: field `n_prompt` is `many`; expected an unsigned integer in range"
    );
    let garbled = JSON.replacen("\"avg_ts\"", "\"avg\"", 1);
    let err = read_str(&garbled, "runs.json").unwrap_err();
    assert_eq!(
        message(&err),
        "runs.json record 1: field `avg_ts` is missing; expected a number"
    );
    let err = read_str("[1, 2]", "nums.json").unwrap_err();
    assert!(message(&err).starts_with("nums.json record 1: expected a JSON object"));
    let err = read_str("n_prompt,n_gen\n1,2\n", "few.csv").unwrap_err();
    assert!(message(&err).contains("no `model_type` column"), "{err}");
}

#[test]
fn read_file_detects_by_content_and_names_the_path() {
    let dir = std::env::temp_dir().join(format!("tiersim-readers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let misnamed = dir.join("results.json");
    std::fs::write(&misnamed, MD).unwrap();
    let rows = read_file(&misnamed).unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[0].source.origin,
        misnamed.display().to_string(),
        "the row names its file"
    );

    let binary = dir.join("model.gguf");
    std::fs::write(&binary, b"GGUF\x03\x00\x00\x00\n\xff\xfe").unwrap();
    let err = read_file(&binary).unwrap_err();
    assert!(
        message(&err).ends_with("line 2: byte 9 is not UTF-8; expected a text file"),
        "{err}"
    );
    let err = read_file(&dir.join("missing.md")).unwrap_err();
    assert!(matches!(err, ReadError::Io { .. }));
    assert!(message(&err).contains("missing.md: cannot read the file: "));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every text the no-panic tests feed in, prefix by prefix and mutated.
fn corpus() -> Vec<(String, String)> {
    let mut texts: Vec<(String, String)> = SMALL
        .iter()
        .map(|(name, text, _)| (name.to_string(), text.to_string()))
        .collect();
    texts.push(("oe.md".into(), OE_MD.into()));
    texts.push(("harness.json".into(), HARNESS.into()));
    texts.push((
        "pg.json".into(),
        std::fs::read_to_string(fixture(&format!("runs/{}", RUNS[4].0))).unwrap(),
    ));
    for format in OutputFormat::ALL {
        texts.push((
            format!("ours.{format}"),
            render(format, MdColumns::for_backend("CUDA")),
        ));
    }
    texts
}

#[test]
fn no_prefix_of_a_real_file_panics_or_reads_wrong_values() {
    for (name, text) in corpus() {
        let full = read_str(&text, &name).unwrap();
        for (cut, _) in text.char_indices().chain([(text.len(), ' ')]) {
            let prefix = &text[..cut];
            let result = std::panic::catch_unwind(|| read_str(prefix, &name));
            let Ok(result) = result else {
                panic!("{name}: reading the first {cut} bytes panicked");
            };
            // Whatever a prefix yields must be the file's own first rows, never a value cut
            // short; a prefix ending at a line boundary may legitimately parse.
            if let Ok(rows) = result {
                assert!(rows.len() <= full.len(), "{name} at {cut}");
                for (r, f) in rows.iter().zip(&full) {
                    assert_eq!(
                        (r.n_prompt, r.n_gen, r.n_depth, r.avg_ts.to_bits()),
                        (f.n_prompt, f.n_gen, f.n_depth, f.avg_ts.to_bits()),
                        "{name} cut at byte {cut}"
                    );
                }
            }
        }
    }
}

#[test]
fn mutated_files_never_panic() {
    // A fixed linear congruential generator: the same mutations on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let alphabet: Vec<char> = "|,;'\"{}[]()±+-@ \n\r:0123456789.eEdptgNULaxn#\\"
        .chars()
        .collect();
    for (name, text) in corpus() {
        let chars: Vec<char> = text.chars().collect();
        for _ in 0..300 {
            let mut mutated = chars.clone();
            for _ in 0..1 + next() % 4 {
                let i = next() % mutated.len();
                match next() % 3 {
                    0 => mutated[i] = alphabet[next() % alphabet.len()],
                    1 => {
                        mutated.remove(i);
                    }
                    _ => mutated.insert(i, alphabet[next() % alphabet.len()]),
                }
            }
            let mutated: String = mutated.into_iter().collect();
            let outcome = std::panic::catch_unwind(|| read_str(&mutated, &name));
            assert!(outcome.is_ok(), "{name}: panicked on\n{mutated}");
        }
    }
}
