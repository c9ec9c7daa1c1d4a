//! Serving: requests arrive over time and share the machine through continuous batching.
//!
//! A server has `max_batch` slots, each with an even share of every KV tier (as llama.cpp's
//! server splits its context between parallel slots). Every step takes one token from each
//! decoding request plus up to `n_ubatch` prompt tokens of admitted requests, first come first
//! served; a request whose prompt completes in a step gets its first token from that step. A
//! finished request frees its slot (and its KV) for the next waiting request at once. Weights
//! are read once per step for the whole batch; KV is read and written per request.
//!
//! A slot's share of the KV budget is `budget / max_batch` whatever its size, so the slot size
//! (`slot_tokens`, the longest request unless given) only bounds what a slot may hold and moves
//! no request's spill: a run's cost grows with its requests and their tokens, not with the
//! longest draw (issue 14; `benches/serve-scaling.sh` times 1,000 to 100,000 requests).

pub mod report;
pub mod spec;
pub mod trace;

use std::collections::VecDeque;

use rand::Rng;

use crate::config::error::ConfigError;
use crate::rng::{self, SimRng};
use crate::scenario::{TestOutcome, TierFigures, add_tier_figures, percentile};
use crate::sim::experts::CacheStats;
use crate::sim::kv::KvLayout;
use crate::sim::machine::Machine;
use crate::sim::run::Run;
use crate::sim::work::Group;
use crate::units::{Seconds, SimTime};

pub use self::spec::{Lengths, ServeSpec};

/// One request of a workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// When it reaches the server.
    pub arrival: Seconds,
    /// Prompt tokens.
    pub prompt: u32,
    /// Tokens to generate.
    pub output: u32,
}

/// The requests of `spec` for a model of `context` tokens: from its trace, or drawn from its
/// distributions with `seed`. Arrival times not given by the trace are Poisson at the spec's
/// rate. A trace request past the context is an error; a drawn one is clipped to it as
/// llama-server clips a generation (the prompt to `context - 1` tokens, the output to the
/// rest), so a long-tailed distribution never asks for a context the model lacks.
pub fn requests(
    spec: &ServeSpec,
    seed: u64,
    context: u64,
) -> Result<Vec<Request>, trace::TraceError> {
    let mut rng = rng::stream(seed, STREAM_REQUESTS);
    let mut t = 0.0;
    let mut next_arrival = |rng: &mut SimRng| {
        t += -unit(rng).ln() / spec.arrival_rate_per_s;
        Seconds(t)
    };
    match &spec.trace {
        Some(path) => Ok(trace::read(path, context)?
            .into_iter()
            .map(|(arrival, r)| Request {
                arrival: arrival.unwrap_or_else(|| next_arrival(&mut rng)),
                ..r
            })
            .collect()),
        None => Ok((0..spec.requests)
            .map(|_| {
                let arrival = next_arrival(&mut rng);
                let ctx = u32::try_from(context).unwrap_or(u32::MAX).max(2);
                let prompt = spec
                    .prompt_tokens
                    .draw(unit(&mut rng), unit(&mut rng))
                    .min(ctx - 1);
                let output = spec
                    .output_tokens
                    .draw(unit(&mut rng), unit(&mut rng))
                    .min(ctx - prompt);
                Request {
                    arrival,
                    prompt,
                    output,
                }
            })
            .collect()),
    }
}

/// Stream ids of a serving run, apart from any test's `(test << 32 | rep)`.
const STREAM_REQUESTS: u64 = 0xFFFF_0000_0000_0001;
const STREAM_RUN: u64 = 0xFFFF_0000_0000_0002;

/// A uniform variate in (0, 1).
pub(crate) fn unit(rng: &mut SimRng) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / 9_007_199_254_740_992.0)
}

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Served {
    /// The request.
    pub request: Request,
    /// When a slot took it.
    pub admitted: Seconds,
    /// When its first token was out.
    pub first_token: Seconds,
    /// When its last token was out.
    pub finished: Seconds,
}

impl Served {
    /// Time to first token, queueing included.
    pub fn ttft(&self) -> Seconds {
        self.first_token - self.request.arrival
    }

    /// Mean time per output token after the first; `None` for a one-token answer.
    pub fn tpot(&self) -> Option<Seconds> {
        (self.request.output > 1)
            .then(|| (self.finished - self.first_token) / f64::from(self.request.output - 1))
    }

    /// Arrival to last token.
    pub fn latency(&self) -> Seconds {
        self.finished - self.request.arrival
    }
}

/// The outcome of a serving run.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeOutcome {
    /// Every request, in arrival order.
    pub served: Vec<Served>,
    /// Steps run.
    pub steps: u64,
    /// Requests decoding or prefilling per step, summed over steps (for the mean batch).
    pub batch_sum: u64,
    /// Tokens one slot's KV cache holds.
    pub slot_tokens: u32,
    /// Per-tier figures of the whole run.
    pub tiers: Vec<TierFigures>,
    /// Expert-cache accesses; `None` without a cache in use.
    pub expert_cache: Option<CacheStats>,
}

/// Headline figures of a serving run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeSummary {
    /// Requests served.
    pub requests: usize,
    /// First arrival to last finish.
    pub wall: Seconds,
    /// Output tokens per second over `wall`.
    pub output_tps: f64,
    /// Requests per second over `wall`.
    pub requests_per_s: f64,
    /// Mean requests per step.
    pub mean_batch: f64,
    /// Time to first token: 50th, 90th, 99th percentile.
    pub ttft: [Seconds; 3],
    /// Time per output token after the first: 50th, 90th, 99th percentile over requests.
    pub tpot: [Seconds; 3],
    /// Arrival to last token: 50th, 90th, 99th percentile.
    pub latency: [Seconds; 3],
    /// Expert-cache hit rate, when a cache was in use.
    pub expert_hit_rate: Option<f64>,
}

/// The percentiles a summary reports.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

impl ServeOutcome {
    /// The run as one test outcome, so that sweeps write it in their usual row: one sample (the
    /// wall time), each request's TTFT, each request's TPOT, the tiers and the expert cache.
    pub fn as_test_outcome(&self) -> TestOutcome {
        TestOutcome {
            samples: vec![self.summary().wall],
            ttft: self.served.iter().map(Served::ttft).collect(),
            tpot: self.served.iter().filter_map(Served::tpot).collect(),
            tiers: self.tiers.clone(),
            expert_cache: self.expert_cache,
        }
    }

    /// Output tokens of every request.
    pub fn output_tokens(&self) -> u64 {
        self.served
            .iter()
            .map(|s| u64::from(s.request.output))
            .sum()
    }

    /// The headline figures.
    pub fn summary(&self) -> ServeSummary {
        let first = self
            .served
            .iter()
            .map(|s| s.request.arrival.0)
            .fold(f64::INFINITY, f64::min);
        let last = self.served.iter().map(|s| s.finished.0).fold(0.0, f64::max);
        let wall = Seconds((last - first).max(0.0));
        let tokens = self.output_tokens();
        let per_s = |x: f64| if wall.0 > 0.0 { x / wall.0 } else { 0.0 };
        let q = |xs: Vec<Seconds>| QUANTILES.map(|p| percentile(&xs, p));
        ServeSummary {
            requests: self.served.len(),
            wall,
            output_tps: per_s(tokens as f64),
            requests_per_s: per_s(self.served.len() as f64),
            mean_batch: if self.steps > 0 {
                self.batch_sum as f64 / self.steps as f64
            } else {
                0.0
            },
            ttft: q(self.served.iter().map(Served::ttft).collect()),
            tpot: q(self.served.iter().filter_map(Served::tpot).collect()),
            latency: q(self.served.iter().map(Served::latency).collect()),
            expert_hit_rate: self.expert_cache.and_then(|c| c.hit_rate()),
        }
    }
}

/// A request holding a slot.
#[derive(Debug, Clone, Copy)]
struct Slot {
    index: usize,
    admitted: Seconds,
    /// Tokens in its KV cache.
    ctx: u64,
    prompt_left: u32,
    generated: u32,
    first_token: Seconds,
    /// Tokens it adds in the step being built.
    step_tokens: u32,
}

/// The KV layout of `spec`'s slots on `m` for `reqs`, and the tokens one slot holds; fails when
/// a request cannot fit a slot or the slots cannot fit the tiers.
pub fn slot_layout(
    m: &Machine,
    spec: &ServeSpec,
    reqs: &[Request],
) -> Result<(KvLayout, u64), ConfigError> {
    let longest = reqs
        .iter()
        .map(|r| u64::from(r.prompt) + u64::from(r.output))
        .max()
        .unwrap_or(1);
    let slot_tokens = match spec.slot_tokens {
        Some(n) => {
            if let Some((i, r)) = reqs
                .iter()
                .enumerate()
                .find(|(_, r)| u64::from(r.prompt) + u64::from(r.output) > u64::from(n))
            {
                return Err(ConfigError::invalid(
                    "serve",
                    "slot_tokens",
                    format!(
                        "is {n}, but request {i} needs {} tokens ({} prompt + {} output); raise \
                         it or shorten the requests",
                        u64::from(r.prompt) + u64::from(r.output),
                        r.prompt,
                        r.output
                    ),
                ));
            }
            u64::from(n)
        }
        None => longest,
    };
    let kv = KvLayout::for_batch(m, spec.type_k, spec.type_v, slot_tokens, spec.max_batch)?;
    Ok((kv, slot_tokens))
}

/// Serves `reqs` (in arrival order) on `m` as `spec` says, drawing from `seed`.
pub fn serve(
    m: &Machine,
    spec: &ServeSpec,
    reqs: &[Request],
    seed: u64,
) -> Result<ServeOutcome, ConfigError> {
    let (kv, slot_tokens) = slot_layout(m, spec, reqs)?;
    if let Some(r) = reqs.last() {
        SimTime::from_seconds(r.arrival).check()?;
    }
    let mut run = Run::new(m, &kv, rng::stream(seed, STREAM_RUN));
    let mut served: Vec<Option<Served>> = vec![None; reqs.len()];
    let mut waiting: VecDeque<usize> = VecDeque::new();
    let mut slots: Vec<Slot> = Vec::with_capacity(spec.max_batch as usize);
    let mut groups: Vec<Group> = Vec::with_capacity(spec.max_batch as usize);
    let (mut next, mut steps, mut batch_sum) = (0usize, 0u64, 0u64);
    // Arrivals on the simulation clock, so that idling until one always reaches it.
    let arrivals: Vec<SimTime> = reqs
        .iter()
        .map(|r| SimTime::from_seconds(r.arrival))
        .collect();
    loop {
        let now = run.now().to_seconds();
        while next < reqs.len() && arrivals[next] <= run.now() {
            waiting.push_back(next);
            next += 1;
        }
        while slots.len() < spec.max_batch as usize
            && let Some(index) = waiting.pop_front()
        {
            slots.push(Slot {
                index,
                // The clock rounds an arrival to its resolution; a request is never admitted
                // before it arrives.
                admitted: now.max(reqs[index].arrival),
                ctx: 0,
                prompt_left: reqs[index].prompt,
                generated: 0,
                first_token: Seconds::ZERO,
                step_tokens: 0,
            });
        }
        if slots.is_empty() {
            if next == reqs.len() {
                break;
            }
            run.idle_until(arrivals[next]);
            continue;
        }

        // Decode tokens first, then prompt chunks in admission order within the ubatch.
        groups.clear();
        let mut outputs = 0;
        let mut budget = spec.n_ubatch;
        for s in &mut slots {
            s.step_tokens = 0;
            if s.prompt_left == 0 {
                s.step_tokens = 1;
                outputs += 1;
            } else if budget > 0 {
                s.step_tokens = s.prompt_left.min(budget);
                budget -= s.step_tokens;
                if s.step_tokens == s.prompt_left {
                    outputs += 1;
                }
            }
            if s.step_tokens > 0 {
                groups.push(Group {
                    ctx: s.ctx,
                    tokens: s.step_tokens,
                    count: 1,
                });
            }
        }
        run.step_groups(&groups, outputs);
        steps += 1;
        batch_sum += groups.len() as u64;
        let done = run.now().to_seconds();
        slots.retain_mut(|s| {
            if s.step_tokens == 0 {
                return true;
            }
            s.ctx += u64::from(s.step_tokens);
            if s.prompt_left > 0 {
                s.prompt_left -= s.step_tokens;
                if s.prompt_left > 0 {
                    return true;
                }
                s.first_token = done;
            }
            s.generated += 1;
            let r = reqs[s.index];
            if s.generated < r.output {
                return true;
            }
            served[s.index] = Some(Served {
                request: r,
                admitted: s.admitted,
                first_token: s.first_token,
                finished: done,
            });
            false
        });
    }
    // A saturated clock has stopped: the times after it are wrong, not merely late.
    run.now().check()?;
    let mut tiers = vec![TierFigures::default(); m.system.tiers.len()];
    add_tier_figures(&run, &mut tiers, 1.0);
    Ok(ServeOutcome {
        served: served
            .into_iter()
            .map(|s| s.expect("every request finishes"))
            .collect(),
        steps,
        batch_sum,
        slot_tokens: u32::try_from(slot_tokens).unwrap_or(u32::MAX),
        tiers,
        expert_cache: run.expert_cache(),
    })
}
