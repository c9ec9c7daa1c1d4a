//! The predecessor Python harness's JSON (`harness/run_llama_bench.py`, seed
//! `000_960896ecd56d0d17.txt` §6B), one object per run:
//!
//! ```json
//! { "model": "~/models/qwen2.5-3b-instruct-q4_k_m.gguf", "threads": 8, "p": 256, "n": 256,
//!   "mode": "warm", "pp_tps": 28.59, "tg_tps": 7.47,
//!   "rows": [ { "test": "pp256", "tps": "28.59 ± 0.41" }, { "test": "tg256", "tps": "7.47 ± 0.05" } ] }
//! ```
//!
//! The seeds pin down only `pp_tps`, `tg_tps` and `rows` of `{test, tps}` (the README reads
//! exactly those), and that the rates came from llama-bench's `mean ± sd` strings (Findings V2);
//! the parameter names follow the harness's flags (`--model`, `-t`, `-p`, `-n`, `--mode`), so
//! the usual spellings of each are accepted, at the top level or under `args`/`params`/`config`.
//! `rows` give each test with its spread; `pp_tps` and `tg_tps` make a pp and a tg row when the
//! rows have none, taking the test length from `p`/`n`. A file may hold one object (pretty or
//! not), one object per line (a sweep's log), or an array of them.

use std::path::Path;

use serde_json::{Map, Value};

use super::json::values;
use super::{BenchRow, Fields, ReadError, RowSource, parse_mean_sd, parse_test_name, value_text};

/// Objects whose fields count as the run's parameters, beside the top level.
const NESTED: [&str; 3] = ["args", "params", "config"];
const MODEL: [&str; 3] = ["model_filename", "model", "model_path"];
const THREADS: [&str; 3] = ["n_threads", "threads", "t"];
const PROMPT: [&str; 3] = ["n_prompt", "p", "prompt"];
const GEN: [&str; 3] = ["n_gen", "n", "gen"];

pub(super) fn read(text: &str, origin: &str) -> Result<Vec<BenchRow>, ReadError> {
    let mut rows = Vec::new();
    let mut record = 0;
    for value in values(text, origin)? {
        let objects = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for object in objects {
            record += 1;
            let at = RowSource::record(origin, record);
            let Value::Object(map) = object else {
                return Err(ReadError::invalid(
                    at,
                    "expected a JSON object with the harness's `pp_tps`/`tg_tps` fields",
                ));
            };
            rows.extend(from_record(&map, at)?);
        }
    }
    Ok(rows)
}

/// One measured test before it becomes a row: `(n_prompt, n_gen, n_depth, mean, sd)`.
type Test = (u32, u32, u32, f64, f64);

fn from_record(obj: &Map<String, Value>, at: RowSource) -> Result<Vec<BenchRow>, ReadError> {
    // The top level wins over nested parameter objects, which are flattened beneath it.
    let mut flat = Map::new();
    for nest in NESTED {
        if let Some(Value::Object(m)) = obj.get(nest) {
            flat.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    for (k, v) in obj {
        if !(NESTED.contains(&k.as_str()) && v.is_object()) {
            flat.insert(k.clone(), v.clone());
        }
    }
    let f = Fields {
        map: &flat,
        at: &at,
    };
    let key = |aliases: &[&'static str]| -> Option<&'static str> {
        aliases
            .iter()
            .copied()
            .find(|k| flat.get(*k).is_some_and(|v| !v.is_null()))
    };
    let mut used: Vec<&str> = vec!["pp_tps", "tg_tps", "rows", "model_type"];
    let mut uint = |aliases: &[&'static str]| -> Result<Option<u32>, ReadError> {
        let Some(k) = key(aliases) else {
            return Ok(None);
        };
        used.push(k);
        f.opt_uint(k)
    };
    let n_threads = uint(&THREADS)?;
    let n_prompt = uint(&PROMPT)?;
    let n_gen = uint(&GEN)?;
    let model_filename = match key(&MODEL) {
        Some(k) => {
            used.push(k);
            f.opt_str(k)?
        }
        None => None,
    };
    let model_type = match f.opt_str("model_type")? {
        Some(t) => t,
        None => model_filename
            .as_deref()
            .and_then(|m| Path::new(m).file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };

    let mut tests = listed_tests(&f, flat.get("rows"))?;
    let rate = |k: &str| -> Result<Option<(f64, f64)>, ReadError> {
        match f.get(k) {
            None => Ok(None),
            Some(v) => tps(v)
                .map(Some)
                .ok_or_else(|| f.bad(k, v, "a rate such as `28.59` or `28.59 ± 0.41`")),
        }
    };
    let is_pp = |t: &Test| t.0 > 0 && t.1 == 0;
    let is_tg = |t: &Test| t.0 == 0 && t.1 > 0;
    let pp = rate("pp_tps")?.filter(|_| !tests.iter().any(is_pp));
    let tg = rate("tg_tps")?.filter(|_| !tests.iter().any(is_tg));
    if let Some((mean, sd)) = pp {
        let p = n_prompt.ok_or_else(|| {
            f.missing(
                "p",
                "the prompt length of `pp_tps` (as `p` or `n_prompt`, or a `pp<N>` entry in `rows`)",
            )
        })?;
        tests.push((p, 0, 0, mean, sd));
    }
    if let Some((mean, sd)) = tg {
        let n = n_gen.ok_or_else(|| {
            f.missing(
                "n",
                "the generation length of `tg_tps` (as `n` or `n_gen`, or a `tg<N>` entry in `rows`)",
            )
        })?;
        tests.push((0, n, 0, mean, sd));
    }
    if tests.is_empty() {
        return Err(ReadError::invalid(
            at,
            "the object has no `pp_tps`, `tg_tps` or `rows`; expected the harness's result object",
        ));
    }

    let extra: std::collections::BTreeMap<String, String> = flat
        .iter()
        .filter(|(k, _)| !used.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), value_text(v)))
        .collect();
    Ok(tests
        .into_iter()
        .map(|(n_prompt, n_gen, n_depth, avg_ts, stddev_ts)| BenchRow {
            model_type: model_type.clone(),
            model_filename: model_filename.clone(),
            model_size: None,
            model_n_params: None,
            backend: None,
            n_threads,
            n_batch: None,
            n_ubatch: None,
            type_k: None,
            type_v: None,
            flash_attn: None,
            n_prompt,
            n_gen,
            n_depth,
            avg_ts,
            stddev_ts,
            samples_ts: Vec::new(),
            extra: extra.clone(),
            source: at.clone(),
        })
        .collect())
}

/// The tests of the `rows` array, each `{ "test": "pp256", "tps": "28.59 ± 0.41" }`.
fn listed_tests(f: &Fields<'_>, rows: Option<&Value>) -> Result<Vec<Test>, ReadError> {
    let items = match rows {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(v) => return Err(f.bad("rows", v, "an array of `{test, tps}` objects")),
    };
    let mut tests = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| format!("rows[{i}].{name}");
        let test = item.get("test").unwrap_or(&Value::Null);
        let (p, g, d) = test.as_str().and_then(parse_test_name).ok_or_else(|| {
            f.bad(
                &field("test"),
                test,
                "a llama-bench test name such as `pp256`",
            )
        })?;
        let (key, rate) = ["tps", "t/s", "avg_ts"]
            .iter()
            .find_map(|k| item.get(*k).map(|v| (*k, v)))
            .ok_or_else(|| f.missing(&field("tps"), "the test's rate"))?;
        let (mean, sd) = tps(rate).ok_or_else(|| {
            f.bad(
                &field(key),
                rate,
                "a rate such as `28.59` or `28.59 ± 0.41`",
            )
        })?;
        tests.push((p, g, d, mean, sd));
    }
    Ok(tests)
}

/// A rate as a number, a numeric string, or llama-bench's `mean ± sd` string.
fn tps(v: &Value) -> Option<(f64, f64)> {
    match v {
        Value::Number(n) => n.as_f64().map(|x| (x, 0.0)),
        Value::String(s) => {
            parse_mean_sd(s).or_else(|| s.trim().parse().ok().map(|x: f64| (x, 0.0)))
        }
        _ => None,
    }
}
