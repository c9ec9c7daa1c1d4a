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
    let step = Step {
        ctx: 32_768,
        tokens: 1,
        outputs: 1,
    };
    c.bench_function("decode_step_36_layers_32k_kv_on_hbf", |b| {
        b.iter(|| black_box(run.step(step)));
    });
}

criterion_group!(benches, engine, decode_step);
criterion_main!(benches);
