//! From an architecture to traffic: per-layer weight bytes, KV bytes per token, FLOPs (DESIGN §2.1).
//!
//! Sizes are exact tensor sizes under the spec's quantisation layout (the same arithmetic
//! llama.cpp does when it writes a GGUF): a SmolLM2-135M Q4_1 spec sums to the real file's
//! 96,576,768 tensor bytes.

use crate::model::quant::QuantType;
use crate::model::spec::{BlockTensor, ModelSpec};
use crate::units::{Bytes, Flops};

/// Matmul parameters of one weight type within a class of tensors, split by whether llama.cpp's
/// CPU backend could repack them (rows a multiple of 8, the interleave of its 8×8 layouts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelShare {
    /// The tensors' ggml type: it selects the matmul kernel.
    pub ty: QuantType,
    /// Parameters of this type whose shape admits repacking.
    pub repackable: f64,
    /// Parameters of this type whose shape does not.
    pub plain: f64,
}

/// The kernel shares of one class of tensors (at most one entry per type).
pub type KernelMix = Vec<KernelShare>;

fn add_share(mix: &mut KernelMix, ty: QuantType, params: f64, rows: f64) {
    // llama.cpp interleaves 8 rows at a time; a matrix whose row count is not a multiple of 8
    // stays in the plain layout.
    if params <= 0.0 {
        return;
    }
    let repackable = rows.rem_euclid(8.0) == 0.0;
    let i = match mix.iter().position(|s| s.ty == ty) {
        Some(i) => i,
        None => {
            mix.push(KernelShare {
                ty,
                repackable: 0.0,
                plain: 0.0,
            });
            mix.len() - 1
        }
    };
    if repackable {
        mix[i].repackable += params;
    } else {
        mix[i].plain += params;
    }
}

/// Which kernels one layer's matmuls run, by class: what a per-kernel compute model needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerKernels {
    /// Attention projections and the router.
    pub attn: KernelMix,
    /// Dense FFN or shared expert.
    pub ffn: KernelMix,
    /// One routed expert.
    pub expert: KernelMix,
}

/// The weights of one transformer block, split as placement rules see them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerWeights {
    /// Attention projections, their biases, the norms and the MoE router.
    pub attn: Bytes,
    /// Dense FFN matrices, or the shared expert on a mixture-of-experts layer.
    pub ffn: Bytes,
    /// One routed expert's matrices (zero on dense layers).
    pub expert: Bytes,
    /// Routed experts in the layer (zero on dense layers).
    pub n_experts: u32,
    /// Experts each token reads.
    pub experts_per_token: u32,
    /// Matmul parameters touched per token, counting active experts only.
    pub active_params: f64,
    /// Matmul parameters of the attention class (projections and router) per token.
    pub attn_params: f64,
    /// Matmul parameters of the dense FFN or shared expert per token.
    pub ffn_params: f64,
    /// Matmul parameters of one routed expert.
    pub expert_params: f64,
    /// Whether the layer attends to the whole context (false: sliding window).
    pub global: bool,
}

impl LayerWeights {
    /// Bytes of every expert together.
    pub fn experts_total(&self) -> Bytes {
        self.expert * f64::from(self.n_experts)
    }

    /// All bytes of the layer as stored.
    pub fn total(&self) -> Bytes {
        self.attn + self.ffn + self.experts_total()
    }

    /// Distinct experts a step over `tokens` tokens reads, in expectation under uniform routing:
    /// `n · (1 − (1 − k/n)^T)`.
    pub fn experts_read(&self, tokens: u32) -> f64 {
        if self.n_experts == 0 {
            return 0.0;
        }
        let n = f64::from(self.n_experts);
        let miss = 1.0 - f64::from(self.experts_per_token) / n;
        n * (1.0 - miss.powi(tokens.min(i32::MAX as u32) as i32))
    }
}

/// A model's traffic figures, derived once from its spec.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTraffic {
    /// Per-layer weights, in layer order.
    pub layers: Vec<LayerWeights>,
    /// The token embedding matrix.
    pub token_embd: Bytes,
    /// One embedding row (read once per token).
    pub embd_row: Bytes,
    /// The matrix the output head reads every step (the embedding when tied).
    pub output: Bytes,
    /// The final norm.
    pub output_norm: Bytes,
    /// Bytes of every tensor stored in the model (llama-bench's `model_size`).
    pub model_size: Bytes,
    /// Parameters stored (llama-bench's `model_n_params`).
    pub n_params: f64,
    /// Query heads × head length: the attention width for FLOP counts.
    pub attn_width: f64,
    /// Key/value heads × head length: the KV width for byte counts.
    pub kv_width: f64,
    /// Output head parameters (`vocab · d_model`).
    pub head_params: f64,
    /// Tokens a sliding-window layer keeps; `None` when every layer is global.
    pub window: Option<u32>,
    /// Per layer, the kernels its matmuls run.
    pub kernels: Vec<LayerKernels>,
    /// The output head's weight type.
    pub head_type: QuantType,
    /// Graph nodes of one layer in llama.cpp's compute graph (see [`graph_nodes_per_layer`]).
    pub nodes_per_layer: u32,
    /// Graph nodes outside the layers (embedding lookup, final norm, output head).
    pub nodes_outside: u32,
}

/// Graph nodes llama.cpp builds for one transformer block, views included, as its scheduler
/// counts them (`sched_reserve: graph: nodes = N`): a Llama block with flash attention is 31
/// nodes (SmolLM2-135M: 936 = 30 × 31 + 6), and every extra norm (a norm and its scale), head
/// norm, bias and MoE stage adds its own. Gemma 3's block (four norms, q/k norms) is 40 nodes:
/// 270M: 727 = 18 × 40 + 7. The per-node fixed cost of a CPU or GPU backend (a thread barrier,
/// a kernel launch) multiplies this count, which is why narrow models run far below their
/// kernels' rates.
pub fn graph_nodes_per_layer(spec: &ModelSpec) -> u32 {
    let mut nodes = 27 + 2 * spec.norms_per_layer + 2 * spec.head_norms_per_layer;
    if spec.qkv_bias {
        nodes += 3;
    }
    if spec.arch.starts_with("gemma") {
        // Gemma scales the query before attention.
        nodes += 1;
    }
    if spec.moe.is_some() {
        // Router, softmax, top-k, gather of weights, the expert matmuls' ids and the sum.
        nodes += 12;
    }
    nodes
}

impl ModelTraffic {
    /// Derives the traffic of `spec`.
    pub fn new(spec: &ModelSpec) -> Self {
        let d = f64::from(spec.d_model);
        let hd = f64::from(spec.head_dim);
        let q_width = f64::from(spec.n_heads) * hd;
        let kv_width = f64::from(spec.n_kv_heads) * hd;
        let f32_bytes = |n: f64| QuantType::F32.bytes(n);

        let mut layers = Vec::with_capacity(spec.n_layers as usize);
        let mut kernels = Vec::with_capacity(spec.n_layers as usize);
        let mut n_params = 0.0;
        let mut model_size = Bytes::ZERO;
        for layer in 0..spec.n_layers {
            let ty = |t: BlockTensor| tensor_type(spec, t, layer);
            let mat = |t: BlockTensor, n: f64| ty(t).bytes(n);
            let (q_n, kv_n, o_n) = (d * q_width, d * kv_width, q_width * d);
            let mut lk = LayerKernels::default();
            // ggml's rows are a matrix's output dimension: ne[1].
            for (t, n, rows) in [
                (BlockTensor::AttnQ, q_n, q_width),
                (BlockTensor::AttnK, kv_n, kv_width),
                (BlockTensor::AttnV, kv_n, kv_width),
                (BlockTensor::AttnOutput, o_n, d),
            ] {
                add_share(&mut lk.attn, ty(t), n, rows);
            }
            let mut attn = mat(BlockTensor::AttnQ, q_n)
                + mat(BlockTensor::AttnK, kv_n)
                + mat(BlockTensor::AttnV, kv_n)
                + mat(BlockTensor::AttnOutput, o_n);
            let mut vectors =
                f64::from(spec.norms_per_layer) * d + f64::from(spec.head_norms_per_layer) * hd;
            if spec.qkv_bias {
                vectors += q_width + 2.0 * kv_width;
            }
            attn += f32_bytes(vectors);
            let mut params = q_n + 2.0 * kv_n + o_n + vectors;
            let mut active = q_n + 2.0 * kv_n + o_n;
            let mut attn_params = active;

            let matrices = if spec.ffn_gated { 3.0 } else { 2.0 };
            let dense = |dim: u32, gate, up, down, mix: &mut KernelMix| {
                let f = f64::from(dim);
                let n = d * f;
                let gate_bytes = if spec.ffn_gated {
                    add_share(mix, ty(gate), n, f);
                    mat(gate, n)
                } else {
                    Bytes::ZERO
                };
                add_share(mix, ty(up), n, f);
                add_share(mix, ty(down), n, d);
                (gate_bytes + mat(up, n) + mat(down, n), matrices * n)
            };
            let moe = spec.moe.as_ref().filter(|m| {
                !m.dense_layers
                    .as_ref()
                    .is_some_and(|dense| dense.contains(layer))
            });
            let (ffn, expert, n_experts, per_token, ffn_params, expert_params) = match moe {
                None => {
                    let (b, n) = dense(
                        spec.ffn_dim,
                        BlockTensor::FfnGate,
                        BlockTensor::FfnUp,
                        BlockTensor::FfnDown,
                        &mut lk.ffn,
                    );
                    params += n;
                    active += n;
                    (b, Bytes::ZERO, 0, 0, n, 0.0)
                }
                Some(m) => {
                    let router_n = d * f64::from(m.n_experts);
                    attn += router_type(spec, layer).bytes(router_n);
                    add_share(
                        &mut lk.attn,
                        router_type(spec, layer),
                        router_n,
                        f64::from(m.n_experts),
                    );
                    let (shared, shared_n) = dense(
                        m.shared_expert_ffn_dim,
                        BlockTensor::FfnGateShexp,
                        BlockTensor::FfnUpShexp,
                        BlockTensor::FfnDownShexp,
                        &mut lk.ffn,
                    );
                    let (expert, expert_n) = dense(
                        m.expert_ffn_dim,
                        BlockTensor::FfnGateExps,
                        BlockTensor::FfnUpExps,
                        BlockTensor::FfnDownExps,
                        &mut lk.expert,
                    );
                    params += router_n + shared_n + expert_n * f64::from(m.n_experts);
                    active += router_n + shared_n + expert_n * f64::from(m.experts_per_token);
                    attn_params += router_n;
                    (
                        shared,
                        expert,
                        m.n_experts,
                        m.experts_per_token,
                        shared_n,
                        expert_n,
                    )
                }
            };
            let w = LayerWeights {
                attn,
                ffn,
                expert,
                n_experts,
                experts_per_token: per_token,
                active_params: active,
                attn_params,
                ffn_params,
                expert_params,
                global: is_global(spec, layer),
            };
            model_size += w.total();
            n_params += params;
            layers.push(w);
            kernels.push(lk);
        }

        let vocab = f64::from(spec.vocab);
        let token_embd = spec.quant.token_embd.bytes(vocab * d);
        let output_norm = f32_bytes(d);
        let head_type = if spec.tied_embeddings {
            spec.quant.token_embd
        } else {
            spec.quant.output.unwrap_or(spec.quant.default)
        };
        let output = head_type.bytes(vocab * d);
        model_size += token_embd + output_norm;
        n_params += vocab * d + d;
        if !spec.tied_embeddings {
            model_size += output;
            n_params += vocab * d;
        }
        Self {
            layers,
            token_embd,
            embd_row: spec.quant.token_embd.bytes(d),
            output,
            output_norm,
            model_size,
            n_params,
            attn_width: q_width,
            kv_width,
            head_params: vocab * d,
            window: spec.sliding_window.as_ref().map(|w| w.window),
            kernels,
            head_type,
            nodes_per_layer: graph_nodes_per_layer(spec),
            // Input embedding lookup and scale, final norm and its scale, output matmul, and
            // the logits' row selection.
            nodes_outside: 6 + u32::from(spec.arch.starts_with("gemma")),
        }
    }

    /// KV bytes one token adds to one layer: `n_kv_heads · head_dim · (bytes(k) + bytes(v))`.
    pub fn kv_per_token(&self, type_k: QuantType, type_v: QuantType) -> Bytes {
        type_k.bytes(self.kv_width) + type_v.bytes(self.kv_width)
    }

    /// Tokens of context layer `layer` keeps and attends to when `ctx` tokens have been seen.
    pub fn attended(&self, layer: usize, ctx: u64) -> u64 {
        match self.window {
            Some(w) if !self.layers[layer].global => ctx.min(u64::from(w)),
            _ => ctx,
        }
    }

    /// Matmul FLOPs of one layer for `tokens` tokens: `2 · P_active · T`.
    pub fn matmul_flops(&self, layer: usize, tokens: u32) -> Flops {
        Flops(2.0 * self.layers[layer].active_params * f64::from(tokens))
    }

    /// Attention FLOPs of one layer for `tokens` causal tokens after `ctx` cached ones:
    /// `4 · n_heads · head_dim` per attended position.
    pub fn attention_flops(&self, layer: usize, ctx: u64, tokens: u32) -> Flops {
        let t = u64::from(tokens);
        let positions: f64 = match self.window {
            Some(w) if !self.layers[layer].global => {
                let w = u64::from(w);
                (1..=t).map(|i| (ctx + i).min(w)).sum::<u64>() as f64
            }
            _ => (t * ctx) as f64 + (t * (t + 1) / 2) as f64,
        };
        Flops(4.0 * self.attn_width * positions)
    }

    /// Output head FLOPs for the logits of `outputs` tokens.
    pub fn head_flops(&self, outputs: u32) -> Flops {
        Flops(2.0 * self.head_params * f64::from(outputs))
    }
}

/// The type of block tensor `t` on `layer`: the last matching override, else the default.
fn tensor_type(spec: &ModelSpec, t: BlockTensor, layer: u32) -> QuantType {
    override_type(spec, t, layer).unwrap_or(spec.quant.default)
}

/// The router is kept in f32 by llama.cpp's quantiser unless an override says otherwise.
fn router_type(spec: &ModelSpec, layer: u32) -> QuantType {
    override_type(spec, BlockTensor::FfnGateInp, layer).unwrap_or(QuantType::F32)
}

fn override_type(spec: &ModelSpec, t: BlockTensor, layer: u32) -> Option<QuantType> {
    spec.quant
        .overrides
        .iter()
        .rev()
        .find(|o| o.tensors.contains(&t) && o.layers.as_ref().is_none_or(|l| l.contains(layer)))
        .map(|o| o.ty)
}

/// Sliding-window models make every `pattern`-th layer global (Gemma 3: layers 5, 11, ...).
fn is_global(spec: &ModelSpec, layer: u32) -> bool {
    match &spec.sliding_window {
        None => true,
        Some(w) => w.pattern > 0 && (layer + 1).is_multiple_of(w.pattern),
    }
}
