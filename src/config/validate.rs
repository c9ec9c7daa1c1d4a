//! Range and consistency checks the schema cannot express, so bad figures fail at load time with
//! the field's path instead of producing nonsense curves.

use crate::limits;
use std::collections::HashSet;

use crate::config::error::ConfigError;
use crate::config::system::{ComputeSpec, OverlapMode, Routing, SystemSpec, TensorClass};
use crate::model::spec::ModelSpec;
use crate::units::FlopsPerSec;

/// Checks a model spec.
pub fn model(m: &ModelSpec, origin: &str) -> Result<(), ConfigError> {
    let bad = |field: &str, msg: &str| Err(ConfigError::invalid(origin, field, msg));
    for (field, v) in [
        ("n_layers", m.n_layers),
        ("d_model", m.d_model),
        ("n_heads", m.n_heads),
        ("n_kv_heads", m.n_kv_heads),
        ("head_dim", m.head_dim),
        ("vocab", m.vocab),
        ("context_length", m.context_length),
    ] {
        if v == 0 {
            return bad(field, "is 0; expected a positive integer");
        }
    }
    // Layers and experts size per-layer and per-expert tables: bounded before they are built.
    if let Err(e) = limits::LAYERS.check(u64::from(m.n_layers)) {
        return bad("n_layers", &e.to_string());
    }
    if let Some(moe) = &m.moe
        && let Err(e) = limits::EXPERTS.check(u64::from(moe.n_experts))
    {
        return bad("moe.n_experts", &e.to_string());
    }
    if !m.n_heads.is_multiple_of(m.n_kv_heads) {
        return bad(
            "n_kv_heads",
            &format!("({}) must divide n_heads ({})", m.n_kv_heads, m.n_heads),
        );
    }
    if m.moe.is_none() && m.ffn_dim == 0 {
        return bad("ffn_dim", "is 0; expected the FFN hidden size");
    }
    if let Some(w) = &m.sliding_window
        && (w.window == 0 || w.pattern == 0)
    {
        return bad("sliding_window", "needs a positive window and pattern");
    }
    if let Some(moe) = &m.moe {
        if moe.n_experts == 0 || moe.expert_ffn_dim == 0 {
            return bad("moe", "needs positive n_experts and expert_ffn_dim");
        }
        if moe.experts_per_token == 0 || moe.experts_per_token > moe.n_experts {
            return bad(
                "moe.experts_per_token",
                &format!(
                    "({}) must be between 1 and n_experts ({})",
                    moe.experts_per_token, moe.n_experts
                ),
            );
        }
    }
    Ok(())
}

/// Checks a system spec: positive rates and sizes, efficiencies in (0, 1], device fields on
/// every device tier, and placement naming tiers that exist.
pub fn system(s: &SystemSpec, origin: &str) -> Result<(), ConfigError> {
    let bad = |field: String, msg: String| Err(ConfigError::invalid(origin, field, msg));
    compute(&s.compute, "compute", origin)?;
    let mut seen = vec![s.compute.threads];
    for (i, c) in s.compute_at_threads.iter().enumerate() {
        let prefix = format!("compute_at_threads.{i}");
        compute(c, &prefix, origin)?;
        if c.threads.is_none() || seen.contains(&c.threads) {
            return bad(
                format!("{prefix}.threads"),
                "must be set and differ from every other compute block's: each block holds the \
                 figures of one thread count"
                    .into(),
            );
        }
        seen.push(c.threads);
    }
    if s.tiers.is_empty() {
        return bad(
            "tiers".into(),
            "is empty; expected at least the compute-local tier".into(),
        );
    }
    let mut names = HashSet::new();
    for (i, t) in s.tiers.iter().enumerate() {
        let f = |k: &str| format!("tiers.{}.{k}", t.name);
        if !names.insert(t.name.as_str()) {
            return bad(
                format!("tiers.{i}.name"),
                format!("`{}` is used by two tiers; names must be unique", t.name),
            );
        }
        if !positive(t.capacity.0) {
            return bad(f("capacity"), "must be positive, e.g. 80GB".into());
        }
        for (k, bw) in [("read_bw", t.read_bw), ("write_bw", t.write_bw)] {
            if !positive(bw.0) {
                return bad(
                    f(k),
                    format!("is {bw}; expected a positive bandwidth such as 1.6TB/s"),
                );
            }
        }
        for (k, lat) in [
            ("read_latency", &t.read_latency),
            ("write_latency", &t.write_latency),
        ] {
            match lat {
                Some(l) => l
                    .validate()
                    .map_err(|e| ConfigError::invalid(origin, f(k), e.to_string()))?,
                None if i > 0 => {
                    return bad(
                        f(k),
                        "is missing; every tier after the first is a device and needs it, e.g. 4us"
                            .into(),
                    );
                }
                None => {}
            }
        }
        if i > 0 {
            for (k, v) in [
                ("parallel_units", t.parallel_units),
                ("queue_depth", t.queue_depth),
            ] {
                match v {
                    Some(0) => return bad(f(k), "is 0; expected at least 1".into()),
                    None => {
                        return bad(
                            f(k),
                            "is missing; every tier after the first needs it".into(),
                        );
                    }
                    Some(_) => {}
                }
            }
            match t.io_size {
                Some(b) if b.0 > 0.0 => {}
                _ => {
                    return bad(
                        f("io_size"),
                        "must be given and positive on a device tier, e.g. 4KiB".into(),
                    );
                }
            }
        }
        if let Some(path) = &t.read_path {
            if i == 0 {
                return bad(
                    f("read_path"),
                    "is set on the compute-local tier; only device tiers have a read path".into(),
                );
            }
            if let Err((field, why)) = path.validate(t.parallel_units.unwrap_or(1)) {
                return bad(f(&format!("read_path.{field}")), why);
            }
        }
        if let Some(k) = t.latency_scale
            && !positive(k)
        {
            return bad(
                f("latency_scale"),
                format!("is {k}; expected a positive factor such as 2.5"),
            );
        }
        if let Some(e) = &t.endurance
            && !(e.pe_cycles > 0.0 && e.waf >= 1.0 && e.target_years >= 0.0)
        {
            return bad(
                f("endurance"),
                "needs pe_cycles > 0, waf >= 1 and target_years >= 0".into(),
            );
        }
        if let Some(c) = &t.compute {
            if i == 0 {
                return bad(
                    f("compute"),
                    "is set on the compute-local tier; describe its processor under `compute`"
                        .into(),
                );
            }
            if !(positive(c.peak_flops.0)
                && positive(c.memory_bw.0)
                && c.efficiency > 0.0
                && c.efficiency <= 1.0
                && c.hop.0 >= 0.0)
            {
                return bad(
                    f("compute"),
                    "needs positive peak_flops and memory_bw, efficiency in (0, 1] and a \
                     non-negative hop"
                        .into(),
                );
            }
        }
    }
    let known = |name: &str| names.contains(name);
    let tier_list = || {
        s.tiers
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let w = &s.placement.weights;
    if !known(&w.default) {
        return bad(
            "placement.weights.default".into(),
            format!("names tier `{}`; tiers are {}", w.default, tier_list()),
        );
    }
    for (i, r) in w.rules.iter().enumerate() {
        if !known(&r.tier) {
            return bad(
                format!("placement.weights.rules.{i}.tier"),
                format!("names tier `{}`; tiers are {}", r.tier, tier_list()),
            );
        }
        if r.tensors.is_empty() {
            return bad(
                format!("placement.weights.rules.{i}.tensors"),
                format!("is empty; expected classes such as {:?}", TensorClass::Ffn).to_lowercase(),
            );
        }
    }
    let kv = &s.placement.kv;
    if kv.tiers.is_empty() {
        return bad(
            "placement.kv.tiers".into(),
            "is empty; expected the tiers the KV cache may use, fastest first".into(),
        );
    }
    for (i, t) in kv.tiers.iter().enumerate() {
        if !known(t) {
            return bad(
                format!("placement.kv.tiers.{i}"),
                format!("names tier `{t}`; tiers are {}", tier_list()),
            );
        }
    }
    if s.overlap.mode == OverlapMode::Prefetch && s.overlap.prefetch_layers == 0 {
        return bad(
            "overlap.prefetch_layers".into(),
            "is 0; expected at least 1 in prefetch mode".into(),
        );
    }
    let e = &s.experts;
    if !(e.skew.is_finite() && (0.0..=MAX_SKEW).contains(&e.skew)) {
        return bad(
            "experts.skew".into(),
            format!(
                "is {}; expected a Zipf exponent from 0 (uniform) to {MAX_SKEW}",
                e.skew
            ),
        );
    }
    if e.cache.is_some() && e.routing == Routing::Expected {
        return bad(
            "experts.cache".into(),
            "needs `experts.routing: sampled`: an expected expert count has no identities to cache"
                .into(),
        );
    }
    if e.cache.is_some_and(|c| !(c.0.is_finite() && c.0 >= 0.0)) {
        return bad(
            "experts.cache".into(),
            "must be a non-negative size such as 8GiB".into(),
        );
    }
    if s.sim.lanes == 0 {
        return bad("sim.lanes".into(), "is 0; expected at least 1".into());
    }
    Ok(())
}

/// Steepest popularity skew accepted: at 8 the top expert of 128 already takes 99.6 % of the
/// mass, so steeper values describe nothing new and only slow the sampler down.
const MAX_SKEW: f64 = 8.0;

/// Finite and above zero (NaN fails, which a plain `> 0.0` test would let through when negated).
fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// Checks one compute block, naming fields under `prefix`.
fn compute(c: &ComputeSpec, prefix: &str, origin: &str) -> Result<(), ConfigError> {
    let bad = |field: String, msg: String| Err(ConfigError::invalid(origin, field, msg));
    if !positive(c.peak_flops.0) {
        return bad(
            format!("{prefix}.peak_flops"),
            "must be positive, e.g. 989TFLOP/s".into(),
        );
    }
    let effs = [
        ("prefill_efficiency", Some(c.prefill_efficiency)),
        ("decode_efficiency", Some(c.decode_efficiency)),
        ("attention_efficiency", c.attention_efficiency),
        ("memory_efficiency", Some(c.memory_efficiency)),
        ("prompt_attention_efficiency", c.prompt_attention_efficiency),
        ("quantized_kv_attention", c.quantized_kv_attention),
        (
            "quantized_kv_prompt_attention",
            c.quantized_kv_prompt_attention,
        ),
        ("no_flash_attention", c.no_flash_attention),
    ];
    for (name, v) in effs {
        if let Some(v) = v
            && !(v > 0.0 && v <= 1.0)
        {
            return bad(
                format!("{prefix}.{name}"),
                format!("is {v}; expected a fraction in (0, 1]"),
            );
        }
    }
    let mut rates: Vec<(String, FlopsPerSec)> = Vec::new();
    for (ty, r) in &c.kernels {
        rates.push((format!("{prefix}.kernels.{}.vec", ty.name()), r.vec));
        rates.push((format!("{prefix}.kernels.{}.mat", ty.name()), r.mat));
    }
    if let Some(r) = &c.repacked {
        rates.push((format!("{prefix}.repacked.vec"), r.rates.vec));
        rates.push((format!("{prefix}.repacked.mat"), r.rates.mat));
    }
    for (field, r) in rates {
        if !positive(r.0) {
            return bad(
                field,
                format!("is {r}; expected a positive rate such as 80GFLOP/s"),
            );
        }
    }
    if let Some(h) = c.batch_half
        && !(h.is_finite() && h >= 0.0)
    {
        return bad(
            format!("{prefix}.batch_half"),
            format!("is {h}; expected a token count of 0 or more, e.g. 4"),
        );
    }
    for (name, v) in [
        ("node_overhead", c.node_overhead),
        ("token_overhead", c.token_overhead),
    ] {
        if let Some(v) = v
            && !(v.0.is_finite() && v.0 >= 0.0)
        {
            return bad(
                format!("{prefix}.{name}"),
                format!("is {v}; expected a non-negative time such as 2us"),
            );
        }
    }
    if c.threads == Some(0) {
        return bad(
            format!("{prefix}.threads"),
            "is 0; expected the thread count the figures were measured at".into(),
        );
    }
    for (i, w) in c.read_bw_curve.windows(2).enumerate() {
        if w[1].working_set.0 <= w[0].working_set.0 {
            return bad(
                format!("{prefix}.read_bw_curve.{}.working_set", i + 1),
                "must be larger than the point before it; list the curve smallest first".into(),
            );
        }
    }
    for (i, p) in c.read_bw_curve.iter().enumerate() {
        if !positive(p.working_set.0) || !positive(p.read_bw.0) {
            return bad(
                format!("{prefix}.read_bw_curve.{i}"),
                "needs a positive working_set and read_bw, e.g. {working_set: 64MiB, read_bw: 54GB/s}".into(),
            );
        }
    }
    Ok(())
}
