//! tiersim's integration tests: physics by identities and limits, the CLI as a user runs it.

mod citations;
mod figures;
mod fuzz;
mod helpers;
mod hostile;
mod kernels;
mod llama_bench_compat;
mod override_errors;
mod presets;
mod published;
mod realism;
mod serving;
mod shard_auto;
mod system_published;

use approx::assert_relative_eq;
use helpers::*;
use tiersim::config::load;
use tiersim::config::system::Granularity;
use tiersim::engine::Scheduler;
use tiersim::model::quant::QuantType;
use tiersim::model::traffic::ModelTraffic;
use tiersim::rng;
use tiersim::tier::device::{Device, DeviceParams};
use tiersim::tier::latency::LatencyDist;
use tiersim::units::{Bytes, BytesPerSec, Seconds, SimTime};

// ---------------------------------------------------------------------------------------------
// Model traffic

#[test]
fn smollm2_spec_sums_to_the_real_gguf_size() {
    let m = load::model(Some("smollm2-135m-instruct-q4_1"), &[]).unwrap();
    let t = ModelTraffic::new(&m.spec);
    // llama-bench's model_size and model_n_params for SmolLM2-135M-Instruct.Q4_1.gguf.
    assert_eq!(t.model_size.0, 96_576_768.0);
    assert_eq!(t.n_params, 134_515_008.0);
    // DESIGN §2.1: kv_l = 2 · n_kv_heads · head_dim · bytes(type).
    assert_eq!(
        t.kv_per_token(QuantType::F16, QuantType::F16).0,
        2.0 * 3.0 * 64.0 * 2.0
    );
    assert_eq!(
        t.kv_per_token(QuantType::Q8_0, QuantType::Q8_0).0,
        2.0 * 3.0 * 64.0 * 34.0 / 32.0
    );
    assert_eq!(
        t.kv_per_token(QuantType::Q4_0, QuantType::Q4_0).0,
        2.0 * 3.0 * 64.0 * 18.0 / 32.0
    );
}

#[test]
fn every_model_preset_loads_and_places_on_every_large_system() {
    for p in tiersim::config::presets::MODELS {
        let m = load::model(Some(p.name), &[]).unwrap();
        let t = ModelTraffic::new(&m.spec);
        assert!(t.model_size.0 > 0.0 && t.n_params > 0.0, "{}", p.name);
    }
    for p in tiersim::config::presets::SYSTEMS {
        load::system(Some(p.name), &[]).unwrap();
    }
}

#[test]
fn moe_reads_only_active_experts_and_sliding_window_stops_growing() {
    let moe = ModelTraffic::new(&load::model(Some("qwen3-30b-a3b-iq4_xs"), &[]).unwrap().spec);
    let l = &moe.layers[0];
    assert_eq!(l.n_experts, 128);
    assert_relative_eq!(l.experts_read(1), 8.0, max_relative = 1e-12);
    assert!(l.experts_read(512) > 120.0 && l.experts_read(512) <= 128.0);
    // Active parameters are about 3B of 30B.
    let active: f64 = moe.layers.iter().map(|l| l.active_params).sum();
    assert!(active > 2.5e9 && active < 3.5e9, "active {active}");

    let gemma = ModelTraffic::new(&load::model(Some("gemma-3-270m-q4_k_m"), &[]).unwrap().spec);
    let local = gemma.layers.iter().position(|l| !l.global).unwrap();
    let global = gemma.layers.iter().position(|l| l.global).unwrap();
    assert_eq!(gemma.attended(local, 100_000), 512);
    assert_eq!(gemma.attended(global, 100_000), 100_000);
}

// ---------------------------------------------------------------------------------------------
// Physics: the roofline and its bounds

/// Expected decode step time from the closed form of DESIGN §2.4, computed independently of the
/// simulator's step planner.
fn roofline_step(model: &str, sys: &tiersim::config::system::SystemSpec, ctx: u64) -> f64 {
    let spec = load::model(Some(model), &[]).unwrap().spec;
    let t = ModelTraffic::new(&spec);
    let c = &sys.compute;
    let bw = sys.tiers[0].read_bw.0 * c.memory_efficiency;
    let kv = t.kv_per_token(QuantType::F16, QuantType::F16).0;
    let mut total = c.step_overhead.0;
    for (i, l) in t.layers.iter().enumerate() {
        let mut bytes = l.total().0 + kv * (ctx as f64) + kv;
        if i == 0 {
            bytes += t.embd_row.0;
        }
        let flops = 2.0 * l.active_params / (c.peak_flops.0 * c.decode_efficiency)
            + 4.0 * t.attn_width * (ctx + 1) as f64 / (c.peak_flops.0 * c.attention_efficiency());
        total += flops.max(bytes / bw) + c.layer_overhead.0;
    }
    let head_bytes = t.output.0 + t.output_norm.0;
    total + (2.0 * t.head_params / (c.peak_flops.0 * c.decode_efficiency)).max(head_bytes / bw)
}

#[test]
fn all_local_decode_equals_the_roofline_closed_form() {
    for (bw, flops) in [
        ("50GB/s", "1TFLOP/s"),
        ("3TB/s", "2TFLOP/s"),
        ("1TB/s", "50TFLOP/s"),
    ] {
        let sys = system(&local_system(bw, flops, "3us", "40us"));
        let m = machine("llama-3.1-8b-instruct-q4_k_m", &sys);
        let c = case(0, 1, 1000);
        let out = run(&m, &c, 1, 7);
        let expected = roofline_step("llama-3.1-8b-instruct-q4_k_m", &sys, 1000);
        assert_relative_eq!(out.samples[0].0, expected, max_relative = 1e-9);
    }
}

#[test]
fn tg_never_exceeds_local_bandwidth_over_bytes_per_token() {
    for model in [
        "smollm2-135m-instruct-q4_1",
        "qwen2.5-3b-instruct-q4_k_m",
        "llama-3.1-8b-instruct-f16",
    ] {
        for bw in ["20GB/s", "400GB/s", "3.35TB/s"] {
            let sys = system(&local_system(bw, "1000TFLOP/s", "0s", "0s"));
            let m = machine(model, &sys);
            let c = case(0, 32, 512);
            let ts = avg_ts(&c, &run(&m, &c, 2, 1));
            let t = &m.traffic;
            let bytes_per_token: f64 =
                t.layers.iter().map(|l| l.total().0).sum::<f64>() + t.output.0;
            let bound = sys.tiers[0].read_bw.0 / bytes_per_token;
            assert!(ts <= bound, "{model} at {bw}: {ts} > {bound}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Physics: tier devices

fn device(bw: f64, lat_us: f64, units: u32, qd: u32, io: f64, g: Granularity) -> Device {
    let p = DeviceParams {
        read_bw: BytesPerSec(bw),
        write_bw: BytesPerSec(bw),
        read_latency: LatencyDist::fixed(Seconds::us(lat_us)),
        write_latency: LatencyDist::fixed(Seconds::us(lat_us)),
        parallel_units: units,
        queue_depth: qd,
        io_size: Bytes(io),
        read_path: None,
    };
    Device::new(&p, g, 16)
}

/// Reads `bytes` at time zero and drives the legs through an event queue; returns the end.
fn read_all(dev: &mut Device, bytes: f64) -> SimTime {
    let mut sched = Scheduler::new();
    let mut rng = rng::stream(1, 1);
    dev.read(SimTime::ZERO, Bytes(bytes), &mut rng, |at, leg| {
        sched.schedule(at, leg)
    });
    let mut end = SimTime::ZERO;
    while let Some((t, leg)) = sched.pop() {
        end = end.max(dev.transfer(t, leg));
    }
    end
}

#[test]
fn device_throughput_meets_the_design_bounds() {
    let io = 4096.0;
    // A whole number of rounds on every unit count below, long enough that the first and last
    // round are under 1 % of the run.
    let total = io * 1024.0 * 200.0;
    // (bandwidth, latency µs, units, queue depth): link-, unit- and queue-bound regimes.
    let cases = [
        (10e9, 4.0, 256, 512),
        (1.6e12, 4.0, 256, 512),
        (1.6e12, 4.0, 64, 32),
        (2e9, 50.0, 8, 1),
        (1e12, 80.0, 1024, 128),
    ];
    for g in [Granularity::Fine, Granularity::Coarse] {
        for (bw, lat, units, qd) in cases {
            let mut dev = device(bw, lat, units, qd, io, g);
            let secs = read_all(&mut dev, total).to_seconds().0;
            let rate = total / secs;
            let l = lat * 1e-6;
            let bound = bw
                .min(f64::from(units) * io / l)
                .min(f64::from(qd) * io / (l + io / bw));
            assert!(
                rate <= bound * 1.000_001,
                "{g:?} {bw} {lat} {units} {qd}: {rate} > {bound}"
            );
            assert_relative_eq!(rate, bound, max_relative = 0.01);
        }
    }
}

#[test]
fn queue_depth_one_reproduces_the_kv_spill_formula_exactly() {
    // Every weight on the device, one access per layer, nothing else costs time.
    let io = "1TB";
    for (bw, lat) in [("2GB/s", "50us"), ("800MB/s", "0.05ms"), ("1.6TB/s", "4us")] {
        let sys = system(&streamed_system(bw, lat, 1, 1, io));
        let m = machine("smollm2-135m-instruct-q4_1", &sys);
        let c = case(0, 1, 0);
        let out = run(&m, &c, 1, 3);
        let t = &m.traffic;
        let bytes: f64 =
            t.layers.iter().map(|l| l.total().0).sum::<f64>() + t.embd_row.0 + t.output.0;
        let ops = (t.layers.len() + 1) as f64;
        let expected =
            bytes / BytesPerSec::parse(bw).unwrap().0 + ops * Seconds::parse(lat).unwrap().0;
        // Equal to the clock's resolution: each of the `ops` accesses rounds to a picosecond.
        assert!(
            (out.samples[0].0 - expected).abs() <= ops * 1e-12,
            "{} vs {expected}",
            out.samples[0].0
        );
    }
}

fn spill_system(read_bw: &str, median_us: f64, qd: u32) -> tiersim::config::system::SystemSpec {
    let sets = [
        format!("tiers.hbf.read_bw={read_bw}"),
        format!(
            "tiers.hbf.read_latency={{lognormal: {{median: {median_us}us, p99: {}us}}}}",
            3.0 * median_us
        ),
        format!("tiers.hbf.queue_depth={qd}"),
        "placement.kv.budget=64MiB".to_owned(),
    ];
    let sets: Vec<_> = sets
        .iter()
        .map(|s| load::Override::parse(s).unwrap())
        .collect();
    load::system(Some("h100-hbf"), &sets).unwrap().spec
}

fn mean_tg(sys: &tiersim::config::system::SystemSpec) -> f64 {
    let m = machine("qwen2.5-3b-instruct-q4_k_m", sys);
    let c = case(0, 8, 8192);
    (1..=4)
        .map(|seed| avg_ts(&c, &run(&m, &c, 2, seed)))
        .sum::<f64>()
        / 4.0
}

#[test]
fn more_bandwidth_less_latency_more_queue_depth_never_lower_tg() {
    let bws = ["20GB/s", "80GB/s", "300GB/s", "1.6TB/s"];
    let tg: Vec<f64> = bws
        .iter()
        .map(|bw| mean_tg(&spill_system(bw, 4.0, 64)))
        .collect();
    assert!(tg.windows(2).all(|w| w[1] >= w[0]), "bandwidth: {tg:?}");
    let lats = [100.0, 20.0, 4.0, 1.0];
    let tg: Vec<f64> = lats
        .iter()
        .map(|l| mean_tg(&spill_system("1.6TB/s", *l, 64)))
        .collect();
    assert!(tg.windows(2).all(|w| w[1] >= w[0]), "latency: {tg:?}");
    let qds = [1, 4, 32, 256];
    let tg: Vec<f64> = qds
        .iter()
        .map(|&q| mean_tg(&spill_system("1.6TB/s", 4.0, q)))
        .collect();
    assert!(tg.windows(2).all(|w| w[1] >= w[0]), "queue depth: {tg:?}");
}

#[test]
fn spilling_kv_to_slower_tiers_lowers_tg_in_order() {
    let c = case(0, 16, 32768);
    let tg = |name: &str| {
        let sys = load::system(Some(name), &[]).unwrap().spec;
        avg_ts(
            &c,
            &run(&machine("llama-3.1-8b-instruct-q4_k_m", &sys), &c, 2, 1),
        )
    };
    let (hbm, hbf, ssd) = (tg("h100"), tg("h100-hbf"), tg("h100-ssd"));
    assert!(hbm > hbf && hbf > ssd, "hbm {hbm} hbf {hbf} ssd {ssd}");
}

// ---------------------------------------------------------------------------------------------
// The command line

#[test]
fn simulate_runs_the_embedded_default_and_every_format() {
    let md = stdout(&["simulate", "-p", "64", "-n", "8", "-r", "2"]);
    assert!(md.contains("pp64") && md.contains("tg8"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&[
        "simulate", "-p", "64", "-n", "8", "-r", "2", "-o", "json",
    ]))
    .unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for key in [
        "n_prompt",
        "n_gen",
        "n_depth",
        "n_ubatch",
        "type_k",
        "avg_ns",
        "stddev_ns",
        "avg_ts",
        "stddev_ts",
        "samples_ns",
        "samples_ts",
        "model_size",
        "model_n_params",
        "ttft_ms",
        "tpot_p99_ms",
        "tiers",
    ] {
        assert!(rows[0].get(key).is_some(), "missing {key}");
    }
    let jsonl = stdout(&["simulate", "-p", "64", "-n", "8", "-r", "2", "-o", "jsonl"]);
    assert_eq!(jsonl.lines().count(), 2);
    let csv = stdout(&["simulate", "-p", "64", "-n", "8", "-r", "2", "-o", "csv"]);
    assert_eq!(csv.lines().count(), 3);
}

#[test]
fn llama_bench_flags_lists_and_ranges() {
    let out = stdout(&[
        "simulate",
        "--model",
        "smollm2-135m-instruct-q4_1",
        "--system",
        "h100",
        "-p",
        "32,64",
        "-n",
        "0",
        "-pg",
        "32,8",
        "-d",
        "0-256+256",
        "-ub",
        "16",
        "-ctk",
        "q8_0",
        "-ctv",
        "q8_0",
        "-r",
        "1",
        "-o",
        "jsonl",
    ]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Depths 0 and 256, each with pp32, pp64 and pg32,8.
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[3]["n_depth"], 256);
    assert_eq!(rows[2]["n_gen"], 8);
    assert_eq!(rows[0]["n_ubatch"], 16);
    assert_eq!(rows[0]["type_k"], "q8_0");
}

#[test]
fn same_seed_same_bytes_other_seed_other_samples() {
    let args = |seed: &'static str| {
        vec![
            "simulate",
            "-p",
            "128",
            "-n",
            "16",
            "-d",
            "4096",
            "-r",
            "3",
            "-o",
            "json",
            "--seed",
            seed,
            "--set",
            "placement.kv.budget=1MiB",
        ]
    };
    let a = stdout(&args("5"));
    assert_eq!(a, stdout(&args("5")));
    assert_ne!(a, stdout(&args("6")));
}

#[test]
fn set_overrides_reach_the_simulation() {
    let tg = |bw: &str| {
        let set = format!("tiers.hbm.read_bw={bw}");
        let out = stdout(&[
            "simulate", "--system", "h100", "-p", "0", "-n", "16", "-r", "1", "-o", "jsonl",
            "--set", &set,
        ]);
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        v["avg_ts"].as_f64().unwrap()
    };
    assert!(tg("1TB/s") < tg("3.35TB/s"));
}

#[test]
fn bad_input_exits_2_with_one_clear_sentence() {
    let dir = scratch("bad-input");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let good = tiersim::config::presets::system("h100").unwrap().yaml;
    fails_with(
        &["simulate", "--system", "no/such/file.yaml"],
        &["cannot read", "no/such/file.yaml"],
    );
    fails_with(
        &[
            "simulate",
            "--system",
            &write("bad.yaml", "name: [unclosed"),
        ],
        &["bad.yaml", "YAML"],
    );
    fails_with(
        &[
            "simulate",
            "--system",
            &write("unknown.yaml", &format!("{good}\nbogus_field: 1\n")),
        ],
        &["unknown.yaml", "bogus_field"],
    );
    fails_with(
        &[
            "simulate",
            "--system",
            &write(
                "neg.yaml",
                &good.replace("read_bw: 3.35TB/s", "read_bw: -3TB/s"),
            ),
        ],
        &["neg.yaml", "read_bw"],
    );
    fails_with(
        &["simulate", "--set", "tiers.hbm.read_bw=0GB/s"],
        &["tiers.hbm.read_bw", "positive"],
    );
    fails_with(
        &["simulate", "--set", "tiers.hbm.read_bw=3000"],
        &["read_bw", "unit"],
    );
    fails_with(
        &["simulate", "--model", "no-such-model"],
        &["no-such-model", "preset"],
    );
    fails_with(
        &[
            "simulate",
            "--model",
            "llama-3.1-70b-instruct-q4_k_m",
            "--system",
            "rtx4080",
        ],
        &["does not fit", "over"],
    );
    fails_with(
        &[
            "simulate",
            "--system",
            "h100",
            "-d",
            "200000",
            "--set",
            "tiers.hbm.capacity=4GB",
        ],
        &["KV cache", "does not fit"],
    );
    fails_with(&["simulate", "-ctk", "q9_9"], &["-ctk", "q9_9"]);
    fails_with(
        &["simulate", "-o", "xml"],
        &["xml", "md, csv, json, jsonl, sql or none"],
    );
}

// ---------------------------------------------------------------------------------------------
// kv_spill_sim.py parity (expected text produced by the script's formula under CPython)

#[test]
fn ceiling_prints_what_kv_spill_sim_prints() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--tier_mbps_list", "500,1000,2000,4000,8000"],
            "kv_kb_per_token= 256.0\nop_lat_ms= 0.05\nops_per_token= 2.0\n\ntier_mbps,tg_tps_max\n\
             500,1633.987\n1000,2808.989\n2000,4385.965\n4000,6097.561\n8000,7575.758\n",
        ),
        (
            &["--tier-mbps", "750.5"],
            "kv_kb_per_token= 256.0\nop_lat_ms= 0.05\nops_per_token= 2.0\n\ntier_mbps,tg_tps_max\n750.5,2267.029\n",
        ),
        (
            &[
                "--kv-kb-per-token",
                "0",
                "--op-lat-ms",
                "0",
                "--tier-mbps",
                "1e9",
            ],
            "kv_kb_per_token= 0.0\nop_lat_ms= 0.0\nops_per_token= 2.0\n\ntier_mbps,tg_tps_max\n1e+09,inf\n",
        ),
        (
            &[
                "--kv_kb_per_token",
                "32.75",
                "--tier_mbps_list",
                "0.5,1234567,1e-5",
                "--op_lat_ms",
                "1e-05",
                "--ops_per_token",
                "3",
            ],
            "kv_kb_per_token= 32.75\nop_lat_ms= 1e-05\nops_per_token= 3.0\n\ntier_mbps,tg_tps_max\n\
             0.5,15.267\n1.23457e+06,17690498.561\n1e-05,0.000\n",
        ),
        (
            &["--tier-mbps-list", "100", "--ops-per-token", "0"],
            "kv_kb_per_token= 256.0\nop_lat_ms= 0.05\nops_per_token= 0.0\n\ntier_mbps,tg_tps_max\n100,390.625\n",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["ceiling"];
        all.extend_from_slice(args);
        assert_eq!(stdout(&all), expected, "{args:?}");
    }
    fails_with(&["ceiling"], &["--tier-mbps"]);
    fails_with(
        &["ceiling", "--tier-mbps", "fast"],
        &["fast", "not a number"],
    );
}
#[test]
fn coarse_granularity_tracks_fine_on_random_latencies() {
    // One 72 MiB fetch from an HBF-like device: units pull work, so both should finish near
    // `ios · mean / units` plus one slow round, whatever the grouping.
    for (units, qd) in [(256u32, 512u32), (256, 128), (64, 64)] {
        let time = |g| {
            let p = DeviceParams {
                read_bw: BytesPerSec(1.6e12),
                write_bw: BytesPerSec(16e9),
                read_latency: LatencyDist::Lognormal {
                    median: Seconds::us(4.0),
                    p99: Seconds::us(10.0),
                },
                write_latency: LatencyDist::fixed(Seconds::us(100.0)),
                parallel_units: units,
                queue_depth: qd,
                io_size: Bytes(4096.0),
                read_path: None,
            };
            read_all(&mut Device::new(&p, g, 16), 72.0 * 1048576.0)
                .to_seconds()
                .0
        };
        let (fine, coarse) = (time(Granularity::Fine), time(Granularity::Coarse));
        assert_relative_eq!(coarse, fine, max_relative = 0.03);
    }
}

// ---------------------------------------------------------------------------------------------
// Sweeps

const SMALL_SWEEP: &str = "name: small
model: smollm2-135m-instruct-q4_1
system: h100-hbf
tests: {n_prompt: [64], n_gen: [8], n_depth: [2048]}
repeats: 2
seed: 7
set: {placement.kv.budget: 0B}
grid: true
vary:
  - {param: tiers.hbf.read_bw, range: {from: 20GB/s, to: 1.6TB/s, steps: 4, scale: log}}
  - {param: tiers.hbf.latency_scale, values: [1, 10]}
  - {param: tiers.hbf.queue_depth, values: [4, 512]}
";

fn sweep_to(dir: &std::path::Path, extra: &[&str]) -> String {
    let spec = dir.join("small.yaml");
    std::fs::write(&spec, SMALL_SWEEP).unwrap();
    let mut args = vec![
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--no-plots",
    ];
    args.extend_from_slice(extra);
    stdout(&args)
}

#[test]
fn sweeps_are_byte_identical_across_threads_shards_and_resume() {
    let one = scratch("sweep-1");
    sweep_to(&one, &["--threads", "1"]);
    let reference = std::fs::read(one.join("small.csv")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&reference).lines().count(),
        1 + 16 * 2
    );

    let two = scratch("sweep-2");
    sweep_to(&two, &["--threads", "2"]);
    assert_eq!(std::fs::read(two.join("small.csv")).unwrap(), reference);

    let shards = scratch("sweep-shards");
    for i in 0..3 {
        sweep_to(&shards, &["--shard", &format!("{i}/3")]);
    }
    let merged = shards.join("merged.csv");
    merge_shards(&shards, "small", 3, &merged);
    assert_eq!(std::fs::read(&merged).unwrap(), reference);

    // An interrupted run: the CSV stops inside point 5 and point 9 finished early (journal).
    let cut = scratch("sweep-resume");
    sweep_to(&cut, &[]);
    let text = String::from_utf8(reference.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let partial = format!(
        "{}\n{}",
        lines[..1 + 5 * 2 + 1].join("\n"),
        &lines[12][..10]
    );
    std::fs::write(cut.join("small.csv"), partial).unwrap();
    let journal = format!("{}\n{}\n{}\n", lines[0], lines[1 + 9 * 2], lines[2 + 9 * 2]);
    std::fs::write(cut.join("small.csv.pending"), journal).unwrap();
    let out = sweep_to(&cut, &["--resume"]);
    assert!(out.contains("resumed"), "{out}");
    assert!(out.contains("10 points simulated, 6 resumed"), "{out}");
    assert_eq!(std::fs::read(cut.join("small.csv")).unwrap(), reference);
    assert!(!cut.join("small.csv.pending").exists());
}

#[test]
fn bad_sweep_specs_fail_before_any_point_runs() {
    let dir = scratch("sweep-bad");
    let cases = [
        (
            SMALL_SWEEP.replace("tiers.hbf.queue_depth", "tiers.hbf.queue_depht"),
            "queue_depht",
        ),
        (
            SMALL_SWEEP.replace("values: [1, 10]", "values: [fast]"),
            "latency_scale",
        ),
        (SMALL_SWEEP.replace("from: 20GB/s", "from: 20"), "units"),
        (SMALL_SWEEP.replace("steps: 4", "steps: 0"), "steps"),
        (
            SMALL_SWEEP.replace("values: [4, 512]", "values: []"),
            "empty",
        ),
        (
            SMALL_SWEEP.replace("from: 20GB/s", "from: 0GB/s"),
            "positive",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let spec = dir.join(format!("bad{i}.yaml"));
        std::fs::write(&spec, text).unwrap();
        let out_dir = dir.join(format!("out{i}"));
        fails_with(
            &[
                "sweep",
                spec.to_str().unwrap(),
                "--out",
                out_dir.to_str().unwrap(),
            ],
            &[needle],
        );
        assert!(
            !out_dir.join("small.csv").exists(),
            "case {i} wrote results"
        );
    }
    let spec = dir.join("good.yaml");
    std::fs::write(&spec, SMALL_SWEEP).unwrap();
    fails_with(
        &["sweep", spec.to_str().unwrap(), "--shard", "3/2"],
        &["shard", "3/2"],
    );
}

// ---------------------------------------------------------------------------------------------
// Simulated ceilings, staging and cold start

fn ceiling_setup(units: u32, qd: u32, latency: LatencyDist) -> tiersim::ceiling::CeilingSetup {
    use tiersim::analytic::KvSpillCeiling;
    tiersim::ceiling::CeilingSetup {
        read_per_token: Bytes(2e6),
        write_per_token: Bytes(0.0),
        formula: KvSpillCeiling {
            bytes_per_token: Bytes(2e6),
            ops_per_token: 2.0,
            op_latency: Seconds::ms(0.05),
        },
        device: DeviceParams {
            read_bw: BytesPerSec(1.0),
            write_bw: BytesPerSec(16e9),
            read_latency: latency,
            write_latency: LatencyDist::fixed(Seconds::us(100.0)),
            parallel_units: units,
            queue_depth: qd,
            io_size: Bytes(4096.0),
            read_path: None,
        },
        granularity: Granularity::Coarse,
        lanes: 8,
        tokens: 32,
        seed: 3,
    }
}

#[test]
fn simulated_ceiling_equals_the_formula_when_configured_as_it_assumes() {
    let out = stdout(&[
        "ceiling",
        "--tier-mbps-list",
        "500,1000,2000,4000,8000",
        "--queue-depth",
        "1",
        "--tokens",
        "8",
    ]);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("| ") && !l.contains("tier MB/s"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 5, "{out}");
    for r in rows {
        let (formula, sim): (f64, f64) = (r[2].parse().unwrap(), r[3].parse().unwrap());
        assert_relative_eq!(formula, sim, max_relative = 1e-9);
    }
    // And through the library, to 1e-9 relative without printing's rounding.
    let s = tiersim::ceiling::CeilingSetup {
        device: tiersim::ceiling::CeilingSetup::formula_device(
            Bytes(256e3),
            2.0,
            Seconds::ms(0.05),
        ),
        read_per_token: Bytes(256e3),
        ..ceiling_setup(1, 1, LatencyDist::fixed(Seconds::ms(0.05)))
    };
    let s = tiersim::ceiling::CeilingSetup {
        formula: tiersim::analytic::KvSpillCeiling {
            bytes_per_token: Bytes(256e3),
            ..s.formula
        },
        ..s
    };
    for mbps in [1.0, 750.5, 1e6] {
        let p = s.point(BytesPerSec(mbps * 1e6)).unwrap();
        assert_relative_eq!(p.simulated_tps, p.formula_tps, max_relative = 1e-9);
    }
}

#[test]
fn more_queue_depth_or_units_never_lower_the_ceiling_and_heavier_tails_never_raise_it() {
    let bw = BytesPerSec(8e9);
    let monotone = |lat: LatencyDist, slack: f64| {
        let by_qd: Vec<f64> = [1, 2, 4, 16, 64, 256]
            .iter()
            .map(|&qd| {
                ceiling_setup(256, qd, lat.clone())
                    .point(bw)
                    .unwrap()
                    .simulated_tps
            })
            .collect();
        assert!(
            by_qd.windows(2).all(|w| w[1] >= w[0] * (1.0 - slack)),
            "queue depth: {by_qd:?}"
        );
        let by_units: Vec<f64> = [1, 2, 8, 32, 128, 512]
            .iter()
            .map(|&u| {
                ceiling_setup(u, 512, lat.clone())
                    .point(bw)
                    .unwrap()
                    .simulated_tps
            })
            .collect();
        assert!(
            by_units.windows(2).all(|w| w[1] >= w[0] * (1.0 - slack)),
            "units: {by_units:?}"
        );
    };
    // Exact with a fixed latency; with a random one, two configurations draw different
    // samples, so at the link bound they may differ by sampling noise (well under 1 %).
    monotone(LatencyDist::fixed(Seconds::us(20.0)), 1e-9);
    monotone(
        LatencyDist::Lognormal {
            median: Seconds::us(20.0),
            p99: Seconds::us(60.0),
        },
        0.01,
    );
    let by_tail: Vec<f64> = [20.0, 40.0, 100.0, 400.0]
        .iter()
        .map(|&p99| {
            ceiling_setup(
                64,
                64,
                LatencyDist::Lognormal {
                    median: Seconds::us(20.0),
                    p99: Seconds::us(p99),
                },
            )
            .point(bw)
            .unwrap()
            .simulated_tps
        })
        .collect();
    assert!(
        by_tail.windows(2).all(|w| w[1] <= w[0] * 1.005),
        "tail: {by_tail:?}"
    );
    assert!(
        by_tail[3] < 0.5 * by_tail[0],
        "a heavy tail costs: {by_tail:?}"
    );
}

#[test]
fn flash_writes_delay_reads_and_raise_p99_token_time() {
    let lat = LatencyDist::Lognormal {
        median: Seconds::us(4.0),
        p99: Seconds::us(10.0),
    };
    let quiet = ceiling_setup(64, 128, lat.clone());
    let busy = tiersim::ceiling::CeilingSetup {
        write_per_token: Bytes(256e3),
        ..ceiling_setup(64, 128, lat)
    };
    let bw = BytesPerSec(400e9);
    let (q, b) = (quiet.point(bw).unwrap(), busy.point(bw).unwrap());
    assert!(
        b.token_time[1].0 > q.token_time[1].0 * 1.2,
        "p99 {:?} vs {:?}",
        b.token_time,
        q.token_time
    );
    assert!(b.shares[4] > 0.05, "write share {:?}", b.shares);
}

#[test]
fn staging_reproduces_tier_copy_and_cold_start_includes_it() {
    use tiersim::cli::stage::simulate_staging;
    let size = Bytes(2_098_976_768.0);
    for (cap, lat) in [(250e6, 0.0), (500e6, 1.0), (2000e6, 5.0)] {
        let formula =
            tiersim::analytic::staging_time(size, BytesPerSec(cap), Bytes(4e6), Seconds::ms(lat));
        let sim = simulate_staging(size, BytesPerSec(cap), Bytes(4e6), Seconds::ms(lat)).unwrap();
        assert_relative_eq!(sim.0, formula.0, max_relative = 1e-9);
    }
    let ttft = |cold: bool| {
        let mut args = vec![
            "simulate", "--system", "h100-ssd", "-p", "128", "-n", "0", "-r", "1", "-o", "jsonl",
        ];
        if cold {
            args.extend(["--cold-from", "ssd"]);
        }
        let v: serde_json::Value =
            serde_json::from_str(stdout(&args).lines().next().unwrap()).unwrap();
        v["ttft_ms"].as_f64().unwrap()
    };
    let (warm, cold) = (ttft(false), ttft(true));
    // 2.1 GB through an SSD of 192 units x 4 KiB per ~62 us (about 12.6 GB/s): some 165 ms.
    assert!(
        cold - warm > 120.0 && cold - warm < 260.0,
        "warm {warm} cold {cold}"
    );
    fails_with(
        &["simulate", "--system", "h100", "--cold-from", "ssd"],
        &["--cold-from", "ssd"],
    );
}

// ---------------------------------------------------------------------------------------------
// Calibration

#[test]
fn validate_reports_error_per_metric_on_the_seeds_table() {
    let out = stdout(&[
        "validate",
        "--system",
        "laptop-ryzen3-5300u",
        "--model",
        "qwen2.5-3b-instruct-q4_k_m",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/calibration/findings_v1_cold.csv"
        ),
    ]);
    for needle in ["| pp |", "| tg |", "| all |"] {
        assert!(out.contains(needle), "{needle} missing from\n{out}");
    }
}

#[test]
fn calibrating_rows_of_two_models_with_one_model_is_refused() {
    let dir = scratch("two-models");
    let mut text = String::new();
    for model in ["smollm2-135m-instruct-q4_1", "qwen2.5-3b-instruct-q4_k_m"] {
        text.push_str(&stdout(&[
            "simulate",
            "--model",
            model,
            "--system",
            "laptop-ryzen3-5300u",
            "-p",
            "64",
            "-n",
            "8",
            "-r",
            "2",
            "-o",
            "jsonl",
        ]));
    }
    let file = dir.join("mixed.jsonl");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("p.yaml");
    fails_with(
        &[
            "calibrate",
            file.to_str().unwrap(),
            "--model",
            "smollm2-135m-instruct-q4_1",
            "--out",
            out.to_str().unwrap(),
        ],
        &["several models"],
    );
    assert!(!out.exists());
}

// ---------------------------------------------------------------------------------------------
// Requirements

#[test]
fn requirement_answers_meet_the_target_and_one_tolerance_less_does_not() {
    let spec = "name: t
model: smollm2-135m-instruct-q4_1
system: h100-hbf
tests: {n_prompt: [0], n_gen: [8], n_depth: [4096]}
repeats: 2
seed: 3
set: {placement.kv.budget: 0B}
solve: {param: tiers.hbf.read_bw, bounds: [1GB/s, 4TB/s], goal: least, tolerance: 2%}
targets: ['tg >= 0.9*baseline', 'tg >= 0.5*baseline', 'tpot_p99 <= 2ms']
over:
  - {param: tiers.hbf.latency_scale, values: [0.5, 2]}
";
    let p = tiersim::sweep::require::Prepared::load(spec, "test").unwrap();
    let rows = p.solve(2).unwrap();
    assert_eq!(rows.len(), 6);
    let baselines = tiersim::sweep::point::BaselineCache::default();
    let mut found = 0;
    for (i, r) in rows.iter().enumerate() {
        let combo = i / 3;
        let target = &p.targets[i % 3];
        if let tiersim::sweep::require::Answer::Found { value, .. } = r.answer {
            found += 1;
            let at = p.evaluate(&baselines, combo, value).unwrap();
            assert!(
                target.check(&p.cases, &at).unwrap().0,
                "{} fails at its answer {value}",
                r.target
            );
            let short = p.evaluate(&baselines, combo, p.short_of(value)).unwrap();
            assert!(
                !target.check(&p.cases, &short).unwrap().0,
                "{} meets one tolerance short of {value}",
                r.target
            );
        }
    }
    assert!(found >= 4, "{rows:?}");
    // Parallel solving gives the same table as one thread.
    assert_eq!(p.csv(&rows), p.csv(&p.solve(1).unwrap()));
}

#[test]
fn sweeps_plot_curves_and_contours_and_plot_redraws_them() {
    let dir = scratch("sweep-plots");
    let spec = dir.join("two.yaml");
    std::fs::write(
        &spec,
        "name: two
model: smollm2-135m-instruct-q4_1
system: h100-hbf
tests: {n_prompt: [0], n_gen: [8], n_depth: [2048]}
set: {placement.kv.budget: 0B}
grid: true
vary:
  - {param: tiers.hbf.read_bw, range: {from: 10GB/s, to: 1.6TB/s, steps: 5, scale: log}}
  - {param: tiers.hbf.latency_scale, values: [0.5, 1, 4, 16]}
",
    )
    .unwrap();
    let out = stdout(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    let curve = dir.join("two.tg8-d2048.svg");
    let contour = dir.join("two.tg8-d2048.contour.svg");
    assert!(out.contains("two.tg8-d2048.contour.svg"), "{out}");
    let (curve_svg, contour_svg) = (
        std::fs::read_to_string(&curve).unwrap(),
        std::fs::read_to_string(&contour).unwrap(),
    );
    assert!(
        curve_svg.starts_with("<svg")
            && curve_svg.contains("B/s")
            && curve_svg.contains("baseline")
    );
    assert!(contour_svg.contains("<polyline") || contour_svg.contains("<path"));
    let again = dir.join("again");
    stdout(&[
        "plot",
        dir.join("two.csv").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(again.join("two.tg8-d2048.svg")).unwrap(),
        curve_svg
    );
    assert_eq!(
        std::fs::read_to_string(again.join("two.tg8-d2048.contour.svg")).unwrap(),
        contour_svg
    );
}

#[test]
fn flash_lifetime_follows_capacity_pe_cycles_and_write_rate() {
    let run = |depth: &str| {
        let out = stdout(&[
            "simulate",
            "--system",
            "h100-hbf",
            "-p",
            "0",
            "-n",
            "32",
            "-d",
            depth,
            "-r",
            "1",
            "-o",
            "jsonl",
            "--set",
            "placement.kv.budget=64MiB",
        ]);
        serde_json::from_str::<serde_json::Value>(out.lines().next().unwrap()).unwrap()
    };
    // Nothing spills at depth 0: no writes, no wear.
    assert!(run("0")["tiers"][1]["lifetime_years"].is_null());
    let r = run("8192");
    let hbf = &r["tiers"][1];
    let sys = load::system(Some("h100-hbf"), &[]).unwrap().spec;
    let t = &sys.tiers[1];
    let e = t.endurance.as_ref().unwrap();
    let rate = hbf["bytes_written"].as_f64().unwrap() / (r["avg_ns"].as_f64().unwrap() * 1e-9);
    let years = t.capacity.0 * e.pe_cycles / (rate * e.waf) / (365.25 * 86400.0);
    assert_relative_eq!(
        hbf["lifetime_years"].as_f64().unwrap(),
        years,
        max_relative = 1e-4
    );
}

#[test]
fn overlapping_fetches_with_compute_never_slows_decode() {
    let tg = |mode: &str| {
        let set = format!("overlap.mode={mode}");
        let out = stdout(&[
            "simulate",
            "--model",
            "smollm2-135m-instruct-q4_1",
            "-p",
            "0",
            "-n",
            "16",
            "-d",
            "8192",
            "-r",
            "1",
            "-o",
            "jsonl",
            "--set",
            "placement.kv.budget=0B",
            "--set",
            &set,
            "--set",
            "overlap.prefetch_layers=2",
        ]);
        serde_json::from_str::<serde_json::Value>(out.lines().next().unwrap()).unwrap()["avg_ts"]
            .as_f64()
            .unwrap()
    };
    let (none, stream, prefetch) = (tg("none"), tg("stream"), tg("prefetch"));
    assert!(
        stream >= none && prefetch >= none,
        "none {none} stream {stream} prefetch {prefetch}"
    );
}
