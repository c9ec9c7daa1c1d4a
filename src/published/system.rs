//! System-level published figures as closed forms over tiersim's own model accounting: the
//! KV-cache lifetime of an HBF node under continuous batching (Kyung et al.'s Eq. 2), the
//! largest batch whose weights and KV fit a capacity (SK hynix H3, Son et al.'s HBM4 anchors),
//! and the share of a decode step spent writing admitted requests' KV (Son et al.'s Fig. 5).
//!
//! Each paper's figure rests on one quantity tiersim does not simulate for these systems (a TPOT,
//! a batch): the scenario takes it from the paper under a field named `taken_*`, so the test
//! checks the closed form and tiersim's byte counts, not a copy of the answer.

use serde::Deserialize;

use crate::config::error::ConfigError;
use crate::config::load;
use crate::model::quant::QuantType;
use crate::model::traffic::ModelTraffic;
use crate::scenario::wear_out_years;
use crate::units::{Bytes, BytesPerSec, Seconds};

/// A model's weights split as expert parallelism places them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightSplit {
    /// Every routed expert of every layer.
    pub routed: Bytes,
    /// Everything else: attention, routers, dense FFNs, shared experts, embeddings, output.
    pub rest: Bytes,
}

impl WeightSplit {
    /// The split of a model's stored bytes.
    pub fn of(t: &ModelTraffic) -> Self {
        let routed = t.layers.iter().map(|l| l.experts_total()).sum::<Bytes>();
        Self {
            routed,
            rest: t.model_size - routed,
        }
    }

    /// Bytes on a node of `replicas` devices that shard the routed experts once between them
    /// and each hold every other tensor (data-parallel attention with expert parallelism).
    pub fn on_node(&self, replicas: u32) -> Bytes {
        self.routed + self.rest * f64::from(replicas)
    }
}

/// KV bytes one request of `tokens` tokens holds at 16 bits (f16 or bf16: the same two bytes):
/// per layer, the tokens the layer keeps — all of them, or a sliding-window layer's window unless
/// `full_attention` runs every layer globally.
pub fn kv_per_request(t: &ModelTraffic, tokens: u64, full_attention: bool) -> Bytes {
    let per_layer_token = t.kv_per_token(QuantType::F16, QuantType::F16);
    let kept: u64 = (0..t.layers.len())
        .map(|l| {
            if full_attention {
                tokens
            } else {
                t.attended(l, tokens)
            }
        })
        .sum();
    per_layer_token * kept as f64
}

/// An HBF node whose flash holds the weights and every request's KV (Kyung et al.'s device_HBF
/// node), as its lifetime needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KvWearNode {
    /// Devices in the node.
    pub devices: u32,
    /// Flash per device.
    pub flash_per_device: Bytes,
    /// Weights plus reserved KV per device: the batch-sizing budget.
    pub budget_per_device: Bytes,
    /// The node's batch is a multiple of this (one request per device per step of it).
    pub batch_step: u32,
    /// Weight bytes the node's flash holds (never rewritten, so never worn).
    pub weights: Bytes,
    /// Program/erase cycles each flash block survives.
    pub pe_cycles: f64,
    /// Write amplification of the flash controller.
    pub waf: f64,
}

/// Years the node's flash lasts when it serves requests of mean context `context` tokens, of
/// which the share `output_share` is generated, at `tpot` per decode step, with `kv(tokens)`
/// bytes of KV per request of that many tokens.
///
/// The continuous-batching steady state: the batch is the reserved KV over one request's KV
/// (rounded down to the batch step); requests complete at `batch / (L_out · TPOT)` per second;
/// each writes `(L_in + L_out − 1)` tokens of KV once (its prefill on admission, then one token
/// per step but the last; Kyung et al.'s Eq. 1). The writes spread over the flash the weights
/// leave free (Eq. 2).
pub fn kv_lifetime_years(
    node: &KvWearNode,
    kv: &dyn Fn(u64) -> Bytes,
    context: u64,
    output_share: f64,
    tpot: Seconds,
) -> f64 {
    let n = f64::from(node.devices);
    let reserved = node.budget_per_device * n - node.weights;
    let requests = (reserved / kv(context)).floor() as u64;
    let step = u64::from(node.batch_step.max(1));
    let batch = (requests / step * step) as f64;
    let out_tokens = (context as f64 * output_share).round();
    let per_request = kv(context.saturating_sub(1));
    let completions_per_step = batch / out_tokens;
    let rate = per_request * completions_per_step / tpot;
    let writable = node.flash_per_device * n - node.weights;
    wear_out_years(writable, node.pe_cycles, node.waf, rate)
}

/// The largest count of requests of `per_request` bytes that fit `capacity` beside `held`
/// bytes; zero when `held` alone overflows it.
pub fn requests_fitting(capacity: Bytes, held: Bytes, per_request: Bytes) -> u64 {
    let free = capacity - held;
    if free.0 <= 0.0 || per_request.0 <= 0.0 {
        return 0;
    }
    (free / per_request).floor() as u64
}

/// Time per decode step spent writing the KV of newly admitted requests: a batch of `batch`
/// requests of `output_tokens` steps each admits `batch / output_tokens` requests per step,
/// each landing `admitted_kv` at `write_bw`, not overlapped with the step's reads (Son et al.,
/// Fig. 5 and footnote 2).
pub fn admission_write_time(
    batch: f64,
    admitted_kv: Bytes,
    output_tokens: u64,
    write_bw: BytesPerSec,
) -> Seconds {
    let bytes = admitted_kv * (batch / output_tokens as f64);
    bytes / write_bw
}

/// The fraction of a decode step of length `step` spent on [`admission_write_time`].
pub fn admission_write_share(
    batch: f64,
    admitted_kv: Bytes,
    output_tokens: u64,
    write_bw: BytesPerSec,
    step: Seconds,
) -> f64 {
    admission_write_time(batch, admitted_kv, output_tokens, write_bw) / step
}

fn traffic(model: &str) -> Result<ModelTraffic, ConfigError> {
    let loaded = load::model(Some(model), &[])?;
    Ok(ModelTraffic::new(&loaded.spec))
}

fn one() -> u32 {
    1
}

/// Weight bytes: counted by tiersim from a model preset, or taken from the source when tiersim
/// cannot express the model (MLA, FP8).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsOnNode {
    /// Model preset whose tensors tiersim counts.
    #[serde(default)]
    pub model: Option<String>,
    /// Devices each holding every non-routed tensor (routed experts are sharded once over
    /// them); 1 when the node holds one copy of everything.
    #[serde(default = "one")]
    pub replicas: u32,
    /// The bytes as the source (or its replication) states them.
    #[serde(default)]
    pub taken: Option<Bytes>,
}

impl WeightsOnNode {
    /// The bytes; `field` names this block in errors.
    pub fn bytes(&self, origin: &str, field: &str) -> Result<Bytes, ConfigError> {
        match (&self.model, self.taken) {
            (Some(m), None) => Ok(WeightSplit::of(&traffic(m)?).on_node(self.replicas)),
            (None, Some(b)) => Ok(b),
            _ => Err(ConfigError::invalid(
                origin,
                field,
                "must give exactly one of `model` (tiersim counts the bytes) or `taken` (the source's bytes)",
            )),
        }
    }
}

/// KV bytes per request: from a model preset through tiersim's KV accounting, or a per-token
/// figure taken from the source when tiersim cannot express the attention (MLA).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvBytes {
    /// Model preset whose KV tiersim counts.
    #[serde(default)]
    pub model: Option<String>,
    /// Every layer attends to the whole context even where the model has a sliding window
    /// (Kyung et al. run Maverick with iRoPE off).
    #[serde(default)]
    pub full_attention: bool,
    /// KV bytes per token over all layers, as the source states them.
    #[serde(default)]
    pub taken_per_token: Option<Bytes>,
}

impl KvBytes {
    /// A function from a request's tokens to its KV bytes.
    pub fn per_request(
        &self,
        origin: &str,
        field: &str,
    ) -> Result<Box<dyn Fn(u64) -> Bytes>, ConfigError> {
        match (&self.model, self.taken_per_token) {
            (Some(m), None) => {
                let t = traffic(m)?;
                let full = self.full_attention;
                Ok(Box::new(move |tokens| kv_per_request(&t, tokens, full)))
            }
            (None, Some(b)) => Ok(Box::new(move |tokens| b * tokens as f64)),
            _ => Err(ConfigError::invalid(
                origin,
                field,
                "must give exactly one of `model` (tiersim counts the KV) or `taken_per_token` (the source's bytes per token)",
            )),
        }
    }
}

/// A node as a `kv_lifetime` case states it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WearNodeSpec {
    /// Devices in the node.
    pub devices: u32,
    /// Flash per device.
    pub flash_per_device: Bytes,
    /// Weights plus reserved KV per device.
    pub budget_per_device: Bytes,
    /// The batch is rounded down to a multiple of this.
    #[serde(default = "one")]
    pub batch_step: u32,
    /// The weights the flash holds.
    pub weights: WeightsOnNode,
    /// Each request's KV.
    pub kv: KvBytes,
    /// Program/erase cycles.
    pub pe_cycles: f64,
    /// Write amplification.
    pub waf: f64,
}

/// Kyung et al.'s lifetime of one Fig. 4 cell, in years.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvLifetimeFigure {
    /// The node.
    pub node: WearNodeSpec,
    /// Mean context per request, tokens.
    pub context: u64,
    /// Generated tokens over context (`L_out / (L_in + L_out)`).
    pub output_share: f64,
    /// The cell's TPOT as the paper prints it: tiersim does not simulate this decode node.
    pub taken_tpot: Seconds,
}

impl KvLifetimeFigure {
    /// The lifetime in years.
    pub fn years(&self, origin: &str) -> Result<f64, ConfigError> {
        let n = &self.node;
        if !(self.output_share > 0.0 && self.output_share <= 1.0) {
            return Err(ConfigError::invalid(
                origin,
                "compute.kv_lifetime.output_share",
                format!("{} is not a share in (0, 1]", self.output_share),
            ));
        }
        let node = KvWearNode {
            devices: n.devices,
            flash_per_device: n.flash_per_device,
            budget_per_device: n.budget_per_device,
            batch_step: n.batch_step,
            weights: n
                .weights
                .bytes(origin, "compute.kv_lifetime.node.weights")?,
            pe_cycles: n.pe_cycles,
            waf: n.waf,
        };
        let kv = n.kv.per_request(origin, "compute.kv_lifetime.node.kv")?;
        Ok(kv_lifetime_years(
            &node,
            &*kv,
            self.context,
            self.output_share,
            self.taken_tpot,
        ))
    }
}

/// How requests spread over a group of devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parallel {
    /// Every request's KV and the weights are split over all devices: the group's capacity is
    /// one pool.
    #[default]
    Tensor,
    /// Each device serves whole requests beside its share of the weights.
    Data,
}

/// What a group of devices holds and how big each request's KV is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fit {
    /// Devices in the group.
    pub devices: u32,
    /// Memory per device the weights and KV must fit.
    pub capacity_per_device: Bytes,
    /// Weights in this memory; none when they live elsewhere (flash).
    #[serde(default)]
    pub weights: Option<WeightsOnNode>,
    /// Tokens of a KV every request shares, held once (H3's precomputed context); 0 for none.
    #[serde(default)]
    pub shared_kv_tokens: u64,
    /// Each request's KV.
    pub kv: KvBytes,
    /// Tokens each request reserves KV for (prompt plus output, at full length).
    pub tokens: u64,
    /// How requests spread over the devices.
    #[serde(default)]
    pub parallel: Parallel,
}

impl Fit {
    /// The largest batch per device.
    pub fn batch_per_device(&self, origin: &str, field: &str) -> Result<f64, ConfigError> {
        let n = f64::from(self.devices.max(1));
        let weights = match &self.weights {
            Some(w) => w.bytes(origin, &format!("{field}.weights"))?,
            None => Bytes::ZERO,
        };
        let kv = self.kv.per_request(origin, &format!("{field}.kv"))?;
        let shared = if self.shared_kv_tokens > 0 {
            kv(self.shared_kv_tokens)
        } else {
            Bytes::ZERO
        };
        let per_request = kv(self.tokens);
        Ok(match self.parallel {
            Parallel::Tensor => {
                requests_fitting(self.capacity_per_device * n, weights + shared, per_request) as f64
                    / n
            }
            Parallel::Data => {
                requests_fitting(self.capacity_per_device, weights / n + shared, per_request) as f64
            }
        })
    }
}

/// The largest batch per device whose weights and KV fit, or its ratio to another fit's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityBatchFigure {
    /// The system whose batch is the figure.
    pub fit: Fit,
    /// The baseline the figure is a ratio over, if it is one.
    #[serde(default)]
    pub over: Option<Fit>,
}

impl CapacityBatchFigure {
    /// The batch per device, or the ratio of the two batches.
    pub fn figure(&self, origin: &str) -> Result<f64, ConfigError> {
        let b = self
            .fit
            .batch_per_device(origin, "compute.capacity_batch.fit")?;
        match &self.over {
            None => Ok(b),
            Some(o) => Ok(b / o.batch_per_device(origin, "compute.capacity_batch.over")?),
        }
    }
}

/// Son et al.'s share of decode time spent writing admitted requests' KV.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvWriteShareFigure {
    /// Each request's KV.
    pub kv: KvBytes,
    /// Prompt tokens per request: the KV written on admission.
    pub input_tokens: u64,
    /// Generated tokens per request: steps between admissions of one slot.
    pub output_tokens: u64,
    /// Per-GPU batch as the paper's Fig. 3 draws it: tiersim has no multi-GPU SLO search.
    pub taken_batch: f64,
    /// Flash write bandwidth per GPU.
    pub write_bw: BytesPerSec,
    /// Decode step length (the TPOT SLO the batch is sized for).
    pub step: Seconds,
}

impl KvWriteShareFigure {
    /// The share, as a fraction.
    pub fn share(&self, origin: &str) -> Result<f64, ConfigError> {
        let kv = self.kv.per_request(origin, "compute.kv_write_share.kv")?;
        Ok(admission_write_share(
            self.taken_batch,
            kv(self.input_tokens),
            self.output_tokens,
            self.write_bw,
            self.step,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(weights: f64) -> KvWearNode {
        KvWearNode {
            devices: 8,
            flash_per_device: Bytes(5.0 * 512e9),
            budget_per_device: Bytes(512e9),
            batch_step: 8,
            weights: Bytes(weights),
            pe_cycles: 1e5,
            waf: 1.02,
        }
    }

    #[test]
    fn lifetime_matches_the_hand_worked_maverick_cell() {
        // Maverick, 8K, 1:3, TPOT 52 ms: B = 1,920, L_out = 6,144, 9.87 GB/s with WAF, 6.25 yr.
        let kv = |t: u64| Bytes(196_608.0 * t as f64);
        let y = kv_lifetime_years(&node(999.73e9), &kv, 8192, 0.75, Seconds::ms(52.0));
        let rate = 1920.0 * 8191.0 * 196_608.0 / (6144.0 * 0.052) * 1.02;
        let want = 19_480.27e9 * 1e5 / rate / (365.25 * 86400.0);
        assert!((y / want - 1.0).abs() < 1e-9, "{y} vs {want}");
        assert!((y - 6.25).abs() < 0.01, "{y}");
    }

    #[test]
    fn lifetime_grows_with_tpot_and_shrinks_with_the_weights_homed_in_flash() {
        let kv = |t: u64| Bytes(70_272.0 * t as f64);
        let at =
            |w: f64, tpot: f64| kv_lifetime_years(&node(w), &kv, 32768, 0.75, Seconds::ms(tpot));
        assert!((at(1.5817e12, 114.0) / at(1.5817e12, 57.0) - 2.0).abs() < 1e-12);
        // More weights leave less flash to wear but shrink the batch, and so the write rate,
        // faster: the KV budget (4,096 GB) is smaller than the flash (20,480 GB).
        assert!(at(1.0e12, 57.0) < at(1.5817e12, 57.0));
    }

    #[test]
    fn a_capacity_fits_whole_requests_only() {
        assert_eq!(requests_fitting(Bytes(10.0), Bytes(3.0), Bytes(2.0)), 3);
        assert_eq!(requests_fitting(Bytes(10.0), Bytes(11.0), Bytes(2.0)), 0);
        assert_eq!(requests_fitting(Bytes(10.0), Bytes(0.0), Bytes(0.0)), 0);
    }

    #[test]
    fn the_write_share_is_admitted_bytes_over_write_time() {
        // 100 requests of 10 steps: 10 admitted per step, 1 GB each at 100 GB/s = 0.1 s.
        let s = admission_write_share(
            100.0,
            Bytes(1e9),
            10,
            BytesPerSec(100e9),
            Seconds::ms(200.0),
        );
        assert!((s - 0.5).abs() < 1e-12, "{s}");
    }
}
