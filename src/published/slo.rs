//! The largest batch one GPU decodes within a TPOT bound, its decode step simulated by tiersim's
//! machine (Son et al.'s SLO-bound HBF and HBF+ batches, Fig. 3).
//!
//! A decode node under continuous batching keeps its batch full: at any step its requests are
//! spread evenly over their generation, so a request of `L_in` prompt tokens and `L_out`
//! generated ones is in flight at a context from `L_in` to `L_in + L_out`. One probe simulates
//! one decode step of `B` such requests (in [`AGE_GROUPS`] groups of ascending age) on the
//! machine — weights and KV read through its tiers, appends written, compute on its roofline —
//! and adds the step's admission write: `B / L_out` requests join per step, each landing its
//! prompt's KV at the KV tier's write bandwidth before the step can serve it. That write is the
//! closed form [`admission_write_time`] (Son et al., Fig. 5: "KV Write", not overlapped), the
//! formula the Fig. 5 share cases check, rather than a simulated device write (which would add
//! one program time to the same link time, since pages program as they arrive). TPOT grows with `B`, so a bisection finds the largest batch within
//! the bound, below the count whose KV fits the machine and [`limits::BATCH`].

use serde::Deserialize;

use crate::config::error::ConfigError;
use crate::config::load;
use crate::limits;
use crate::model::quant::QuantType;
use crate::published::system::{Fit, admission_write_time, kv_per_request, requests_fitting};
use crate::rng;
use crate::sim::kv::KvLayout;
use crate::sim::machine::Machine;
use crate::sim::run::Run;
use crate::sim::work::Group;
use crate::units::{Bytes, BytesPerSec, Seconds};

/// Groups of in-flight ages a probe's batch is split into: enough that a sliding window's
/// `min(ctx, window)` is averaged over the ages rather than taken at the mean one.
pub const AGE_GROUPS: u32 = 8;

/// The requests a decode node serves: prompt and generated tokens each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Prompt tokens, whose KV lands on admission.
    pub input_tokens: u64,
    /// Generated tokens: decode steps per request.
    pub output_tokens: u64,
}

impl Workload {
    /// Tokens a request holds KV for when it finishes.
    pub fn full_length(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    /// `batch` requests in flight, as [`AGE_GROUPS`] groups (fewer for a smaller batch) of
    /// nearly equal count, group `j` at the middle of the `j`-th slice of the generation.
    pub fn in_flight(&self, batch: u32) -> Vec<Group> {
        let k = AGE_GROUPS.min(batch).max(1);
        let (per, extra) = (batch / k, batch % k);
        (0..k)
            .map(|j| Group {
                ctx: self.input_tokens
                    + (2 * u64::from(j) + 1) * self.output_tokens / (2 * u64::from(k)),
                tokens: 1,
                count: per + u32::from(j < extra),
            })
            .filter(|g| g.count > 0)
            .collect()
    }
}

/// One decode step of a batch: the simulated step and the admission write before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTime {
    /// The simulated decode step.
    pub step: Seconds,
    /// Writing the KV of the requests admitted for this step.
    pub admission: Seconds,
}

impl StepTime {
    /// Time per output token.
    pub fn tpot(&self) -> Seconds {
        self.step + self.admission
    }
}

/// What stopped the batch from growing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// One more request would take a step past the TPOT bound.
    Slo,
    /// One more request's KV would not fit the machine's KV tiers.
    Capacity,
    /// The batch reached [`limits::BATCH`].
    Limit,
}

/// The largest batch within a TPOT bound and why it is not larger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SloBatch {
    /// Requests decoding together on the GPU.
    pub batch: u32,
    /// What bounds it.
    pub bound: Bound,
    /// Its step; `None` for a batch of zero.
    pub time: Option<StepTime>,
}

/// Simulates one decode step of `batch` requests of `w` on `m` and adds the admission write.
pub fn step_time(m: &Machine, w: &Workload, batch: u32) -> Result<StepTime, ConfigError> {
    let kv = KvLayout::for_batch(m, QuantType::F16, QuantType::F16, w.full_length(), batch)?;
    // One fixed stream per probe, so a probe's step does not depend on which probes ran before
    // it (with fixed latencies and expected routing nothing is drawn at all).
    let mut run = Run::new(m, &kv, rng::stream(0, 0));
    let step = run.step_groups(&w.in_flight(batch), batch).to_seconds();
    let admission = admission_write_time(
        f64::from(batch),
        kv_per_request(&m.traffic, w.input_tokens, false),
        w.output_tokens,
        kv_write_bw(m),
    );
    Ok(StepTime { step, admission })
}

/// Write bandwidth of the tier new KV lands in (the first KV tier).
fn kv_write_bw(m: &Machine) -> BytesPerSec {
    let first = m.system.placement.kv.tiers[0].as_str();
    let tier = m.tier_index(first).expect("validated: KV tiers exist");
    m.system.tiers[tier].write_bw
}

/// Requests whose KV at full length fits the room the weights leave in the KV tiers.
pub fn capacity_batch(m: &Machine, w: &Workload) -> u64 {
    let (mut room, mut held) = (Bytes::ZERO, Bytes::ZERO);
    for name in &m.system.placement.kv.tiers {
        let tier = m.tier_index(name).expect("validated: KV tiers exist");
        room += m.system.tiers[tier].capacity;
        held += m.weight_bytes[tier];
    }
    requests_fitting(
        room,
        held,
        kv_per_request(&m.traffic, w.full_length(), false),
    )
}

/// The largest batch of `w` whose decode step on `m` takes at most `bound`, by bisection over
/// whole requests (TPOT grows with the batch): at most `log2(`[`limits::BATCH`]`)` + 2
/// simulated steps.
pub fn largest_batch(m: &Machine, w: &Workload, bound: Seconds) -> Result<SloBatch, ConfigError> {
    let fits = capacity_batch(m, w);
    let (top, top_bound) = if fits > limits::BATCH.max {
        (limits::BATCH.max as u32, Bound::Limit)
    } else {
        (fits as u32, Bound::Capacity)
    };
    if top == 0 {
        return Ok(SloBatch {
            batch: 0,
            bound: Bound::Capacity,
            time: None,
        });
    }
    let at_top = step_time(m, w, top)?;
    if at_top.tpot() <= bound {
        return Ok(SloBatch {
            batch: top,
            bound: top_bound,
            time: Some(at_top),
        });
    }
    let at_one = step_time(m, w, 1)?;
    if at_one.tpot() > bound {
        return Ok(SloBatch {
            batch: 0,
            bound: Bound::Slo,
            time: None,
        });
    }
    // `lo` meets the bound, `hi` does not.
    let (mut lo, mut lo_time, mut hi) = (1u32, at_one, top);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let t = step_time(m, w, mid)?;
        if t.tpot() <= bound {
            (lo, lo_time) = (mid, t);
        } else {
            hi = mid;
        }
    }
    Ok(SloBatch {
        batch: lo,
        bound: Bound::Slo,
        time: Some(lo_time),
    })
}

/// Son et al.'s SLO-bound per-GPU batch as a scenario states it, or its ratio over a
/// capacity-bound baseline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloBatchFigure {
    /// Model preset: what one GPU holds and computes (an expert-parallel rank's share).
    pub model: String,
    /// System preset: one GPU and its memory.
    pub system: String,
    /// Prompt tokens per request.
    pub input_tokens: u64,
    /// Generated tokens per request.
    pub output_tokens: u64,
    /// The TPOT bound.
    pub tpot: Seconds,
    /// The baseline the figure is a ratio over, if it is one (HBM4's capacity-bound batch).
    #[serde(default)]
    pub over: Option<Fit>,
}

impl SloBatchFigure {
    /// The workload, checked: at least one generated token, contexts within
    /// [`limits::TOKENS`], a positive bound.
    pub fn workload(&self, origin: &str) -> Result<Workload, ConfigError> {
        let field = |f: &str| format!("compute.slo_batch.{f}");
        if self.output_tokens == 0 {
            return Err(ConfigError::invalid(
                origin,
                field("output_tokens"),
                "is 0; a decode node's requests generate at least 1 token",
            ));
        }
        let w = Workload {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
        };
        limits::TOKENS
            .check(w.full_length())
            .map_err(|e| ConfigError::invalid(origin, field("input_tokens"), e.to_string()))?;
        if !(self.tpot.0 > 0.0 && self.tpot.0.is_finite()) {
            return Err(ConfigError::invalid(
                origin,
                field("tpot"),
                format!("is {}; expected a positive time such as 100ms", self.tpot),
            ));
        }
        Ok(w)
    }

    /// The largest batch on the system as simulated.
    pub fn search(&self, origin: &str) -> Result<SloBatch, ConfigError> {
        let w = self.workload(origin)?;
        let model = load::model(Some(&self.model), &[])?;
        let system = load::system(Some(&self.system), &[])?;
        let m = Machine::new(&model.spec, &system.spec)?;
        largest_batch(&m, &w, self.tpot)
    }

    /// The batch, or its ratio over the baseline's.
    pub fn figure(&self, origin: &str) -> Result<f64, ConfigError> {
        let b = f64::from(self.search(origin)?.batch);
        match &self.over {
            None => Ok(b),
            Some(o) => Ok(b / o.batch_per_device(origin, "compute.slo_batch.over")?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::Override;
    use crate::published::system::WeightSplit;

    const LONG: Workload = Workload {
        input_tokens: 103_500,
        output_tokens: 1_100,
    };
    const MID: Workload = Workload {
        input_tokens: 5_900,
        output_tokens: 499,
    };

    fn machine(system: &str, sets: &[&str]) -> Machine {
        let model = load::model(Some("llama-4-maverick-ep8-rank-bf16"), &[]).unwrap();
        let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
        let system = load::system(Some(system), &sets).unwrap();
        Machine::new(&model.spec, &system.spec).unwrap()
    }

    /// Son et al.'s per-GPU step at peak bandwidth: the rank's weights (of its routed experts,
    /// those a batch of top-1 tokens is expected to hit; of the token embedding, the rows the
    /// batch looks up, which are nothing beside it) and every request's KV at its mean
    /// in-flight context, over the read bandwidth; and the first page read (1 us) of each layer
    /// and the output head, which the stream cannot hide.
    fn hand_step(m: &Machine, w: &Workload, batch: u32, read_bw: f64) -> f64 {
        let split = WeightSplit::of(&m.traffic);
        let hit = 1.0 - (15.0f64 / 16.0).powi(batch as i32);
        let weights = split.rest.0 - m.traffic.token_embd.0 + split.routed.0 * hit;
        let ctx = w.input_tokens as f64 + w.output_tokens as f64 / 2.0;
        let kv = 4096.0 * (12.0 * ctx + 36.0 * ctx.min(8192.0));
        let first_pages = (m.traffic.layers.len() + 1) as f64 * 1e-6;
        (weights + f64::from(batch) * kv) / read_bw + first_pages
    }

    #[test]
    fn in_flight_requests_spread_evenly_over_their_generation() {
        let g = LONG.in_flight(165);
        assert_eq!(g.len(), AGE_GROUPS as usize);
        assert_eq!(g.iter().map(|g| g.count).sum::<u32>(), 165);
        assert!(g.iter().all(|g| g.count == 20 || g.count == 21));
        assert!(g.windows(2).all(|p| p[0].ctx < p[1].ctx));
        let mean = g.iter().map(|g| g.ctx).sum::<u64>() as f64 / g.len() as f64;
        assert!((mean - (103_500.0 + 550.0)).abs() < 1.0, "{mean}");
        assert!(g[0].ctx >= 103_500 && g[7].ctx < 104_600);
        // Fewer requests than groups: one group each, none empty.
        assert_eq!(MID.in_flight(3).len(), 3);
    }

    #[test]
    fn with_free_appends_the_simulated_step_is_the_papers_roofline() {
        // Writes that cost nothing leave the step to the reads: weights and KV over the
        // 12.8 TB/s interface (the planes' 13.1 TB/s do not bind), compute hidden behind them.
        let m = machine(
            "rubin-hbf-plus",
            &["tiers.hbf.write_latency=1ns", "tiers.hbf.write_bw=1000TB/s"],
        );
        for (w, b) in [(LONG, 165), (MID, 767), (MID, 10)] {
            let t = step_time(&m, &w, b).unwrap().step.0;
            let hand = hand_step(&m, &w, b, 12.8e12);
            assert!((t / hand - 1.0).abs() < 0.001, "{b}: {t} vs {hand}");
        }
    }

    #[test]
    fn decode_appends_cost_the_planes_they_program() {
        // One 4 KiB page per request per layer, programmed for 100 us on the planes the next
        // layer's reads need: the step is longer than with free writes, and more so for the
        // larger batch.
        let real = machine("rubin-hbf-plus", &[]);
        let free = machine(
            "rubin-hbf-plus",
            &["tiers.hbf.write_latency=1ns", "tiers.hbf.write_bw=1000TB/s"],
        );
        let extra = |w: &Workload, b: u32| {
            step_time(&real, w, b).unwrap().step.0 - step_time(&free, w, b).unwrap().step.0
        };
        let (long, mid) = (extra(&LONG, 165), extra(&MID, 767));
        assert!(long > 0.0 && mid > long, "{long} {mid}");
    }

    #[test]
    fn the_admission_write_is_the_prompts_kv_over_the_write_bandwidth() {
        let m = machine("rubin-hbf-plus", &[]);
        let t = step_time(&m, &LONG, 165).unwrap();
        let prompt_kv = 4096.0 * (12.0 * 103_500.0 + 36.0 * 8192.0);
        let want = 165.0 / 1100.0 * prompt_kv / 0.128e12;
        assert!(
            (t.admission.0 / want - 1.0).abs() < 1e-12,
            "{:?}",
            t.admission
        );
    }

    #[test]
    fn the_search_returns_the_last_batch_within_the_bound() {
        let m = machine("rubin-hbf-plus", &[]);
        let bound = Seconds::ms(100.0);
        let s = largest_batch(&m, &LONG, bound).unwrap();
        assert_eq!(s.bound, Bound::Slo);
        assert!(s.time.unwrap().tpot() <= bound);
        let next = step_time(&m, &LONG, s.batch + 1).unwrap();
        assert!(next.tpot() > bound, "{} + 1 still fits", s.batch);
        // The same answer every time: no draw depends on the run.
        assert_eq!(largest_batch(&m, &LONG, bound).unwrap(), s);
    }

    #[test]
    fn capacity_caps_the_batch_and_a_bound_below_the_weights_leaves_none() {
        // 150 GB of flash leave 25 GB for KV: 3 LONG requests of 6.4 GB at full length.
        let m = machine("rubin-hbf-plus", &["tiers.hbf.capacity=150GB"]);
        let s = largest_batch(&m, &LONG, Seconds::ms(100.0)).unwrap();
        assert_eq!((s.batch, s.bound), (3, Bound::Capacity));
        // One request reads 28.3 GB of shared weights and one expert per MoE layer: 2.5 ms.
        let m = machine("rubin-hbf-plus", &[]);
        let s = largest_batch(&m, &LONG, Seconds::ms(2.0)).unwrap();
        assert_eq!((s.batch, s.bound, s.time), (0, Bound::Slo, None));
    }

    #[test]
    fn a_workload_without_output_tokens_is_refused_by_field() {
        let f = SloBatchFigure {
            model: "llama-4-maverick-ep8-rank-bf16".into(),
            system: "rubin-hbf-plus".into(),
            input_tokens: 100,
            output_tokens: 0,
            tpot: Seconds::ms(100.0),
            over: None,
        };
        let e = f.figure("s.yaml").unwrap_err().to_string();
        assert!(e.contains("compute.slo_batch.output_tokens"), "{e}");
        let f = SloBatchFigure {
            output_tokens: 10,
            tpot: Seconds(0.0),
            ..f
        };
        let e = f.figure("s.yaml").unwrap_err().to_string();
        assert!(e.contains("compute.slo_batch.tpot"), "{e}");
    }
}
