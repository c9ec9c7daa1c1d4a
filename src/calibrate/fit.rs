//! Fitting a system's effective compute figures to measured llama-bench rates (DESIGN §2.4,
//! §3.2): memory, prefill, decode and attention efficiencies and the per-layer and per-step
//! overheads.
//!
//! The predictor is the simulator itself: a [`Machine`] per model on the candidate system and
//! [`scenario::run_test`] with one repetition for every point, so a fitted profile reproduces
//! in `tiersim simulate` exactly the rates the fit report shows. A system whose only tier is the
//! compute-local one is deterministic, so one repetition is the answer, not a sample.
//!
//! The loss is the weighted sum of squared log errors, with the pp rows, the tg rows and the pg
//! rows each weighing 1 in total, so that a fit on 6 pp and 20 tg rows does not favour decode.
//! A very weak log-normal prior centred on the base system's figures (weight [`PRIOR_WEIGHT`])
//! decides what the data leave open — on one model only `layer_overhead · n_layers +
//! step_overhead` is seen, and a memory-bound decode says nothing of the decode efficiency above
//! the level where it would bind — without moving what the data determine.
//!
//! The loss has several basins (decode memory-bound or compute-bound, the fixed cost in the
//! layers or in the step), so minimisation is Nelder–Mead on the parameters' logarithms, clamped
//! to physical bounds, from the base values and from the best distinct points of a Halton sample
//! of the search box, each run restarted from its best vertex until it stops improving.

use rayon::prelude::*;

use crate::calibrate::error::CalibrateError;
use crate::calibrate::levenberg;
use crate::calibrate::nelder_mead::{self, Minimum};
use crate::calibrate::points::{Kind, Point};
use crate::calibrate::progress::{Progress, Silent};
use crate::config::error::ConfigError;
use crate::config::system::{ComputeSpec, KernelRates, Repacked, SystemSpec};
use crate::model::quant::QuantType;
use crate::model::spec::ModelSpec;
use crate::model::traffic::ModelTraffic;
use crate::scenario;
use crate::sim::machine::Machine;
use crate::units::FlopsPerSec;
use crate::units::Seconds;

/// Weight of the prior on each parameter's log distance from the base system's value, relative
/// to the data's total weight of 1 per test kind. It only decides directions the data leave
/// (nearly) flat: a parameter that moves the predictions by 0.5 % when changed by 20 % has a
/// data curvature near 1e-3, five orders above this.
pub const PRIOR_WEIGHT: f64 = 1e-8;

/// Weight of the prior in a per-kernel fit. Tens of kernel rates are fitted there, some seen
/// by a handful of tensors only: a pull of this size (a factor of e away from the base costs
/// what a 3 % error on every row of a kind costs) keeps such a rate near its operator-profile
/// value unless the rows clearly say otherwise.
pub const KERNEL_PRIOR_WEIGHT: f64 = 1e-3;

/// Significant digits of the fitted figures written to a profile; the report's predictions are
/// made with the rounded figures, so that the profile reproduces them.
pub const SIGNIFICANT_DIGITS: i32 = 4;

/// Halton points per free parameter evaluated to choose the starting points.
pub const SAMPLE_PER_PARAM: usize = 32;

/// Least distance (largest log ratio over the parameters) between two starting points: a
/// factor of 2 in at least one figure.
pub const START_SEPARATION: f64 = std::f64::consts::LN_2;

/// Relative step of the sensitivity probe: each parameter multiplied and divided by 1.2.
pub const SENSITIVITY_STEP: f64 = 1.2;

/// Below this rms change of the predictions (in %) for a ±20 % change, a parameter is reported
/// as not constrained by the data.
pub const UNCONSTRAINED_PCT: f64 = 0.5;

/// A compute figure calibration can fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Param {
    /// `compute.memory_efficiency`: effective local bandwidth over nominal.
    MemoryEfficiency,
    /// `compute.prefill_efficiency`: effective matmul rate on prompt ubatches over peak.
    PrefillEfficiency,
    /// `compute.decode_efficiency`: effective matmul rate of one-token steps over peak.
    DecodeEfficiency,
    /// `compute.attention_efficiency`: effective rate of decode attention over peak.
    AttentionEfficiency,
    /// `compute.layer_overhead`: fixed time per layer per step.
    LayerOverhead,
    /// `compute.step_overhead`: fixed time per step.
    StepOverhead,
    /// `compute.prompt_attention_efficiency`: attention in multi-token steps, over peak.
    PromptAttentionEfficiency,
    /// `compute.node_overhead`: fixed time per graph node.
    NodeOverhead,
    /// `compute.token_overhead`: element-wise time per token per layer of a prompt step.
    TokenOverhead,
    /// `compute.batch_half`: tokens at which multi-token kernels reach half their rate.
    BatchHalf,
    /// `compute.quantized_kv_attention`: attention rate kept with a quantised KV cache.
    QuantizedKvAttention,
    /// `compute.no_flash_attention`: attention rate kept without flash attention.
    NoFlashAttention,
    /// `compute.quantized_kv_prompt_attention`: prompt attention kept with a quantised cache.
    QuantizedKvPromptAttention,
    /// `compute.kernels.<type>.vec`: the one-token kernel of a weight type.
    KernelVec(QuantType),
    /// `compute.kernels.<type>.mat`: the many-token kernel of a weight type.
    KernelMat(QuantType),
    /// `compute.repacked.vec`: the one-token kernel of repacked weights.
    RepackedVec,
    /// `compute.repacked.mat`: the many-token kernel of repacked weights.
    RepackedMat,
}

impl Param {
    /// The figures of the single-roofline model, in report order.
    pub const ALL: [Param; 6] = [
        Param::MemoryEfficiency,
        Param::PrefillEfficiency,
        Param::DecodeEfficiency,
        Param::AttentionEfficiency,
        Param::LayerOverhead,
        Param::StepOverhead,
    ];

    /// The figures of the per-kernel model that rows of `models` on `base` can inform: the
    /// fixed costs, both attention rates, the batch ramp, and one `vec` and `mat` rate per
    /// kernel the models run (repacked weights share one pair).
    pub fn per_kernel(
        models: &[ModelSpec],
        base: &ComputeSpec,
        quantized_kv: bool,
        no_flash: bool,
    ) -> Vec<Param> {
        let mut out = vec![
            Param::AttentionEfficiency,
            Param::PromptAttentionEfficiency,
            Param::NodeOverhead,
            Param::TokenOverhead,
            Param::StepOverhead,
            Param::BatchHalf,
        ];
        if quantized_kv {
            out.push(Param::QuantizedKvAttention);
            out.push(Param::QuantizedKvPromptAttention);
        }
        if no_flash {
            out.push(Param::NoFlashAttention);
        }
        let mut kernels = kernel_types(models, base);
        // The base's other kernels ride along: the fit carries them at the level the rows set,
        // so that the profile's rates for types these models do not use are not left at an
        // operator profile's scale.
        for ty in base.kernels.keys() {
            if !kernels.contains(&Some(*ty)) {
                kernels.push(Some(*ty));
            }
        }
        if base.repacked.is_some() && !kernels.contains(&None) {
            kernels.push(None);
        }
        kernels.sort();
        for ty in kernels {
            match ty {
                None => out.extend([Param::RepackedVec, Param::RepackedMat]),
                Some(ty) => out.extend([Param::KernelVec(ty), Param::KernelMat(ty)]),
            }
        }
        out
    }

    /// The field's dotted name under `compute:` (`memory_efficiency`, `kernels.q4_0.vec`).
    pub fn name(self) -> String {
        match self {
            Self::MemoryEfficiency => "memory_efficiency".into(),
            Self::PrefillEfficiency => "prefill_efficiency".into(),
            Self::DecodeEfficiency => "decode_efficiency".into(),
            Self::AttentionEfficiency => "attention_efficiency".into(),
            Self::LayerOverhead => "layer_overhead".into(),
            Self::StepOverhead => "step_overhead".into(),
            Self::PromptAttentionEfficiency => "prompt_attention_efficiency".into(),
            Self::NodeOverhead => "node_overhead".into(),
            Self::TokenOverhead => "token_overhead".into(),
            Self::BatchHalf => "batch_half".into(),
            Self::QuantizedKvAttention => "quantized_kv_attention".into(),
            Self::NoFlashAttention => "no_flash_attention".into(),
            Self::QuantizedKvPromptAttention => "quantized_kv_prompt_attention".into(),
            Self::KernelVec(t) => format!("kernels.{}.vec", t.name()),
            Self::KernelMat(t) => format!("kernels.{}.mat", t.name()),
            Self::RepackedVec => "repacked.vec".into(),
            Self::RepackedMat => "repacked.mat".into(),
        }
    }

    /// The parameter named `name`, with or without the `compute.` prefix.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        let name = name.strip_prefix("compute.").unwrap_or(name);
        let scalar = [
            Self::MemoryEfficiency,
            Self::PrefillEfficiency,
            Self::DecodeEfficiency,
            Self::AttentionEfficiency,
            Self::LayerOverhead,
            Self::StepOverhead,
            Self::PromptAttentionEfficiency,
            Self::NodeOverhead,
            Self::TokenOverhead,
            Self::BatchHalf,
            Self::QuantizedKvAttention,
            Self::NoFlashAttention,
            Self::QuantizedKvPromptAttention,
            Self::RepackedVec,
            Self::RepackedMat,
        ];
        if let Some(p) = scalar.into_iter().find(|p| p.name() == name) {
            return Some(p);
        }
        let rest = name.strip_prefix("kernels.")?;
        let (ty, kind) = rest.rsplit_once('.')?;
        let ty = QuantType::from_name(ty)?;
        match kind {
            "vec" => Some(Self::KernelVec(ty)),
            "mat" => Some(Self::KernelMat(ty)),
            _ => None,
        }
    }

    /// The dotted path of its field, as evidence keys and `--set` name it.
    pub fn path(self) -> String {
        format!("compute.{}", self.name())
    }

    /// Whether it is a time (an overhead) rather than an efficiency.
    pub fn is_time(self) -> bool {
        matches!(
            self,
            Self::LayerOverhead | Self::StepOverhead | Self::NodeOverhead | Self::TokenOverhead
        )
    }

    /// Whether it is a kernel rate (FLOP/s).
    pub fn is_rate(self) -> bool {
        matches!(
            self,
            Self::KernelVec(_) | Self::KernelMat(_) | Self::RepackedVec | Self::RepackedMat
        )
    }

    /// The physical range searched: efficiencies in (0, 1] as validation requires them (from
    /// 0.1 %), overheads from 1 ns (none, in effect) to 50 ms (slower than any CPU step),
    /// kernel rates from 100 MFLOP/s to 10 PFLOP/s, the batch ramp from 0.01 to 4096 tokens.
    pub fn bounds(self) -> (f64, f64) {
        if self.is_time() {
            (1e-9, 0.05)
        } else if self.is_rate() {
            (1e8, 1e16)
        } else if self == Self::BatchHalf {
            (1e-2, 4096.0)
        } else {
            (1e-3, 1.0)
        }
    }

    /// The box the starting points are drawn from: the bounds without their far ends, where no
    /// real machine is (efficiencies from 0.5 %, overheads from 0.1 us to 20 ms).
    pub fn search_box(self) -> (f64, f64) {
        if self.is_time() {
            (1e-7, 0.02)
        } else if self.is_rate() {
            (1e9, 1e15)
        } else if self == Self::BatchHalf {
            (0.1, 256.0)
        } else {
            (5e-3, 1.0)
        }
    }

    /// Its value in `c` (seconds for overheads, FLOP/s for rates); a kernel the profile lacks
    /// reads as the generic rate it would run at.
    pub fn get(self, c: &ComputeSpec) -> f64 {
        let generic = |eff: f64| (c.peak_flops * eff).0;
        match self {
            Self::MemoryEfficiency => c.memory_efficiency,
            Self::PrefillEfficiency => c.prefill_efficiency,
            Self::DecodeEfficiency => c.decode_efficiency,
            Self::AttentionEfficiency => c.attention_efficiency(),
            Self::LayerOverhead => c.layer_overhead.0,
            Self::StepOverhead => c.step_overhead.0,
            Self::PromptAttentionEfficiency => c.prompt_attention_efficiency(),
            Self::NodeOverhead => c.node_overhead.map_or(0.0, |s| s.0),
            Self::TokenOverhead => c.token_overhead.map_or(0.0, |s| s.0),
            Self::BatchHalf => c.batch_half.unwrap_or(0.0),
            Self::QuantizedKvAttention => c.quantized_kv_attention.unwrap_or(1.0),
            Self::NoFlashAttention => c.no_flash_attention.unwrap_or(1.0),
            Self::QuantizedKvPromptAttention => c
                .quantized_kv_prompt_attention
                .or(c.quantized_kv_attention)
                .unwrap_or(1.0),
            Self::KernelVec(t) => c
                .kernels
                .get(&t)
                .map_or(generic(c.decode_efficiency), |r| r.vec.0),
            Self::KernelMat(t) => c
                .kernels
                .get(&t)
                .map_or(generic(c.prefill_efficiency), |r| r.mat.0),
            Self::RepackedVec => c
                .repacked
                .as_ref()
                .map_or(generic(c.decode_efficiency), |r| r.rates.vec.0),
            Self::RepackedMat => c
                .repacked
                .as_ref()
                .map_or(generic(c.prefill_efficiency), |r| r.rates.mat.0),
        }
    }

    /// Sets its value in `c` (seconds for overheads, FLOP/s for rates).
    pub fn set(self, c: &mut ComputeSpec, v: f64) {
        let generic = KernelRates {
            vec: c.peak_flops * c.decode_efficiency,
            mat: c.peak_flops * c.prefill_efficiency,
        };
        match self {
            Self::MemoryEfficiency => c.memory_efficiency = v,
            Self::PrefillEfficiency => c.prefill_efficiency = v,
            Self::DecodeEfficiency => c.decode_efficiency = v,
            Self::AttentionEfficiency => c.attention_efficiency = Some(v),
            Self::LayerOverhead => c.layer_overhead = Seconds(v),
            Self::StepOverhead => c.step_overhead = Seconds(v),
            Self::PromptAttentionEfficiency => c.prompt_attention_efficiency = Some(v),
            Self::NodeOverhead => c.node_overhead = Some(Seconds(v)),
            Self::TokenOverhead => c.token_overhead = Some(Seconds(v)),
            Self::BatchHalf => c.batch_half = Some(v),
            Self::QuantizedKvAttention => c.quantized_kv_attention = Some(v),
            Self::NoFlashAttention => c.no_flash_attention = Some(v),
            Self::QuantizedKvPromptAttention => c.quantized_kv_prompt_attention = Some(v),
            Self::KernelVec(t) => c.kernels.entry(t).or_insert(generic).vec = FlopsPerSec(v),
            Self::KernelMat(t) => c.kernels.entry(t).or_insert(generic).mat = FlopsPerSec(v),
            Self::RepackedVec | Self::RepackedMat => {
                let r = c.repacked.get_or_insert_with(|| Repacked {
                    types: Vec::new(),
                    rates: generic,
                });
                if self == Self::RepackedVec {
                    r.rates.vec = FlopsPerSec(v);
                } else {
                    r.rates.mat = FlopsPerSec(v);
                }
            }
        }
    }

    /// A value as a profile writes it: `0.3012`, `41.5us`, `95.2GFLOP/s`.
    pub fn format(self, v: f64) -> String {
        if self.is_time() {
            Seconds(v).to_string()
        } else if self.is_rate() {
            FlopsPerSec(v).to_string()
        } else {
            format!("{v}")
        }
    }
}

/// The kernels the models run on `base`: `None` for the repacked layout, `Some(type)` for a
/// type's plain layout; in a stable order.
pub fn kernel_types(models: &[ModelSpec], base: &ComputeSpec) -> Vec<Option<QuantType>> {
    kernels_of(models, base, true)
}

/// [`kernel_types`], with the output head's kernel or without it: llama-bench's tests compute
/// one token's logits per step, so the head's type is seen one-token only.
fn kernels_of(models: &[ModelSpec], base: &ComputeSpec, head: bool) -> Vec<Option<QuantType>> {
    let repacks = |ty: QuantType| {
        base.repacked
            .as_ref()
            .is_some_and(|r| r.types.contains(&ty))
    };
    let mut out: Vec<Option<QuantType>> = Vec::new();
    for m in models {
        let t = ModelTraffic::new(m);
        let shares = t
            .kernels
            .iter()
            .flat_map(|k| k.attn.iter().chain(&k.ffn).chain(&k.expert));
        let mut push = |k: Option<QuantType>| {
            if !out.contains(&k) {
                out.push(k);
            }
        };
        for s in shares {
            if s.repackable > 0.0 && repacks(s.ty) {
                push(None);
            }
            if s.plain > 0.0 || (s.repackable > 0.0 && !repacks(s.ty)) {
                push(Some(s.ty));
            }
        }
        if head {
            push(Some(t.head_type));
        }
    }
    out.sort();
    out
}

/// How leave-one-out is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LooMode {
    /// Per point when there are at most [`LooMode::MAX_POINTS`] points, else per group.
    Auto,
    /// Refit without each point in turn.
    Point,
    /// Refit without each group of points of one kind and depth (`tg @ d2048`) in turn.
    Group,
    /// Refit without each model's points in turn: what the profile predicts for a model (or
    /// weight type) it was not fitted on.
    Model,
    /// No leave-one-out.
    Off,
}

impl LooMode {
    /// Above this many points, `auto` leaves out groups: a refit per point would take minutes.
    pub const MAX_POINTS: usize = 40;

    /// Parses `auto`, `point`, `group` or `off`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "auto" => Some(Self::Auto),
            "point" => Some(Self::Point),
            "group" => Some(Self::Group),
            "model" => Some(Self::Model),
            "off" | "none" => Some(Self::Off),
            _ => None,
        }
    }
}

/// Settings of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// The parameters fitted; the others keep the base system's values.
    pub params: Vec<Param>,
    /// Weight of the prior towards the base values ([`PRIOR_WEIGHT`]).
    pub prior_weight: f64,
    /// Starting points of the full fit: the base values, then the best points of a Halton
    /// sample of the search box.
    pub starts: usize,
    /// Evaluation budget of one Nelder–Mead run.
    pub max_evals: usize,
    /// Leave-one-out.
    pub loo: LooMode,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            params: Param::ALL.to_vec(),
            prior_weight: PRIOR_WEIGHT,
            starts: 8,
            max_evals: 1500,
            loo: LooMode::Auto,
        }
    }
}

/// What is compared: points of one or more models on a base system.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The models the points measured, indexed by [`Point::model`].
    pub models: Vec<ModelSpec>,
    /// The system whose compute figures are fitted; tiers, placement and overlap stay.
    pub base: SystemSpec,
    /// The measured points.
    pub points: Vec<Point>,
}

impl Problem {
    /// Checks that every model fits the base system and every test's KV cache fits, so that
    /// a failure is reported once, as the input error it is, before any fitting.
    pub fn check(&self) -> Result<(), ConfigError> {
        let machines = self.machines(&self.base)?;
        for p in &self.points {
            let m = &machines[p.model];
            p.case.kv_layout(m)?;
        }
        Ok(())
    }

    fn machines(&self, system: &SystemSpec) -> Result<Vec<Machine>, ConfigError> {
        self.models
            .iter()
            .map(|m| Machine::new(m, system))
            .collect()
    }

    /// The simulator's rate (tokens per second) for every point on `system`.
    pub fn predict(&self, system: &SystemSpec) -> Result<Vec<f64>, ConfigError> {
        let machines = self.machines(system)?;
        self.points
            .iter()
            .map(|p| predict_point(&machines[p.model], p))
            .collect()
    }

    /// `base` with `values` of `params` set.
    fn system_with(&self, params: &[Param], values: &[f64]) -> SystemSpec {
        let mut s = self.base.clone();
        for (p, &v) in params.iter().zip(values) {
            p.set(&mut s.compute, v);
        }
        s
    }
}

/// The simulator's rate for one point: one repetition of its test, `tokens / time`.
pub fn predict_point(machine: &Machine, p: &Point) -> Result<f64, ConfigError> {
    let out = scenario::run_test(machine, &p.case, 1, 0, 0)?;
    let t = out.samples.first().map_or(0.0, |s| s.0);
    Ok(if t > 0.0 {
        p.tokens() / t
    } else {
        f64::INFINITY
    })
}

/// One parameter's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamFit {
    /// Which.
    pub param: Param,
    /// The base system's value.
    pub base: f64,
    /// The value written to the profile (rounded to [`SIGNIFICANT_DIGITS`]).
    pub value: f64,
    /// Whether it was fitted (else kept at the base value).
    pub free: bool,
    /// Whether the fit ended at a bound of [`Param::bounds`].
    pub at_bound: bool,
    /// The rms change of the predictions, in %, when the value alone is multiplied or divided
    /// by [`SENSITIVITY_STEP`] (the larger of the two): how much the data see it.
    pub sensitivity_pct: f64,
    /// The same with the other free figures refitted to compensate, in the linearisation at
    /// the optimum (`Δ / sqrt((JᵀWJ)⁻¹)ₖₖ`): near zero when another figure can stand in for
    /// this one, as the memory efficiency and the fixed overheads can on decode rows of one
    /// depth. `None` for a figure not fitted.
    pub marginal_pct: Option<f64>,
}

impl ParamFit {
    /// Whether the data constrain it, others refitted (see [`UNCONSTRAINED_PCT`]).
    pub fn constrained(&self) -> bool {
        self.marginal_pct.unwrap_or(self.sensitivity_pct) >= UNCONSTRAINED_PCT
    }
}

/// Leave-one-out predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct Loo {
    /// `Point` or `Group`, as done.
    pub mode: LooMode,
    /// Refits done.
    pub refits: usize,
    /// For every point, its rate predicted by the refit that left it out.
    pub predicted: Vec<f64>,
}

/// A fit's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The base system with the fitted (rounded) figures.
    pub system: SystemSpec,
    /// Every parameter, free or not.
    pub params: Vec<ParamFit>,
    /// Every point's predicted rate on [`Fit::system`].
    pub predicted: Vec<f64>,
    /// Root of the weighted mean squared log error at the optimum (prior excluded).
    pub rms_log_error: f64,
    /// Simulator evaluations spent on the full fit.
    pub evals: usize,
    /// Leave-one-out, unless off.
    pub loo: Option<Loo>,
    /// Kernel rates no fitted model runs, carried from the base at the median fitted/base
    /// ratio of the kernels the rows determine.
    pub carried: Vec<Param>,
}

/// The weights of the included points: each kind present totals 1.
pub fn weights(points: &[Point], include: &[bool]) -> Vec<f64> {
    let count = |k: Kind| {
        points
            .iter()
            .zip(include)
            .filter(|(p, inc)| **inc && p.kind == k)
            .count()
    };
    let counts: Vec<(Kind, usize)> = Kind::ALL.iter().map(|&k| (k, count(k))).collect();
    points
        .iter()
        .zip(include)
        .map(|(p, &inc)| {
            let n = counts.iter().find(|(k, _)| *k == p.kind).map_or(0, |c| c.1);
            if inc && n > 0 { 1.0 / n as f64 } else { 0.0 }
        })
        .collect()
}

/// The loss in log-parameter space, with bounds enforced by clamping plus a penalty that pulls
/// a vertex outside them back, so that the simplex never stalls beyond a bound.
struct Objective<'a> {
    problem: &'a Problem,
    params: &'a [Param],
    lo: Vec<f64>,
    hi: Vec<f64>,
    centre: Vec<f64>,
    weights: Vec<f64>,
    log_measured: Vec<f64>,
    prior: f64,
}

impl<'a> Objective<'a> {
    fn new(problem: &'a Problem, params: &'a [Param], include: &[bool], prior: f64) -> Self {
        let (lo, hi) = params
            .iter()
            .map(|p| {
                let (a, b) = p.bounds();
                (a.ln(), b.ln())
            })
            .unzip();
        let mut me = Self {
            problem,
            params,
            lo,
            hi,
            centre: Vec::new(),
            weights: weights(&problem.points, include),
            log_measured: problem.points.iter().map(|p| p.measured().ln()).collect(),
            prior,
        };
        let base: Vec<f64> = params
            .iter()
            .map(|p| p.get(&problem.base.compute).max(1e-300).ln())
            .collect();
        me.centre = me.clamp(&base);
        me
    }

    fn clamp(&self, u: &[f64]) -> Vec<f64> {
        u.iter()
            .zip(self.lo.iter().zip(&self.hi))
            .map(|(v, (lo, hi))| v.clamp(*lo, *hi))
            .collect()
    }

    fn values(&self, u: &[f64]) -> Vec<f64> {
        self.clamp(u).iter().map(|v| v.exp()).collect()
    }

    fn data_loss(&self, predicted: &[f64]) -> f64 {
        predicted
            .iter()
            .zip(&self.log_measured)
            .zip(&self.weights)
            .filter(|(_, w)| **w > 0.0)
            .map(|((p, m), w)| w * (p.ln() - m).powi(2))
            .sum()
    }

    fn eval(&self, u: &[f64]) -> f64 {
        let c = self.clamp(u);
        let outside: f64 = u.iter().zip(&c).map(|(a, b)| (a - b).powi(2)).sum();
        let prior: f64 = c
            .iter()
            .zip(&self.centre)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            * self.prior;
        let system = self.problem.system_with(self.params, &self.values(u));
        match self.predict_included(&system) {
            Some(p) => self.data_loss(&p) + prior + outside,
            None => f64::INFINITY,
        }
    }

    /// Predictions of the included points only (the others are NaN), which is what a leave-out
    /// refit needs and saves it the held-out tests' simulation.
    fn predict_included(&self, system: &SystemSpec) -> Option<Vec<f64>> {
        let machines = self.problem.machines(system).ok()?;
        self.problem
            .points
            .iter()
            .zip(&self.weights)
            .map(|(p, &w)| {
                if w > 0.0 {
                    predict_point(&machines[p.model], p).ok()
                } else {
                    Some(f64::NAN)
                }
            })
            .collect()
    }

    /// The residuals whose squares sum to [`Objective::eval`]: weighted log errors of the
    /// included points, the prior's pull, and the distance outside the bounds.
    fn residuals(&self, u: &[f64]) -> Option<Vec<f64>> {
        let c = self.clamp(u);
        let system = self.problem.system_with(self.params, &self.values(u));
        let predicted = self.predict_included(&system)?;
        let mut r: Vec<f64> = predicted
            .iter()
            .zip(&self.log_measured)
            .zip(&self.weights)
            .filter(|(_, w)| **w > 0.0)
            .map(|((p, m), w)| w.sqrt() * (p.ln() - m))
            .collect();
        let prior = self.prior.sqrt();
        r.extend(c.iter().zip(&self.centre).map(|(a, b)| prior * (a - b)));
        r.extend(u.iter().zip(&c).map(|(a, b)| a - b));
        Some(r)
    }

    /// Levenberg–Marquardt from `u0`.
    fn levenberg(&self, u0: &[f64], max_evals: usize) -> Minimum {
        let mut m = levenberg::minimize(|u| self.residuals(u), u0, max_evals);
        m.x = self.clamp(&m.x);
        m
    }

    /// Nelder–Mead from `u0`, restarted from its best vertex with a smaller simplex until a
    /// restart gains nothing: one run tends to stop early in a long curved valley.
    fn minimise_from(&self, u0: &[f64], step: f64, max_evals: usize) -> Minimum {
        let opts = nelder_mead::Options {
            step,
            max_evals,
            xtol: 1e-5,
            ftol: 1e-11,
        };
        let mut best = nelder_mead::minimize(|u| self.eval(u), u0, &opts);
        let mut evals = best.evals;
        for _ in 0..30 {
            let again = nelder_mead::minimize(
                |u| self.eval(u),
                &best.x,
                &nelder_mead::Options { step: 0.1, ..opts },
            );
            evals += again.evals;
            let gained = best.f - again.f;
            if again.f < best.f {
                best = again;
            }
            if gained <= 1e-10 * (1.0 + best.f.abs()) {
                break;
            }
        }
        best.evals = evals;
        best
    }
}

/// Points of the search box in a Halton sequence (bases 2, 3, 5, ...): a deterministic,
/// evenly spread sample, from which the best become Nelder–Mead starts. The loss has several
/// basins — decode memory-bound or compute-bound, the overhead in the layers or in the step — and
/// a start in the wrong one ends in its local minimum.
fn halton_points(params: &[Param], count: usize) -> Vec<Vec<f64>> {
    const PRIMES: [u64; 8] = [2, 3, 5, 7, 11, 13, 17, 19];
    (1..=count as u64)
        .map(|i| {
            params
                .iter()
                .enumerate()
                .map(|(d, p)| {
                    let (lo, hi) = p.search_box();
                    let (lo, hi) = (lo.ln(), hi.ln());
                    lo + (hi - lo) * radical_inverse(i, PRIMES[d % PRIMES.len()])
                })
                .collect()
        })
        .collect()
}

fn radical_inverse(mut i: u64, base: u64) -> f64 {
    let mut f = 1.0;
    let mut r = 0.0;
    while i > 0 {
        f /= base as f64;
        r += f * (i % base) as f64;
        i /= base;
    }
    r
}

/// Fits `opts.params` of `problem.base` to `problem.points`.
pub fn fit(problem: &Problem, opts: &FitOptions) -> Result<Fit, CalibrateError> {
    fit_reporting(problem, opts, &Silent)
}

/// [`fit`], reporting its stages (`fitting`, `sensitivity`, `leave-one-out`) to `progress`.
pub fn fit_reporting(
    problem: &Problem,
    opts: &FitOptions,
    progress: &dyn Progress,
) -> Result<Fit, CalibrateError> {
    problem.check()?;
    let all = vec![true; problem.points.len()];
    let params = dedup(&opts.params);
    let obj = Objective::new(problem, &params, &all, opts.prior_weight);
    let per_kernel = problem.base.compute.per_kernel();
    let (mut best, evals) = if per_kernel {
        // Tens of figures, each a log-rate the rows see nearly linearly: Gauss–Newton steps
        // converge where a simplex in that many dimensions crawls.
        progress.stage("fitting", 1);
        let best = obj.levenberg(&obj.centre, opts.max_evals);
        progress.step();
        let evals = best.evals;
        (best, evals)
    } else {
        multistart(&obj, &params, opts, progress)
    };
    let mut values: Vec<f64> = obj.values(&best.x);
    if per_kernel {
        effective_mat(&params, &mut values);
    }
    let carried = if per_kernel {
        carry_scale(problem, &params, &all, &mut values)
    } else {
        Vec::new()
    };
    let values: Vec<f64> = values.into_iter().map(round_sig).collect();
    let report: Vec<Param> = if per_kernel {
        params.clone()
    } else {
        Param::ALL.to_vec()
    };
    // The report counts every evaluation of the fit, over all its starts.
    best.evals = evals;
    let mut fit = finish(problem, opts, &params, &report, &best, values, progress)?;
    fit.carried = carried;
    Ok(fit)
}

/// Nelder–Mead from the base values and the best distinct points of a Halton sample.
fn multistart(
    obj: &Objective,
    params: &[Param],
    opts: &FitOptions,
    progress: &dyn Progress,
) -> (Minimum, usize) {
    let sample = halton_points(params, SAMPLE_PER_PARAM * params.len().max(1));
    let losses: Vec<f64> = sample.par_iter().map(|u| obj.eval(u)).collect();
    let mut order: Vec<usize> = (0..sample.len()).collect();
    order.sort_by(|&a, &b| losses[a].total_cmp(&losses[b]).then(a.cmp(&b)));
    // The best sample points that are not near a start already chosen: distinct starts find
    // distinct basins, close ones mostly the same.
    let mut starts = vec![obj.centre.clone()];
    for &i in &order {
        if starts.len() >= opts.starts.max(1) {
            break;
        }
        let far = starts.iter().all(|s| {
            s.iter()
                .zip(&sample[i])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
                > START_SEPARATION
        });
        if far {
            starts.push(sample[i].clone());
        }
    }
    progress.stage("fitting", starts.len());
    let runs: Vec<Minimum> = starts
        .par_iter()
        .map(|u0| {
            let run = obj.minimise_from(&obj.clamp(u0), 0.5, opts.max_evals);
            progress.step();
            run
        })
        .collect();
    let evals = sample.len() + runs.iter().map(|r| r.evals).sum::<usize>();
    // The first of equally good runs wins, so parallel scheduling cannot change the result.
    let best = runs
        .into_iter()
        .reduce(|a, b| if b.f < a.f { b } else { a })
        .expect("at least one start");
    (best, evals)
}

/// The fit's report: predictions, sensitivities, leave-one-out.
fn finish(
    problem: &Problem,
    opts: &FitOptions,
    params: &[Param],
    report: &[Param],
    best: &Minimum,
    values: Vec<f64>,
    progress: &dyn Progress,
) -> Result<Fit, CalibrateError> {
    let all = vec![true; problem.points.len()];
    let obj = Objective::new(problem, params, &all, opts.prior_weight);
    let system = problem.system_with(params, &values);
    let predicted = problem.predict(&system)?;
    let w = weights(&problem.points, &all);
    let total_w: f64 = w.iter().sum();
    let rms_log_error = (obj.data_loss(&predicted) / total_w.max(f64::MIN_POSITIVE)).sqrt();

    progress.stage("sensitivity", report.len());
    let probes = report
        .par_iter()
        .map(|&p| {
            let probe = sensitivity(problem, &system, &predicted, &w, p);
            progress.step();
            probe
        })
        .collect::<Result<Vec<_>, CalibrateError>>()?;
    let free_columns: Vec<&[f64]> = report
        .iter()
        .zip(&probes)
        .filter(|(p, _)| params.contains(p))
        .map(|(_, (_, col))| &col[..])
        .collect();
    let marginal = marginal_pct(&free_columns, &w);
    let mut next_free = marginal.into_iter();
    let params_fit = report
        .iter()
        .zip(probes)
        .map(|(&p, (pct, _))| {
            let free = params.contains(&p);
            let value = p.get(&system.compute);
            let (lo, hi) = p.bounds();
            ParamFit {
                param: p,
                base: p.get(&problem.base.compute),
                value,
                free,
                at_bound: free && (value <= lo * 1.001 || value >= hi / 1.001),
                sensitivity_pct: pct,
                marginal_pct: if free { next_free.next() } else { None },
            }
        })
        .collect();

    let loo = match resolve_loo(opts.loo, problem.points.len()) {
        LooMode::Off => None,
        mode => Some(leave_out(problem, params, &best.x, opts, mode, progress)),
    };
    Ok(Fit {
        system,
        params: params_fit,
        predicted,
        rms_log_error,
        evals: best.evals,
        loo,
        carried: Vec::new(),
    })
}

/// A many-token rate below its kernel's one-token rate is never used (a step runs at the faster
/// of the two), and reads as the rate the fit actually settled on when raised to it: the level
/// that carries to other kernels.
fn effective_mat(params: &[Param], values: &mut [f64]) {
    let value = |p: Param, values: &[f64]| params.iter().position(|&q| q == p).map(|i| values[i]);
    for i in 0..params.len() {
        let vec = match params[i] {
            Param::KernelMat(t) => value(Param::KernelVec(t), values),
            Param::RepackedMat => value(Param::RepackedVec, values),
            _ => None,
        };
        if let Some(v) = vec {
            values[i] = values[i].max(v);
        }
    }
}

/// Carries the kernel rates the included rows determine to the kernels they do not see: a
/// kernel no included model runs keeps its base rate (an operator profile's, typically) scaled
/// by the median ratio of fitted to base rate of the kernels of the same kind (one-token or
/// many-token) that were seen. Kernel rate ratios between weight types are a property of
/// llama.cpp's code on an instruction set; the level is the machine's.
fn carry_scale(
    problem: &Problem,
    params: &[Param],
    include: &[bool],
    values: &mut [f64],
) -> Vec<Param> {
    let mut carried = Vec::new();
    let used_models: Vec<ModelSpec> = problem
        .models
        .iter()
        .enumerate()
        .filter(|(m, _)| {
            problem
                .points
                .iter()
                .zip(include)
                .any(|(p, &inc)| inc && p.model == *m)
        })
        .map(|(_, spec)| spec.clone())
        .collect();
    let seen_vec = kernels_of(&used_models, &problem.base.compute, true);
    let seen_mat = kernels_of(&used_models, &problem.base.compute, false);
    let seen = |k: &Option<QuantType>, is_vec: bool| {
        if is_vec {
            seen_vec.contains(k)
        } else {
            seen_mat.contains(k)
        }
    };
    let kernel = |p: Param| match p {
        Param::KernelVec(t) => Some((Some(t), true)),
        Param::KernelMat(t) => Some((Some(t), false)),
        Param::RepackedVec => Some((None, true)),
        Param::RepackedMat => Some((None, false)),
        _ => None,
    };
    for vec_kind in [true, false] {
        let mut ratios: Vec<f64> = params
            .iter()
            .zip(values.iter())
            .filter_map(|(&p, &v)| {
                let (k, is_vec) = kernel(p)?;
                (is_vec == vec_kind && seen(&k, is_vec))
                    .then(|| (v / p.get(&problem.base.compute)).ln())
            })
            .collect();
        if ratios.is_empty() {
            continue;
        }
        ratios.sort_by(f64::total_cmp);
        let n = ratios.len();
        // The geometric median: the middle ratio, or the geometric mean of the middle two.
        let median = ((ratios[(n - 1) / 2] + ratios[n / 2]) / 2.0).exp();
        for (&p, v) in params.iter().zip(values.iter_mut()) {
            if let Some((k, is_vec)) = kernel(p)
                && is_vec == vec_kind
                && !seen(&k, is_vec)
            {
                *v = p.get(&problem.base.compute) * median;
                carried.push(p);
            }
        }
    }
    carried
}

fn dedup(params: &[Param]) -> Vec<Param> {
    let mut v = params.to_vec();
    v.sort();
    v.dedup();
    v
}

fn resolve_loo(mode: LooMode, n: usize) -> LooMode {
    match mode {
        LooMode::Auto if n > LooMode::MAX_POINTS => LooMode::Group,
        LooMode::Auto => LooMode::Point,
        m => m,
    }
}

/// Refits without each point (or group) in turn, from the full fit's optimum, and predicts what
/// was left out. Refits run in parallel; each is deterministic, so the result is too.
fn leave_out(
    problem: &Problem,
    params: &[Param],
    optimum: &[f64],
    opts: &FitOptions,
    mode: LooMode,
    progress: &dyn Progress,
) -> Loo {
    let n = problem.points.len();
    let folds: Vec<Vec<usize>> = match mode {
        LooMode::Model => (0..problem.models.len())
            .map(|m| (0..n).filter(|&i| problem.points[i].model == m).collect())
            .filter(|f: &Vec<usize>| !f.is_empty())
            .collect(),
        LooMode::Group => {
            let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
            for (i, p) in problem.points.iter().enumerate() {
                let g = p.group();
                match groups.iter_mut().find(|(k, _)| *k == g) {
                    Some((_, v)) => v.push(i),
                    None => groups.push((g, vec![i])),
                }
            }
            groups.into_iter().map(|(_, v)| v).collect()
        }
        _ => (0..n).map(|i| vec![i]).collect(),
    };
    progress.stage("leave-one-out", folds.len());
    let results: Vec<Vec<(usize, f64)>> = folds
        .par_iter()
        .map(|fold| {
            let predicted = refit_without(problem, params, optimum, opts, fold);
            progress.step();
            predicted
        })
        .collect();
    let mut predicted = vec![f64::NAN; n];
    for (i, rate) in results.iter().flatten() {
        predicted[*i] = *rate;
    }
    Loo {
        mode,
        refits: folds.len(),
        predicted,
    }
}

/// The predictions for the points of `fold` by a refit without them.
fn refit_without(
    problem: &Problem,
    params: &[Param],
    optimum: &[f64],
    opts: &FitOptions,
    fold: &[usize],
) -> Vec<(usize, f64)> {
    let n = problem.points.len();
    let per_kernel = problem.base.compute.per_kernel();
    let include: Vec<bool> = (0..n).map(|i| !fold.contains(&i)).collect();
    if !include.iter().any(|&b| b) {
        return fold.iter().map(|&i| (i, f64::NAN)).collect();
    }
    let obj = Objective::new(problem, params, &include, opts.prior_weight);
    let best = if per_kernel {
        obj.levenberg(optimum, opts.max_evals)
    } else {
        obj.minimise_from(optimum, 0.2, opts.max_evals)
    };
    let mut values: Vec<f64> = obj.values(&best.x);
    if per_kernel {
        effective_mat(params, &mut values);
        carry_scale(problem, params, &include, &mut values);
    }
    let values: Vec<f64> = values.into_iter().map(round_sig).collect();
    let system = problem.system_with(params, &values);
    let machines = problem.machines(&system);
    fold.iter()
        .map(|&i| {
            let p = &problem.points[i];
            let rate = machines
                .as_ref()
                .ok()
                .and_then(|m| predict_point(&m[p.model], p).ok())
                .unwrap_or(f64::NAN);
            (i, rate)
        })
        .collect()
}

/// The larger rms change of the predictions (in %) when `p` is multiplied or divided by
/// [`SENSITIVITY_STEP`], everything else as fitted; and the central-difference column of the
/// Jacobian `∂ ln rate / ∂ ln p` from the same two runs.
fn sensitivity(
    problem: &Problem,
    system: &SystemSpec,
    predicted: &[f64],
    w: &[f64],
    p: Param,
) -> Result<(f64, Vec<f64>), CalibrateError> {
    let total: f64 = w.iter().sum();
    let mut worst: f64 = 0.0;
    let mut moved = Vec::new();
    for factor in [SENSITIVITY_STEP, 1.0 / SENSITIVITY_STEP] {
        let mut s = system.clone();
        p.set(&mut s.compute, p.get(&system.compute) * factor);
        let m = problem.predict(&s)?;
        let ms: f64 = m
            .iter()
            .zip(predicted)
            .zip(w)
            .map(|((a, b), w)| w * (a / b).ln().powi(2))
            .sum::<f64>()
            / total.max(f64::MIN_POSITIVE);
        worst = worst.max(ms.sqrt());
        moved.push(m);
    }
    let h = 2.0 * SENSITIVITY_STEP.ln();
    let column = moved[0]
        .iter()
        .zip(&moved[1])
        .map(|(up, down)| (up / down).ln() / h)
        .collect();
    Ok((worst * 100.0, column))
}

/// For each Jacobian column, the rms change of the predictions (in %) that a
/// [`SENSITIVITY_STEP`] change of its parameter leaves when the other columns' parameters
/// compensate as well as they can, to first order: `Δ / sqrt((JᵀWJ)⁻¹)ₖₖ`.
fn marginal_pct(columns: &[&[f64]], w: &[f64]) -> Vec<f64> {
    let k = columns.len();
    if k == 0 {
        return Vec::new();
    }
    let total: f64 = w.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut h = vec![vec![0.0; k]; k];
    for a in 0..k {
        for b in 0..k {
            h[a][b] = columns[a]
                .iter()
                .zip(columns[b])
                .zip(w)
                .map(|((x, y), w)| w * x * y)
                .sum::<f64>()
                / total;
        }
    }
    // A ridge far below any curvature that matters keeps an exactly degenerate pair invertible
    // (and reported as unconstrained) instead of failing.
    let scale = (0..k).map(|i| h[i][i]).fold(0.0, f64::max).max(1e-300);
    for (i, row) in h.iter_mut().enumerate() {
        row[i] += 1e-12 * scale;
    }
    let inv = invert(h);
    let delta = SENSITIVITY_STEP.ln();
    (0..k)
        .map(|i| match &inv {
            Some(m) if m[i][i] > 0.0 => 100.0 * delta / m[i][i].sqrt(),
            _ => 0.0,
        })
        .collect()
}

/// Gauss–Jordan inversion with partial pivoting; `None` when singular.
pub fn invert(mut a: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let d = a[col][col];
        for j in 0..n {
            a[col][j] /= d;
            inv[col][j] /= d;
        }
        for r in 0..n {
            if r != col {
                let f = a[r][col];
                if f != 0.0 {
                    for j in 0..n {
                        a[r][j] -= f * a[col][j];
                        inv[r][j] -= f * inv[col][j];
                    }
                }
            }
        }
    }
    Some(inv)
}

/// `x` to [`SIGNIFICANT_DIGITS`] significant digits.
pub fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = SIGNIFICANT_DIGITS - 1 - x.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    let r = (x * scale).round() / scale;
    // Printing through a string removes the binary residue (0.30100000000000005).
    format!("{r:.*}", digits.max(0) as usize)
        .parse()
        .unwrap_or(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::points::{self, Exclusion};
    use crate::calibrate::readers::{BenchRow, Position, RowSource};
    use crate::config::load;
    use crate::model::quant::QuantType;
    use crate::scenario::TestCase;
    use std::sync::Mutex;

    pub fn model(name: &str) -> ModelSpec {
        load::model(Some(name), &[]).unwrap().spec
    }

    /// A system whose figures are the truth the synthetic rows come from.
    pub fn truth_system() -> SystemSpec {
        let mut s = load::system(Some("laptop-ryzen3-5300u"), &[]).unwrap().spec;
        let c = &mut s.compute;
        c.memory_efficiency = 0.25;
        c.prefill_efficiency = 0.35;
        // Decode binds on the matmuls at depth 0 and on the KV bytes at depth 4096, so that both
        // efficiencies show in the rates; attention shows in the prompt at depth.
        c.decode_efficiency = 0.07;
        c.attention_efficiency = Some(0.4);
        c.layer_overhead = Seconds::us(40.0);
        c.step_overhead = Seconds::us(900.0);
        s
    }

    fn case(n_prompt: u32, n_gen: u32, n_depth: u32, n_ubatch: u32) -> TestCase {
        TestCase {
            n_prompt,
            n_gen,
            n_depth,
            n_batch: 2048,
            n_ubatch,
            n_seq: 1,
            type_k: QuantType::F16,
            type_v: QuantType::F16,
            n_threads: 8,
            flash_attn: None,
            repack: true,
            stage_from: None,
        }
    }

    /// Rows as llama-bench would record them, with the simulator's rates on `system`.
    pub(crate) fn synthetic_rows(
        model: &ModelSpec,
        system: &SystemSpec,
        cases: &[TestCase],
    ) -> Vec<BenchRow> {
        let m = Machine::new(model, system).unwrap();
        let t = crate::model::traffic::ModelTraffic::new(model);
        cases
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let out = scenario::run_test(&m, c, 1, 0, 0).unwrap();
                let ts = f64::from(c.n_prompt + c.n_gen) / out.samples[0].0;
                BenchRow {
                    model_type: model.name.clone(),
                    model_filename: None,
                    model_size: Some(t.model_size.0 as u64),
                    model_n_params: Some(t.n_params as u64),
                    backend: Some("CPU".into()),
                    n_threads: Some(c.n_threads),
                    n_batch: Some(c.n_batch),
                    n_ubatch: Some(c.n_ubatch),
                    type_k: Some(c.type_k.name().into()),
                    type_v: Some(c.type_v.name().into()),
                    flash_attn: Some(-1),
                    n_prompt: c.n_prompt,
                    n_gen: c.n_gen,
                    n_depth: c.n_depth,
                    avg_ts: ts,
                    stddev_ts: 0.0,
                    samples_ts: vec![ts],
                    extra: Default::default(),
                    source: RowSource {
                        origin: format!("synthetic-{}", model.name),
                        position: Position::Record(i + 1),
                    },
                }
            })
            .collect()
    }

    /// Two models with different layer counts (30 and 18) separate the per-layer from the
    /// per-step overhead; short tests keep the debug build's fit under a second or two.
    fn synthetic_problem() -> Problem {
        let truth = truth_system();
        let small = model("smollm2-135m-instruct-q4_1");
        let big = model("gemma-3-270m-q4_k_m");
        let cases = [
            case(64, 0, 0, 512),
            case(64, 0, 0, 8),
            case(64, 0, 4096, 512),
            case(0, 2, 0, 512),
            case(0, 2, 4096, 512),
        ];
        let mut rows = synthetic_rows(&small, &truth, &cases);
        rows.extend(synthetic_rows(&big, &truth, &cases));
        let models = vec![small, big];
        let sel = points::select(rows, &models, None, &[]).unwrap();
        let mut base = truth.clone();
        base.compute = load::system(Some("laptop-ryzen3-5300u"), &[])
            .unwrap()
            .spec
            .compute;
        Problem {
            models,
            base,
            points: sel.points,
        }
    }

    /// All six figures from two models. About 20 000 simulator runs: a second in a release
    /// build, far too long in a debug one, where the three-parameter test below stands in.
    #[test]
    #[cfg_attr(debug_assertions, ignore = "slow in debug builds; run with --release")]
    fn the_fit_recovers_all_six_parameters_the_rows_were_simulated_with() {
        let problem = synthetic_problem();
        let opts = FitOptions {
            loo: LooMode::Off,
            ..FitOptions::default()
        };
        check_recovery(&problem, &fit(&problem, &opts).unwrap());
    }

    #[test]
    fn the_fit_recovers_three_parameters_the_rows_were_simulated_with() {
        let mut problem = synthetic_problem();
        problem.points.retain(|p| p.model == 0);
        problem.models.truncate(1);
        let truth = truth_system();
        for p in [
            Param::DecodeEfficiency,
            Param::LayerOverhead,
            Param::StepOverhead,
        ] {
            p.set(&mut problem.base.compute, p.get(&truth.compute));
        }
        let opts = FitOptions {
            params: vec![
                Param::MemoryEfficiency,
                Param::PrefillEfficiency,
                Param::AttentionEfficiency,
            ],
            starts: 2,
            loo: LooMode::Off,
            ..FitOptions::default()
        };
        check_recovery(&problem, &fit(&problem, &opts).unwrap());
    }

    fn check_recovery(problem: &Problem, fit: &Fit) {
        let truth = truth_system();
        for p in &fit.params {
            let want = p.param.get(&truth.compute);
            assert!(
                (p.value / want - 1.0).abs() < 0.01,
                "{}: fitted {} want {want} (sensitivity {:.2} %)",
                p.param.name(),
                p.value,
                p.sensitivity_pct
            );
            // Noise-free rows pin even a weakly separated pair (the layer and step overheads of
            // two models), so the check is that each figure moves the predictions by itself.
            assert!(
                p.sensitivity_pct >= UNCONSTRAINED_PCT,
                "{}: {:.3} %",
                p.param.name(),
                p.sensitivity_pct
            );
        }
        assert!(fit.rms_log_error < 1e-3, "{}", fit.rms_log_error);
        for (pred, pt) in fit.predicted.iter().zip(&problem.points) {
            assert!((pred / pt.measured() - 1.0).abs() < 0.005, "{}", pt.label());
        }
    }

    #[test]
    fn leave_one_out_refits_without_each_point() {
        // One model and three free parameters: quick, and every point but the depth one is
        // predicted from the others to well within 1 %.
        let truth = truth_system();
        let small = model("smollm2-135m-instruct-q4_1");
        let cases = [
            case(32, 0, 0, 512),
            case(64, 0, 0, 512),
            case(0, 2, 0, 512),
            case(0, 4, 0, 512),
        ];
        let rows = synthetic_rows(&small, &truth, &cases);
        let models = vec![small];
        let sel = points::select(rows, &models, None, &[]).unwrap();
        let mut base = truth.clone();
        base.compute.prefill_efficiency = 0.6;
        base.compute.memory_efficiency = 0.5;
        let problem = Problem {
            models,
            base,
            points: sel.points,
        };
        let opts = FitOptions {
            params: vec![Param::PrefillEfficiency, Param::MemoryEfficiency],
            starts: 1,
            loo: LooMode::Auto,
            ..FitOptions::default()
        };
        let fit = fit(&problem, &opts).unwrap();
        let loo = fit.loo.as_ref().unwrap();
        assert_eq!(loo.mode, LooMode::Point);
        assert_eq!(loo.refits, 4);
        for (i, (p, pt)) in loo.predicted.iter().zip(&problem.points).enumerate() {
            assert!(
                (p / pt.measured() - 1.0).abs() < 0.01,
                "point {i} {}: loo {p} measured {}",
                pt.label(),
                pt.measured()
            );
        }
        // The fixed parameters keep their base values exactly.
        let fixed = fit
            .params
            .iter()
            .find(|p| p.param == Param::StepOverhead)
            .unwrap();
        assert!(!fixed.free);
        assert_eq!(fixed.value, fixed.base);
    }

    #[test]
    fn group_leave_out_and_exclusions() {
        assert_eq!(resolve_loo(LooMode::Auto, 41), LooMode::Group);
        assert_eq!(resolve_loo(LooMode::Auto, 40), LooMode::Point);
        assert_eq!(LooMode::parse("group"), Some(LooMode::Group));
        assert_eq!(LooMode::parse("sometimes"), None);
        assert!(Exclusion::parse("test=pp64").is_ok());
    }

    #[test]
    fn weights_give_each_kind_a_total_of_one() {
        let problem = synthetic_problem();
        let all = vec![true; problem.points.len()];
        let w = weights(&problem.points, &all);
        let total = |k: Kind| -> f64 {
            w.iter()
                .zip(&problem.points)
                .filter(|(_, p)| p.kind == k)
                .map(|(w, _)| w)
                .sum()
        };
        assert!((total(Kind::Pp) - 1.0).abs() < 1e-12);
        assert!((total(Kind::Tg) - 1.0).abs() < 1e-12);
        let mut some = all.clone();
        some[0] = false;
        let w = weights(&problem.points, &some);
        assert_eq!(w[0], 0.0);
        assert!((w.iter().sum::<f64>() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_figure_another_can_stand_in_for_has_no_marginal_sensitivity() {
        // Two columns that move every prediction alike: each alone matters, neither given the
        // other. A third, independent one keeps its full effect.
        let a = [1.0, 1.0, 1.0];
        let b = [0.5, 0.5, 0.5];
        let c = [1.0, -1.0, 0.0];
        let w = [1.0, 1.0, 1.0];
        let m = marginal_pct(&[&a, &b, &c], &w);
        assert!(m[0] < 1e-3 && m[1] < 1e-3, "{m:?}");
        let alone = 100.0 * SENSITIVITY_STEP.ln() * (2.0f64 / 3.0).sqrt();
        assert!((m[2] - alone).abs() < 1e-6 * alone, "{m:?} vs {alone}");
        let inv = invert(vec![vec![2.0, 1.0], vec![1.0, 1.0]]).unwrap();
        assert!((inv[0][0] - 1.0).abs() < 1e-12 && (inv[0][1] + 1.0).abs() < 1e-12);
    }

    #[test]
    fn parameters_round_trip_through_names_and_rounding() {
        for p in Param::ALL {
            assert_eq!(Param::from_name(&p.name()), Some(p));
            assert_eq!(Param::from_name(&p.path()), Some(p));
        }
        assert_eq!(round_sig(0.301234), 0.3012);
        assert_eq!(round_sig(4.0567e-5), 4.057e-5);
        assert_eq!(round_sig(1234.5), 1235.0);
        assert_eq!(Param::LayerOverhead.format(4.057e-5), "40.57us");
    }

    /// Records what a fit reports.
    #[derive(Default)]
    struct Log(Mutex<Vec<(&'static str, usize, usize)>>);

    impl Progress for Log {
        fn stage(&self, name: &'static str, steps: usize) {
            self.0.lock().unwrap().push((name, steps, 0));
        }
        fn step(&self) {
            self.0.lock().unwrap().last_mut().expect("a stage began").2 += 1;
        }
    }

    #[test]
    fn a_fit_reports_every_stage_and_completes_each() {
        let problem = synthetic_problem();
        let opts = FitOptions {
            params: vec![Param::MemoryEfficiency, Param::PrefillEfficiency],
            starts: 2,
            max_evals: 200,
            ..FitOptions::default()
        };
        let log = Log::default();
        fit_reporting(&problem, &opts, &log).unwrap();
        let stages = log.0.into_inner().unwrap();
        let names: Vec<&str> = stages.iter().map(|s| s.0).collect();
        assert_eq!(names, ["fitting", "sensitivity", "leave-one-out"]);
        for (name, steps, done) in stages {
            assert!(steps > 0, "{name} has steps");
            assert_eq!(done, steps, "{name} completes");
        }
    }
}
