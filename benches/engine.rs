//! Criterion benches of the simulator's hot paths: the event core against a bare binary heap,
//! one decode step with a spilled KV cache, an MoE decode step with sampled routing and an
//! expert cache, a batched decode step of 64 sequences, whole serving runs of 200 and 1,000
//! requests, and the latency draws of one access.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tiersim::config::load::{self, Override};
use tiersim::engine::Scheduler;
use tiersim::model::quant::QuantType;
use tiersim::rng;
use tiersim::serving::{self, ServeSpec};
use tiersim::sim::kv::KvLayout;
use tiersim::sim::machine::Machine;
use tiersim::sim::run::Run;
use tiersim::sim::work::Step;
use tiersim::units::SimTime;

const PENDING: u64 = 1024;
const OPS: u64 = 10_000;

/// Pseudo-random delays without a generator in the loop: the same sequence for both contenders.
fn delay(i: u64) -> u64 {
    (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) + 1
}

fn engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_queue_1k_pending");
    g.throughput(criterion::Throughput::Elements(OPS));
    g.bench_function("scheduler_pop_push", |b| {
        let mut s = Scheduler::new();
        for i in 0..PENDING {
            s.schedule(SimTime(delay(i)), i as u32);
        }
        let mut i = PENDING;
        b.iter(|| {
            for _ in 0..OPS {
                let (t, e) = s.pop().unwrap();
                i += 1;
                s.schedule(SimTime(t.0 + delay(i)), black_box(e));
            }
        });
    });
    g.bench_function("bare_binary_heap_pop_push", |b| {
        let mut h = BinaryHeap::new();
        for i in 0..PENDING {
            h.push(Reverse((delay(i), i, i as u32)));
        }
        let mut i = PENDING;
        b.iter(|| {
            for _ in 0..OPS {
                let Reverse((t, _, e)) = h.pop().unwrap();
                i += 1;
                h.push(Reverse((t + delay(i), i, black_box(e))));
            }
        });
    });
    g.finish();
}

fn decode_step(c: &mut Criterion) {
    // Qwen2.5-3B has 36 layers; a 1 MiB budget puts nearly all of a 32k context on HBF.
    let model = load::model(Some("qwen2.5-3b-instruct-q4_k_m"), &[]).unwrap();
    let sets = [Override::parse("placement.kv.budget=1MiB").unwrap()];
    let system = load::system(Some("h100-hbf"), &sets).unwrap();
    let m = Machine::new(&model.spec, &system.spec).unwrap();
    let kv = KvLayout::new(&m, QuantType::F16, QuantType::F16, 1 << 20).unwrap();
    let mut run = Run::new(&m, &kv, rng::stream(1, 0));
    let step = Step::single(32_768, 1, 1);
    c.bench_function("decode_step_36_layers_32k_kv_on_hbf", |b| {
        b.iter(|| black_box(run.step(step)));
    });
    // The same on the FlashLab reading, whose HBF carries a read path (admission, channels,
    // ECC): the cost of the extra stages per access.
    let system = load::system(Some("h100-hbf-flashlab"), &sets).unwrap();
    let m = Machine::new(&model.spec, &system.spec).unwrap();
    let kv = KvLayout::new(&m, QuantType::F16, QuantType::F16, 1 << 20).unwrap();
    let mut run = Run::new(&m, &kv, rng::stream(1, 0));
    c.bench_function("decode_step_36_layers_32k_kv_on_hbf_read_path", |b| {
        b.iter(|| black_box(run.step(step)));
    });
}

fn read_path_burst(c: &mut Criterion) {
    // FlashLab's grade-2, tR 1 us cell: 1,024 reads simulated one by one through admission,
    // per-channel commands and pages.
    use tiersim::published;
    let (s, _) = published::find("flashlab-read-ceiling").unwrap();
    let b = s.cases[5].compute.clone().unwrap().burst.unwrap();
    let dev = published::burst_device(b.units, b.io_size, b.latency, b.link, b.read_path);
    c.bench_function("read_path_burst_1024_reads_fine", |bch| {
        bch.iter(|| black_box(published::burst_rate(b.reads, &dev)));
    });
}

fn decode_step_per_kernel(c: &mut Criterion) {
    // The per-kernel CPU model: Qwen2.5-3B Q4_K_M on the fitted Xeon profile at a 4k context
    // (repacked q4_K, plain q6_K and q8_0 kernels, the bandwidth curve, serial memory time).
    let model = load::model(Some("qwen2.5-3b-instruct-q4_k_m"), &[]).unwrap();
    let system = load::system(Some("calibration/xeon-2core-t2.profile.yaml"), &[]).unwrap();
    let m = Machine::new(&model.spec, &system.spec).unwrap();
    let kv = KvLayout::new(&m, QuantType::F16, QuantType::F16, 8192).unwrap();
    let mut run = Run::new(&m, &kv, rng::stream(1, 0));
    let step = Step::single(4096, 1, 1);
    c.bench_function("decode_step_36_layers_per_kernel_cpu", |b| {
        b.iter(|| black_box(run.step(step)));
    });
}

/// Qwen3-30B-A3B on h100-hbf with every routed expert homed on HBF, plus `extra` overrides.
fn moe_on_hbf(extra: &[&str]) -> Machine {
    let model = load::model(Some("qwen3-30b-a3b-iq4_xs"), &[]).unwrap();
    let sets: Vec<Override> = ["placement.weights.rules=[{tensors: [experts], tier: hbf}]"]
        .iter()
        .chain(extra)
        .map(|s| Override::parse(s).unwrap())
        .collect();
    let system = load::system(Some("h100-hbf"), &sets).unwrap();
    Machine::new(&model.spec, &system.spec).unwrap()
}

fn moe_decode_step(c: &mut Criterion) {
    // One decode token at a 4k context: 48 MoE layers route 8 of 128 experts each.
    let step = Step::single(4096, 1, 1);
    let cases = [
        // Sampled Zipf routing through a warm 4 GiB LRU per-layer cache.
        (
            "moe_decode_step_expert_cache",
            &["experts.cache=4GiB", "experts.skew=1.2"][..],
        ),
        // Sampled routing without a cache: the draw's cost without the LRU's.
        (
            "moe_decode_step_sampled_no_cache",
            &["experts.skew=1.2"][..],
        ),
        // The expected distinct-expert count: no draws, no cache.
        (
            "moe_decode_step_expected_routing",
            &["experts.routing=expected"][..],
        ),
    ];
    for (id, extra) in cases {
        let m = moe_on_hbf(extra);
        let kv = KvLayout::new(&m, QuantType::F16, QuantType::F16, 8192).unwrap();
        let mut run = Run::new(&m, &kv, rng::stream(1, 0));
        c.bench_function(id, |b| {
            b.iter(|| black_box(run.step(black_box(step))));
        });
    }
}

fn batched_decode_step(c: &mut Criterion) {
    // 64 sequences of 8k context each, one token each: the preset's 1 GiB HBM budget split 64
    // ways keeps ~450 tokens of each sequence in HBM and spills the rest to HBF.
    let model = load::model(Some("qwen2.5-3b-instruct-q4_k_m"), &[]).unwrap();
    let system = load::system(Some("h100-hbf"), &[]).unwrap();
    let m = Machine::new(&model.spec, &system.spec).unwrap();
    let kv = KvLayout::for_batch(&m, QuantType::F16, QuantType::F16, 16_384, 64).unwrap();
    let mut run = Run::new(&m, &kv, rng::stream(1, 0));
    let step = Step {
        ctx: 8192,
        tokens: 1,
        outputs: 64,
        seqs: 64,
    };
    c.bench_function("batched_decode_step_64_seqs", |b| {
        b.iter(|| black_box(run.step(black_box(step))));
    });
}

fn serve(c: &mut Criterion) {
    // The default workload (200 requests at 4 req/s, 16 slots); one iteration is a whole run.
    let model = load::model(Some("qwen2.5-3b-instruct-q4_k_m"), &[]).unwrap();
    let system = load::system(Some("h100-hbf"), &[]).unwrap();
    let m = Machine::new(&model.spec, &system.spec).unwrap();
    let spec = ServeSpec::default();
    let reqs = serving::requests(&spec, 1, u64::MAX).unwrap();
    let mut g = c.benchmark_group("serving");
    // A run takes about half a second: 10 of them fit 8 s.
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("serve_200_requests", |b| {
        b.iter(|| black_box(serving::serve(&m, &spec, black_box(&reqs), 1).unwrap()));
    });
    // Five times the requests: linear cost takes five times as long (issue 14's bar is
    // 100,000 requests within 30 s; benches/serve-scaling.sh times the binary up to there).
    let spec = ServeSpec {
        requests: 1000,
        ..ServeSpec::default()
    };
    let reqs = serving::requests(&spec, 1, u64::MAX).unwrap();
    g.bench_function("serve_1000_requests", |b| {
        b.iter(|| black_box(serving::serve(&m, &spec, black_box(&reqs), 1).unwrap()));
    });
    g.finish();
}

fn latency_sampling(c: &mut Criterion) {
    // h100-hbf's read latency on its coarse lanes (256 units in 8 lanes of 32): an access of
    // a few ios ends with the slowest of them; one of many pulls its ios through the lane.
    use tiersim::tier::latency::{LatencyDist, LatencySampler};
    use tiersim::units::Seconds;
    const DRAWS: u64 = 10_000;
    let d = LatencyDist::Lognormal {
        median: Seconds::us(4.0),
        p99: Seconds::us(10.0),
    };
    let s = LatencySampler::new(&d, 32);
    let mut g = c.benchmark_group("latency_sampling");
    g.throughput(criterion::Throughput::Elements(DRAWS));
    for (name, ios) in [
        ("one_io", 1),
        ("slowest_of_8_ios", 8),
        ("lane_of_48_ios", 48),
    ] {
        g.bench_function(name, |b| {
            let mut r = rng::stream(1, 0);
            b.iter(|| {
                let mut total = 0.0;
                for _ in 0..DRAWS {
                    total += s.sample_ios(&mut r, black_box(ios)).0;
                }
                black_box(total)
            });
        });
    }
    g.finish();
}

fn ceiling_curve(c: &mut Criterion) {
    use tiersim::analytic::KvSpillCeiling;
    use tiersim::ceiling::CeilingSetup;
    use tiersim::config::system::Granularity;
    use tiersim::tier::device::DeviceParams;
    use tiersim::tier::latency::LatencyDist;
    use tiersim::units::{Bytes, BytesPerSec, Seconds};
    // 256 kB of KV per token from a lognormal tier, 100 bandwidths from 100 MB/s to 100 GB/s.
    let setup = CeilingSetup {
        read_per_token: Bytes(256e3),
        write_per_token: Bytes(0.0),
        formula: KvSpillCeiling {
            bytes_per_token: Bytes(256e3),
            ops_per_token: 2.0,
            op_latency: Seconds::ms(0.05),
        },
        device: DeviceParams {
            read_bw: BytesPerSec(1e9),
            write_bw: BytesPerSec(1e9),
            read_latency: LatencyDist::Lognormal {
                median: Seconds::us(50.0),
                p99: Seconds::us(200.0),
            },
            write_latency: LatencyDist::fixed(Seconds::us(100.0)),
            parallel_units: 64,
            queue_depth: 32,
            io_size: Bytes(4096.0),
            read_path: None,
        },
        granularity: Granularity::Coarse,
        lanes: 8,
        tokens: 64,
        seed: 1,
    };
    let bws: Vec<BytesPerSec> = (0..100)
        .map(|i| BytesPerSec(1e8 * 1000f64.powf(f64::from(i) / 99.0)))
        .collect();
    let mut g = c.benchmark_group("ceiling");
    g.sample_size(10);
    g.bench_function("curve_100_points_lognormal_one_core", |b| {
        b.iter(|| {
            bws.iter()
                .map(|&bw| setup.point(bw).unwrap().simulated_tps)
                .sum::<f64>()
        });
    });
    g.finish();
}

criterion_group!(
    benches,
    engine,
    decode_step,
    decode_step_per_kernel,
    read_path_burst,
    ceiling_curve,
    moe_decode_step,
    batched_decode_step,
    serve,
    latency_sampling
);
criterion_main!(benches);
