//! llama-bench's tests on the simulator (DESIGN §2.5): `pp<p>`, `tg<n>`, `pg<p>,<n>` with depth,
//! batch and ubatch, repeated with independent random streams.

use crate::config::error::ConfigError;
use crate::limits::{self, LimitError};
use crate::model::quant::QuantType;
use crate::report::{BUILD_COMMIT, BUILD_NUMBER, BenchRecord, TierUsage, UnmodelledSettings};
use crate::rng;
use crate::sim::experts::CacheStats;
use crate::sim::kv::KvLayout;
use crate::sim::machine::Machine;
use crate::sim::run::Run;
use crate::sim::work::KernelOptions;
use crate::sim::work::Step;
use crate::units::{Bytes, BytesPerSec, Seconds};

/// One test: llama-bench's parameters for a single result row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCase {
    /// Prompt tokens processed in the timed part.
    pub n_prompt: u32,
    /// Tokens generated in the timed part.
    pub n_gen: u32,
    /// Tokens in the KV cache before the timed part.
    pub n_depth: u32,
    /// Logical batch (`-b`): tokens per decode call.
    pub n_batch: u32,
    /// Physical batch (`-ub`): tokens per compute step, over all sequences.
    pub n_ubatch: u32,
    /// Sequences decoding together (llama-batched-bench's `-npl`): each has its own prompt,
    /// depth and KV; the weights are read once per step for all of them.
    pub n_seq: u32,
    /// KV key type.
    pub type_k: QuantType,
    /// KV value type.
    pub type_v: QuantType,
    /// Threads (recorded; the system profile decides compute speed).
    pub n_threads: u32,
    /// Flash attention (`-fa`): `None` is llama-bench's `auto`, which a backend that supports
    /// it (the CPU's, CUDA's) turns on.
    pub flash_attn: Option<bool>,
    /// Weight repacking at load (`--repack`, on by default on CPUs).
    pub repack: bool,
    /// Cold start: the weights are first copied from this device tier into the local tier,
    /// inside the timed part (so time to first token includes it).
    pub stage_from: Option<usize>,
}

impl Default for TestCase {
    /// llama-bench's defaults (`-b 2048 -ub 512 -ctk f16 -ctv f16`), one sequence, nothing to
    /// process: set `n_prompt` or `n_gen`.
    fn default() -> Self {
        Self {
            n_prompt: 0,
            n_gen: 0,
            n_depth: 0,
            n_batch: 2048,
            n_ubatch: 512,
            n_seq: 1,
            type_k: QuantType::F16,
            type_v: QuantType::F16,
            n_threads: 1,
            flash_attn: None,
            repack: true,
            stage_from: None,
        }
    }
}

impl TestCase {
    /// llama-bench's name for the test: `pp512`, `tg128`, `pp512+tg128`, `tg128 @ d4096`.
    pub fn name(&self) -> String {
        crate::report::test_name(self.n_prompt, self.n_gen, self.n_depth)
    }

    /// The largest context one sequence reaches.
    pub fn max_ctx(&self) -> u64 {
        u64::from(self.n_depth) + u64::from(self.n_prompt) + u64::from(self.n_gen)
    }

    /// Checks each token count against [`limits::TOKENS`]; `Err` names the field.
    pub fn check_tokens(&self) -> Result<(), (&'static str, LimitError)> {
        for (field, n) in [
            ("n_prompt", self.n_prompt),
            ("n_gen", self.n_gen),
            ("n_depth", self.n_depth),
        ] {
            limits::TOKENS.check(u64::from(n)).map_err(|e| (field, e))?;
        }
        Ok(())
    }

    /// The work estimate of one repetition, in simulated layer-steps: every prompt ubatch
    /// (the depth's included) and every decode step of every sequence passes through every
    /// layer once. Bounded by [`limits::TOKENS`], so it cannot overflow.
    pub fn layer_steps(&self, n_layers: u32) -> u64 {
        let ub = u64::from(self.n_ubatch.max(1));
        let prompt = (u64::from(self.n_depth) + u64::from(self.n_prompt)).div_ceil(ub);
        let steps = u64::from(self.seqs()) * (prompt + u64::from(self.n_gen));
        steps.saturating_mul(u64::from(n_layers))
    }

    /// Sequences, at least 1.
    pub fn seqs(&self) -> u32 {
        self.n_seq.max(1)
    }

    /// Tokens the timed part processes over all sequences.
    pub fn tokens(&self) -> u64 {
        u64::from(self.seqs()) * (u64::from(self.n_prompt) + u64::from(self.n_gen))
    }

    /// The kernel options the test runs with.
    pub fn kernel_options(&self) -> KernelOptions {
        KernelOptions {
            flash_attn: self.flash_attn.unwrap_or(true),
            repack: self.repack,
        }
    }

    /// The KV layout of the test: every sequence at its largest context.
    pub fn kv_layout(&self, m: &Machine) -> Result<KvLayout, ConfigError> {
        KvLayout::for_batch(m, self.type_k, self.type_v, self.max_ctx(), self.seqs())
    }

    /// The steps of the timed part, in order: prompt ubatches (logits for the last token of each
    /// batch, as `llama_batch_get_one` asks), then one step per generated token. With several
    /// sequences every step advances all of them alike, a ubatch holding an equal share of
    /// each sequence's prompt.
    pub fn steps(&self) -> impl Iterator<Item = (Step, bool)> + '_ {
        let seqs = self.seqs();
        let b = (self.n_batch.max(1) / seqs).max(1);
        let ub = (self.n_ubatch.max(1) / seqs).max(1).min(b);
        let mut ctx = u64::from(self.n_depth);
        let mut left = self.n_prompt;
        let mut in_batch = 0u32;
        let mut gen_left = self.n_gen;
        std::iter::from_fn(move || {
            if left > 0 {
                if in_batch == 0 {
                    in_batch = left.min(b);
                }
                let tokens = in_batch.min(ub);
                in_batch -= tokens;
                left -= tokens;
                let step = Step {
                    ctx,
                    tokens,
                    outputs: u32::from(in_batch == 0) * seqs,
                    seqs,
                };
                ctx += u64::from(tokens);
                return Some((step, false));
            }
            if gen_left > 0 {
                gen_left -= 1;
                let step = Step {
                    ctx,
                    tokens: 1,
                    outputs: seqs,
                    seqs,
                };
                ctx += 1;
                return Some((step, true));
            }
            None
        })
    }
}

/// llama-bench's parameter lists; their combinations give the tests of a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TestGrid {
    /// Prompt lengths (pp tests; 0 skips).
    pub n_prompt: Vec<u32>,
    /// Generation lengths (tg tests; 0 skips).
    pub n_gen: Vec<u32>,
    /// Prompt and generation pairs (pg tests).
    pub pg: Vec<(u32, u32)>,
    /// Depths.
    pub n_depth: Vec<u32>,
    /// Logical batch sizes.
    pub n_batch: Vec<u32>,
    /// Physical batch sizes.
    pub n_ubatch: Vec<u32>,
    /// Sequences decoding together.
    pub n_seq: Vec<u32>,
    /// KV key types.
    pub type_k: Vec<QuantType>,
    /// KV value types.
    pub type_v: Vec<QuantType>,
    /// Thread counts.
    pub n_threads: Vec<u32>,
    /// Flash attention settings (`None`: auto).
    pub flash_attn: Vec<Option<bool>>,
    /// Repacking settings.
    pub repack: Vec<bool>,
}

impl TestGrid {
    /// How many tests [`TestGrid::cases`] returns, computed without building them and checked
    /// against [`limits::TEST_CASES`].
    pub fn count(&self) -> Result<u64, LimitError> {
        let tests = self.n_prompt.iter().filter(|&&p| p > 0).count()
            + self.n_gen.iter().filter(|&&g| g > 0).count()
            + self.pg.iter().filter(|&&(p, g)| p + g > 0).count();
        limits::TEST_CASES.product(
            [
                self.n_batch.len(),
                self.n_ubatch.len(),
                self.n_seq.len(),
                self.type_k.len(),
                self.type_v.len(),
                self.n_threads.len(),
                self.flash_attn.len(),
                self.repack.len(),
                self.n_depth.len(),
                tests,
            ]
            .map(|n| n as u64),
        )
    }

    /// The tests in llama-bench's order: parameter combinations outermost, then the pp, tg and
    /// pg tests of each.
    pub fn cases(&self) -> Vec<TestCase> {
        let mut cases = Vec::new();
        for &n_batch in &self.n_batch {
            for (&n_ubatch, &n_seq) in self
                .n_ubatch
                .iter()
                .flat_map(|u| self.n_seq.iter().map(move |s| (u, s)))
            {
                for &type_k in &self.type_k {
                    for &type_v in &self.type_v {
                        for (&n_threads, &flash_attn, &repack) in
                            self.n_threads.iter().flat_map(|t| {
                                self.flash_attn
                                    .iter()
                                    .flat_map(move |f| self.repack.iter().map(move |r| (t, f, r)))
                            })
                        {
                            for &n_depth in &self.n_depth {
                                let base = TestCase {
                                    n_prompt: 0,
                                    n_gen: 0,
                                    n_depth,
                                    n_batch,
                                    n_ubatch,
                                    n_seq,
                                    type_k,
                                    type_v,
                                    n_threads,
                                    flash_attn,
                                    repack,
                                    stage_from: None,
                                };
                                let pp = self.n_prompt.iter().filter(|&&p| p > 0).map(|&p| (p, 0));
                                let tg = self.n_gen.iter().filter(|&&g| g > 0).map(|&g| (0, g));
                                let pg = self.pg.iter().copied().filter(|&(p, g)| p + g > 0);
                                cases.extend(pp.chain(tg).chain(pg).map(|(n_prompt, n_gen)| {
                                    TestCase {
                                        n_prompt,
                                        n_gen,
                                        ..base
                                    }
                                }));
                            }
                        }
                    }
                }
            }
        }
        cases
    }
}

/// The simulated result of one test over its repetitions.
#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome {
    /// Wall time of each repetition's timed part.
    pub samples: Vec<Seconds>,
    /// Time to first token of each repetition.
    pub ttft: Vec<Seconds>,
    /// Every decode step's duration over all repetitions.
    pub tpot: Vec<Seconds>,
    /// Per-tier figures, mean over repetitions.
    pub tiers: Vec<TierFigures>,
    /// Expert-cache accesses over all repetitions; `None` without a cache in use.
    pub expert_cache: Option<CacheStats>,
}

impl TestOutcome {
    /// Each repetition's rate, `n_seq · (n_prompt + n_gen) / time`, as llama-bench's
    /// `samples_ts` (and llama-batched-bench's speed with several sequences).
    pub fn rates(&self, case: &TestCase) -> Vec<f64> {
        let tokens = case.tokens() as f64;
        self.samples
            .iter()
            .map(|s| if s.0 > 0.0 { tokens / s.0 } else { 0.0 })
            .collect()
    }

    /// Mean and sample standard deviation of the rates (llama-bench's `avg_ts`, `stddev_ts`).
    pub fn rate_stats(&self, case: &TestCase) -> (f64, f64) {
        mean_sd(&self.rates(case))
    }

    /// Mean wall time of a repetition.
    pub fn mean_time(&self) -> Seconds {
        Seconds(mean_sd(&self.samples.iter().map(|s| s.0).collect::<Vec<_>>()).0)
    }

    /// Mean time to first token.
    pub fn mean_ttft(&self) -> Seconds {
        Seconds(mean_sd(&self.ttft.iter().map(|s| s.0).collect::<Vec<_>>()).0)
    }
}

/// What a tier did in one repetition, mean over repetitions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TierFigures {
    /// Bytes read.
    pub bytes_read: Bytes,
    /// Bytes written.
    pub bytes_written: Bytes,
    /// Time its link (or, for the local tier, its memory stream) was busy.
    pub busy: Seconds,
    /// Time compute waited on it.
    pub stall: Seconds,
}

/// Runs `case` `reps` times; repetition `r` of test `test_id` draws from stream
/// `(seed, test_id << 32 | r)`, so results do not depend on which tests run beside it.
pub fn run_test(
    m: &Machine,
    case: &TestCase,
    reps: u32,
    seed: u64,
    test_id: u32,
) -> Result<TestOutcome, ConfigError> {
    let kv = case.kv_layout(m)?;
    let n_tiers = m.system.tiers.len();
    let mut out = TestOutcome {
        samples: Vec::with_capacity(reps as usize),
        ttft: Vec::with_capacity(reps as usize),
        tpot: Vec::new(),
        tiers: vec![TierFigures::default(); n_tiers],
        expert_cache: None,
    };
    let reps_f = f64::from(reps.max(1));
    for r in 0..reps.max(1) {
        let mut run = Run::new(
            m,
            &kv,
            rng::stream(seed, (u64::from(test_id) << 32) | u64::from(r)),
        );
        run.set_options(case.kernel_options());
        let mut ttft = None;
        if let Some(tier) = case.stage_from {
            run.stage(tier, m.traffic.model_size);
        }
        for (step, decode) in case.steps() {
            let dt = run.step(step).to_seconds();
            if decode {
                out.tpot.push(dt);
            }
            if ttft.is_none() && (decode || step.outputs > 0) {
                ttft = Some(run.now().to_seconds());
            }
        }
        if let Some(c) = run.expert_cache() {
            let sum = out.expert_cache.get_or_insert_with(CacheStats::default);
            sum.accesses += c.accesses;
            sum.hits += c.hits;
        }
        out.samples.push(run.now().check()?.to_seconds());
        out.ttft.push(ttft.unwrap_or(Seconds::ZERO));
        add_tier_figures(&run, &mut out.tiers, 1.0 / reps_f);
    }
    Ok(out)
}

/// Adds `weight` times what each tier of `run` did to `figs` (a mean over repetitions when
/// `weight` is one over their count).
pub fn add_tier_figures(run: &Run<'_>, figs: &mut [TierFigures], weight: f64) {
    let totals = run.totals();
    let local = &mut figs[0];
    local.bytes_read += totals.local_bytes * weight;
    local.busy += totals.local_busy.to_seconds() * weight;
    for (tier, fig) in figs.iter_mut().enumerate() {
        fig.stall += totals.stall[tier].to_seconds() * weight;
        // A host processor's traffic stays in its own memory but is still the tier's.
        fig.bytes_read += totals.host_read[tier] * weight;
        fig.bytes_written += totals.host_written[tier] * weight;
        if let Some(dev) = &run.devices()[tier] {
            let s = dev.stats();
            fig.bytes_read += s.bytes_read * weight;
            fig.bytes_written += s.bytes_written * weight;
            fig.busy += dev.read_busy().max(dev.write_busy()).to_seconds() * weight;
        }
    }
}

/// Mean and sample standard deviation, as llama-bench computes them.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The `p`-quantile (0..1) of `xs` by linear interpolation between order statistics.
pub fn percentile(xs: &[Seconds], p: f64) -> Seconds {
    if xs.is_empty() {
        return Seconds::ZERO;
    }
    let mut v: Vec<f64> = xs.iter().map(|s| s.0).collect();
    v.sort_by(f64::total_cmp);
    let pos = p.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Seconds(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

/// Where a record says it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordContext<'a> {
    /// Model path or preset name.
    pub model_origin: &'a str,
    /// Seed of the run.
    pub seed: u64,
}

/// Builds llama-bench's row for `case` from the simulated outcome.
pub fn record(
    m: &Machine,
    ctx: &RecordContext<'_>,
    case: &TestCase,
    out: &TestOutcome,
) -> BenchRecord {
    let ns: Vec<u64> = out
        .samples
        .iter()
        .map(|s| (s.0 * 1e9).round() as u64)
        .collect();
    let ts = out.rates(case);
    let (avg_ns, sd_ns) = mean_sd(&ns.iter().map(|&x| x as f64).collect::<Vec<_>>());
    let (avg_ts, sd_ts) = mean_sd(&ts);
    let wall = out.mean_time().0;
    let per_sec = |b: Bytes| if wall > 0.0 { b.0 / wall / 1e9 } else { 0.0 };
    let tiers = m
        .system
        .tiers
        .iter()
        .zip(&out.tiers)
        .map(|(t, f)| TierUsage {
            tier: t.name.clone(),
            bytes_read: f.bytes_read.0.round() as u64,
            bytes_written: f.bytes_written.0.round() as u64,
            read_gbps: per_sec(f.bytes_read),
            write_gbps: per_sec(f.bytes_written),
            utilisation: if wall > 0.0 {
                (f.busy.0 / wall).min(1.0)
            } else {
                0.0
            },
            stall_ms: f.stall.as_ms(),
            lifetime_years: lifetime_years(t, f.bytes_written, Seconds(wall)),
        })
        .collect();
    let c = &m.system.compute;
    BenchRecord {
        build_commit: BUILD_COMMIT.to_owned(),
        build_number: BUILD_NUMBER,
        cpu_info: c.device.clone(),
        gpu_info: String::new(),
        backends: "tiersim".to_owned(),
        model_filename: ctx.model_origin.to_owned(),
        model_type: model_type(m),
        model_size: m.traffic.model_size.0.round() as u64,
        model_n_params: m.traffic.n_params.round() as u64,
        n_batch: case.n_batch,
        n_ubatch: case.n_ubatch,
        n_seq: case.seqs(),
        n_threads: case.n_threads,
        type_k: case.type_k.name().to_owned(),
        type_v: case.type_v.name().to_owned(),
        n_gpu_layers: m
            .system
            .placement
            .llamacpp
            .n_gpu_layers
            .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX)),
        n_cpu_moe: m.system.placement.llamacpp.n_cpu_moe.unwrap_or(0),
        no_kv_offload: m.system.placement.llamacpp.no_kv_offload,
        tensor_buft_overrides: m.system.placement.llamacpp.override_summary(),
        flash_attn: case.flash_attn.map_or(-1, i32::from),
        repack: case.repack,
        // The caller records what was asked for; the simulation is the same for every value.
        unmodelled: UnmodelledSettings::default(),
        n_prompt: case.n_prompt,
        n_gen: case.n_gen,
        n_depth: case.n_depth,
        test_time: String::new(),
        avg_ns: avg_ns.round() as u64,
        stddev_ns: sd_ns.round() as u64,
        avg_ts,
        stddev_ts: sd_ts,
        samples_ns: ns,
        samples_ts: ts,
        system: m.system.name.clone(),
        seed: ctx.seed,
        ttft_ms: out.mean_ttft().as_ms(),
        tpot_p50_ms: percentile(&out.tpot, 0.5).as_ms(),
        tpot_p99_ms: percentile(&out.tpot, 0.99).as_ms(),
        expert_hit_rate: out.expert_cache.and_then(|c| c.hit_rate()),
        tiers,
    }
}

/// llama.cpp's model description, e.g. `qwen2 3B Q4_K`.
fn model_type(m: &Machine) -> String {
    let p = m.traffic.n_params;
    let size = if p >= 1e9 {
        format!("{:.0}B", p / 1e9)
    } else {
        format!("{:.0}M", p / 1e6)
    };
    format!(
        "{} {} {}",
        m.model.arch,
        size,
        m.model.quant.default.name().to_uppercase()
    )
}

/// A sentence warning that tier `t` wears out in `years`, when that is below its endurance
/// target; `None` when it lasts long enough or does not wear.
pub fn wear_warning(t: &crate::config::system::TierSpec, years: Option<f64>) -> Option<String> {
    let target = t.endurance.as_ref()?.target_years;
    let years = years?;
    (years < target).then(|| {
        format!(
            "tier `{}` wears out in {years:.2} years at this write rate, below its {target}-year \
             target (tiers.{}.endurance.target_years)",
            t.name, t.name
        )
    })
}

/// Years a flash tier lasts when `written` bytes arrive every `wall` seconds:
/// `capacity · pe_cycles / (write_rate · waf)`; `None` without endurance figures or writes.
pub fn lifetime_years(
    t: &crate::config::system::TierSpec,
    written: Bytes,
    wall: Seconds,
) -> Option<f64> {
    let e = t.endurance.as_ref()?;
    if written.0 <= 0.0 || wall.0 <= 0.0 {
        return None;
    }
    Some(wear_out_years(
        t.capacity,
        e.pe_cycles,
        e.waf,
        written / wall,
    ))
}

/// Seconds in a (Julian) year, the year every lifetime here is counted in.
pub const YEAR: Seconds = Seconds(365.25 * 24.0 * 3600.0);

/// Years until `writable` flash bytes, each good for `pe_cycles` programs, wear out under a
/// host write `rate` amplified `waf` times: `writable · pe_cycles / (rate · waf)`. `writable` is
/// what the writes may spread over — the whole tier, or (Kyung et al.'s Eq. 2) the tier less the
/// weights homed in it, which are written once and never cycle.
pub fn wear_out_years(writable: Bytes, pe_cycles: f64, waf: f64, rate: BytesPerSec) -> f64 {
    let endurance = writable * pe_cycles;
    (endurance / (rate * waf)) / YEAR
}
