//! Serving (`tiersim serve`): continuous batching checked against llama-bench's tests, queueing
//! identities and limits, and the command line as a user runs it. Each test is able to fail.

use std::path::{Path, PathBuf};

use tiersim::config::load::{self, Override};
use tiersim::model::quant::QuantType;
use tiersim::scenario::{self, TestCase};
use tiersim::serving::{self, Lengths, Request, ServeOutcome, ServeSpec, Served};
use tiersim::sim::machine::Machine;
use tiersim::units::Seconds;

use crate::helpers::{csv_row, fails_with, num, stdout};

const DENSE: &str = "qwen2.5-3b-instruct-q4_k_m";

/// One picosecond, the simulation clock's tick: arrivals are rounded to it, so a request may
/// be admitted up to half a tick before its exact arrival time.
const TICK: f64 = 1e-12;

// ---------------------------------------------------------------------------------------------
// Helpers

/// The dense preset on a preset system with `sets` overrides.
fn machine(system: &str, sets: &[&str]) -> Machine {
    let sets: Vec<Override> = sets
        .iter()
        .map(|s| Override::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect();
    let model = load::model(Some(DENSE), &sets).expect("preset model").spec;
    let system = load::system(Some(system), &sets)
        .unwrap_or_else(|e| panic!("{system}: {e}"))
        .spec;
    Machine::new(&model, &system).expect("the model fits")
}

/// A workload of `requests` Poisson arrivals at `rate` with fixed lengths.
fn fixed_spec(requests: u32, rate: f64, prompt: u32, output: u32, max_batch: u32) -> ServeSpec {
    ServeSpec {
        requests,
        arrival_rate_per_s: rate,
        prompt_tokens: Lengths::Fixed(prompt),
        output_tokens: Lengths::Fixed(output),
        max_batch,
        ..ServeSpec::default()
    }
}

/// Draws the requests of `spec` and serves them.
fn serve(m: &Machine, spec: &ServeSpec, seed: u64) -> ServeOutcome {
    let reqs = serving::requests(spec, seed, u64::MAX).expect("requests");
    serving::serve(m, spec, &reqs, seed).expect("serves")
}

/// Writes `text` as `name` in a fresh temporary directory.
fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

/// The largest number of requests open at once, where request `i` is open on the half-open
/// interval `[open(i), close(i))` (a slot freed at `t` may be taken again at `t`).
fn max_open(served: &[Served], open: fn(&Served) -> Seconds, close: fn(&Served) -> Seconds) -> i64 {
    let mut events: Vec<(f64, i64)> = served
        .iter()
        .flat_map(|s| [(open(s).0, 1), (close(s).0, -1)])
        .collect();
    // Closings before openings at the same instant.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut n, mut most) = (0i64, 0i64);
    for (_, d) in events {
        n += d;
        most = most.max(n);
    }
    most
}

/// ∫ N(t) dt over the sample path, N(t) being the requests arrived and not yet finished,
/// integrated event by event.
fn integral_in_system(served: &[Served]) -> f64 {
    let mut events: Vec<(f64, i64)> = served
        .iter()
        .flat_map(|s| [(s.request.arrival.0, 1), (s.finished.0, -1)])
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut n, mut area) = (0i64, 0.0);
    let mut last = events[0].0;
    for (t, d) in events {
        area += n as f64 * (t - last);
        last = t;
        n += d;
    }
    assert_eq!(n, 0, "every request leaves");
    area
}

/// `tiersim serve` on the dense model with small fixed-length requests, plus `extra` arguments.
fn serve_args<'a>(system: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["serve", "-m", DENSE, "--system", system];
    args.extend_from_slice(extra);
    args
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

// ---------------------------------------------------------------------------------------------
// 1. One request alone is llama-bench's pg test

#[test]
fn a_single_request_takes_exactly_the_time_of_llama_bench_pp_then_tg() {
    // h100 has no device tier, so nothing is random and the times must agree to the step.
    let m = machine("h100", &[]);
    let case = TestCase {
        n_prompt: 512,
        n_gen: 32,
        ..TestCase::default()
    };
    let bench = scenario::run_test(&m, &case, 1, 1, 0).expect("test runs");
    let (wall, ttft) = (bench.samples[0], bench.ttft[0]);

    // Through a trace arriving at 0, with one slot and with the default 16.
    let (_dir, trace) = temp_file(
        "one.csv",
        "arrival_s,prompt_tokens,output_tokens\n0,512,33\n",
    );
    for max_batch in [1, 16] {
        let spec = ServeSpec {
            trace: Some(trace.clone()),
            max_batch,
            ..ServeSpec::default()
        };
        let out = serve(&m, &spec, 1);
        assert_eq!(out.served.len(), 1);
        let s = out.served[0];
        eprintln!(
            "max_batch {max_batch}: latency {:.9} s vs pp512+tg32 {:.9} s; TTFT {:.9} s vs \
             {:.9} s; {} steps",
            s.latency().0,
            wall.0,
            s.ttft().0,
            ttft.0,
            out.steps
        );
        assert_eq!(s.request.arrival, Seconds::ZERO);
        assert!((s.latency().0 - wall.0).abs() < 1e-9, "{s:?} vs {wall:?}");
        assert!((s.ttft().0 - ttft.0).abs() < 1e-9, "{s:?} vs {ttft:?}");
        // One prompt step (its token is the first) and 32 decode steps, one request each.
        assert_eq!((out.steps, out.batch_sum), (33, 33));
        assert_eq!(out.summary().mean_batch, 1.0);
    }

    // Drawn with fixed lengths: a Poisson arrival after 0, the same time from it.
    let out = serve(&m, &fixed_spec(1, 4.0, 512, 33, 16), 5);
    let s = out.served[0];
    eprintln!(
        "drawn arrival {:.6} s: latency {:.9} s, TTFT {:.9} s",
        s.request.arrival.0,
        s.latency().0,
        s.ttft().0
    );
    assert!(s.request.arrival.0 > 0.0);
    assert!((s.admitted - s.request.arrival).0.abs() <= TICK, "{s:?}");
    assert!((s.latency().0 - wall.0).abs() < 1e-9, "{s:?} vs {wall:?}");
    assert!((s.ttft().0 - ttft.0).abs() < 1e-9, "{s:?} vs {ttft:?}");
}

// ---------------------------------------------------------------------------------------------
// 2. Low load: no queueing, one request at a time

#[test]
fn at_low_load_requests_run_alone_and_ttft_is_the_prefill_time() {
    let m = machine("h100", &[]);
    let (prompt, output) = (128, 8);
    let out = serve(&m, &fixed_spec(12, 0.05, prompt, output, 16), 3);
    let s = out.summary();
    let pp = scenario::run_test(
        &m,
        &TestCase {
            n_prompt: prompt,
            ..TestCase::default()
        },
        1,
        1,
        0,
    )
    .expect("pp runs");
    let pp_time = pp.samples[0];
    let queued = out
        .served
        .iter()
        .map(|r| (r.admitted - r.request.arrival).0)
        .fold(0.0, f64::max);
    eprintln!(
        "rate 0.05/s, pp{prompt} tg{output}: mean batch {:.4}, TTFT p50 {:.6} ms p99 {:.6} ms vs \
         pp{prompt} {:.6} ms; longest queueing {queued:.3e} s; wall {:.1} s",
        s.mean_batch,
        s.ttft[0].as_ms(),
        s.ttft[2].as_ms(),
        pp_time.as_ms(),
        s.wall.0
    );
    assert!(
        s.mean_batch >= 1.0 && s.mean_batch < 1.1,
        "{}",
        s.mean_batch
    );
    assert!(
        (s.ttft[0].0 / pp_time.0 - 1.0).abs() < 1e-6,
        "{:?} vs {pp_time:?}",
        s.ttft[0]
    );
    // Nobody waits for a slot.
    assert!(queued < 1e-12, "{queued}");
}

// ---------------------------------------------------------------------------------------------
// 3. Overload: more slots, more throughput, shorter queues

#[test]
fn under_overload_throughput_grows_and_ttft_shrinks_with_max_batch() {
    let m = machine("h100", &[]);
    let mut tps = Vec::new();
    let mut ttft_p99 = Vec::new();
    for max_batch in [1, 4, 16] {
        let out = serve(&m, &fixed_spec(64, 1000.0, 128, 64, max_batch), 2);
        let s = out.summary();
        eprintln!(
            "max_batch {max_batch:2}: output {:.1} t/s, {:.3} req/s, mean batch {:.2}, TTFT p50 \
             {:.1} ms p99 {:.1} ms, wall {:.3} s",
            s.output_tps,
            s.requests_per_s,
            s.mean_batch,
            s.ttft[0].as_ms(),
            s.ttft[2].as_ms(),
            s.wall.0
        );
        assert!(s.mean_batch <= f64::from(max_batch));
        if max_batch == 1 {
            // Served back to back: each request takes the slot the instant the previous frees it,
            // so the wall time is the sum of service times.
            for w in out.served.windows(2) {
                assert_eq!(w[1].admitted, w[0].finished, "{w:?}");
            }
            let service: f64 = out
                .served
                .iter()
                .map(|r| (r.finished - r.admitted).0)
                .sum::<f64>()
                / out.served.len() as f64;
            eprintln!(
                "  mean service {:.6} s, 1/service {:.4} req/s",
                service,
                1.0 / service
            );
            assert!(
                (s.requests_per_s * service - 1.0).abs() < 0.01,
                "{} req/s vs service {service} s",
                s.requests_per_s
            );
            assert!((s.output_tps * service / 64.0 - 1.0).abs() < 0.01);
        }
        tps.push(s.output_tps);
        ttft_p99.push(s.ttft[2].0);
    }
    assert!(tps.windows(2).all(|w| w[1] > w[0]), "throughput {tps:?}");
    assert!(
        ttft_p99.windows(2).all(|w| w[1] < w[0]),
        "TTFT p99 {ttft_p99:?}"
    );
    // Decode on an H100 is memory-bound: 16 slots should be far more than 4× one slot's rate.
    assert!(tps[2] > 4.0 * tps[0], "throughput {tps:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. Little's law on the sample path

#[test]
fn littles_law_holds_on_the_sample_path() {
    let m = machine("h100", &[]);
    let spec = ServeSpec {
        requests: 40,
        arrival_rate_per_s: 40.0,
        prompt_tokens: Lengths::Uniform { min: 16, max: 700 },
        output_tokens: Lengths::Uniform { min: 1, max: 48 },
        max_batch: 4,
        ..ServeSpec::default()
    };
    let out = serve(&m, &spec, 9);
    let s = out.summary();
    let n = out.served.len() as f64;
    let first = out.served[0].request.arrival.0;
    let last = out.served.iter().map(|r| r.finished.0).fold(0.0, f64::max);
    let window = last - first;
    assert!(
        (window - s.wall.0).abs() < 1e-12,
        "{window} vs {:?}",
        s.wall
    );
    let l = integral_in_system(&out.served) / window;
    let mean_latency = out.served.iter().map(|r| r.latency().0).sum::<f64>() / n;
    let lambda = s.requests_per_s;
    // In service alone (admitted to finished): at most max_batch on average.
    let in_service = out
        .served
        .iter()
        .map(|r| (r.finished - r.admitted).0)
        .sum::<f64>()
        / window;
    eprintln!(
        "L {l:.6} = λ {lambda:.4}/s × W {mean_latency:.6} s = {:.6}; in service {in_service:.4}, \
         mean batch per step {:.4}, max in system {}",
        lambda * mean_latency,
        s.mean_batch,
        max_open(&out.served, |r| r.request.arrival, |r| r.finished)
    );
    assert!(
        (l / (lambda * mean_latency) - 1.0).abs() < 1e-9,
        "L {l} vs λW {}",
        lambda * mean_latency
    );
    // Not a trivial path: requests overlap and some queue.
    assert!(l > 1.0, "L {l}");
    assert!(in_service <= 4.0 + 1e-9 && in_service > 1.0, "{in_service}");
    assert!(max_open(&out.served, |r| r.admitted, |r| r.finished) <= 4);
    // Everyone is admitted no earlier than arrival, first token no earlier than admission.
    for r in &out.served {
        // (Up to half a clock tick early: see no_request_is_admitted_before_it_arrives.)
        assert!(r.admitted.0 >= r.request.arrival.0 - TICK, "{r:?}");
        assert!(r.admitted < r.first_token, "{r:?}");
        assert!(r.first_token <= r.finished);
        assert_eq!(r.first_token == r.finished, r.request.output == 1, "{r:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Continuous batching frees slots at once

#[test]
fn continuous_batching_never_exceeds_its_slots_and_refills_them_at_once() {
    let m = machine("h100", &[]);
    let reqs: Vec<Request> = (0..10u32)
        .map(|i| Request {
            arrival: Seconds::ZERO,
            prompt: 60 + 97 * i,
            output: 3 + 5 * ((i * 7) % 10),
        })
        .collect();
    let spec = ServeSpec {
        max_batch: 2,
        ..ServeSpec::default()
    };
    let out = serving::serve(&m, &spec, &reqs, 1).expect("serves");
    assert_eq!(out.served.len(), 10);
    let most = max_open(&out.served, |r| r.admitted, |r| r.finished);
    let finishes: Vec<Seconds> = out.served.iter().map(|r| r.finished).collect();
    for (i, r) in out.served.iter().enumerate() {
        eprintln!(
            "request {i}: pp{} tg{}: admitted {:.4} s, first token {:.4} s, finished {:.4} s",
            r.request.prompt, r.request.output, r.admitted.0, r.first_token.0, r.finished.0
        );
        assert_eq!(r.request, reqs[i]);
        assert!(r.finished.0.is_finite() && r.finished > r.admitted);
        // The first two take the slots at once; every later one the instant a slot frees.
        if i < 2 {
            assert_eq!(r.admitted, Seconds::ZERO);
        } else {
            assert!(
                finishes.contains(&r.admitted),
                "request {i} admitted at {:?}, not at a finish",
                r.admitted
            );
        }
    }
    eprintln!(
        "max_batch 2: at most {most} admitted at once; mean batch {:.3}",
        out.summary().mean_batch
    );
    assert_eq!(most, 2);
    // First come, first served.
    assert!(
        out.served
            .windows(2)
            .all(|w| w[0].admitted <= w[1].admitted)
    );
    assert!(out.summary().mean_batch > 1.5);
}

#[test]
fn prompt_chunks_share_the_ubatch_first_come_first_served() {
    // Two prompts of 400 in a ubatch of 512: step 1 finishes the first prompt (its first token)
    // and takes 112 of the second; step 2 decodes the first and finishes the second; steps 3
    // and 4 decode. Decode tokens do not take ubatch room.
    let m = machine("h100", &[]);
    let reqs = [Request {
        arrival: Seconds::ZERO,
        prompt: 400,
        output: 3,
    }; 2];
    let spec = ServeSpec {
        max_batch: 2,
        n_ubatch: 512,
        ..ServeSpec::default()
    };
    let out = serving::serve(&m, &spec, &reqs, 1).expect("serves");
    let (a, b) = (out.served[0], out.served[1]);
    eprintln!(
        "two pp400 tg3 in one ubatch of 512: {} steps, {} request-steps; first tokens {:.4} / \
         {:.4} ms, finished {:.4} / {:.4} ms",
        out.steps,
        out.batch_sum,
        a.first_token.as_ms(),
        b.first_token.as_ms(),
        a.finished.as_ms(),
        b.finished.as_ms()
    );
    assert_eq!((out.steps, out.batch_sum), (4, 7));
    assert_eq!(a.admitted, b.admitted);
    assert!(a.first_token < b.first_token && b.first_token < a.finished);
    assert!(a.finished < b.finished);
    // The first request's first token is a pp400 of llama-bench.
    let pp = scenario::run_test(
        &m,
        &TestCase {
            n_prompt: 400,
            ..TestCase::default()
        },
        1,
        1,
        0,
    )
    .unwrap();
    assert!(
        a.ttft().0 >= pp.ttft[0].0,
        "{:?} vs {:?}",
        a.ttft(),
        pp.ttft[0]
    );
}

// ---------------------------------------------------------------------------------------------
// 6. KV spill while serving

#[test]
fn long_prompts_over_a_small_kv_budget_spill_to_hbf_and_wear_it() {
    let common = [
        "--set",
        "serve.requests=4",
        "--set",
        "serve.arrival_rate_per_s=1000",
        "--set",
        "serve.prompt_tokens={fixed: 4096}",
        "--set",
        "serve.output_tokens={fixed: 16}",
        "--set",
        "serve.max_batch=4",
        "-o",
        "csv",
    ];
    let mut args = serve_args("h100-hbf", &["--set", "placement.kv.budget=64MiB"]);
    args.extend_from_slice(&common);
    let spill = csv_row(&stdout(&args));
    let args = {
        let mut a = serve_args("h100-hbf", &[]);
        a.extend_from_slice(&common);
        a
    };
    let fits = csv_row(&stdout(&args));
    // Each slot's share of the budget is 16 MiB, which holds 455 tokens of Qwen2.5-3B's KV
    // (36 KiB a token over its 36 layers); the KV ends at 4096 + 15 tokens (the last output
    // token is never fed back), and oldest-first writes every token beyond 455 to HBF once.
    let m = machine("h100-hbf", &["placement.kv.budget=64MiB"]);
    let kv_token =
        m.traffic.kv_per_token(QuantType::F16, QuantType::F16).0 * m.traffic.layers.len() as f64;
    assert_eq!(kv_token, 36.0 * 1024.0);
    let in_hbm = (16.0 * 1024.0 * 1024.0 / kv_token).floor();
    let spilled = 4.0 * (4096.0 + 15.0 - in_hbm) * kv_token;
    eprintln!(
        "budget 64MiB: hbf written {} B (expected {spilled:.0} B: {in_hbm} tokens a slot in \
         HBM), read {} B, lifetime {} y, TTFT p50 {} ms, latency p50 {} ms; budget 1GiB: hbf \
         written {} B, TTFT p50 {} ms, latency p50 {} ms",
        spill["tier1_bytes_written"],
        spill["tier1_bytes_read"],
        spill["tier1_lifetime_years"],
        spill["ttft_p50_ms"],
        spill["latency_p50_ms"],
        fits["tier1_bytes_written"],
        fits["ttft_p50_ms"],
        fits["latency_p50_ms"]
    );
    assert_eq!(spill["tier1"], "hbf");
    let written = num(&spill, "tier1_bytes_written");
    assert!(written > 0.0);
    assert!(
        (written / spilled - 1.0).abs() < 1e-9,
        "{written} B written, {spilled} expected"
    );
    let years = num(&spill, "tier1_lifetime_years");
    assert!(years.is_finite() && years > 0.0, "{years}");
    // capacity · P/E cycles / (write rate · WAF): 512 GB, 100,000 cycles, WAF 1.
    let rate = written / num(&spill, "wall_s");
    let expected_years = 512e9 * 1e5 / rate / (365.25 * 24.0 * 3600.0);
    assert!(
        (years / expected_years - 1.0).abs() < 1e-5,
        "{years} vs {expected_years}"
    );
    // No endurance figures for HBM: no lifetime.
    assert_eq!(spill["tier0_lifetime_years"], "");

    assert_eq!(num(&fits, "tier1_bytes_written"), 0.0);
    assert_eq!(fits["tier1_lifetime_years"], "");
    assert_eq!(num(&fits, "tier1_bytes_read"), 0.0);
    // Attention reads back what sits on HBF: before prompt chunk i (of 512 tokens) a slot holds
    // 512 i tokens, before decode step j 4095 + j, all but the newest 455 on HBF.
    let prefill: f64 = (0..8).map(|i| (512.0 * i as f64 - in_hbm).max(0.0)).sum();
    let decode: f64 = (1..=15).map(|j| 4095.0 + j as f64 - in_hbm).sum();
    let read_back = 4.0 * (prefill + decode) * kv_token;
    let read = num(&spill, "tier1_bytes_read");
    assert!(
        (read / read_back - 1.0).abs() < 1e-9,
        "{read} B read from HBF, {read_back} expected"
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Determinism

#[test]
fn serve_output_is_a_function_of_the_seed() {
    // h100-hbf with the default lognormal prompts over a small KV budget: they spill, so
    // device latencies are drawn too.
    let run = |seed: &str| {
        stdout(&serve_args(
            "h100-hbf",
            &[
                "--set",
                "placement.kv.budget=64MiB",
                "--set",
                "serve.requests=12",
                "--set",
                "serve.max_batch=4",
                "--set",
                "serve.output_tokens={lognormal: {median: 8, p99: 40}}",
                "--seed",
                seed,
                "-o",
                "csv",
            ],
        ))
    };
    let (a, b, c) = (run("7"), run("7"), run("8"));
    eprintln!("seed 7:\n{a}seed 8:\n{c}");
    assert_eq!(a, b, "same seed, same bytes");
    assert_ne!(a, c, "another seed, other draws");
    let (ra, rc) = (csv_row(&a), csv_row(&c));
    assert_ne!(ra["wall_s"], rc["wall_s"]);
    assert!(num(&ra, "tier1_bytes_written") > 0.0 && num(&rc, "tier1_bytes_written") > 0.0);

    // The draws themselves differ with the seed and repeat with it.
    let spec = ServeSpec::default();
    let r7 = serving::requests(&spec, 7, u64::MAX).unwrap();
    assert_eq!(r7, serving::requests(&spec, 7, u64::MAX).unwrap());
    let r8 = serving::requests(&spec, 8, u64::MAX).unwrap();
    assert_eq!(r7.len(), 200);
    assert!(
        r7.iter().zip(&r8).all(|(x, y)| x != y),
        "every request differs"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Bad input

#[test]
fn bad_serving_input_exits_2_with_one_line_naming_the_problem() {
    let (_d1, negative) = temp_file(
        "neg.csv",
        "arrival_s,prompt_tokens,output_tokens\n0,100,20\n0.5,-5,3\n",
    );
    let mut args = serve_args("h100", &["--trace", path_str(&negative)]);
    fails_with(&args, &["line 3", "prompt_tokens", "-5", "neg.csv"]);

    let (_d2, missing) = temp_file("missing.csv", "arrival_s,prompt_tokens\n0,100\n");
    args = serve_args("h100", &["--trace", path_str(&missing)]);
    fails_with(&args, &["output_tokens", "missing.csv"]);

    for (set, needles) in [
        ("serve.max_batch=0", &["max_batch", "0"][..]),
        (
            "serve.arrival_rate_per_s=-1",
            &["arrival_rate_per_s", "positive"][..],
        ),
        ("serve.requests=0", &["requests", "0"][..]),
        ("serve.n_ubatch=0", &["n_ubatch"][..]),
        (
            "serve.prompt_tokens={uniform: {min: 0, max: 8}}",
            &["prompt_tokens", "[0, 8]", "min"][..],
        ),
        (
            "serve.output_tokens={lognormal: {median: 100, p99: 10}}",
            &["output_tokens", "median"][..],
        ),
        (
            "serve.output_tokens={fixed: 0}",
            &["output_tokens", "0"][..],
        ),
        ("serve.no_such_field=1", &["no_such_field"][..]),
    ] {
        fails_with(&serve_args("h100", &["--set", set]), needles);
    }
    // The dotted form into the default lognormal cannot reach `uniform`; still a clean error.
    fails_with(
        &serve_args("h100", &["--set", "serve.prompt_tokens.uniform.min=0"]),
        &["prompt_tokens"],
    );

    fails_with(
        &serve_args("h100", &["-o", "xml"]),
        &["-o", "xml", "md, csv or json"],
    );

    // Slots smaller than a request: named with the request's need.
    let (_d3, long) = temp_file("long.csv", "prompt_tokens,output_tokens\n50,10\n90,20\n");
    args = serve_args(
        "h100",
        &["--trace", path_str(&long), "--set", "serve.slot_tokens=100"],
    );
    fails_with(&args, &["slot_tokens", "100", "request 1", "110"]);
    // And exactly enough is fine.
    args = serve_args(
        "h100",
        &[
            "--trace",
            path_str(&long),
            "--set",
            "serve.slot_tokens=110",
            "-o",
            "csv",
        ],
    );
    assert_eq!(csv_row(&stdout(&args))["requests"], "2");
}

// ---------------------------------------------------------------------------------------------
// 9. JSON output

#[test]
fn json_output_parses_with_three_quantiles_and_every_request() {
    let text = stdout(&serve_args(
        "h100",
        &[
            "--set",
            "serve.requests=9",
            "--set",
            "serve.arrival_rate_per_s=50",
            "--set",
            "serve.prompt_tokens={uniform: {min: 8, max: 300}}",
            "--set",
            "serve.output_tokens={fixed: 6}",
            "--set",
            "serve.max_batch=3",
            "-o",
            "json",
        ],
    ));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let summary = &doc["summary"];
    let ttft: Vec<f64> = summary["ttft_ms"]
        .as_array()
        .expect("ttft_ms is an array")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect();
    let requests = doc["requests"].as_array().expect("requests is an array");
    eprintln!(
        "json: ttft_ms {ttft:?}, {} requests, output {} t/s",
        requests.len(),
        summary["output_tps"]
    );
    assert_eq!(ttft.len(), 3);
    assert!(
        ttft[0] > 0.0 && ttft[0] <= ttft[1] && ttft[1] <= ttft[2],
        "{ttft:?}"
    );
    assert_eq!(requests.len(), 9);
    assert_eq!(summary["requests"], 9);
    assert_eq!(summary["max_batch"], 3);
    assert_eq!(doc["workload"]["max_batch"], 3);
    for r in requests {
        assert_eq!(r["output_tokens"], 6);
        let p = r["prompt_tokens"].as_u64().unwrap();
        assert!((8..=300).contains(&p), "{r}");
        assert!(r["queue_ms"].as_f64().unwrap() >= -TICK * 1e3, "{r}");
        assert!(r["ttft_ms"].as_f64().unwrap() > 0.0);
        assert!(r["tpot_ms"].as_f64().unwrap() > 0.0);
    }
    // The p50 of the per-request TTFTs is the summary's.
    let mut per: Vec<f64> = requests
        .iter()
        .map(|r| r["ttft_ms"].as_f64().unwrap())
        .collect();
    per.sort_by(f64::total_cmp);
    assert!(
        (per[4] - ttft[0]).abs() < 1e-9 * ttft[0],
        "{per:?} vs {ttft:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Edges: the clock's range, arrival rounding, the map form of length distributions

#[test]
fn a_month_of_serving_fits_the_clock_and_a_workload_past_its_range_is_refused() {
    let m = machine("h100", &[]);
    // Two requests 30 days apart: the second is served at its arrival, as fast as the first.
    let month = 30.0 * 86_400.0;
    let (_dir, trace) = temp_file(
        "month.csv",
        &format!("arrival_s,prompt_tokens,output_tokens\n0,64,4\n{month},64,4\n"),
    );
    let spec = ServeSpec {
        trace: Some(trace),
        ..ServeSpec::default()
    };
    let reqs = serving::requests(&spec, 1, u64::MAX).unwrap();
    let out = serving::serve(&m, &spec, &reqs, 1).unwrap();
    let (a, b) = (out.served[0], out.served[1]);
    assert_eq!(b.admitted.0, month);
    // Same latency to a nanosecond: the clock counts picoseconds, but seconds as f64 at 2.6e6 s
    // resolve 0.5 ns.
    assert!((b.latency().0 - a.latency().0).abs() < 1e-9, "{a:?} {b:?}");

    // 250 days: past u64::MAX ps ≈ 213.5 days.
    let (_dir, trace) = temp_file(
        "year.csv",
        "arrival_s,prompt_tokens,output_tokens\n0,64,4\n21600000,64,4\n",
    );
    let spec = ServeSpec {
        trace: Some(trace),
        ..ServeSpec::default()
    };
    let reqs = serving::requests(&spec, 1, u64::MAX).unwrap();
    let e = serving::serve(&m, &spec, &reqs, 1).unwrap_err().to_string();
    assert!(e.contains("clock's range") && e.contains("days"), "{e}");
}

#[test]
fn no_request_is_admitted_before_it_arrives() {
    let m = machine("h100", &[]);
    let out = serve(&m, &fixed_spec(40, 50.0, 64, 4, 4), 1);
    let early: Vec<f64> = out
        .served
        .iter()
        .map(|r| (r.admitted - r.request.arrival).0)
        .filter(|&q| q < 0.0)
        .collect();
    assert!(early.is_empty(), "admitted before arrival by {early:?} s");
}

#[test]
fn lengths_read_the_one_key_map_shape() {
    let (_dir, path) = temp_file(
        "spec.yaml",
        "requests: 2\nprompt_tokens: {fixed: 128}\noutput_tokens:\n  uniform: {min: 1, max: 4}\n",
    );
    let spec = ServeSpec::load(Some(&path), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.prompt_tokens, Lengths::Fixed(128));
    assert_eq!(spec.output_tokens, Lengths::Uniform { min: 1, max: 4 });
    // And a dotted override reaches a field inside the distribution.
    let set = Override::parse("serve.output_tokens.uniform.min=0").unwrap();
    let e = ServeSpec::load(Some(&path), &[set])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("output_tokens") && e.contains("min <= max"),
        "{e}"
    );
}

/// A sweep spec with a `serve:` block runs the workload at every point: `serve.` axes reach it,
/// every point serves the same requests, more slots serve an overload faster, and the CSV does
/// not depend on the thread count.
#[test]
fn sweeps_serve_a_workload_at_every_point() {
    let (dir, spec) = temp_file(
        "serve-sweep.yaml",
        "name: s\nmodel: smollm2-135m-instruct-q4_1\nsystem: h100\n\
         serve: {requests: 24, arrival_rate_per_s: 1000, prompt_tokens: {fixed: 64}, \
         output_tokens: {uniform: {min: 4, max: 12}}}\n\
         vary:\n  - param: serve.max_batch\n    values: [1, 2, 8]\n",
    );
    let mut csvs = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.path().join(format!("out{threads}"));
        let out_s = path_str(&out).to_owned();
        stdout(&[
            "sweep",
            path_str(&spec),
            "--out",
            &out_s,
            "--threads",
            threads,
            "--no-plots",
            "--no-progress",
        ]);
        csvs.push(std::fs::read_to_string(out.join("s.csv")).unwrap());
    }
    assert_eq!(csvs[0], csvs[1], "thread count changed the results");
    let mut r = csv::Reader::from_reader(csvs[0].as_bytes());
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let ts: Vec<f64> = rows.iter().map(|r| r[col("ts")].parse().unwrap()).collect();
    for r in &rows {
        assert_eq!(&r[col("test")], "serve");
    }
    assert!(ts[0] < ts[1] && ts[1] < ts[2], "{ts:?}");
    // Everything is local on an h100: the baseline is the same machine, so no degradation.
    let deg: f64 = rows[2][col("degradation_pct")].parse().unwrap();
    assert!(deg.abs() < 1e-9, "{deg}");
}
