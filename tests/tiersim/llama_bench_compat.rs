//! `tiersim simulate` as a drop-in llama-bench: a small consumer written against real
//! llama-bench output (`tests/data/llama-bench/`, llama.cpp 0c1e570) accepts every real
//! file, refuses broken ones, and accepts tiersim's output in every format; llama-bench's flags
//! are accepted with its list syntax, change the prediction where tiersim models them and are
//! recorded (with one notice) where it does not.
//!
//! The consumer knows llama-bench's fields from the real files, not from tiersim's code.

use std::collections::HashMap;
use std::fmt;
use std::process::{Command, Output};

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::helpers::fails_with;

const FORMATS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/llama-bench");

/// What a llama-bench field holds, as its JSON shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Int,
    Bool,
    Float,
}

use Kind::*;

/// llama-bench's 42 fields in order, copied from the real CSV header, with the JSON type of
/// each as the real JSON shows it.
const FIELDS: [(&str, Kind); 42] = [
    ("build_commit", Text),
    ("build_number", Int),
    ("cpu_info", Text),
    ("gpu_info", Text),
    ("backends", Text),
    ("model_filename", Text),
    ("model_type", Text),
    ("model_size", Int),
    ("model_n_params", Int),
    ("n_batch", Int),
    ("n_ubatch", Int),
    ("n_threads", Int),
    ("cpu_mask", Text),
    ("cpu_strict", Bool),
    ("poll", Int),
    ("type_k", Text),
    ("type_v", Text),
    ("n_gpu_layers", Int),
    ("n_cpu_moe", Int),
    ("split_mode", Text),
    ("main_gpu", Int),
    ("no_kv_offload", Bool),
    ("flash_attn", Int),
    ("devices", Text),
    ("tensor_split", Text),
    ("tensor_buft_overrides", Text),
    ("load_mode", Text),
    ("lazy_mode", Text),
    ("embeddings", Bool),
    ("no_op_offload", Int),
    ("no_host", Bool),
    ("repack", Bool),
    ("fit_target", Int),
    ("fit_min_ctx", Int),
    ("n_prompt", Int),
    ("n_gen", Int),
    ("n_depth", Int),
    ("test_time", Text),
    ("avg_ns", Int),
    ("stddev_ns", Int),
    ("avg_ts", Float),
    ("stddev_ts", Float),
];

/// One consumed result: llama-bench's fields as text (CSV spelling), by name.
type Row = HashMap<String, String>;

/// `2026-11-22T22:17:16Z`.
fn is_utc_time(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Checks one field's text against its kind, as a CSV or SQL consumer would parse it.
fn check_text(name: &str, kind: Kind, text: &str) -> Result<(), String> {
    let ok = match kind {
        Text if name == "test_time" => is_utc_time(text),
        Text => true,
        Int => text.parse::<i64>().is_ok(),
        Bool => text == "0" || text == "1",
        Float => text.parse::<f64>().is_ok_and(f64::is_finite),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{name} = `{text}` is not a {kind:?}"))
    }
}

/// A CSV consumer: llama-bench's 42 columns first and in order (so `avg_ts` is column 40),
/// every row as wide as the header, every value of its column's type.
fn consume_csv(text: &str) -> Result<Vec<Row>, String> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_owned)
        .collect();
    let names: Vec<&str> = header.iter().map(String::as_str).take(42).collect();
    if names != FIELDS.map(|(n, _)| n) {
        return Err(format!(
            "the header does not start with llama-bench's 42 fields: {names:?}"
        ));
    }
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        if rec.len() != header.len() {
            return Err(format!(
                "a row has {} fields, the header {}",
                rec.len(),
                header.len()
            ));
        }
        for (i, (name, kind)) in FIELDS.iter().enumerate() {
            check_text(name, *kind, &rec[i])?;
        }
        rows.push(
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect(),
        );
    }
    Ok(rows)
}

/// A JSON object's fields in the order the text lists them.
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = m.next_entry::<String, Value>()? {
                    out.push(entry);
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Checks one JSON result: llama-bench's fields in order with their types, then its two sample
/// arrays, whose rates average to `avg_ts`.
fn consume_object(o: &Ordered) -> Result<Row, String> {
    let keys: Vec<&str> = o.0.iter().map(|(k, _)| k.as_str()).take(44).collect();
    let mut want: Vec<&str> = FIELDS.map(|(n, _)| n).to_vec();
    want.extend(["samples_ns", "samples_ts"]);
    if keys != want {
        return Err(format!("the keys are not llama-bench's in order: {keys:?}"));
    }
    let mut row = Row::new();
    for ((name, kind), (_, v)) in FIELDS.iter().zip(&o.0) {
        let text = match (kind, v) {
            (Text, Value::String(s)) => s.clone(),
            (Int, Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            (Bool, Value::Bool(b)) => u8::from(*b).to_string(),
            (Float, Value::Number(n)) => n.to_string(),
            _ => return Err(format!("{name} = {v} is not a {kind:?}")),
        };
        check_text(name, *kind, &text)?;
        row.insert((*name).to_owned(), text);
    }
    let numbers = |k: usize| -> Result<Vec<f64>, String> {
        o.0[k]
            .1
            .as_array()
            .and_then(|a| a.iter().map(Value::as_f64).collect())
            .ok_or_else(|| format!("{} is not an array of numbers", o.0[k].0))
    };
    let (ns, ts) = (numbers(42)?, numbers(43)?);
    if ns.len() != ts.len() || ts.is_empty() {
        return Err(format!(
            "{} samples_ns but {} samples_ts",
            ns.len(),
            ts.len()
        ));
    }
    let mean = ts.iter().sum::<f64>() / ts.len() as f64;
    let avg: f64 = row["avg_ts"].parse().unwrap();
    if (mean - avg).abs() > 1e-4 * avg {
        return Err(format!("avg_ts {avg} is not the mean of samples_ts {ts:?}"));
    }
    Ok(row)
}

/// A JSON consumer: an array of results.
fn consume_json(text: &str) -> Result<Vec<Row>, String> {
    let objects: Vec<Ordered> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    objects.iter().map(consume_object).collect()
}

/// A JSONL consumer: one result per line.
fn consume_jsonl(text: &str) -> Result<Vec<Row>, String> {
    text.lines()
        .map(|l| {
            let o: Ordered = serde_json::from_str(l).map_err(|e| e.to_string())?;
            consume_object(&o)
        })
        .collect()
}

/// The values of an SQL `VALUES (...)` list: quoted text (quotes doubled inside) or bare words.
fn sql_values(list: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = list.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let mut v = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        v.push('\'');
                    }
                    Some('\'') => break,
                    Some(c) => v.push(c),
                    None => return Err("an unterminated string".to_owned()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                v.push(c);
                chars.next();
            }
            v = v.trim().to_owned();
        }
        out.push(v);
        match chars.next() {
            Some(',') => {}
            None => return Ok(out),
            Some(c) => return Err(format!("`{c}` after a value")),
        }
    }
}

/// An SQL consumer: the table's first 42 columns are llama-bench's with its types, and every
/// `INSERT` names the table's columns and gives one value per column.
fn consume_sql(text: &str) -> Result<Vec<Row>, String> {
    let body = text
        .strip_prefix("CREATE TABLE IF NOT EXISTS llama_bench (\n")
        .ok_or("no CREATE TABLE llama_bench")?;
    let (table, inserts) = body.split_once("\n);\n").ok_or("the table is not closed")?;
    let columns: Vec<(&str, &str)> = table
        .lines()
        .map(|l| {
            let l = l.trim().trim_end_matches(',');
            l.split_once(' ').unwrap_or((l, ""))
        })
        .collect();
    for ((name, kind), (col, ty)) in FIELDS.iter().zip(&columns) {
        let want = match kind {
            Text => "TEXT",
            Int | Bool => "INTEGER",
            Float => "REAL",
        };
        if (name, want) != (col, ty) {
            return Err(format!(
                "column `{col} {ty}` where llama-bench has `{name} {want}`"
            ));
        }
    }
    if columns.len() < 42 {
        return Err(format!("the table has {} columns", columns.len()));
    }
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let mut rows = Vec::new();
    for line in inserts.lines().filter(|l| !l.is_empty()) {
        let rest = line
            .strip_prefix("INSERT INTO llama_bench (")
            .ok_or_else(|| format!("not an INSERT: {line}"))?;
        let (cols, values) = rest.split_once(") VALUES (").ok_or("no VALUES")?;
        let values = values
            .strip_suffix(");")
            .ok_or("the INSERT is not closed")?;
        if cols.split(", ").collect::<Vec<_>>() != names {
            return Err("the INSERT names other columns than the table".to_owned());
        }
        let values = sql_values(values)?;
        if values.len() != names.len() {
            return Err(format!(
                "{} values for {} columns",
                values.len(),
                names.len()
            ));
        }
        for (i, (name, kind)) in FIELDS.iter().enumerate() {
            check_text(name, *kind, &values[i])?;
        }
        rows.push(names.iter().map(|n| (*n).to_owned()).zip(values).collect());
    }
    Ok(rows)
}

/// An md consumer: llama-bench's table (`model`, `size`, `params`, `backend` first, `test` and
/// `t/s` last, a rule, rows as wide as the header, rates as `mean ± sd`), a blank line, and
/// the `build: <commit> (<number>)` line last. Rows map column titles to cells.
fn consume_md(text: &str) -> Result<Vec<Row>, String> {
    let cells = |l: &str| -> Option<Vec<String>> {
        let inner = l.strip_prefix('|')?.strip_suffix('|')?;
        Some(inner.split('|').map(|c| c.trim().to_owned()).collect())
    };
    let lines: Vec<&str> = text.lines().collect();
    let titles = lines
        .first()
        .and_then(|l| cells(l))
        .ok_or("no table header")?;
    if titles[..4] != ["model", "size", "params", "backend"]
        || titles[titles.len() - 2..] != ["test", "t/s"]
    {
        return Err(format!("not llama-bench's columns: {titles:?}"));
    }
    let rule = lines.get(1).and_then(|l| cells(l)).ok_or("no rule")?;
    if rule.len() != titles.len() || !rule.iter().all(|c| c.trim_matches([':', '-']).is_empty()) {
        return Err("the second line is not the table's rule".to_owned());
    }
    let mut rows = Vec::new();
    let mut i = 2;
    while let Some(cs) = lines.get(i).and_then(|l| cells(l)) {
        if cs.len() != titles.len() {
            return Err(format!(
                "line {} has {} cells for {} columns",
                i + 1,
                cs.len(),
                titles.len()
            ));
        }
        let rate = cs.last().unwrap();
        let (avg, sd) = rate
            .split_once(" ± ")
            .ok_or_else(|| format!("`{rate}` is not mean ± sd"))?;
        if avg.parse::<f64>().is_err() || sd.parse::<f64>().is_err() {
            return Err(format!("`{rate}` is not mean ± sd"));
        }
        rows.push(titles.iter().cloned().zip(cs).collect());
        i += 1;
    }
    let footer = match &lines[i..] {
        ["", footer] => *footer,
        _ => return Err("the table is not followed by a blank line and the build line".to_owned()),
    };
    let (commit, number) = footer
        .strip_prefix("build: ")
        .and_then(|f| f.strip_suffix(')'))
        .and_then(|f| f.split_once(" ("))
        .ok_or_else(|| format!("`{footer}` is not llama-bench's build line"))?;
    if commit.is_empty() || number.parse::<u32>().is_err() {
        return Err(format!("`{footer}` is not llama-bench's build line"));
    }
    Ok(rows)
}

fn consume(format: &str, text: &str) -> Result<Vec<Row>, String> {
    match format {
        "csv" => consume_csv(text),
        "json" => consume_json(text),
        "jsonl" => consume_jsonl(text),
        "sql" => consume_sql(text),
        "md" => consume_md(text),
        other => panic!("no consumer for {other}"),
    }
}

fn real(file: &str) -> String {
    std::fs::read_to_string(format!("{FORMATS}/{file}")).unwrap()
}

/// Runs tiersim with `SOURCE_DATE_EPOCH` set to `epoch` (or unset).
fn run(args: &[&str], epoch: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tiersim"));
    c.args(args);
    match epoch {
        Some(e) => c.env("SOURCE_DATE_EPOCH", e),
        None => c.env_remove("SOURCE_DATE_EPOCH"),
    };
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "tiersim {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The real runs' command line (`-p 32 -n 8 -d 0,64 -r 2 -t 2`) on the Zen 4 profile fitted at
/// 2 threads, so the thread count comes from the profile.
const ZEN4: &str = "calibration/zen4-2core-kernels.profile.yaml";
const SMOLLM2: &str = "smollm2-135m-instruct-q4_1";

fn mirror(format: &str) -> Vec<&str> {
    vec![
        "simulate", "--system", ZEN4, "-m", SMOLLM2, "-p", "32", "-n", "8", "-d", "0,64", "-r",
        "2", "-o", format,
    ]
}

#[test]
fn the_consumer_accepts_every_real_llama_bench_file() {
    for (file, format, rows) in [
        ("smollm2_small.csv", "csv", 4),
        ("smollm2_small.json", "json", 4),
        ("smollm2_small.jsonl", "jsonl", 4),
        ("smollm2_small.sql", "sql", 4),
        ("smollm2_small.md", "md", 4),
        ("smollm2_small_oe-json_stdout.md", "md", 2),
        ("smollm2_small_oe-json_stderr.json", "json", 2),
    ] {
        let got = consume(format, &real(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got.len(), rows, "{file}");
    }
}

#[test]
fn the_consumer_refuses_what_a_real_consumer_would_choke_on() {
    let csv = real("smollm2_small.csv");
    // tiersim's old CSV: avg_ts at column 25, llama-bench's later fields missing.
    let short = csv.replacen(",cpu_mask,cpu_strict,poll", "", 1);
    assert!(consume_csv(&short).is_err());
    let swapped = csv.replacen("avg_ts,stddev_ts", "stddev_ts,avg_ts", 1);
    assert!(consume_csv(&swapped).is_err());
    let json = real("smollm2_small.json");
    assert!(consume_json(&json.replacen("\"2026-11-22T22:17:16Z\"", "\"\"", 1)).is_err());
    assert!(consume_json(&json.replacen("\"cpu_strict\": false", "\"cpu_strict\": 0", 1)).is_err());
    assert!(consume_json(&json.replacen("\"poll\": 50,\n", "", 1)).is_err());
    let jsonl = real("smollm2_small.jsonl");
    assert!(
        consume_jsonl(&jsonl.replacen("\"avg_ts\": 331.367001", "\"avg_ts\": 31.3", 1)).is_err()
    );
    let sql = real("smollm2_small.sql");
    assert!(consume_sql(&sql.replacen("'0c1e570', '1', ", "'0c1e570', ", 1)).is_err());
    assert!(consume_sql(&sql.replacen("  repack INTEGER,\n", "", 1)).is_err());
    let md = real("smollm2_small.md");
    assert!(
        consume_md(&md.replace("build: 0c1e570 (1)", "tiersim 0.1.0, system x, seed 1")).is_err()
    );
    assert!(consume_md(&md.replacen("271.22 ± 9.65", "271.22", 1)).is_err());
}

#[test]
fn tiersim_output_in_every_format_satisfies_the_consumer() {
    let real_md = real("smollm2_small.md");
    let real_header = real("smollm2_small.csv").lines().next().unwrap().to_owned();
    for format in ["md", "csv", "json", "jsonl", "sql"] {
        let out = text(&run(&mirror(format), None).stdout);
        let rows = consume(format, &out).unwrap_or_else(|e| panic!("{format}: {e}\n{out}"));
        assert_eq!(rows.len(), 4, "{format}");
        let tests: Vec<(&str, &str)> = if format == "md" {
            rows.iter()
                .map(|r| (r["threads"].as_str(), r["test"].as_str()))
                .collect()
        } else {
            rows.iter()
                .map(|r| (r["n_threads"].as_str(), r["n_depth"].as_str()))
                .collect()
        };
        let want: &[(&str, &str)] = if format == "md" {
            &[
                ("2", "pp32"),
                ("2", "tg8"),
                ("2", "pp32 @ d64"),
                ("2", "tg8 @ d64"),
            ]
        } else {
            &[("2", "0"), ("2", "0"), ("2", "64"), ("2", "64")]
        };
        assert_eq!(tests, want, "{format}");
        match format {
            // The same command line gives llama-bench's columns exactly.
            "md" => assert_eq!(out.lines().next(), real_md.lines().next()),
            "csv" => {
                let header = out.lines().next().unwrap();
                let (lb, sim) = header.split_at(real_header.len());
                assert_eq!(lb, real_header);
                // The simulator's columns name tiers by position, never by the system's names.
                assert!(sim.starts_with(",system,seed,"), "{sim}");
                assert!(
                    sim.contains(",tier0,tier0_bytes_read,") && !sim.contains("dram"),
                    "{sim}"
                );
            }
            // The simulator's fields follow llama-bench's and its sample arrays.
            "json" | "jsonl" => assert_eq!(
                out.matches("], \"system\": \"zen4-2core-kernels\", \"seed\": 1,")
                    .count()
                    + out
                        .matches(" ],\n    \"system\": \"zen4-2core-kernels\",\n    \"seed\": 1,")
                        .count(),
                4,
                "{out}"
            ),
            _ => {}
        }
        // Every row records llama-bench's defaults for what the command line left out.
        for r in rows.iter().filter(|_| format != "md") {
            for (field, default) in [
                ("cpu_mask", "0x0"),
                ("poll", "50"),
                ("split_mode", "layer"),
                ("devices", "auto"),
                ("tensor_split", "0.00"),
                ("load_mode", "auto"),
                ("lazy_mode", "auto"),
                ("repack", "1"),
                ("fit_min_ctx", "0"),
            ] {
                assert_eq!(r[field], default, "{format} {field}");
            }
        }
    }
}

#[test]
fn oe_writes_a_second_copy_to_stderr_that_the_consumer_accepts() {
    let mut args = mirror("md");
    args.extend(["-oe", "json"]);
    let out = run(&args, None);
    consume_md(&text(&out.stdout)).unwrap();
    let err = text(&out.stderr);
    let start = err.find("[\n").unwrap();
    let end = err.rfind("\n]\n").unwrap() + 3;
    assert_eq!(consume_json(&err[start..end]).unwrap().len(), 4);
}

#[test]
fn test_time_is_an_iso_utc_stamp_from_the_flag_or_source_date_epoch_and_output_repeats() {
    // Tests long enough (about a second each on this profile) for the stamps to move.
    let mut args = vec![
        "simulate", "--system", ZEN4, "-m", SMOLLM2, "-p", "512", "-n", "128", "-r", "2", "-o",
        "jsonl",
    ];
    let times = |out: &Output| -> Vec<String> {
        consume_jsonl(&text(&out.stdout))
            .unwrap()
            .iter()
            .map(|r| r["test_time"].clone())
            .collect()
    };
    let unset = run(&args, None);
    assert_eq!(times(&unset)[0], "1970-01-01T00:00:00Z");
    let env = run(&args, Some("1795385836"));
    let t = times(&env);
    assert_eq!(t[0], "2026-11-22T22:17:16Z");
    // The second test starts after the simulated time of the first: two repetitions of pp512.
    let first = consume_jsonl(&text(&env.stdout)).unwrap()[0]["avg_ns"]
        .parse::<f64>()
        .unwrap();
    let later = (1_795_385_836.0 + 2.0 * first * 1e-9).floor() as i64;
    assert_eq!(
        t[1],
        format!("2026-11-22T22:17:{:02}Z", later - 1_795_385_820),
        "{t:?}"
    );
    assert_eq!(
        env.stdout,
        run(&args, Some("1795385836")).stdout,
        "byte-identical"
    );
    args.extend(["--test-time", "2030-01-01T00:00:00Z"]);
    assert_eq!(
        times(&run(&args, Some("1795385836")))[0],
        "2030-01-01T00:00:00Z"
    );
}

#[test]
fn unmodelled_flags_are_recorded_with_one_notice_each_and_leave_the_prediction_alone() {
    let base = [
        "simulate", "--system", ZEN4, "-m", SMOLLM2, "-p", "32", "-n", "0", "-r", "1",
    ];
    let flags: [(&str, &str, &str, &str); 14] = [
        ("-C", "0xff", "cpu_mask", "0xff"),
        ("--cpu-strict", "1", "cpu_strict", "1"),
        ("--poll", "0", "poll", "0"),
        ("-sm", "row", "split_mode", "row"),
        ("-mg", "1", "main_gpu", "1"),
        ("-dev", "CUDA0/CUDA1", "devices", "CUDA0/CUDA1"),
        ("-ts", "3/1", "tensor_split", "3.00/1.00"),
        ("-lm", "none", "load_mode", "none"),
        ("-lzm", "off", "lazy_mode", "off"),
        ("-embd", "1", "embeddings", "1"),
        ("-nopo", "1", "no_op_offload", "1"),
        ("--no-host", "1", "no_host", "1"),
        ("-fitt", "1024", "fit_target", "1024"),
        ("-fitc", "4096", "fit_min_ctx", "4096"),
    ];
    let mut args = base.to_vec();
    args.extend(["-o", "json"]);
    let plain = consume_json(&text(&run(&args, None).stdout)).unwrap();
    for (flag, value, _, _) in &flags {
        args.extend([*flag, *value]);
    }
    let out = run(&args, None);
    let err = text(&out.stderr);
    let rows = consume_json(&text(&out.stdout)).unwrap();
    assert_eq!(rows[0]["avg_ts"], plain[0]["avg_ts"]);
    for (flag, value, field, recorded) in flags {
        assert_eq!(rows[0][field], recorded, "{flag}");
        let notices: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with(&format!("tiersim: {flag} {value}: ")))
            .collect();
        assert_eq!(notices.len(), 1, "{flag}: {err}");
        assert!(notices[0].contains("no effect"), "{}", notices[0]);
    }
    assert_eq!(err.lines().count(), flags.len(), "{err}");

    // Lists multiply the tests as in llama-bench; the older -mmp is recorded as a load mode.
    let mut args = base.to_vec();
    args.extend(["-o", "json", "-lm", "none", "-mmp", "1", "--poll", "0,100"]);
    let rows = consume_json(&text(&run(&args, None).stdout)).unwrap();
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["load_mode"].as_str(), r["poll"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("none", "0"),
            ("none", "100"),
            ("mmap", "0"),
            ("mmap", "100")
        ]
    );
    // The md table shows llama-bench's columns for them.
    let mut args = base.to_vec();
    args.extend(["-o", "md", "-lm", "none", "-sm", "row"]);
    let md = consume_md(&text(&run(&args, None).stdout)).unwrap();
    assert_eq!(
        (md[0]["sm"].as_str(), md[0]["lm"].as_str()),
        ("row", "none")
    );

    // Session flags run too.
    let mut args = base.to_vec();
    args.extend([
        "--delay",
        "1",
        "--no-warmup",
        "--prio",
        "1",
        "--numa",
        "distribute",
        "--progress",
        "-v",
    ]);
    let err = text(&run(&args, None).stderr);
    assert!(err.contains("tiersim: benchmark 1/1: pp32"), "{err}");
    assert!(err.contains("system `zen4-2core-kernels`"), "{err}");
}

#[test]
fn modelled_flags_change_the_prediction() {
    let rates = |extra: &[&str], model: &str| -> Vec<(String, f64)> {
        let mut args = vec![
            "simulate", "--system", ZEN4, "-m", model, "-p", "64", "-n", "0", "-d", "512", "-r",
            "1", "-o", "csv",
        ];
        args.extend_from_slice(extra);
        consume_csv(&text(&run(&args, None).stdout))
            .unwrap()
            .into_iter()
            .map(|r| {
                let key = ["n_threads", "type_k", "type_v", "flash_attn", "repack"]
                    .map(|k| r[k].clone())
                    .join(" ");
                (key, r["avg_ts"].parse().unwrap())
            })
            .collect()
    };
    let differ = |rows: &[(String, f64)]| {
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!((rows[0].1 - rows[1].1).abs() > 0.01 * rows[0].1, "{rows:?}");
    };
    differ(&rates(&["-fa", "0,1"], SMOLLM2));
    differ(&rates(&["-ctk", "f16,q8_0"], SMOLLM2));
    differ(&rates(&["-t", "1,2"], SMOLLM2));
    // Q4_1 has no repacked layout in llama.cpp; Q4_0 has.
    differ(&rates(
        &["--repack", "0,1"],
        "tests/data/llama-bench/xeon/smollm2-135m-q4_0.yaml",
    ));
}

#[test]
fn threads_are_the_profiles_never_the_simulating_machines() {
    let threads = |system: &str, extra: &[&str]| -> (Vec<String>, String) {
        let mut args = vec![
            "simulate", "--system", system, "-m", SMOLLM2, "-p", "16", "-n", "0", "-r", "1", "-o",
            "csv",
        ];
        args.extend_from_slice(extra);
        let out = run(&args, None);
        let rows = consume_csv(&text(&out.stdout)).unwrap();
        (
            rows.iter().map(|r| r["n_threads"].clone()).collect(),
            text(&out.stderr),
        )
    };
    // Fitted at 2 threads (and 1): the profile's count, whatever this machine has.
    assert_eq!(threads(ZEN4, &[]).0, ["2"]);
    assert_eq!(
        threads("calibration/zen4-2core-t1-kernels.profile.yaml", &[]).0,
        ["1"]
    );
    // A GPU records no thread count: a fixed 1, and -t is recorded with one notice.
    assert_eq!(threads("h100", &[]).0, ["1"]);
    let (t, err) = threads("h100", &["-t", "8"]);
    assert_eq!(t, ["8"]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("-t 8") && err.contains("no effect"), "{err}");
}

#[test]
fn bad_values_name_the_flag_the_value_as_typed_and_what_is_expected() {
    for (args, needles) in [
        (
            &["simulate", "-d", "32k"][..],
            &["-d", "`32k`", "expected"][..],
        ),
        (&["simulate", "-p=-1"], &["-p", "`-1`", "non-negative"]),
        (&["simulate", "-n", "-3"], &["-n", "`-3`"]),
        (&["simulate", "-t", "2x"], &["-t", "`2x`"]),
        (&["simulate", "-ngl", "x"], &["-ngl", "`x`"]),
        (&["simulate", "--npl", "0"], &["--npl", "`0`", "at least 1"]),
        (
            &["simulate", "-fa", "maybe"],
            &["-fa", "`maybe`", "on, off or auto"],
        ),
        (&["simulate", "-lm", "fast"], &["-lm", "`fast`", "mmap"]),
        (&["simulate", "-sm", "rows"], &["-sm", "`rows`", "layer"]),
        (
            &["simulate", "--repack", "2"],
            &["--repack", "`2`", "0 or 1"],
        ),
        (&["simulate", "-o", "xml"], &["-o", "`xml`", "sql"]),
        (&["simulate", "-r", "0"], &["-r", "`0`", "positive"]),
        (
            &["simulate", "--test-time", "noon"],
            &["--test-time", "`noon`", "YYYY-MM-DD"],
        ),
    ] {
        fails_with(args, needles);
    }
}

/// A value for a flag of llama-bench's help, from its placeholder: the last of its
/// alternatives, or an example of its kind.
fn example_value(placeholder: &str) -> &str {
    if let Some(alternatives) = placeholder
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        && alternatives.contains('|')
    {
        return alternatives.rsplit('|').next().unwrap();
    }
    match placeholder {
        "<n>" => "1",
        "<i>" => "0",
        "<t>" => "q8_0",
        "<pp,tg>" => "16,4",
        "<hex,hex>" => "0xff",
        "<0...100>" => "10",
        "<0...N>" => "1",
        "<MiB>" => "512",
        "<dev0/dev1/...>" => "CUDA0/CUDA1",
        "<ts0/ts1/..>" => "3/1",
        "<filename>" => SMOLLM2,
        "<user>/<model>[:quant]" => "ggml-org/model",
        "<file>" => "model.gguf",
        "<token>" => "token",
        "<tensor name pattern>=<buffer type>;..." => "exps=CPU",
        other => panic!("no example for {other}"),
    }
}

#[test]
fn every_flag_in_llama_benchs_help_is_accepted() {
    use clap::Parser;
    use tiersim::cli::{Cli, Command as Cmd, normalize_args, simulate::SimulateOptions};
    let help = real("llama-bench_help.txt");
    let mut checked = 0;
    for line in help.lines().filter(|l| l.starts_with("  -")) {
        let spec = line.trim().split("  ").next().unwrap();
        let (names, placeholder) = match spec.find('<') {
            // A placeholder ends where a parenthesised remark (`(seconds)`, `(default: auto)`)
            // begins.
            Some(at) => (&spec[..at], spec[at..].split(" (").next().map(str::trim)),
            None => (spec, None),
        };
        for name in names.split([',', ' ']).filter(|n| n.starts_with('-')) {
            let mut args = vec!["tiersim", "simulate", name];
            args.extend(placeholder.map(example_value));
            let parsed = Cli::try_parse_from(normalize_args(args.iter().map(Into::into)));
            let cli = match parsed {
                Ok(cli) => cli,
                Err(e) if name == "-h" || name == "--help" || name == "--version" => {
                    assert!(!e.use_stderr(), "{name}: {e}");
                    continue;
                }
                Err(e) => panic!("{args:?}: {e}"),
            };
            let Cmd::Simulate(a) = cli.command else {
                panic!("{args:?} is not simulate")
            };
            let opts = SimulateOptions::from_args(*a);
            // Only a download is refused: tiersim reads --model.
            if ["-hf", "-hfr", "--hf-repo", "-hff", "--hf-file"].contains(&name) {
                assert!(opts.is_err(), "{args:?}");
            } else {
                opts.unwrap_or_else(|e| panic!("{args:?}: {e}"));
            }
            checked += 1;
        }
    }
    // Every flag but -h, --help and --version, long and short spellings apart.
    assert_eq!(checked, 77, "flags checked");
}

#[test]
fn per_tier_columns_follow_the_sweep_csvs_scheme() {
    let sweep = tiersim::sweep::Prepared::load(None).unwrap();
    let sweep_header = tiersim::sweep::point::header(&sweep.spec, 2);
    let out = run(
        &[
            "simulate", "-m", SMOLLM2, "--system", "h100-hbf", "-p", "16", "-n", "0", "-r", "1",
            "-o", "csv",
        ],
        None,
    );
    let text = text(&out.stdout);
    let ours: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let tier_columns: Vec<&String> = sweep_header
        .iter()
        .filter(|h| {
            h.strip_prefix("tier")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect();
    assert_eq!(tier_columns.len(), 14, "{sweep_header:?}");
    for column in tier_columns {
        // The sweep's stall share of wall time is its own quantity; simulate reports stall_ms.
        if column.ends_with("_stall_share") {
            continue;
        }
        assert!(
            ours.contains(&column.as_str()),
            "{column} missing from {ours:?}"
        );
    }
    assert_eq!(consume_csv(&text).unwrap()[0]["tier1"], "hbf");
}
