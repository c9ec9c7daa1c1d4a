//! The per-kernel compute model: how long a layer's matmuls, attention and fixed costs take on
//! the compute device (DESIGN §2.4).
//!
//! A system whose `compute:` block lists `kernels` (or `repacked` rates) is timed kernel by
//! kernel; one without keeps the single roofline of `peak_flops` × efficiency, so older
//! profiles and presets give the results they always gave. For a step of `T` tokens, `B`
//! sequences and `O` logits, a layer takes
//!
//! ```text
//! t_layer = ⊕( Σ_k 2·P_k·T / R_k(T),  local_weight_bytes / B(ws) )           weights
//!         + ⊕( F_att / A(T) / q_kv,  kv_local_bytes / B(ws) )                 attention
//!         + n_nodes · c_node  +  T · c_token                                   fixed costs
//! R_k(1) = vec_k,   R_k(T>1) = max(vec_k, mat_k · T / (T + T½))
//! ```
//!
//! - `⊕`: how a kernel's compute and memory times combine. On a GPU thousands of warps hide
//!   one behind the other, the roofline's `max`. On a CPU with a thread per core each thread
//!   both streams the weights and computes on them, so the two add (`kernel_memory: serial`):
//!   on the 2-core Xeon data, the sum carries to held-out weight types with a median tg error
//!   of 6.3 % and pp of 8.6 %, the max with 16.7 % and 10.4 % (calibration/CALIBRATION.md).
//! - `P_k`: the layer's parameters that run kernel `k`, a ggml type in its plain or repacked
//!   layout. Kernel rates differ by type far more than bytes explain (a Q4_0 model prefills
//!   2.5× faster than the same model in Q4_1 on AVX-512, because its weights are repacked), so
//!   each type has its own one-token (`vec`) and many-token (`mat`) rate.
//! - `T½`: small batches reuse each dequantised weight block over few columns; the rate rises
//!   with `T` and never falls below the one-token kernel's.
//! - `B(ws)`: the bandwidth the weights' working set sees, read off the measured
//!   bandwidth-against-working-set curve: a model that fits the last-level cache streams at
//!   cache speed, a larger one at DRAM speed.
//! - `A(T)`: decode attention (`T` = 1 per sequence) and prompt attention (batched queries)
//!   have separate rates; `q_kv` is the fraction kept with a quantised KV cache.
//! - `c_node`: every node of llama.cpp's graph costs a barrier or a launch; the node count
//!   follows the architecture ([`crate::model::traffic::graph_nodes_per_layer`]). This is why a
//!   576-wide model reaches far fewer FLOP/s than a 1536-wide one on the same cores.
//! - `c_token`: element-wise work (norms, rope, activations, residuals) per token and layer.
//!
//! The output head is one more matmul of the head's type over `O` tokens, plus the graph's
//! nodes outside the layers; `step_overhead` is paid once per step (one `llama_decode` call).

use crate::config::system::{CachePoint, ComputeSpec, KernelMemory, KernelRates};
use crate::model::quant::QuantType;
use crate::model::traffic::{KernelMix, ModelTraffic};
use crate::units::{Bytes, BytesPerSec, Flops, FlopsPerSec, Seconds};

/// A class of a layer's weights, as placement moves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Attention projections and router.
    Attn,
    /// Dense FFN or shared expert.
    Ffn,
    /// One routed expert (times the experts a token uses).
    Expert,
}

/// One kernel's share of a class: parameters and rates.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Kernel {
    params: f64,
    rates: KernelRates,
    /// The rates with repacking off (the type's plain-layout kernel).
    plain: KernelRates,
}

/// The per-kernel model of one model on one system, resolved once per machine.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelModel {
    /// Per layer, per class (attn, ffn, one expert): its kernels.
    layers: Vec<[Vec<Kernel>; 3]>,
    head: Kernel,
    batch_half: f64,
    node: Seconds,
    token: Seconds,
    nodes_per_layer: f64,
    nodes_outside: f64,
    serial: bool,
    /// Types the model uses that the profile has no rate for (run at the generic rate).
    pub fallback: Vec<QuantType>,
}

impl KernelModel {
    /// Resolves every kernel of `t` on `c`; `None` when `c` has no per-kernel figures.
    pub fn new(c: &ComputeSpec, t: &ModelTraffic) -> Option<Self> {
        if !c.per_kernel() {
            return None;
        }
        let generic = KernelRates {
            vec: c.peak_flops * c.decode_efficiency,
            mat: c.peak_flops * c.prefill_efficiency,
        };
        let mut fallback = Vec::new();
        let mut rates = |ty: QuantType, repackable: bool| -> (KernelRates, KernelRates) {
            let plain = c.kernels.get(&ty).copied();
            match &c.repacked {
                // Repacked weights run their own kernel; the plain rate only matters with
                // `--repack 0`, where a missing one falls back silently to the generic rate.
                Some(r) if repackable && r.types.contains(&ty) => {
                    (r.rates, plain.unwrap_or(generic))
                }
                _ => {
                    let plain = plain.unwrap_or_else(|| {
                        if !fallback.contains(&ty) {
                            fallback.push(ty);
                        }
                        generic
                    });
                    (plain, plain)
                }
            }
        };
        let mut resolve = |mix: &KernelMix| -> Vec<Kernel> {
            let mut out = Vec::with_capacity(mix.len() * 2);
            for s in mix {
                for (params, repackable) in [(s.repackable, true), (s.plain, false)] {
                    if params > 0.0 {
                        let (rates, plain) = rates(s.ty, repackable);
                        out.push(Kernel {
                            params,
                            rates,
                            plain,
                        });
                    }
                }
            }
            out
        };
        let layers = t
            .kernels
            .iter()
            .map(|k| [resolve(&k.attn), resolve(&k.ffn), resolve(&k.expert)])
            .collect();
        // The head is timed in its plain layout: a tied head is the token embedding, which
        // llama.cpp keeps out of the repacked buffer (the logs: `token_embd.weight cannot be
        // used with preferred buffer type CPU_REPACK`); an untied head of a repackable type
        // would be repacked, which this approximates.
        let (head_rates, _) = rates(t.head_type, false);
        let head = Kernel {
            params: t.head_params,
            rates: head_rates,
            plain: head_rates,
        };
        Some(Self {
            layers,
            head,
            batch_half: c.batch_half.unwrap_or(0.0),
            node: c.node_overhead.unwrap_or(Seconds::ZERO),
            token: c.token_overhead.unwrap_or(Seconds::ZERO),
            nodes_per_layer: f64::from(t.nodes_per_layer),
            nodes_outside: f64::from(t.nodes_outside),
            serial: c.kernel_memory == KernelMemory::Serial,
            fallback,
        })
    }

    /// The rate of a kernel whose every weight block serves `tokens` tokens.
    fn rate(&self, r: KernelRates, tokens: f64) -> FlopsPerSec {
        if tokens <= 1.0 {
            return r.vec;
        }
        let batched = r.mat * (tokens / (tokens + self.batch_half));
        if batched.0 > r.vec.0 { batched } else { r.vec }
    }

    /// Kernel time of `class` of layer `layer` over `tokens` tokens (for experts, `tokens` is
    /// the number of token-expert pairs), with weights repacked at load or not.
    pub fn class_time(&self, layer: usize, class: Class, tokens: u32, repack: bool) -> Seconds {
        let t = f64::from(tokens);
        self.kernels_time(&self.layers[layer][class as usize], t, t, repack)
    }

    /// Kernel time of layer `layer`'s routed experts over `pairs` token-expert pairs spread
    /// over `distinct` experts: each expert's matmul batches only the tokens routed to it, so
    /// the rate is that of `pairs / distinct` tokens, not of the whole step's.
    pub fn expert_time(&self, layer: usize, pairs: u32, distinct: f64, repack: bool) -> Seconds {
        let t = f64::from(pairs);
        let per_expert = if distinct > 0.0 { t / distinct } else { t };
        let kernels = &self.layers[layer][Class::Expert as usize];
        self.kernels_time(kernels, t, per_expert, repack)
    }

    /// Time of `kernels` over `tokens` tokens whose weight blocks each serve `batched` of them.
    fn kernels_time(&self, kernels: &[Kernel], tokens: f64, batched: f64, repack: bool) -> Seconds {
        kernels
            .iter()
            .map(|k| {
                let r = if repack { k.rates } else { k.plain };
                Flops(2.0 * k.params * tokens) / self.rate(r, batched)
            })
            .sum()
    }

    /// The output head's kernel time for `outputs` logits.
    pub fn head_time(&self, outputs: u32) -> Seconds {
        if outputs == 0 {
            return Seconds::ZERO;
        }
        let o = f64::from(outputs);
        Flops(2.0 * self.head.params * o) / self.rate(self.head.rates, o)
    }

    /// Fixed costs of one layer in a step of `tokens` tokens: its graph nodes (three more
    /// without flash attention: separate score and value products and the softmax between),
    /// plus the element-wise work of a multi-token step.
    pub fn layer_fixed(&self, tokens: u32, flash_attn: bool) -> Seconds {
        let per_token = if tokens > 1 {
            self.token * f64::from(tokens)
        } else {
            Seconds::ZERO
        };
        let nodes = if flash_attn {
            self.nodes_per_layer
        } else {
            self.nodes_per_layer + NON_FLASH_NODES
        };
        self.node * nodes + per_token
    }

    /// A kernel's time from its compute time and its memory time: the slower of the two when
    /// they overlap (a GPU's warps hide one behind the other), their sum when they do not.
    pub fn combine(&self, compute: Seconds, memory: Seconds) -> Seconds {
        if self.serial {
            compute + memory
        } else {
            compute.max(memory)
        }
    }

    /// Fixed costs of the graph outside the layers.
    pub fn outside_fixed(&self) -> Seconds {
        self.node * self.nodes_outside
    }
}

/// The bandwidth a working set of `ws` bytes sees on `curve`: log-log interpolation between
/// the measured points, flat beyond the ends.
pub fn curve_bandwidth(curve: &[CachePoint], ws: Bytes) -> Option<BytesPerSec> {
    let first = curve.first()?;
    let last = curve.last()?;
    if ws.0 <= first.working_set.0 {
        return Some(first.read_bw);
    }
    if ws.0 >= last.working_set.0 {
        return Some(last.read_bw);
    }
    curve.windows(2).find_map(|w| {
        let (a, b) = (w[0], w[1]);
        (ws.0 <= b.working_set.0).then(|| {
            let x =
                (ws.0.ln() - a.working_set.0.ln()) / (b.working_set.0.ln() - a.working_set.0.ln());
            BytesPerSec((a.read_bw.0.ln() * (1.0 - x) + b.read_bw.0.ln() * x).exp())
        })
    })
}

/// Graph nodes attention adds without flash attention: `FLASH_ATTN_EXT` becomes a `MUL_MAT`
/// for the scores, a `SOFT_MAX`, a `MUL_MAT` for the values and a `CONT` of the result.
pub const NON_FLASH_NODES: f64 = 3.0;

/// Attention rate of a step: decode attention when every sequence adds one token, prompt
/// attention otherwise; scaled down for a quantised KV cache and without flash attention.
pub fn attention_rate(
    c: &ComputeSpec,
    tokens_per_seq: u32,
    quantized_kv: bool,
    flash_attn: bool,
) -> FlopsPerSec {
    let eff = if tokens_per_seq > 1 {
        c.prompt_attention_efficiency()
    } else {
        c.attention_efficiency()
    };
    let q = match (quantized_kv, tokens_per_seq > 1) {
        (false, _) => 1.0,
        (true, false) => c.quantized_kv_attention.unwrap_or(1.0),
        (true, true) => c
            .quantized_kv_prompt_attention
            .or(c.quantized_kv_attention)
            .unwrap_or(1.0),
    };
    let fa = if flash_attn {
        1.0
    } else {
        c.no_flash_attention.unwrap_or(1.0)
    };
    c.peak_flops * (eff * q * fa)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Bytes;

    fn pt(ws: f64, bw: f64) -> CachePoint {
        CachePoint {
            working_set: Bytes(ws),
            read_bw: BytesPerSec(bw),
        }
    }

    #[test]
    fn curve_is_flat_beyond_its_ends_and_exact_at_its_points() {
        let c = [pt(1e6, 100e9), pt(64e6, 50e9), pt(1e9, 25e9)];
        assert_eq!(curve_bandwidth(&c, Bytes(1.0)).unwrap().0, 100e9);
        assert_eq!(curve_bandwidth(&c, Bytes(1e12)).unwrap().0, 25e9);
        approx::assert_relative_eq!(
            curve_bandwidth(&c, Bytes(64e6)).unwrap().0,
            50e9,
            max_relative = 1e-12
        );
        let mid = curve_bandwidth(&c, Bytes(8e6)).unwrap().0;
        // Log-log: the geometric midpoint of sizes maps to the geometric mean of rates.
        approx::assert_relative_eq!(mid, (100e9f64 * 50e9).sqrt(), max_relative = 1e-12);
        assert!(curve_bandwidth(&[], Bytes(1.0)).is_none());
    }
}

#[cfg(test)]
mod expert_tests {
    use crate::config::load;
    use crate::sim::machine::Machine;

    #[test]
    fn each_expert_batches_only_its_own_tokens() {
        let model = load::model(Some("qwen3-30b-a3b-iq4_xs"), &[]).unwrap();
        let sets = [load::Override::parse("compute.batch_half=8").unwrap()];
        let system = load::system(Some("h100"), &sets).unwrap();
        let m = Machine::new(&model.spec, &system.spec).unwrap();
        let k = m.kernels.as_ref().unwrap();
        // One token per expert runs the one-token kernel however many pairs the step holds.
        let single = k.expert_time(0, 8, 8.0, true).0;
        let spread = k.expert_time(0, 512, 512.0, true).0;
        approx::assert_relative_eq!(spread, single * 64.0, max_relative = 1e-12);
        // 4,096 pairs over 128 experts batch 32 tokens each: slower per pair than one
        // 4,096-token matmul would be, faster than one token at a time.
        let routed = k.expert_time(0, 4096, 128.0, true).0;
        let one_matmul = k.expert_time(0, 4096, 1.0, true).0;
        assert!(one_matmul < routed && routed < single * 512.0);
    }
}
