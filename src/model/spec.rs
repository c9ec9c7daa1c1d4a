//! The model spec: an LLM's architecture as the YAML files in `models/` describe it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::layers::LayerSet;
use crate::model::quant::QuantType;

/// An LLM architecture and its quantisation: everything needed to derive per-layer traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Preset name, e.g. `qwen2.5-3b-instruct-q4_k_m`.
    pub name: String,
    /// llama.cpp architecture name (`llama`, `qwen2`, `gemma3`, `qwen3moe`).
    pub arch: String,
    /// What the model is and which file the figures describe.
    #[serde(default)]
    pub description: String,
    /// Number of transformer blocks.
    pub n_layers: u32,
    /// Hidden size (embedding length).
    pub d_model: u32,
    /// Query heads.
    pub n_heads: u32,
    /// Key/value heads (grouped-query attention when fewer than `n_heads`).
    pub n_kv_heads: u32,
    /// Per-head key and value length.
    pub head_dim: u32,
    /// Dense FFN hidden size (unused on layers whose FFN is a mixture of experts).
    pub ffn_dim: u32,
    /// Whether the FFN has a gate matrix (SwiGLU/GeGLU: three matrices) or not (two).
    #[serde(default = "yes")]
    pub ffn_gated: bool,
    /// Vocabulary size.
    pub vocab: u32,
    /// Trained context length (an upper bound for tests).
    pub context_length: u32,
    /// Whether the output matrix is the token embedding (read again every step).
    pub tied_embeddings: bool,
    /// F32 norm vectors of `d_model` elements per layer (2 for llama, 4 for gemma 3).
    #[serde(default = "two")]
    pub norms_per_layer: u32,
    /// Extra f32 vectors of `head_dim` per layer (q/k norms in qwen3 and gemma 3).
    #[serde(default)]
    pub head_norms_per_layer: u32,
    /// Whether q, k, v have bias vectors (qwen2).
    #[serde(default)]
    pub qkv_bias: bool,
    /// Tensor types.
    pub quant: QuantSpec,
    /// Sliding-window attention, if some layers use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_window: Option<SlidingWindow>,
    /// Mixture of experts, if the FFN is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moe: Option<MoeSpec>,
    /// Where each figure comes from, by field name.
    #[serde(default)]
    pub evidence: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

fn two() -> u32 {
    2
}

/// Tensor types of a model: a default, the embedding and output types, and per-layer overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantSpec {
    /// Type of every block tensor not named by an override.
    pub default: QuantType,
    /// Type of the token embedding matrix.
    pub token_embd: QuantType,
    /// Type of the output matrix when it is not tied to the embedding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<QuantType>,
    /// Per-tensor, per-layer exceptions (e.g. Q4_K_M keeps `attn_v` and `ffn_down` in q6_k on
    /// some layers). Later rules win.
    #[serde(default)]
    pub overrides: Vec<QuantOverride>,
}

/// One quantisation exception.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantOverride {
    /// Block tensor names this applies to (`attn_v`, `ffn_down`, `ffn_down_exps`, ...).
    pub tensors: Vec<BlockTensor>,
    /// Layers this applies to; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<LayerSet>,
    /// The type these tensors have.
    #[serde(rename = "type")]
    pub ty: QuantType,
}

/// Sliding-window attention: most layers attend to the last `window` tokens only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlidingWindow {
    /// Tokens a local layer attends to (and keeps in its KV cache).
    pub window: u32,
    /// Every `pattern`-th layer (1-based: layers `pattern-1`, `2·pattern-1`, ...) is global.
    pub pattern: u32,
}

/// A mixture-of-experts FFN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoeSpec {
    /// Routed experts per layer.
    pub n_experts: u32,
    /// Experts each token is routed to.
    pub experts_per_token: u32,
    /// Hidden size of one expert.
    pub expert_ffn_dim: u32,
    /// Hidden size of the always-active shared expert (0 when there is none).
    #[serde(default)]
    pub shared_expert_ffn_dim: u32,
    /// Layers that keep a dense FFN of `ffn_dim` instead (DeepSeek-style leading dense layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dense_layers: Option<LayerSet>,
}

/// The tensors of one transformer block, by their GGUF names (without the `blk.N.` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum BlockTensor {
    AttnQ,
    AttnK,
    AttnV,
    AttnOutput,
    FfnGate,
    FfnUp,
    FfnDown,
    FfnGateInp,
    FfnGateExps,
    FfnUpExps,
    FfnDownExps,
    FfnGateShexp,
    FfnUpShexp,
    FfnDownShexp,
}

impl BlockTensor {
    /// Every block tensor, for look-ups by GGUF name.
    pub const ALL: [BlockTensor; 14] = {
        use BlockTensor::*;
        [
            AttnQ,
            AttnK,
            AttnV,
            AttnOutput,
            FfnGate,
            FfnUp,
            FfnDown,
            FfnGateInp,
            FfnGateExps,
            FfnUpExps,
            FfnDownExps,
            FfnGateShexp,
            FfnUpShexp,
            FfnDownShexp,
        ]
    };

    /// The GGUF name suffix.
    pub fn name(self) -> &'static str {
        use BlockTensor::*;
        match self {
            AttnQ => "attn_q",
            AttnK => "attn_k",
            AttnV => "attn_v",
            AttnOutput => "attn_output",
            FfnGate => "ffn_gate",
            FfnUp => "ffn_up",
            FfnDown => "ffn_down",
            FfnGateInp => "ffn_gate_inp",
            FfnGateExps => "ffn_gate_exps",
            FfnUpExps => "ffn_up_exps",
            FfnDownExps => "ffn_down_exps",
            FfnGateShexp => "ffn_gate_shexp",
            FfnUpShexp => "ffn_up_shexp",
            FfnDownShexp => "ffn_down_shexp",
        }
    }
}
