//! The system spec: compute device, tier hierarchy, placement and overlap (YAML in
//! `models/systems/`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::llamacpp::LlamaCppPlacement;
use crate::layers::LayerSet;
use crate::model::quant::QuantType;
use crate::tier::latency::LatencyDist;
use crate::tier::read_path::ReadPath;
use crate::units::{Bytes, BytesPerSec, FlopsPerSec, Seconds};

/// A machine: compute, tiers (fastest first; the first is compute-local), placement, overlap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSpec {
    /// Preset name, e.g. `h100-hbf`.
    pub name: String,
    /// One line on what this system is.
    #[serde(default)]
    pub description: String,
    /// How figures name this system in a legend beside others of the same tier kinds (`HBF,
    /// OCP spec-counts reading`); without it, a legend names the kinds of its tiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The compute device and its effective rates.
    pub compute: ComputeSpec,
    /// The compute figures at other thread counts, one block per count (each with its
    /// `threads`): a profile fitted at 1 and 2 threads predicts `-t 1` and `-t 2` each with
    /// its own figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compute_at_threads: Vec<ComputeSpec>,
    /// Memory tiers, fastest first. The first is the compute-local tier (HBM on a GPU, DRAM on
    /// a CPU): its bytes enter the roofline; every other tier is simulated as a device.
    pub tiers: Vec<TierSpec>,
    /// Where weights and KV live.
    pub placement: PlacementSpec,
    /// How fetches from remote tiers overlap compute.
    #[serde(default)]
    pub overlap: OverlapSpec,
    /// Mixture-of-experts routing and the expert cache.
    #[serde(default)]
    pub experts: ExpertSpec,
    /// Simulation fidelity.
    #[serde(default)]
    pub sim: SimSpec,
    /// Where each figure comes from, by dotted path (`tiers.hbf.read_bw`): a datasheet, paper,
    /// measurement, or the word `assumption`.
    #[serde(default)]
    pub evidence: BTreeMap<String, String>,
}

/// The compute device: a roofline with efficiencies and fixed overheads (DESIGN §2.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeSpec {
    /// What the device is (`NVIDIA H100 SXM5`, `AMD Ryzen 3 5300U, 8 threads`).
    pub device: String,
    /// Peak dense matmul rate at the weights' compute precision.
    pub peak_flops: FlopsPerSec,
    /// Fraction of `peak_flops` reached on prompt ubatches (large matmuls).
    pub prefill_efficiency: f64,
    /// Fraction of `peak_flops` reached by decode matmuls (matrix-vector, one token).
    pub decode_efficiency: f64,
    /// Fraction of `peak_flops` reached by attention over the KV cache (score and value
    /// products); on CPUs this is far below the matmul efficiency, which is why decode slows at
    /// depth more than the extra KV bytes explain. Defaults to `decode_efficiency`.
    #[serde(default)]
    pub attention_efficiency: Option<f64>,
    /// Fraction of the local tier's read bandwidth that streaming weights and KV achieves.
    pub memory_efficiency: f64,
    /// Fixed cost per layer per step (kernel launches, synchronisation).
    pub layer_overhead: Seconds,
    /// Fixed cost per step (graph build, sampling, host round trip).
    pub step_overhead: Seconds,
    /// Fraction of `peak_flops` attention reaches in multi-token (prompt) steps; prompt
    /// attention batches its queries and runs ~2× faster per FLOP than decode attention on a
    /// CPU. Defaults to the decode attention efficiency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_attention_efficiency: Option<f64>,
    /// The thread count these figures hold for (a CPU's are fitted at one); `None` where
    /// threads do not apply (a GPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// Effective rates of the weight matmul kernels by ggml type. When present, the per-kernel
    /// model applies (see [`crate::sim::compute`]); a type missing here runs at `peak_flops`
    /// times the prefill or decode efficiency, with a warning.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kernels: BTreeMap<QuantType, KernelRates>,
    /// The rates of the weights llama.cpp's CPU backend repacks into interleaved layouts at
    /// load (`CPU_REPACK`), which run other kernels than the same type's plain layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repacked: Option<Repacked>,
    /// Tokens at which a multi-token kernel reaches half its `mat` rate: a step of `T` tokens
    /// runs at `max(vec, mat · T / (T + batch_half))`, since small batches reuse each weight
    /// block over few columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_half: Option<f64>,
    /// Fixed cost of each node of the compute graph (a thread barrier on a CPU, a launch on a
    /// GPU); the node count follows the architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_overhead: Option<Seconds>,
    /// Cost per token per layer of a multi-token step beyond its matmuls and attention: the
    /// element-wise nodes (norms, rope, activations, residual adds, copies into the cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_overhead: Option<Seconds>,
    /// Read bandwidth of the compute-local hierarchy against working-set size (caches, then
    /// memory), measured; replaces `read_bw × memory_efficiency` of the first tier for the
    /// roofline when given. Points in increasing working-set order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_bw_curve: Vec<CachePoint>,
    /// The same for multi-token (prompt) steps, where the dequantisation is not amortised over
    /// one query but repeated per query block; defaults to `quantized_kv_attention`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantized_kv_prompt_attention: Option<f64>,
    /// Fraction of the attention rate kept without flash attention (`-fa 0`): the scores are
    /// written out and read back instead of staying in registers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_flash_attention: Option<f64>,
    /// How a kernel's compute time and memory time combine (see [`crate::sim::compute`]).
    #[serde(default, skip_serializing_if = "KernelMemory::is_overlap")]
    pub kernel_memory: KernelMemory,
    /// Fraction of the attention rate kept when the KV cache is quantised (`-ctk/-ctv q8_0`):
    /// the kernels dequantise every cached row they read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantized_kv_attention: Option<f64>,
}

/// How a kernel's compute and memory times combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelMemory {
    /// The slower of the two (the roofline): memory traffic hidden behind compute.
    #[default]
    Overlap,
    /// Their sum: the threads that compute also wait for the weights they stream.
    Serial,
}

impl KernelMemory {
    fn is_overlap(&self) -> bool {
        *self == Self::Overlap
    }
}

/// Effective rates of one matmul kernel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelRates {
    /// One token: a matrix-vector product.
    pub vec: FlopsPerSec,
    /// Many tokens: a matrix-matrix product at large batch.
    pub mat: FlopsPerSec,
}

/// Weights repacked into interleaved layouts and the rates their kernels reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repacked {
    /// Types the backend repacks (llama.cpp on AVX2/AVX-512: `q4_0`, `q4_k`, `iq4_nl`).
    pub types: Vec<QuantType>,
    /// Rates of the repacked kernels.
    #[serde(flatten)]
    pub rates: KernelRates,
}

/// One point of a measured read-bandwidth curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachePoint {
    /// Bytes read over and over.
    pub working_set: Bytes,
    /// The read bandwidth measured at that size.
    pub read_bw: BytesPerSec,
}

impl SystemSpec {
    /// This system with the compute figures of `threads` threads: itself when its main block
    /// is for that count (or records none), a copy with the matching `compute_at_threads`
    /// block, or `None` when no block covers it.
    pub fn at_threads(&self, threads: u32) -> Option<SystemSpec> {
        match self.compute.threads {
            None => Some(self.clone()),
            Some(t) if t == threads => Some(self.clone()),
            Some(_) => {
                let c = self
                    .compute_at_threads
                    .iter()
                    .find(|c| c.threads == Some(threads))?;
                let mut s = self.clone();
                s.compute = c.clone();
                Some(s)
            }
        }
    }

    /// Every thread count the system has figures for.
    pub fn thread_counts(&self) -> Vec<u32> {
        self.compute
            .threads
            .into_iter()
            .chain(self.compute_at_threads.iter().filter_map(|c| c.threads))
            .collect()
    }
}

impl ComputeSpec {
    /// Effective attention efficiency of one-token (decode) steps.
    pub fn attention_efficiency(&self) -> f64 {
        self.attention_efficiency.unwrap_or(self.decode_efficiency)
    }

    /// Effective attention efficiency of multi-token (prompt) steps.
    pub fn prompt_attention_efficiency(&self) -> f64 {
        self.prompt_attention_efficiency
            .unwrap_or_else(|| self.attention_efficiency())
    }

    /// Whether the per-kernel model applies.
    pub fn per_kernel(&self) -> bool {
        !self.kernels.is_empty() || self.repacked.is_some()
    }
}

/// The broad class of a tier; informational, used in reports and presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum TierKind {
    Hbm,
    Hbf,
    Dram,
    Gddr,
    Cxl,
    Ssd,
    Other,
}

/// One memory tier as a device (DESIGN §2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    /// Name used by placement rules and dotted paths (`hbm`, `hbf`, `ssd`).
    pub name: String,
    /// What kind of memory this is.
    pub kind: TierKind,
    /// Usable capacity.
    pub capacity: Bytes,
    /// Sustained read bandwidth of the tier's link.
    pub read_bw: BytesPerSec,
    /// Sustained write bandwidth (flash writes are ~100× slower than reads).
    pub write_bw: BytesPerSec,
    /// Access latency of a read (the time a unit is held). Required on every tier but the first.
    #[serde(default)]
    pub read_latency: Option<LatencyDist>,
    /// Access latency of a write (program time). Required on every tier but the first.
    #[serde(default)]
    pub write_latency: Option<LatencyDist>,
    /// Units (dies × planes, banks) that each serve one access at a time.
    #[serde(default)]
    pub parallel_units: Option<u32>,
    /// Most accesses the host keeps outstanding.
    #[serde(default)]
    pub queue_depth: Option<u32>,
    /// Transfer unit of one access (page, KV block, chunk).
    #[serde(default)]
    pub io_size: Option<Bytes>,
    /// Multiplies every read and write latency (a what-if knob: sweeping it scales a whole
    /// distribution, tail included, where sweeping one parameter of it could not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_scale: Option<f64>,
    /// Flash endurance, for lifetime at the simulated write rate.
    #[serde(default)]
    pub endurance: Option<EnduranceSpec>,
    /// The stages a read crosses besides the sense and the link (admission, channels, ECC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_path: Option<ReadPath>,
    /// A processor beside this tier that computes on the weights in place, as llama.cpp's CPU
    /// backend does for the layers and tensors it leaves on the host. Without it, weights
    /// homed here are read over the tier's link and computed on the main device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<HostCompute>,
}

/// A host processor computing on the weights its tier holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCompute {
    /// What it is (`AMD Ryzen 9 7950X, 16 cores`).
    pub device: String,
    /// Peak matmul rate.
    pub peak_flops: FlopsPerSec,
    /// Fraction of `peak_flops` its matrix-vector kernels reach.
    pub efficiency: f64,
    /// Bandwidth at which it streams the tier's memory (the DRAM's, not the link's).
    pub memory_bw: BytesPerSec,
    /// Fixed cost of each hand-over between the main device and this one within a layer
    /// (activations copied, the graph split synchronised).
    #[serde(default)]
    pub hop: Seconds,
    /// Steps of this many tokens or more run these weights on the main device instead, copying
    /// them over the link (llama.cpp's op offload for prompt batches of 32 or more).
    #[serde(default = "op_offload_batch")]
    pub offload_min_batch: u32,
}

fn op_offload_batch() -> u32 {
    32
}

/// Flash endurance figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnduranceSpec {
    /// Program/erase cycles each cell survives.
    pub pe_cycles: f64,
    /// Write amplification factor (device bytes written per host byte).
    #[serde(default = "one")]
    pub waf: f64,
    /// Service life the tier must reach; a run that wears it out sooner says so.
    #[serde(default = "five")]
    pub target_years: f64,
}

fn one() -> f64 {
    1.0
}

fn five() -> f64 {
    5.0
}

/// Where weights and KV cache live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementSpec {
    /// Weight placement.
    pub weights: WeightPlacement,
    /// KV cache placement.
    pub kv: KvPlacement,
    /// llama.cpp's placement flags (`-ngl`, `-ot`, `--n-cpu-moe`), applied after the weight
    /// rules so that they win over them.
    #[serde(default, skip_serializing_if = "LlamaCppPlacement::is_unset")]
    pub llamacpp: LlamaCppPlacement,
}

/// Weight placement: a default tier and rules, later rules winning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightPlacement {
    /// Tier of every weight no rule names.
    pub default: String,
    /// Exceptions, e.g. `{tensors: [ffn], layers: "20-", tier: hbf}`.
    #[serde(default)]
    pub rules: Vec<WeightRule>,
}

/// One weight placement rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightRule {
    /// Tensor classes the rule moves.
    pub tensors: Vec<TensorClass>,
    /// Layers the rule applies to (all when absent; ignored for `output` and `token_embd`).
    #[serde(default)]
    pub layers: Option<LayerSet>,
    /// Destination tier.
    pub tier: String,
}

/// Classes of weights that placement rules move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorClass {
    /// Attention projections, norms and the MoE router.
    Attn,
    /// Dense FFN and shared-expert matrices.
    Ffn,
    /// Routed expert matrices.
    Experts,
    /// The output (LM head) matrix.
    Output,
    /// The token embedding matrix (one row read per token).
    TokenEmbd,
    /// Everything in a layer.
    All,
}

/// KV cache placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvPlacement {
    /// Tiers the KV cache may occupy, in spill order (the first is where new tokens go).
    pub tiers: Vec<String>,
    /// KV bytes allowed in the first tier; by default whatever its weights leave free.
    #[serde(default)]
    pub budget: Option<Bytes>,
    /// Which tokens move when the budget is full.
    #[serde(default)]
    pub policy: SpillPolicy,
}

/// How the KV cache spills to the next tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpillPolicy {
    /// The oldest tokens of every layer move first; each new token beyond the budget pushes one
    /// old token's KV out (a write to the next tier).
    #[default]
    OldestFirst,
    /// Whole layers' KV lives in the next tier, the last layers first, as many as needed.
    WholeLayers,
}

/// Overlap of remote fetches with compute (DESIGN §2.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlapSpec {
    /// The overlap mode.
    pub mode: OverlapMode,
    /// Layers fetched ahead in `prefetch` mode.
    #[serde(default = "one_u32")]
    pub prefetch_layers: u32,
    /// Bytes the prefetch buffer holds; a layer's fetch waits for room.
    #[serde(default)]
    pub buffer: Option<Bytes>,
}

fn one_u32() -> u32 {
    1
}

impl Default for OverlapSpec {
    fn default() -> Self {
        Self {
            mode: OverlapMode::Stream,
            prefetch_layers: 1,
            buffer: None,
        }
    }
}

/// Overlap modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapMode {
    /// Fetch a layer's remote bytes, then compute it.
    None,
    /// Compute consumes a layer while it arrives: the layer ends when both are done.
    Stream,
    /// Fetch `prefetch_layers` layers ahead into a bounded buffer.
    Prefetch,
}

/// How a mixture-of-experts model's tokens pick their experts, and the expert cache.
///
/// Dense models ignore it. Routing is drawn per token from a seeded stream of its own, so a
/// dense model's results do not change when these settings do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpertSpec {
    /// `sampled` draws each token's experts; `expected` reads the expected number of distinct
    /// experts under uniform routing, `n · (1 − (1 − k/n)^T)` (no cache, no randomness).
    #[serde(default)]
    pub routing: Routing,
    /// Zipf exponent of expert popularity: expert of rank `r` is picked with weight `r^-skew`
    /// (0 = uniform). Each layer ranks its experts in its own seeded order.
    #[serde(default)]
    pub skew: f64,
    /// Bytes of the compute-local tier kept as an LRU cache of experts whose home is a slower
    /// tier; hits are read locally, misses from the home tier and copied in. None: no cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<Bytes>,
    /// Whether a test starts with the cache holding the most popular experts (the steady state
    /// a warm server reaches) rather than empty.
    #[serde(default = "yes")]
    pub warm: bool,
}

fn yes() -> bool {
    true
}

impl Default for ExpertSpec {
    fn default() -> Self {
        Self {
            routing: Routing::Sampled,
            skew: 0.0,
            cache: None,
            warm: true,
        }
    }
}

/// Expert routing modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// Each token draws `experts_per_token` distinct experts by popularity.
    #[default]
    Sampled,
    /// The expected count of distinct experts under uniform routing.
    Expected,
}

/// Simulation fidelity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSpec {
    /// `coarse` groups accesses into at most `lanes` concurrent batches per tier per fetch
    /// (fast; exact for fixed latencies), `fine` simulates every `io_size` access.
    #[serde(default)]
    pub granularity: Granularity,
    /// Concurrent coarse accesses per tier and fetch (8 by default: within 1 % of `fine` on the
    /// presets' HBF and SSD tiers, at a tenth of the cost).
    #[serde(default = "eight")]
    pub lanes: u32,
}

fn eight() -> u32 {
    8
}

impl Default for SimSpec {
    fn default() -> Self {
        Self {
            granularity: Granularity::Coarse,
            lanes: 8,
        }
    }
}

/// Simulation granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// Accesses grouped into lanes: fast, exact for fixed latencies.
    #[default]
    Coarse,
    /// One simulated access per `io_size`.
    Fine,
}
