//! Realism of the mixture-of-experts, batching and llama.cpp placement models: identities and
//! limits that hold whatever the presets' figures are, each able to fail.

use std::collections::HashMap;

use approx::assert_relative_eq;
use tiersim::config::load::{self, Override};
use tiersim::config::system::SystemSpec;
use tiersim::model::quant::QuantType;
use tiersim::model::spec::ModelSpec;
use tiersim::model::traffic::ModelTraffic;
use tiersim::scenario::{TestCase, TestOutcome};
use tiersim::sim::machine::Machine;

use crate::helpers::{csv_rows, fails_with, num, run, scratch, stdout, tiersim};

const MOE: &str = "qwen3-30b-a3b-iq4_xs";
const DENSE: &str = "qwen2.5-3b-instruct-q4_k_m";

// ---------------------------------------------------------------------------------------------
// Helpers

fn overrides(sets: &[&str]) -> Vec<Override> {
    sets.iter()
        .map(|s| Override::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect()
}

fn preset_system(name: &str, sets: &[&str]) -> SystemSpec {
    load::system(Some(name), &overrides(sets))
        .unwrap_or_else(|e| panic!("{name} {sets:?}: {e}"))
        .spec
}

fn model(name: &str, sets: &[&str]) -> ModelSpec {
    load::model(Some(name), &overrides(sets))
        .unwrap_or_else(|e| panic!("{name} {sets:?}: {e}"))
        .spec
}

fn place(model: &ModelSpec, system: &SystemSpec) -> Machine {
    Machine::new(model, system).expect("the model fits")
}

/// A tg test of `n` tokens at depth 0 with `seqs` sequences, llama-bench's other defaults.
fn tg(n: u32, seqs: u32) -> TestCase {
    TestCase {
        n_gen: n,
        n_seq: seqs,
        ..TestCase::default()
    }
}

/// Mean rate of an outcome (every sequence's tokens).
fn rate(case: &TestCase, out: &TestOutcome) -> f64 {
    out.rate_stats(case).0
}

/// Every routed expert of `t`, in bytes.
fn all_expert_bytes(t: &ModelTraffic) -> f64 {
    t.layers.iter().map(|l| l.experts_total().0).sum()
}

/// The number of routed experts of `t` over all layers.
fn all_experts(t: &ModelTraffic) -> u64 {
    t.layers.iter().map(|l| u64::from(l.n_experts)).sum()
}

/// h100-hbf with every routed expert of the MoE model homed on HBF, plus `extra` overrides.
fn experts_on_hbf(extra: &[&str]) -> SystemSpec {
    let mut sets = vec!["placement.weights.rules=[{tensors: [experts], tier: hbf}]"];
    sets.extend_from_slice(extra);
    preset_system("h100-hbf", &sets)
}

/// The MoE preset on h100-hbf, experts on HBF, with an expert cache of `cache` and `skew`.
fn moe_with_cache(cache: &str, skew: f64, warm: bool) -> Machine {
    let cache = format!("experts.cache={cache}");
    let skew = format!("experts.skew={skew}");
    let warm = format!("experts.warm={warm}");
    place(&model(MOE, &[]), &experts_on_hbf(&[&cache, &skew, &warm]))
}

// ---------------------------------------------------------------------------------------------
// 1. A MoE with every expert local decodes like the dense model of its active parameters

/// A small MoE (64 experts of 512, 4 per token, no shared expert) or its dense twin (one FFN of
/// 4 × 512), otherwise identical. The router is q4_0 rather than f32 so its bytes stay small;
/// the test accounts for them exactly anyway.
fn moe_twin(moe: bool) -> String {
    let ffn = if moe {
        "ffn_dim: 6144\nmoe:\n  n_experts: 64\n  experts_per_token: 4\n  expert_ffn_dim: 512\n  \
         shared_expert_ffn_dim: 0\n"
    } else {
        "ffn_dim: 2048\n"
    };
    format!(
        "name: twin-{}
arch: {}
n_layers: 16
d_model: 2048
n_heads: 16
n_kv_heads: 4
head_dim: 128
ffn_gated: true
vocab: 32000
context_length: 4096
tied_embeddings: false
norms_per_layer: 2
quant:
  default: q4_0
  token_embd: q4_0
  output: q8_0
  overrides:
    - tensors: [ffn_gate_inp]
      type: q4_0
{ffn}",
        if moe { "moe" } else { "dense" },
        if moe { "qwen3moe" } else { "llama" },
    )
}

#[test]
fn moe_with_local_experts_decodes_at_the_dense_rate_of_its_active_parameters() {
    let dir = scratch("moe-twin");
    let load_twin = |moe: bool| {
        let path = dir.join(if moe { "moe.yaml" } else { "dense.yaml" });
        std::fs::write(&path, moe_twin(moe)).unwrap();
        load::model(Some(path.to_str().unwrap()), &[])
            .expect("the twin loads")
            .spec
    };
    let (moe, dense) = (load_twin(true), load_twin(false));
    let (tm, td) = (ModelTraffic::new(&moe), ModelTraffic::new(&dense));
    // The twin's FFN is exactly the four active experts: bytes and parameters.
    for (m, d) in tm.layers.iter().zip(&td.layers) {
        assert_eq!(m.expert.0 * 4.0, d.ffn.0);
        assert_eq!(m.expert_params * 4.0, d.ffn_params);
        assert_eq!(m.ffn.0, 0.0);
    }
    // The router is all that differs: its bytes ride with the attention class.
    let router = tm.layers[0].attn.0 - td.layers[0].attn.0;
    assert_eq!(router, 2048.0 * 64.0 * 18.0 / 32.0);

    let case = tg(64, 1);
    // Without per-node costs: the MoE's graph has more nodes than its dense twin's, a cost
    // this identity is not about.
    let no_nodes = "compute.node_overhead=0s";
    let dense_out = run(
        &place(&dense, &preset_system("h100", &[no_nodes])),
        &case,
        1,
        1,
    );
    let dense_rate = rate(&case, &dense_out);
    for routing in ["sampled", "expected"] {
        let sys = preset_system("h100", &[&format!("experts.routing={routing}"), no_nodes]);
        let m = place(&moe, &sys);
        let out = run(&m, &case, 1, 1);
        let moe_rate = rate(&case, &out);
        let gap = (dense_rate - moe_rate) / dense_rate;
        eprintln!(
            "MoE ({routing}) {moe_rate:.2} t/s vs dense {dense_rate:.2} t/s: gap {:.3} %",
            gap * 100.0
        );
        assert_relative_eq!(moe_rate, dense_rate, max_relative = 0.02);
        // Memory-bound on an H100: the MoE is slower by exactly the router's bytes.
        let extra = case.n_gen as f64 * tm.layers.len() as f64 * router / m.local_bw.0;
        assert_relative_eq!(
            out.samples[0].0 - dense_out.samples[0].0,
            extra,
            max_relative = 1e-6
        );
        assert!(out.expert_cache.is_none());
    }
}

// ---------------------------------------------------------------------------------------------
// 2. A cache holding every expert

#[test]
fn a_warm_cache_of_every_expert_always_hits_and_never_reads_the_home_tier() {
    let t = ModelTraffic::new(&model(MOE, &[]));
    let total = all_expert_bytes(&t);
    assert_eq!(total.fract(), 0.0);
    let m = moe_with_cache(&format!("{total}B"), 0.0, true);
    let case = tg(32, 1);
    let out = run(&m, &case, 2, 3);
    let c = out.expert_cache.expect("a cache is in use");
    eprintln!("warm full cache: {c:?}, hit rate {:?}", c.hit_rate());
    assert_eq!(c.accesses, 2 * 32 * 48 * 8);
    assert_eq!(c.hits, c.accesses);
    assert_eq!(c.hit_rate(), Some(1.0));
    assert_eq!(out.tiers[1].bytes_read.0, 0.0);
    assert_eq!(out.tiers[1].bytes_written.0, 0.0);
    assert_eq!(out.tiers[1].stall.0, 0.0);
}

#[test]
fn a_cold_cache_of_every_expert_misses_each_expert_at_most_once() {
    let t = ModelTraffic::new(&model(MOE, &[]));
    let total = all_expert_bytes(&t);
    let m = moe_with_cache(&format!("{total}B"), 0.0, false);
    let case = tg(256, 1);
    let out = run(&m, &case, 1, 3);
    let c = out.expert_cache.expect("a cache is in use");
    let misses = c.accesses - c.hits;
    let hit_rate = c.hit_rate().unwrap();
    eprintln!(
        "cold full cache over tg256: {c:?}, misses {misses} of {} experts, hit rate {hit_rate:.4}",
        all_experts(&t)
    );
    assert_eq!(c.accesses, 256 * 48 * 8);
    assert!(misses <= all_experts(&t), "{misses} misses");
    assert!(hit_rate > 0.9, "hit rate {hit_rate}");
    // Every miss, and nothing else, is read from HBF.
    assert_relative_eq!(
        out.tiers[1].bytes_read.0,
        misses as f64 * t.layers[0].expert.0,
        max_relative = 1e-12
    );
}

// ---------------------------------------------------------------------------------------------
// 3 and 4. Hit rate and rate grow with the cache and the skew; bytes follow the misses

#[test]
fn hit_rate_and_tg_never_fall_as_the_cache_grows_or_the_skew_steepens() {
    let case = tg(32, 1);
    let (mut hits, mut rates) = (Vec::new(), Vec::new());
    for gib in [1, 2, 4, 8] {
        let out = run(
            &moe_with_cache(&format!("{gib}GiB"), 0.8, true),
            &case,
            2,
            5,
        );
        hits.push(out.expert_cache.unwrap().hit_rate().unwrap());
        rates.push(rate(&case, &out));
    }
    eprintln!("cache 1/2/4/8 GiB at skew 0.8: hit rates {hits:?}, tg {rates:?}");
    assert!(hits.windows(2).all(|w| w[1] >= w[0]), "hit rates {hits:?}");
    assert!(rates.windows(2).all(|w| w[1] >= w[0]), "tg {rates:?}");
    assert!(hits[3] > hits[0] + 0.1, "the cache matters: {hits:?}");

    let by_skew: Vec<f64> = [0.0, 0.8, 1.5]
        .iter()
        .map(|&s| {
            let out = run(&moe_with_cache("2GiB", s, true), &case, 2, 5);
            out.expert_cache.unwrap().hit_rate().unwrap()
        })
        .collect();
    eprintln!("skew 0/0.8/1.5 at 2 GiB: hit rates {by_skew:?}");
    assert!(by_skew.windows(2).all(|w| w[1] >= w[0]), "{by_skew:?}");
}

#[test]
fn bytes_read_from_the_experts_home_equal_misses_times_one_expert() {
    let t = ModelTraffic::new(&model(MOE, &[]));
    let expert = t.layers[0].expert.0;
    assert!(t.layers.iter().all(|l| l.expert.0 == expert));
    let reps = 3;
    for (cache, skew, warm) in [
        ("1GiB", 0.0, true),
        ("3GiB", 1.2, true),
        ("6GiB", 0.5, false),
    ] {
        let m = moe_with_cache(cache, skew, warm);
        let case = tg(24, 1);
        let out = run(&m, &case, reps, 11);
        let c = out.expert_cache.unwrap();
        let misses = (c.accesses - c.hits) as f64;
        eprintln!(
            "cache {cache} skew {skew} warm {warm}: {c:?}, hbf read {} B per rep",
            out.tiers[1].bytes_read.0
        );
        assert!(misses > 0.0);
        // Tier figures are means over repetitions, cache counts sums.
        assert_relative_eq!(
            out.tiers[1].bytes_read.0,
            misses * expert / f64::from(reps),
            max_relative = 1e-12
        );
    }
    // Without a cache every routed expert is read from HBF: k per layer per token.
    let m = place(&model(MOE, &[]), &experts_on_hbf(&[]));
    let case = tg(8, 1);
    let out = run(&m, &case, 1, 1);
    assert!(out.expert_cache.is_none());
    assert_relative_eq!(
        out.tiers[1].bytes_read.0,
        8.0 * 48.0 * 8.0 * expert,
        max_relative = 1e-12
    );
}

#[test]
fn sampled_routing_averages_to_the_expected_distinct_expert_count() {
    let t = ModelTraffic::new(&model(MOE, &[]));
    let l = &t.layers[0];
    // Eight sequences decoding together: each step routes eight tokens through every layer.
    let case = tg(8, 8);
    let bytes = |sets: &[&str]| {
        let m = place(&model(MOE, &[]), &experts_on_hbf(sets));
        run(&m, &case, 4, 21).tiers[1].bytes_read.0
    };
    let expected = 8.0 * 48.0 * l.experts_read(8) * l.expert.0;
    let exact = bytes(&["experts.routing=expected"]);
    let sampled = bytes(&[]);
    let skewed = bytes(&["experts.skew=1.2"]);
    eprintln!(
        "distinct experts per layer and step of 8 tokens: formula {:.2}, expected routing \
         {:.2}, sampled {:.2}, sampled at skew 1.2 {:.2}",
        l.experts_read(8),
        exact / (8.0 * 48.0 * l.expert.0),
        sampled / (8.0 * 48.0 * l.expert.0),
        skewed / (8.0 * 48.0 * l.expert.0)
    );
    assert_relative_eq!(exact, expected, max_relative = 1e-12);
    // Uniform routing picks each expert with probability k/n per token, so the mean union is
    // the formula; 4 repetitions × 8 steps × 48 layers leave sampling noise well under 2 %.
    assert_relative_eq!(sampled, expected, max_relative = 0.02);
    // Popular experts are picked together, so a skew shrinks the union.
    assert!(skewed < 0.9 * sampled, "{skewed} vs {sampled}");
}

// ---------------------------------------------------------------------------------------------
// 5. Batching

#[test]
fn one_sequence_reproduces_the_default_record_bit_for_bit() {
    let sys = preset_system("h100-hbf", &["placement.kv.budget=64MiB"]);
    let m = place(&model(DENSE, &[]), &sys);
    let base = TestCase {
        n_prompt: 64,
        n_gen: 16,
        n_depth: 4096,
        ..TestCase::default()
    };
    let reference = run(&m, &base, 2, 9);
    for seqs in [0, 1] {
        let c = TestCase {
            n_seq: seqs,
            ..base
        };
        assert_eq!(run(&m, &c, 2, 9), reference, "n_seq {seqs}");
    }
    // And through the command line: `--npl 1` is the default.
    let args = [
        "simulate",
        "-p",
        "32",
        "-n",
        "8",
        "-d",
        "4096",
        "-r",
        "2",
        "-o",
        "csv",
        "--set",
        "placement.kv.budget=64MiB",
    ];
    let plain = stdout(&args);
    let mut with = args.to_vec();
    with.extend(["--npl", "1"]);
    assert_eq!(stdout(&with), plain);
}

/// Weight bytes one decode step reads and the matmul parameters it multiplies per token.
fn per_step(t: &ModelTraffic) -> (f64, f64) {
    let bytes = t.layers.iter().map(|l| l.total().0).sum::<f64>() + t.output.0 + t.output_norm.0;
    let params = t.layers.iter().map(|l| l.active_params).sum::<f64>() + t.head_params;
    (bytes, params)
}

#[test]
fn batched_decode_scales_until_the_roofline_crossover_then_flattens() {
    let spec = model(DENSE, &[]);
    let t = ModelTraffic::new(&spec);

    // Memory-bound: each extra sequence is nearly free (the preset as it is, overheads included).
    let m = place(&spec, &preset_system("h100", &["compute.node_overhead=0s"]));
    let case = |b| tg(16, b);
    let r1 = rate(&case(1), &run(&m, &case(1), 1, 1));
    for b in [2, 4, 8] {
        let rb = rate(&case(b), &run(&m, &case(b), 1, 1));
        eprintln!("h100 B={b}: {rb:.1} t/s, rate(B)/rate(1) = {:.4}", rb / r1);
        assert_relative_eq!(rb / r1, f64::from(b), max_relative = 0.05);
    }

    // Without fixed overheads the step time is the roofline alone; without per-kernel rates
    // the matmul rate is `peak × prefill_efficiency`, the closed form below.
    let sys = preset_system(
        "h100",
        &[
            "compute.layer_overhead=0s",
            "compute.step_overhead=0s",
            "compute.node_overhead=0s",
            "compute.kernels={}",
        ],
    );
    let m = place(&spec, &sys);
    let c = &sys.compute;
    let (bytes, params) = per_step(&t);
    let memory = bytes / (sys.tiers[0].read_bw.0 * c.memory_efficiency);
    let per_token = 2.0 * params / (c.peak_flops.0 * c.prefill_efficiency);
    let b_star = memory / per_token;
    let step = |b: u32| {
        let cs = tg(8, b);
        run(&m, &cs, 1, 1).samples[0].0 / 8.0
    };
    let grid: Vec<u32> = (0..=11).map(|i| 1 << i).collect();
    let steps: Vec<f64> = grid.iter().map(|&b| step(b)).collect();
    let rates: Vec<f64> = grid
        .iter()
        .zip(&steps)
        .map(|(&b, s)| f64::from(b) / s)
        .collect();
    eprintln!("B* = {b_star:.1}; step times {steps:?}; rates {rates:?}");
    // Beyond the crossover the step is all compute: equal rates to the clock's rounding (a
    // picosecond per event on a ~250 µs step).
    assert!(
        rates.windows(2).all(|w| w[1] >= w[0] * (1.0 - 1e-8)),
        "rates {rates:?}"
    );
    // Below it the step is the weights streamed once (plus a few tokens of KV and embedding).
    eprintln!(
        "step at B=1 {:.4e} s vs weight bytes / effective bandwidth {memory:.4e} s",
        steps[0]
    );
    assert!(steps[0] >= memory);
    assert_relative_eq!(steps[0], memory, max_relative = 0.01);
    // And the plateau is the matmul rate over two FLOPs per active parameter (attention at a
    // context of a few tokens adds well under 1 %).
    let plateau = 1.0 / per_token;
    eprintln!(
        "plateau {:.1} t/s vs peak × prefill efficiency / (2 × params) = {plateau:.1}",
        rates.last().unwrap()
    );
    assert_relative_eq!(*rates.last().unwrap(), plateau, max_relative = 0.01);
    assert!(*rates.last().unwrap() <= plateau);
    // The knee where the flat (memory) and linear (compute) asymptotes meet.
    let big = *grid.last().unwrap();
    let slope = steps.last().unwrap() / f64::from(big);
    let knee = steps[0] / slope;
    eprintln!("observed knee {knee:.1} vs B* {b_star:.1}");
    assert!(
        knee > b_star / 2.0 && knee < b_star * 2.0,
        "knee {knee} B* {b_star}"
    );
    let b2 = (2.0 * b_star).round() as u32;
    let b4 = (4.0 * b_star).round() as u32;
    let (s2, s4) = (step(b2), step(b4));
    let gain = (f64::from(b4) / s4) / (f64::from(b2) / s2);
    eprintln!("rate({b4})/rate({b2}) = {gain:.4}");
    assert!(gain < 1.25, "rate(4B*)/rate(2B*) = {gain}");
}

// ---------------------------------------------------------------------------------------------
// 6. KV per sequence

#[test]
fn each_sequence_spills_its_own_kv_and_reads_it_every_step() {
    let spec = model(DENSE, &[]);
    let sys = preset_system("h100-hbf", &[]);
    let m = place(&spec, &sys);
    let t = &m.traffic;
    let per_token = t.kv_per_token(
        tiersim::model::quant::QuantType::F16,
        tiersim::model::quant::QuantType::F16,
    );
    let budget = sys.placement.kv.budget.unwrap().0;
    let layers = t.layers.len() as f64;
    let n_gen = 4u32;
    let depth = 32768u32;
    let mut per_step_read = Vec::new();
    let mut rates = Vec::new();
    for seqs in [1u32, 4] {
        let case = TestCase {
            n_gen,
            n_depth: depth,
            n_seq: seqs,
            ..TestCase::default()
        };
        let out = run(&m, &case, 1, 2);
        // Each sequence keeps budget / seqs in HBM; the rest of its context is read from HBF.
        let cap = (budget / f64::from(seqs) / (per_token.0 * layers)).floor() as u64;
        let spilled: u64 = (0..u64::from(n_gen))
            .map(|i| u64::from(depth) + i - cap)
            .sum();
        let read = f64::from(seqs) * layers * per_token.0 * spilled as f64;
        let written = f64::from(seqs) * layers * per_token.0 * f64::from(n_gen);
        eprintln!(
            "B={seqs}: cap {cap} tokens per sequence, hbf read {:.4e} B (formula {read:.4e}), \
             written {:.4e} B, {:.2} t/s",
            out.tiers[1].bytes_read.0,
            out.tiers[1].bytes_written.0,
            rate(&case, &out)
        );
        assert_relative_eq!(out.tiers[1].bytes_read.0, read, max_relative = 1e-12);
        assert_relative_eq!(out.tiers[1].bytes_written.0, written, max_relative = 1e-12);
        per_step_read.push(out.tiers[1].bytes_read.0 / f64::from(n_gen));
        rates.push(rate(&case, &out));
    }
    assert!(
        per_step_read[1] >= 4.0 * per_step_read[0],
        "{per_step_read:?}"
    );
    assert!(rates[1] < 4.0 * rates[0], "KV-bound: {rates:?}");
}

// ---------------------------------------------------------------------------------------------
// 7. llama.cpp's placement flags on the command line

fn tg_csv(extra: &[&str]) -> HashMap<String, String> {
    let mut args = vec![
        "simulate", "--system", "rtx4080", "-p", "0", "-n", "16", "-r", "1", "-o", "csv",
    ];
    args.extend_from_slice(extra);
    let rows = csv_rows(&stdout(&args));
    assert_eq!(rows.len(), 1);
    // Tier columns are named by position: rtx4080's GDDR first, its host memory second.
    assert_eq!((&*rows[0]["tier0"], &*rows[0]["tier1"]), ("gddr", "host"));
    rows.into_iter().next().unwrap()
}

#[test]
fn more_gpu_layers_never_slow_decode_and_the_record_says_how_many() {
    let mut rates = Vec::new();
    for n in ["0", "16", "33"] {
        let row = tg_csv(&["-m", "llama-3.1-8b-instruct-q4_k_m", "-ngl", n]);
        assert_eq!(row["n_gpu_layers"], n);
        rates.push(num(&row, "avg_ts"));
    }
    eprintln!("-ngl 0/16/33: {rates:?}");
    assert!(rates.windows(2).all(|w| w[1] >= w[0]), "{rates:?}");
    assert!(rates[2] > 2.0 * rates[0], "{rates:?}");

    fails_with(
        &[
            "simulate",
            "--system",
            "rtx4080",
            "-m",
            "llama-3.1-8b-instruct-q4_k_m",
            "-ot",
            "foo=CPU",
        ],
        &["foo", "matches no tensor"],
    );

    let mut rates = Vec::new();
    for k in ["0", "24", "48"] {
        let row = tg_csv(&["-m", MOE, "--n-cpu-moe", k]);
        rates.push(num(&row, "avg_ts"));
    }
    eprintln!("--n-cpu-moe 0/24/48: {rates:?}");
    assert!(rates.windows(2).all(|w| w[1] <= w[0]), "{rates:?}");
    assert!(rates[2] < rates[0], "{rates:?}");
}

#[test]
fn a_host_processor_computes_offloaded_layers_at_its_memory_bandwidth() {
    let model_name = "llama-3.1-8b-instruct-q4_k_m";
    let cpu = "tiers.host.compute={device: cpu, peak_flops: 1.4TFLOP/s, efficiency: 0.5, \
               memory_bw: 64GB/s}";
    // The preset's host CPU removed: host weights cross the PCIe link to the GPU.
    let streamed = num(
        &tg_csv(&[
            "-m",
            model_name,
            "-ngl",
            "0",
            "--set",
            "tiers.host.compute=null",
        ]),
        "avg_ts",
    );
    let hosted_row = tg_csv(&["-m", model_name, "-ngl", "0", "--set", cpu]);
    let hosted = num(&hosted_row, "avg_ts");
    let t = ModelTraffic::new(&model(model_name, &[]));
    let sys = preset_system("rtx4080", &[]);
    let c = &sys.compute;
    // The CPU reads every weight a step touches (the layers and the output head) at 64 GB/s;
    // the GPU adds its fixed overheads.
    let bytes: f64 = t.layers.iter().map(|l| l.total().0).sum::<f64>() + t.output.0;
    let step = bytes / 64e9 + c.step_overhead.0 + t.layers.len() as f64 * c.layer_overhead.0;
    let formula = 1.0 / step;
    let link_bound = 25e9 / bytes;
    eprintln!(
        "-ngl 0: streamed over PCIe {streamed:.3} t/s (bound {link_bound:.3}), host compute \
         {hosted:.3} t/s, formula {formula:.3} t/s (gap {:.2} %)",
        (hosted - formula) / formula * 100.0
    );
    assert!(streamed <= link_bound, "{streamed} > {link_bound}");
    assert!(hosted > streamed, "{hosted} <= {streamed}");
    assert_relative_eq!(hosted, formula, max_relative = 0.10);
    // The host's in-place traffic is its tier's: every weight once per decoded token, the
    // token's embedding row, and the KV cache of its layers, which llama.cpp keeps with them
    // (tg16 from an empty cache attends over 0 + 1 + … + 15 tokens and writes 16).
    let kv = t.kv_per_token(QuantType::F16, QuantType::F16).0 * t.layers.len() as f64;
    assert_relative_eq!(
        num(&hosted_row, "tier1_bytes_read"),
        16.0 * (bytes + t.embd_row.0) + 120.0 * kv,
        max_relative = 1e-9
    );
    assert_relative_eq!(
        num(&hosted_row, "tier1_bytes_written"),
        16.0 * kv,
        max_relative = 1e-9
    );
}

#[test]
fn a_layers_kv_cache_stays_where_ngl_puts_the_layer_and_nkvo_keeps_all_of_it_on_the_host() {
    const LLAMA: &str = "llama-3.1-8b-instruct-q4_k_m";
    let t = ModelTraffic::new(&model(LLAMA, &[]));
    let per_token = t.kv_per_token(QuantType::F16, QuantType::F16).0;
    let n_layers = t.layers.len() as f64;
    // tg16 at depth 4096 attends over 4096 + 4097 + … + 4111 cached tokens and adds 16.
    let (attended, added) = (16.0 * 4096.0 + 120.0, 16.0);
    let row = |extra: &[&str]| {
        let mut args = vec!["-m", LLAMA, "-d", "4096"];
        args.extend_from_slice(extra);
        tg_csv(&args)
    };
    // Layers below n_layers + 1 − N stay on the CPU with their KV cache: -ngl 0 and 1 keep all
    // 32 there, -ngl 17 keeps 16, -ngl 33 none.
    let mut rates = Vec::new();
    for (ngl, on_host) in [
        ("0", 32.0),
        ("1", 32.0),
        ("9", 24.0),
        ("17", 16.0),
        ("33", 0.0),
    ] {
        let r = row(&["-ngl", ngl]);
        assert_relative_eq!(
            num(&r, "tier1_bytes_written"),
            on_host * per_token * added,
            max_relative = 1e-9
        );
        rates.push(num(&r, "avg_ts"));
    }
    eprintln!("tg16 @ d4096 for -ngl 0/1/9/17/33: {rates:?} t/s");
    assert!(rates.windows(2).all(|w| w[1] >= w[0]), "{rates:?}");

    // -nkvo moves every layer's cache off the GPU: the GPU's traffic loses exactly the KV
    // reads and writes, and the host gains them, whether the host CPU attends in place or the
    // GPU reads the cache over the link.
    let gpu = row(&["-ngl", "99"]);
    for host_cpu in [true, false] {
        let mut extra = vec!["-ngl", "99", "-nkvo"];
        if !host_cpu {
            extra.extend(["--set", "tiers.host.compute=null"]);
        }
        let nkvo = row(&extra);
        assert_relative_eq!(
            num(&gpu, "tier0_bytes_read") - num(&nkvo, "tier0_bytes_read"),
            n_layers * per_token * (attended + added),
            max_relative = 1e-9
        );
        assert_relative_eq!(
            num(&nkvo, "tier1_bytes_written"),
            n_layers * per_token * added,
            max_relative = 1e-9
        );
        assert!(
            num(&nkvo, "tier1_bytes_read") >= n_layers * per_token * attended,
            "host CPU {host_cpu}"
        );
        // Attention over host memory is slower than over the GPU's.
        assert!(num(&nkvo, "avg_ts") < num(&gpu, "avg_ts"));
    }
    // `-nkvo 0` is llama.cpp's default, identical to leaving the flag out.
    assert_eq!(row(&["-ngl", "99", "-nkvo", "0"])["avg_ts"], gpu["avg_ts"]);

    // The host's room for KV cache is its capacity less the weights it holds.
    fails_with(
        &[
            "simulate",
            "--system",
            "rtx4080",
            "-m",
            LLAMA,
            "-p",
            "0",
            "-n",
            "16",
            "-d",
            "32768",
            "-ngl",
            "0",
            "--set",
            "tiers.host.capacity=6GiB",
        ],
        &["kept on the host by llama.cpp's flags", "tier `host`"],
    );
    fails_with(
        &["simulate", "--system", "h100", "-nkvo"],
        &["placement.llamacpp.no_kv_offload", "no `dram` tier"],
    );
}

#[test]
fn placement_flags_take_llama_bench_lists_and_each_row_equals_its_own_run() {
    const LLAMA: &str = "llama-3.1-8b-instruct-q4_k_m";
    fn run<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "simulate", "--system", "rtx4080", "-m", LLAMA, "-p", "0", "-n", "8", "-d", "0,2048",
            "-r", "1",
        ];
        args.extend_from_slice(extra);
        args
    }
    // `-ngl 0-32+16` is 0, 16, 32: three placements, each with -nkvo 0 and 1, each running
    // both tests, -ngl outermost as in llama-bench.
    let rows = csv_rows(&stdout(&run(&[
        "-ngl", "0-32+16", "-nkvo", "0,1", "-o", "csv",
    ])));
    let order: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["n_gpu_layers"].clone(),
                r["no_kv_offload"].clone(),
                r["n_depth"].clone(),
            )
        })
        .collect();
    let mut want = Vec::new();
    for ngl in ["0", "16", "32"] {
        for nkvo in ["0", "1"] {
            for depth in ["0", "2048"] {
                want.push((ngl.to_owned(), nkvo.to_owned(), depth.to_owned()));
            }
        }
    }
    assert_eq!(order, want);
    for r in &rows {
        let alone = csv_rows(&stdout(&run(&[
            "-ngl",
            &r["n_gpu_layers"],
            "-nkvo",
            &r["no_kv_offload"],
            "-o",
            "csv",
        ])));
        let same = alone.iter().find(|a| a["n_depth"] == r["n_depth"]).unwrap();
        assert_eq!(same["avg_ns"], r["avg_ns"], "{:?}", r["n_gpu_layers"]);
    }
    // `-ot` as llama-bench reads it: `,` separates placements (an empty one has no overrides),
    // `;` joins overrides within one.
    let ot = csv_rows(&stdout(&run(&[
        "-ngl",
        "33",
        "-ot",
        r",blk\.0\.=CPU;blk\.1\.=CPU",
        "-o",
        "csv",
    ])));
    let groups: Vec<&str> = ot
        .iter()
        .map(|r| r["tensor_buft_overrides"].as_str())
        .collect();
    assert_eq!(
        groups,
        [
            "none",
            "none",
            r"blk\.0\.=CPU;blk\.1\.=CPU",
            r"blk\.0\.=CPU;blk\.1\.=CPU"
        ]
    );
    let two_layers = csv_rows(&stdout(&run(&[
        "-ngl",
        "33",
        "--set",
        r"placement.llamacpp.override_tensors=['blk\.0\.=CPU', 'blk\.1\.=CPU']",
        "-o",
        "csv",
    ])));
    assert_eq!(two_layers[1]["avg_ns"], ot[3]["avg_ns"]);
    assert!(num(&ot[3], "avg_ts") < num(&ot[1], "avg_ts"));
    // The md table gains llama-bench's `ngl` and `nkvo` columns for lists.
    let md = stdout(&run(&["-ngl", "16", "-nkvo", "0,1"]));
    let head = md.lines().next().unwrap();
    assert!(
        head.contains("| ngl |") && head.contains("nkvo |"),
        "{head}"
    );
    // One placement only for `serve`; a bad boolean is named.
    fails_with(
        &["serve", "--system", "rtx4080", "-ngl", "8,16"],
        &["-ngl", "2 values"],
    );
    fails_with(&run(&["-nkvo", "2"]), &["-nkvo", "`2` is not 0 or 1"]);
}

// ---------------------------------------------------------------------------------------------
// 8. Bad expert settings

#[test]
fn bad_expert_settings_exit_2_with_one_clear_line() {
    let sim = |sets: &[&str]| {
        let mut args = vec!["simulate", "-n", "4", "-p", "0", "-r", "1"];
        for s in sets {
            args.extend(["--set", s]);
        }
        args.iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<String>>()
    };
    let check = |sets: &[&str], needles: &[&str]| {
        let args = sim(sets);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = fails_with(&refs, needles);
        eprintln!("{sets:?} -> {}", err.trim());
    };
    check(&["experts.skew=-1"], &["experts.skew", "-1"]);
    check(&["experts.skew=9"], &["experts.skew", "8"]);
    // YAML reads `nan` as a string and `.nan` as the float: both are refused.
    check(&["experts.skew=nan"], &["experts.skew"]);
    check(&["experts.skew=.nan"], &["experts.skew", "NaN"]);
    check(
        &["experts.cache=4GiB", "experts.routing=expected"],
        &["experts.cache", "sampled"],
    );
    check(&["experts.routing=random"], &["routing", "random"]);
    check(&["experts.cache=-1GiB"], &["experts.cache"]);
}

// ---------------------------------------------------------------------------------------------
// 9. Determinism

#[test]
fn routing_is_seeded_same_seed_same_bytes_other_seed_other_hit_rate() {
    let args = |seed: &'static str| {
        vec![
            "simulate",
            "-m",
            MOE,
            "-p",
            "0",
            "-n",
            "16",
            "-r",
            "2",
            "-o",
            "csv",
            "--seed",
            seed,
            "--set",
            "placement.weights.rules=[{tensors: [experts], tier: hbf}]",
            "--set",
            "experts.skew=0.8",
            "--set",
            "experts.cache=2GiB",
        ]
    };
    let a = stdout(&args("5"));
    assert_eq!(a, stdout(&args("5")));
    let b = stdout(&args("6"));
    let (ha, hb) = (
        num(&csv_rows(&a)[0], "expert_hit_rate"),
        num(&csv_rows(&b)[0], "expert_hit_rate"),
    );
    eprintln!("expert hit rate: seed 5 {ha}, seed 6 {hb}");
    assert!(ha > 0.0 && ha < 1.0, "{ha}");
    assert_ne!(ha, hb);

    // A dense model draws no routing: expert settings leave its results untouched.
    let sys = |sets: &[&str]| {
        let mut all = vec!["placement.kv.budget=64MiB"];
        all.extend_from_slice(sets);
        place(&model(DENSE, &[]), &preset_system("h100-hbf", &all))
    };
    let case = TestCase {
        n_gen: 8,
        n_depth: 4096,
        ..TestCase::default()
    };
    let plain = run(&sys(&[]), &case, 2, 4);
    let routed = run(
        &sys(&[
            "experts.skew=1.5",
            "experts.cache=1GiB",
            "experts.warm=false",
        ]),
        &case,
        2,
        4,
    );
    assert_eq!(plain, routed);
}

// ---------------------------------------------------------------------------------------------
/// With a host processor on the experts' home tier and an expert cache, the host computes only
/// the missed experts: its work shrinks with the misses, so a cache that catches most accesses
/// speeds a host-bound decode up by about the inverse of the miss rate.
#[test]
fn cached_experts_are_not_computed_by_the_host() {
    let cpu = "tiers.host.compute={device: cpu, peak_flops: 0.1TFLOP/s, efficiency: 1, \
               memory_bw: 64GB/s}";
    let base = ["placement.llamacpp.n_cpu_moe=48", cpu, "experts.skew=1.5"];
    let case = tg(32, 1);
    let tg_with = |extra: &[&str]| {
        let mut sets = base.to_vec();
        sets.extend_from_slice(extra);
        let out = run(
            &place(&model(MOE, &[]), &preset_system("rtx4080", &sets)),
            &case,
            1,
            1,
        );
        (
            rate(&case, &out),
            out.expert_cache.and_then(|c| c.hit_rate()),
        )
    };
    let (none, _) = tg_with(&[]);
    let (cached, hits) = tg_with(&["experts.cache=4GiB"]);
    let hits = hits.unwrap();
    eprintln!("host-bound experts: no cache {none:.1} t/s; hit rate {hits:.3}: {cached:.1} t/s");
    // The host's share scales with the misses: (1 - 0.82) of the FLOPs leaves well over twice
    // the rate even after the GPU's own time is added.
    assert!(hits > 0.8, "{hits}");
    assert!(cached > 2.0 * none, "{cached} vs {none}");
}

// ---------------------------------------------------------------------------------------------
// Endurance: the warning follows the target, and only writes wear.

#[test]
fn a_flash_tier_wearing_out_before_its_target_is_warned_about_on_stderr_only() {
    // `tiers.hbf` is the preset's flash tier; a 64 MiB HBM budget spills an 8k context to it.
    let simulate = |depth: &str, target: &str| {
        let target = format!("tiers.hbf.endurance.target_years={target}");
        let args = [
            "simulate",
            "--system",
            "h100-hbf",
            "-p",
            "0",
            "-n",
            "16",
            "-d",
            depth,
            "-r",
            "1",
            "-o",
            "csv",
            "--set",
            "placement.kv.budget=64MiB",
            "--set",
            &target,
        ];
        let out = tiersim(&args);
        assert!(out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        // The record on stdout stays machine-readable whatever is warned.
        assert_eq!(csv_rows(&String::from_utf8(out.stdout).unwrap()).len(), 1);
        err
    };
    let warned = simulate("8192", "1e9");
    assert!(
        warned.contains("tier `hbf` wears out in")
            && warned.contains("tiers.hbf.endurance.target_years"),
        "{warned}"
    );
    // The same writes against a target of zero years, and a target no writes can miss.
    assert!(!simulate("8192", "0").contains("wears out"));
    assert!(!simulate("0", "1e9").contains("wears out"));

    let serve = |target: &str| {
        let target = format!("tiers.hbf.endurance.target_years={target}");
        let args = [
            "serve",
            "--system",
            "h100-hbf",
            "--set",
            "serve.requests=20",
            "--set",
            "placement.kv.budget=64MiB",
            "--set",
            &target,
            "-o",
            "csv",
        ];
        let out = tiersim(&args);
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(serve("1e9").contains("tier `hbf` wears out in"));
    assert!(!serve("0").contains("wears out"));
}
