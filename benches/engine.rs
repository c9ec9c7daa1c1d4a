//! Criterion benches of the simulator's hot paths: the event core against a bare binary heap,
//! and one decode step with a spilled KV cache.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tiersim::config::load::{self, Override};
use tiersim::engine::Scheduler;
use tiersim::model::quant::QuantType;
use tiersim::rng;
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
                .map(|&bw| setup.point(bw).simulated_tps)
                .sum::<f64>()
        });
    });
    g.finish();
}

criterion_group!(benches, engine, decode_step, ceiling_curve);
criterion_main!(benches);
