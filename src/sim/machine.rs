//! A model placed on a system: every weight's home tier resolved and the capacity checked.

use std::sync::OnceLock;

use crate::config::error::ConfigError;
use crate::config::llamacpp::KvOnHost;
use crate::config::system::{HostCompute, SystemSpec, TensorClass};
use crate::model::spec::ModelSpec;
use crate::model::traffic::ModelTraffic;
use crate::sim::compute::{KernelModel, curve_bandwidth};
use crate::tier::device::{Device, DeviceParams};
use crate::tier::latency::LatencyDist;
use crate::units::{Bytes, BytesPerSec, FlopsPerSec};

/// Home tiers of one layer's weights, as indices into the system's tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerHomes {
    /// Attention tensors, norms and router.
    pub attn: usize,
    /// Dense FFN or shared expert.
    pub ffn: usize,
    /// Routed experts.
    pub experts: usize,
}

/// A model on a system, ready to simulate.
#[derive(Debug)]
pub struct Machine {
    /// The system as loaded.
    pub system: SystemSpec,
    /// The model as loaded.
    pub model: ModelSpec,
    /// The model's derived traffic.
    pub traffic: ModelTraffic,
    /// Per-layer weight homes.
    pub layers: Vec<LayerHomes>,
    /// Home of the output matrix (the embedding's when tied).
    pub output: usize,
    /// Home of the token embedding.
    pub token_embd: usize,
    /// Weight bytes resident in each tier, the expert cache included in the local tier's.
    pub weight_bytes: Vec<Bytes>,
    /// Bytes of the local tier held as expert cache (zero when there is none to use).
    pub expert_cache: Bytes,
    /// The layers whose KV cache llama.cpp's flags keep in the host tier, if any.
    pub kv_on_host: Option<KvOnHost>,
    /// Device figures of each tier after the first (`None` for the compute-local tier).
    pub devices: Vec<Option<DeviceParams>>,
    /// Idle devices built from those figures on first use and cloned by each run: building a
    /// sampler can cost milliseconds (mixtures), cloning costs nothing like it, and a tier no
    /// test touches never pays for it.
    idle_devices: Vec<OnceLock<Device>>,
    /// Effective local bandwidth: read off the measured bandwidth-against-working-set curve
    /// at the local tier's weight bytes when the system has one, else read bandwidth × memory
    /// efficiency.
    pub local_bw: BytesPerSec,
    /// The per-kernel compute model, when the system's compute block has kernel rates.
    pub kernels: Option<KernelModel>,
}

impl Machine {
    /// Places `model` on `system` (both validated) and checks that the weights fit.
    pub fn new(model: &ModelSpec, system: &SystemSpec) -> Result<Self, ConfigError> {
        let traffic = ModelTraffic::new(model);
        let index = |name: &str| {
            system
                .tiers
                .iter()
                .position(|t| t.name == name)
                .expect("validated: placement names existing tiers")
        };
        let w = &system.placement.weights;
        let default = index(&w.default);
        let mut rules = w.rules.clone();
        let llamacpp = &system.placement.llamacpp;
        let mut kv_on_host = None;
        if !llamacpp.is_unset() {
            rules.extend(llamacpp.rules(model, system, &system.name)?);
            kv_on_host = llamacpp.kv_on_host(model, system, &system.name)?;
        }
        let class_home = |class: TensorClass, layer: Option<u32>| {
            rules
                .iter()
                .rev()
                .find(|r| {
                    let class_ok = r
                        .tensors
                        .iter()
                        .any(|&t| t == class || (t == TensorClass::All && layer.is_some()));
                    let layer_ok = match (layer, &r.layers) {
                        (Some(l), Some(set)) => set.contains(l),
                        _ => true,
                    };
                    class_ok && layer_ok
                })
                .map_or(default, |r| index(&r.tier))
        };
        let names_output = rules
            .iter()
            .any(|r| r.tensors.contains(&TensorClass::Output));
        let layers: Vec<LayerHomes> = (0..model.n_layers)
            .map(|l| LayerHomes {
                attn: class_home(TensorClass::Attn, Some(l)),
                ffn: class_home(TensorClass::Ffn, Some(l)),
                experts: class_home(TensorClass::Experts, Some(l)),
            })
            .collect();
        let token_embd = class_home(TensorClass::TokenEmbd, None);
        // A tied output shares the embedding's matrix unless a rule places the output head
        // elsewhere; llama.cpp then loads a second copy there (the GPU's, under `-ngl`).
        let output = if model.tied_embeddings && !names_output {
            token_embd
        } else {
            class_home(TensorClass::Output, None)
        };

        let mut weight_bytes = vec![Bytes::ZERO; system.tiers.len()];
        for (homes, lw) in layers.iter().zip(&traffic.layers) {
            weight_bytes[homes.attn] += lw.attn;
            weight_bytes[homes.ffn] += lw.ffn;
            weight_bytes[homes.experts] += lw.experts_total();
        }
        weight_bytes[token_embd] += traffic.token_embd;
        weight_bytes[0] += traffic.output_norm;
        if !model.tied_embeddings || output != token_embd {
            weight_bytes[output] += traffic.output;
        }
        let remote_experts = traffic
            .layers
            .iter()
            .zip(&layers)
            .any(|(l, homes)| l.n_experts > 0 && homes.experts > 0);
        // The expert cache is carved out of the local tier, so the KV budget cannot use it.
        let expert_cache = match system.experts.cache {
            Some(c) if remote_experts => c,
            _ => Bytes::ZERO,
        };
        weight_bytes[0] += expert_cache;
        for (i, (tier, &need)) in system.tiers.iter().zip(&weight_bytes).enumerate() {
            if need > tier.capacity {
                let cache = if i == 0 && expert_cache.0 > 0.0 {
                    format!(" with a {} expert cache", expert_cache.human())
                } else {
                    String::new()
                };
                return Err(overflow(
                    format!("the weights of {}{cache}", model.name),
                    &tier.name,
                    tier.capacity,
                    need,
                ));
            }
        }

        let devices: Vec<Option<DeviceParams>> = system
            .tiers
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let scale = t.latency_scale.unwrap_or(1.0);
                let latency = |l: &Option<LatencyDist>| {
                    let l = l.as_ref().expect("validated: device tiers have latencies");
                    if scale == 1.0 {
                        l.clone()
                    } else {
                        l.scaled(scale)
                    }
                };
                (i > 0).then(|| DeviceParams {
                    read_bw: t.read_bw,
                    write_bw: t.write_bw,
                    read_latency: latency(&t.read_latency),
                    write_latency: latency(&t.write_latency),
                    parallel_units: t.parallel_units.expect("validated"),
                    queue_depth: t.queue_depth.expect("validated"),
                    io_size: t.io_size.expect("validated"),
                    read_path: t.read_path,
                })
            })
            .collect();
        let idle_devices = (0..system.tiers.len()).map(|_| OnceLock::new()).collect();
        // The weights cycle through the hierarchy once per step: their size is the working set
        // whose bandwidth the roofline sees.
        let local_bw = curve_bandwidth(&system.compute.read_bw_curve, weight_bytes[0])
            .unwrap_or(system.tiers[0].read_bw * system.compute.memory_efficiency);
        let kernels = KernelModel::new(&system.compute, &traffic);
        Ok(Self {
            system: system.clone(),
            model: model.clone(),
            traffic,
            layers,
            output,
            token_embd,
            weight_bytes,
            expert_cache,
            kv_on_host,
            devices,
            idle_devices,
            local_bw,
            kernels,
        })
    }

    /// An idle device for tier `tier` (`None` for the compute-local tier).
    pub fn idle_device(&self, tier: usize) -> Option<&Device> {
        let params = self.devices.get(tier)?.as_ref()?;
        let sim = &self.system.sim;
        Some(
            self.idle_devices[tier].get_or_init(|| Device::new(params, sim.granularity, sim.lanes)),
        )
    }

    /// Effective matmul rate for a step of `tokens` tokens.
    pub fn matmul_rate(&self, tokens: u32) -> FlopsPerSec {
        let c = &self.system.compute;
        let eff = if tokens > 1 {
            c.prefill_efficiency
        } else {
            c.decode_efficiency
        };
        c.peak_flops * eff
    }

    /// Effective attention rate.
    pub fn attention_rate(&self) -> FlopsPerSec {
        let c = &self.system.compute;
        c.peak_flops * c.attention_efficiency()
    }

    /// The host processor that computes weights homed on `tier` in a step of `tokens` tokens,
    /// if any: llama.cpp computes them there unless the batch is large enough for op offload.
    pub fn host_compute(&self, tier: usize, tokens: u32) -> Option<&HostCompute> {
        self.system.tiers[tier]
            .compute
            .as_ref()
            .filter(|h| tokens < h.offload_min_batch)
    }

    /// Index of a tier by name.
    pub fn tier_index(&self, name: &str) -> Option<usize> {
        self.system.tiers.iter().position(|t| t.name == name)
    }
}

/// A capacity error with sizes printed in their natural unit.
pub fn overflow(what: String, tier: &str, capacity: Bytes, needed: Bytes) -> ConfigError {
    ConfigError::Capacity {
        what,
        tier: tier.to_owned(),
        capacity: capacity.human(),
        needed: needed.human(),
        over: (needed - capacity).human(),
    }
}
