//! llama.cpp's weight-placement flags (`-ngl`, `-ot`, `--n-cpu-moe`) translated into tiersim
//! weight rules, so a machine can be described the way one runs llama.cpp on it.
//!
//! What llama.cpp does, as read in its source:
//!
//! - `-ngl N` (`llama_model::load_tensors`, src/llama-model.cpp): the repeating layers and then
//!   the output layer form `n_layer + 1` offload slots, and the GPU takes the last `N` of them,
//!   `i_gpu_start = max(n_layer + 1 - N, 0)`. Since llama.cpp PR #18148 (December 2025, "offload
//!   output layer to GPU first") the output layer is the first slot to move: `-ngl 1` offloads
//!   the output layer alone and `-ngl n_layer + 1` offloads everything. (Before it,
//!   `i_gpu_start = max(n_layer - N, 0)` and the output layer moved only once `N > n_layer`.)
//!   The input layer, the token embedding, always stays in the CPU buffer.
//! - `-ot regex=BUFFER,...` and `--n-cpu-moe N` (common/arg.cpp) append to one list of buffer
//!   overrides in command-line order; `--n-cpu-moe N` appends
//!   `blk\.i\.ffn_(up|down|gate|gate_up)_(ch|)exps=CPU` for `i` in `0..N`. When the loader
//!   creates a tensor (`create_tensor` in `load_tensors`) it takes the first pattern of that list
//!   that `std::regex_search` finds anywhere in the tensor's GGUF name; a tensor no pattern
//!   matches goes where `-ngl` put its layer.
//!
//! tiersim places weights by class per layer, so each (layer, class) is decided by its matrices
//! and the rules come out grouped into as few layer sets as the placement allows.

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::config::error::ConfigError;
use crate::config::system::{SystemSpec, TensorClass, TierKind, WeightRule};
use crate::layers::LayerSet;
use crate::model::spec::{BlockTensor, ModelSpec};

/// Dotted paths of the block's fields in a system spec, for messages.
const NGL_FIELD: &str = "placement.llamacpp.n_gpu_layers";
const OT_FIELD: &str = "placement.llamacpp.override_tensors";
const NCMOE_FIELD: &str = "placement.llamacpp.n_cpu_moe";
const HOST_FIELD: &str = "placement.llamacpp.host_tier";
const NKVO_FIELD: &str = "placement.llamacpp.no_kv_offload";

/// llama.cpp's placement flags, as a system's `placement.llamacpp` block (all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlamaCppPlacement {
    /// `-ngl`/`--n-gpu-layers`: how many of llama.cpp's `n_layers + 1` offload slots (the
    /// repeating layers, then the output layer) go to the GPU, tier 0. The GPU takes the last
    /// `N` slots: `-ngl 1` offloads only the output layer, `-ngl n_layers + 1` everything; the
    /// token embedding always stays in the CPU buffer. Absent: the system's placement stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_gpu_layers: Option<u32>,
    /// `-ot`/`--override-tensor` values, `regex=BUFFER`, several to an entry when separated by
    /// commas (as the flag takes them). The first pattern found in a tensor's GGUF name decides
    /// its buffer. BUFFER is `CPU` (the host tier), a GPU buffer (`CUDA0`, `ROCm0`, `Vulkan0`,
    /// `SYCL0`, `Metal`, `GPU`: tier 0) or, as a tiersim extension, the name of any tier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub override_tensors: Vec<String>,
    /// `--n-cpu-moe`/`-ncmoe`: keep the routed experts of the first `N` layers in the CPU
    /// buffer. Its patterns follow `override_tensors`, as if `-ot` came first on the command
    /// line (llama.cpp honours the order the flags are given in, and the first match wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_cpu_moe: Option<u32>,
    /// Tier that llama.cpp's `CPU` buffer means; by default the first tier of kind `dram` after
    /// tier 0, or tier 0 itself when it is DRAM (a CPU-only machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_tier: Option<String>,
    /// `-nkvo`/`--no-kv-offload`: keep every layer's KV cache in the CPU buffer. Without it,
    /// llama.cpp keeps a layer's KV cache on the device `-ngl` gave the layer, so the layers
    /// left on the CPU keep theirs there too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_kv_offload: bool,
}

/// Where llama.cpp's flags put the KV cache: the layers below `first_gpu_layer` keep theirs in
/// the host tier, wholly, whatever the system's spill placement says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvOnHost {
    /// Index of the tier llama.cpp's `CPU` buffer stands for.
    pub tier: usize,
    /// The first layer whose KV cache the GPU holds (`n_layers` when none does).
    pub first_gpu_layer: u32,
}

impl LlamaCppPlacement {
    /// Whether no flag is set (the system's own placement stands).
    pub fn is_unset(&self) -> bool {
        self.n_gpu_layers.is_none()
            && self.override_tensors.is_empty()
            && self.n_cpu_moe.is_none()
            && !self.no_kv_offload
    }

    /// The `-ot` entries as llama-bench records them: `pattern=BUFFER` pieces joined by `;`,
    /// or `none`.
    pub fn override_summary(&self) -> String {
        let pieces: Vec<&str> = self.override_pieces().filter(|p| !p.is_empty()).collect();
        if pieces.is_empty() {
            "none".to_owned()
        } else {
            pieces.join(";")
        }
    }

    /// The `regex=BUFFER` pieces of the `-ot` entries: the flag's value is split on commas
    /// before anything else, so a regex cannot hold one (`{1,2}` breaks in llama.cpp too).
    fn override_pieces(&self) -> impl Iterator<Item = &str> {
        self.override_tensors
            .iter()
            .flat_map(|e| e.split(','))
            .map(str::trim)
    }

    /// The layers whose KV cache these flags keep on the host, if any: all of them under
    /// `-nkvo`, else those `-ngl` leaves on the CPU. `-ot` moves weights only, never a layer's
    /// KV cache, as in llama.cpp.
    pub fn kv_on_host(
        &self,
        model: &ModelSpec,
        system: &SystemSpec,
        origin: &str,
    ) -> Result<Option<KvOnHost>, ConfigError> {
        let (first_gpu_layer, field, flag) = if self.no_kv_offload {
            (model.n_layers, NKVO_FIELD, "-nkvo".to_owned())
        } else if let Some(n) = self.n_gpu_layers {
            let start = (model.n_layers + 1).saturating_sub(n).min(model.n_layers);
            (start, NGL_FIELD, format!("-ngl {n}"))
        } else {
            return Ok(None);
        };
        if first_gpu_layer == 0 {
            return Ok(None);
        }
        let tier = self.host(system, origin)?.ok_or_else(|| {
            ConfigError::invalid(
                origin,
                field,
                format!(
                    "{flag} keeps KV cache in llama.cpp's CPU buffer, {}",
                    no_host(system)
                ),
            )
        })?;
        Ok(Some(KvOnHost {
            tier,
            first_gpu_layer,
        }))
    }

    /// Weight rules equivalent to these flags for `model` on `system`, appended after the YAML
    /// rules by the caller (so they win over them). `origin` names the system for messages.
    pub fn rules(
        &self,
        model: &ModelSpec,
        system: &SystemSpec,
        origin: &str,
    ) -> Result<Vec<WeightRule>, ConfigError> {
        let host = self.host(system, origin)?;
        let overrides = self.overrides(model, system, origin, host)?;
        let tensors = model_tensors(model);

        // llama.cpp accepts a pattern that matches nothing and silently ignores it; here it is
        // almost always a typo, and a typo would leave the placement quietly unchanged.
        for o in overrides.iter().filter(|o| o.must_match) {
            if !tensors.iter().any(|t| o.regex.is_match(&t.name)) {
                return Err(ConfigError::invalid(
                    origin,
                    o.field,
                    format!(
                        "{} matches no tensor of {}; tensor names look like {}",
                        o.label,
                        model.name,
                        name_examples(&tensors)
                    ),
                ));
            }
        }

        let ngl = self.n_gpu_layers.map(|n| Ngl {
            n,
            gpu_start: (model.n_layers + 1).saturating_sub(n),
            host,
        });

        // Every matrix's home, llama.cpp's way: the first override found in its name, else the
        // device -ngl gave its layer, else (no -ngl) whatever the system's rules say.
        let mut groups: BTreeMap<(Option<u32>, usize), Vec<Placed>> = BTreeMap::new();
        for t in tensors.iter().filter(|t| t.decides) {
            let home = match overrides.iter().position(|o| o.regex.is_match(&t.name)) {
                Some(i) => Home {
                    tier: Some(overrides[i].tier),
                    source: Source::Override(i),
                },
                None => match ngl {
                    Some(g) => Home {
                        tier: Some(g.tier(t, system, origin)?),
                        source: Source::Ngl,
                    },
                    None => Home {
                        tier: None,
                        source: Source::System,
                    },
                },
            };
            groups
                .entry((t.layer, class_index(t.class)))
                .or_default()
                .push((t, home));
        }

        let mut slots = vec![[Slot::Absent; 3]; model.n_layers as usize];
        let mut output = Slot::Absent;
        let mut token_embd = Slot::Absent;
        for (&(layer, class), group) in &groups {
            let slot = settle(group, &overrides, ngl, system, origin)?;
            match layer {
                Some(l) => slots[l as usize][class] = slot,
                None if class == OUTPUT => output = slot,
                None => token_embd = slot,
            }
        }
        Ok(compact(model, system, ngl, &slots, output, token_embd))
    }

    /// The tier llama.cpp's `CPU` buffer stands for, if the system has one.
    fn host(&self, system: &SystemSpec, origin: &str) -> Result<Option<usize>, ConfigError> {
        match &self.host_tier {
            Some(name) => match system.tiers.iter().position(|t| &t.name == name) {
                Some(i) => Ok(Some(i)),
                None => Err(ConfigError::invalid(
                    origin,
                    HOST_FIELD,
                    format!("names tier `{name}`; tiers are {}", tier_list(system)),
                )),
            },
            None => Ok(system
                .tiers
                .iter()
                .skip(1)
                .position(|t| t.kind == TierKind::Dram)
                .map(|i| i + 1)
                .or_else(|| {
                    // On a CPU-only machine the compute-local DRAM is llama.cpp's CPU buffer.
                    (system.tiers.first()?.kind == TierKind::Dram).then_some(0)
                })),
        }
    }

    /// The override list in llama.cpp's order: the `-ot` entries, then `--n-cpu-moe`'s.
    fn overrides(
        &self,
        model: &ModelSpec,
        system: &SystemSpec,
        origin: &str,
        host: Option<usize>,
    ) -> Result<Vec<Override>, ConfigError> {
        let mut out = Vec::new();
        for piece in self.override_pieces() {
            let bad = |message: String| ConfigError::invalid(origin, OT_FIELD, message);
            let Some((pattern, buffer)) = piece.split_once('=') else {
                return Err(bad(format!(
                    "-ot `{piece}` has no `=`; expected regex=BUFFER, e.g. `exps=CPU`"
                )));
            };
            let regex = Regex::new(pattern).map_err(|e| {
                // The parser's message draws a caret diagram; its last line says what is wrong.
                let text = e.to_string();
                let why = text.lines().last().unwrap_or_default().trim();
                let why = why.strip_prefix("error: ").unwrap_or(why);
                bad(format!(
                    "-ot `{piece}`: `{pattern}` is not a valid regular expression ({why})"
                ))
            })?;
            let label = format!("-ot `{piece}`");
            let tier = buffer_tier(buffer.trim(), system, host)
                .map_err(|why| bad(format!("{label}: {why}")))?;
            out.push(Override {
                label,
                field: OT_FIELD,
                regex,
                tier,
                must_match: true,
            });
        }
        if let Some(n) = self.n_cpu_moe.filter(|&n| n > 0) {
            let bad = |message: String| ConfigError::invalid(origin, NCMOE_FIELD, message);
            if model.moe.is_none() {
                // llama.cpp would add patterns that match nothing and carry on.
                return Err(bad(format!(
                    "is {n}, but {} has no experts to keep on the CPU",
                    model.name
                )));
            }
            let tier = buffer_tier("CPU", system, host)
                .map_err(|why| bad(format!("--n-cpu-moe {n}: {why}")))?;
            // Patterns past the last layer could match nothing: llama.cpp adds them anyway.
            for i in 0..n.min(model.n_layers) {
                let pattern = format!(r"blk\.{i}\.ffn_(up|down|gate|gate_up)_(ch|)exps");
                out.push(Override {
                    label: format!("--n-cpu-moe {n} (`{pattern}=CPU`)"),
                    field: NCMOE_FIELD,
                    regex: Regex::new(&pattern).expect("a valid pattern"),
                    tier,
                    // A leading dense layer has no experts for its pattern to match.
                    must_match: false,
                });
            }
        }
        Ok(out)
    }
}

/// One buffer override: a pattern and the tier its matches go to.
struct Override {
    /// How the user wrote it, for messages (`-ot `exps=CPU``).
    label: String,
    /// The field it came from.
    field: &'static str,
    /// The tensor-name pattern, searched for anywhere in the name.
    regex: Regex,
    /// Index of the destination tier.
    tier: usize,
    /// Whether matching no tensor is an error (a user's `-ot`) or expected (`--n-cpu-moe`'s
    /// per-layer patterns on dense layers).
    must_match: bool,
}

/// The tier a llama.cpp buffer name stands for, or why it stands for none.
fn buffer_tier(buffer: &str, system: &SystemSpec, host: Option<usize>) -> Result<usize, String> {
    if let Some(i) = system.tiers.iter().position(|t| t.name == buffer) {
        return Ok(i);
    }
    let lower = buffer.to_ascii_lowercase();
    if lower == "cpu" {
        return host
            .ok_or_else(|| format!("`{buffer}` is llama.cpp's CPU buffer, {}", no_host(system)));
    }
    // tiersim has one compute device, so every GPU buffer of a multi-GPU run is tier 0.
    let numbered = ["cuda", "rocm", "vulkan", "sycl"].iter().any(|p| {
        lower
            .strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    });
    if numbered || lower == "gpu" || lower == "metal" {
        return Ok(0);
    }
    let host_note = host.map_or_else(String::new, |h| format!(" (`{}`)", system.tiers[h].name));
    Err(format!(
        "buffer `{buffer}` is unknown; expected CPU{host_note}, a GPU buffer such as CUDA0, \
         ROCm0, Vulkan0, SYCL0, Metal or GPU (`{}`), or a tier name: {}",
        system.tiers[0].name,
        tier_list(system)
    ))
}

/// The clause saying why `CPU` stands for no tier here.
fn no_host(system: &SystemSpec) -> String {
    format!(
        "but {} has no `dram` tier after tier 0 to stand for it; name one with {HOST_FIELD}",
        system.name
    )
}

/// The system's tier names, for messages.
fn tier_list(system: &SystemSpec) -> String {
    system
        .tiers
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `-ngl`'s split of the offload slots.
#[derive(Debug, Clone, Copy)]
struct Ngl {
    /// The flag's value.
    n: u32,
    /// First repeating layer on the GPU (past the last layer when none is).
    gpu_start: u32,
    /// The host tier, if any.
    host: Option<usize>,
}

impl Ngl {
    /// Where -ngl puts the tensor `t`.
    fn tier(&self, t: &Tensor, system: &SystemSpec, origin: &str) -> Result<usize, ConfigError> {
        let on_gpu = match (t.layer, t.class) {
            (Some(l), _) => l >= self.gpu_start,
            // The output layer is the last slot, so any -ngl above 0 offloads it.
            (None, TensorClass::Output) => self.n >= 1,
            // The input layer never leaves the CPU.
            (None, _) => false,
        };
        if on_gpu {
            return Ok(0);
        }
        self.host.ok_or_else(|| {
            let what = match (t.layer, t.class) {
                (Some(l), _) => format!("layer {l}"),
                (None, TensorClass::Output) => "the output layer".to_owned(),
                (None, _) => "the token embedding".to_owned(),
            };
            ConfigError::invalid(
                origin,
                NGL_FIELD,
                format!(
                    "-ngl {} keeps {what} in llama.cpp's CPU buffer, {}",
                    self.n,
                    no_host(system)
                ),
            )
        })
    }
}

/// Where one tensor goes and what decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Home {
    /// Tier index; `None` when only the system's own rules place it.
    tier: Option<usize>,
    /// What decided it.
    source: Source,
}

/// What decided a tensor's home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The override at this index of the list.
    Override(usize),
    /// `-ngl`.
    Ngl,
    /// Nothing here: the system's rules.
    System,
}

/// The outcome for one class of one layer (or for the output or the embedding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The layer has no tensor of the class.
    Absent,
    /// The flags leave it to the system's rules.
    Undecided,
    /// The flags put it in this tier.
    Tier(usize),
}

/// Index of the output class in the grouping keys (layer classes are 0-2).
const OUTPUT: usize = 3;
/// Layer classes in index order.
const LAYER_CLASSES: [TensorClass; 3] = [TensorClass::Attn, TensorClass::Ffn, TensorClass::Experts];

/// A class's index in the grouping keys.
fn class_index(class: TensorClass) -> usize {
    match class {
        TensorClass::Attn | TensorClass::All => 0,
        TensorClass::Ffn => 1,
        TensorClass::Experts => 2,
        TensorClass::Output => OUTPUT,
        TensorClass::TokenEmbd => 4,
    }
}

/// The single home of a class whose matrices are `group`, or an error naming the override that
/// splits it.
fn settle(
    group: &[Placed],
    overrides: &[Override],
    ngl: Option<Ngl>,
    system: &SystemSpec,
    origin: &str,
) -> Result<Slot, ConfigError> {
    let first = group[0].1.tier;
    if group.iter().all(|(_, h)| h.tier == first) {
        return Ok(first.map_or(Slot::Undecided, Slot::Tier));
    }
    // -ngl and the system's rules place a layer's class as one, so an override split it; blame
    // the earliest entry involved, the one the user reads first.
    let culprit = group
        .iter()
        .filter_map(|(_, h)| match h.source {
            Source::Override(i) => Some(i),
            _ => None,
        })
        .min()
        .expect("only an override can split a class");
    let o = &overrides[culprit];
    let (matched, rest): (Vec<&Placed>, Vec<_>) = group
        .iter()
        .partition(|(_, h)| h.source == Source::Override(culprit));
    let names = |v: &[&Placed]| {
        v.iter()
            .map(|(t, _)| t.short())
            .collect::<Vec<_>>()
            .join("/")
    };
    let fate = |h: &Home| {
        let tier = h.tier.map_or("?", |i| system.tiers[i].name.as_str());
        match h.source {
            Source::Override(j) => format!("to `{tier}` by {}", overrides[j].label),
            Source::Ngl => format!("to `{tier}` by -ngl {}", ngl.map_or(0, |g| g.n)),
            Source::System => "left to the system's rules".to_owned(),
        }
    };
    // Where the rest went, one clause per distinct home.
    let mut fates: Vec<(Home, Vec<&Placed>)> = Vec::new();
    for r in &rest {
        match fates.iter_mut().find(|(h, _)| *h == r.1) {
            Some((_, v)) => v.push(r),
            None => fates.push((r.1, vec![r])),
        }
    }
    let fate = fates
        .iter()
        .map(|(h, v)| format!("{}: {}", names(v), fate(h)))
        .collect::<Vec<_>>()
        .join("; ");
    let layer = group[0]
        .0
        .layer
        .map_or_else(String::new, |l| format!(" of layer {l}"));
    Err(ConfigError::invalid(
        origin,
        o.field,
        format!(
            "{} matches {} but not {}{layer} ({fate}); tiersim places a layer's attention, \
             dense FFN and experts as wholes, so a pattern must match all of {} or none",
            o.label,
            names(&matched),
            names(&rest),
            group
                .iter()
                .map(|(t, _)| t.short())
                .collect::<Vec<_>>()
                .join("/")
        ),
    ))
}

/// A tensor and its home.
type Placed<'a> = (&'a Tensor, Home);

/// Inclusive layer ranges, in order.
type Ranges = Vec<(u32, u32)>;

/// One tensor of the model under its GGUF name.
#[derive(Debug, Clone)]
struct Tensor {
    /// GGUF name (`blk.0.ffn_up_exps.weight`).
    name: String,
    /// Block index; `None` for the token embedding and the output layer.
    layer: Option<u32>,
    /// The tiersim class the tensor's bytes belong to.
    class: TensorClass,
    /// Whether it decides its class's home (a matrix) or follows it (norms, biases, router).
    decides: bool,
}

impl Tensor {
    /// The name without the block prefix and the `.weight` suffix (`ffn_up_exps`).
    fn short(&self) -> &str {
        let n = match self.layer {
            Some(_) => self.name.splitn(3, '.').nth(2).unwrap_or(&self.name),
            None => &self.name,
        };
        n.strip_suffix(".weight").unwrap_or(n)
    }
}

/// Per-layer norm vectors in GGUF order of appearance: llama-style models have the first two,
/// gemma 3 all four.
const NORMS: [&str; 4] = [
    "attn_norm",
    "ffn_norm",
    "post_attention_norm",
    "post_ffw_norm",
];
/// Per-head q/k norms (qwen3, gemma 3).
const HEAD_NORMS: [&str; 2] = ["attn_q_norm", "attn_k_norm"];

/// Whether layer `l` of `model` has routed experts (rather than a dense FFN).
fn is_moe_layer(model: &ModelSpec, l: u32) -> bool {
    model
        .moe
        .as_ref()
        .is_some_and(|m| !m.dense_layers.as_ref().is_some_and(|d| d.contains(l)))
}

/// Which of attention, FFN and experts layer `l` holds.
fn present(model: &ModelSpec, l: u32) -> [bool; 3] {
    let moe = is_moe_layer(model, l);
    let shared = model
        .moe
        .as_ref()
        .is_some_and(|m| m.shared_expert_ffn_dim > 0);
    [true, !moe || shared, moe]
}

/// Every tensor llama.cpp would load for `model`, as far as the spec describes it.
fn model_tensors(model: &ModelSpec) -> Vec<Tensor> {
    let global = |name: &str, class, decides| Tensor {
        name: name.to_owned(),
        layer: None,
        class,
        decides,
    };
    let mut v = vec![
        global("token_embd.weight", TensorClass::TokenEmbd, true),
        // The final norm travels with the output layer in llama.cpp; tiersim keeps it local.
        global("output_norm.weight", TensorClass::Output, false),
    ];
    if !model.tied_embeddings {
        v.push(global("output.weight", TensorClass::Output, true));
    }
    let gated = |t: &BlockTensor| {
        model.ffn_gated
            || !matches!(
                t,
                BlockTensor::FfnGate | BlockTensor::FfnGateExps | BlockTensor::FfnGateShexp
            )
    };
    for l in 0..model.n_layers {
        let mut push = |name: &str, suffix: &str, class, decides| {
            v.push(Tensor {
                name: format!("blk.{l}.{name}.{suffix}"),
                layer: Some(l),
                class,
                decides,
            });
        };
        for n in NORMS.iter().take(model.norms_per_layer as usize) {
            push(n, "weight", TensorClass::Attn, false);
        }
        for n in HEAD_NORMS.iter().take(model.head_norms_per_layer as usize) {
            push(n, "weight", TensorClass::Attn, false);
        }
        use BlockTensor::*;
        for t in [AttnQ, AttnK, AttnV, AttnOutput] {
            push(t.name(), "weight", TensorClass::Attn, true);
        }
        if model.qkv_bias {
            for t in [AttnQ, AttnK, AttnV] {
                push(t.name(), "bias", TensorClass::Attn, false);
            }
        }
        let [_, has_ffn, has_experts] = present(model, l);
        if has_experts {
            // The router is read with the attention in tiersim's accounting.
            push(FfnGateInp.name(), "weight", TensorClass::Attn, false);
            for t in [FfnGateExps, FfnUpExps, FfnDownExps]
                .iter()
                .filter(|t| gated(t))
            {
                push(t.name(), "weight", TensorClass::Experts, true);
            }
        }
        if has_ffn {
            let ffn = if has_experts {
                [FfnGateShexp, FfnUpShexp, FfnDownShexp]
            } else {
                [FfnGate, FfnUp, FfnDown]
            };
            for t in ffn.iter().filter(|t| gated(t)) {
                push(t.name(), "weight", TensorClass::Ffn, true);
            }
        }
    }
    v
}

/// A few of the model's tensor names, to show what a pattern is matched against.
fn name_examples(tensors: &[Tensor]) -> String {
    let mut picked: Vec<&str> = Vec::new();
    for class in [TensorClass::Experts, TensorClass::Ffn, TensorClass::Attn] {
        if let Some(t) = tensors
            .iter()
            .find(|t| t.layer == Some(0) && t.decides && t.class == class)
        {
            picked.push(&t.name);
        }
    }
    picked.push("token_embd.weight");
    picked.join(", ")
}

/// How a layer takes part in a run of one class's layers bound for one tier.
#[derive(Debug, Clone, Copy)]
enum Fill {
    /// The class must go to this tier here.
    Must(usize),
    /// The class is already in this tier (by an earlier rule); a run to it may cover the layer.
    May(usize),
    /// The class is absent here, so any run may cover the layer.
    Any,
    /// No rule of this class may cover the layer.
    Never,
}

/// Maximal runs of consecutive layers per tier: each starts and ends at a `Must` layer and
/// covers only layers compatible with its tier.
fn runs(fills: &[Fill]) -> BTreeMap<usize, Ranges> {
    fn close(cur: &mut Option<(usize, u32, u32)>, out: &mut BTreeMap<usize, Ranges>) {
        if let Some((tier, lo, hi)) = cur.take() {
            out.entry(tier).or_default().push((lo, hi));
        }
    }
    let mut out = BTreeMap::new();
    let mut cur: Option<(usize, u32, u32)> = None;
    for (l, fill) in (0u32..).zip(fills) {
        match *fill {
            Fill::Must(t) => match &mut cur {
                Some((tier, _, hi)) if *tier == t => *hi = l,
                _ => {
                    close(&mut cur, &mut out);
                    cur = Some((t, l, l));
                }
            },
            Fill::May(t) => {
                if cur.is_some_and(|(tier, _, _)| tier != t) {
                    close(&mut cur, &mut out);
                }
            }
            Fill::Any => {}
            Fill::Never => close(&mut cur, &mut out),
        }
    }
    close(&mut cur, &mut out);
    out
}

/// A layer set of inclusive ranges.
fn layer_set(ranges: &[(u32, u32)]) -> LayerSet {
    if let [(lo, hi)] = ranges {
        return LayerSet::range(*lo, *hi);
    }
    // LayerSet has no constructor from several ranges; its text form is the public one.
    let text = ranges
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    LayerSet::parse(&text).expect("ranges print as a layer set")
}

/// The fewest rules that reproduce the slots: `-ngl`'s split as `all` rules, then each class's
/// departures from it grouped into layer sets (classes sharing a set and tier share a rule),
/// then the output and the embedding.
fn compact(
    model: &ModelSpec,
    system: &SystemSpec,
    ngl: Option<Ngl>,
    slots: &[[Slot; 3]],
    output: Slot,
    token_embd: Slot,
) -> Vec<WeightRule> {
    let name = |tier: usize| system.tiers[tier].name.clone();
    let base: Vec<Option<usize>> = (0..model.n_layers)
        .map(|l| ngl.and_then(|g| if l >= g.gpu_start { Some(0) } else { g.host }))
        .collect();
    let mut rules = Vec::new();
    let base_fills: Vec<Fill> = base
        .iter()
        .map(|b| b.map_or(Fill::Never, Fill::Must))
        .collect();
    let mut base_runs: Vec<(usize, Ranges)> = runs(&base_fills).into_iter().collect();
    base_runs.sort_by_key(|(tier, r)| (r[0].0, *tier));
    for (tier, ranges) in base_runs {
        rules.push(WeightRule {
            tensors: vec![TensorClass::All],
            layers: Some(layer_set(&ranges)),
            tier: name(tier),
        });
    }

    // Classes that leave the base, keyed by tier and layer ranges so classes that move
    // together share one rule.
    let mut moves: BTreeMap<(usize, Ranges), Vec<usize>> = BTreeMap::new();
    for c in 0..LAYER_CLASSES.len() {
        let fills: Vec<Fill> = slots
            .iter()
            .zip(&base)
            .map(|(s, b)| match (s[c], *b) {
                (Slot::Absent, _) => Fill::Any,
                (Slot::Undecided, _) => Fill::Never,
                (Slot::Tier(t), Some(b)) if t == b => Fill::May(t),
                (Slot::Tier(t), _) => Fill::Must(t),
            })
            .collect();
        for (tier, ranges) in runs(&fills) {
            moves.entry((tier, ranges)).or_default().push(c);
        }
    }
    let mut moves: Vec<_> = moves.into_iter().collect();
    moves.sort_by_key(|((tier, r), _)| (r[0].0, *tier));
    for ((tier, ranges), classes) in moves {
        // A rule that moves every class a layer has is clearer as `all`.
        let whole = ranges.iter().all(|&(lo, hi)| {
            (lo..=hi).all(|l| {
                let p = present(model, l);
                (0..3).all(|c| !p[c] || classes.contains(&c))
            })
        });
        let tensors = if whole {
            vec![TensorClass::All]
        } else {
            classes.iter().map(|&c| LAYER_CLASSES[c]).collect()
        };
        rules.push(WeightRule {
            tensors,
            layers: Some(layer_set(&ranges)),
            tier: name(tier),
        });
    }

    match (output, token_embd) {
        (Slot::Tier(a), Slot::Tier(b)) if a == b => rules.push(WeightRule {
            tensors: vec![TensorClass::Output, TensorClass::TokenEmbd],
            layers: None,
            tier: name(a),
        }),
        _ => {
            for (slot, class) in [
                (output, TensorClass::Output),
                (token_embd, TensorClass::TokenEmbd),
            ] {
                if let Slot::Tier(t) = slot {
                    rules.push(WeightRule {
                        tensors: vec![class],
                        layers: None,
                        tier: name(t),
                    });
                }
            }
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;
    use crate::sim::machine::Machine;
    use crate::units::Bytes;

    const SYSTEM: &str = r#"
name: test-gpu-dram-hbf
compute:
  device: test GPU
  peak_flops: 100TFLOP/s
  prefill_efficiency: 0.5
  decode_efficiency: 0.1
  memory_efficiency: 0.8
  layer_overhead: 10us
  step_overhead: 100us
tiers:
  - name: gpu
    kind: gddr
    capacity: 80GB
    read_bw: 1TB/s
    write_bw: 1TB/s
  - name: dram
    kind: dram
    capacity: 256GB
    read_bw: 25GB/s
    write_bw: 25GB/s
    read_latency: 2us
    write_latency: 2us
    parallel_units: 32
    queue_depth: 64
    io_size: 64KiB
  - name: hbf
    kind: hbf
    capacity: 512GB
    read_bw: 1.6TB/s
    write_bw: 16GB/s
    read_latency: 4us
    write_latency: 100us
    parallel_units: 256
    queue_depth: 512
    io_size: 4KiB
placement:
  weights:
    default: gpu
  kv:
    tiers: [gpu]
"#;

    const GPU: usize = 0;
    const DRAM: usize = 1;
    const HBF: usize = 2;

    fn system() -> SystemSpec {
        let s: SystemSpec = load::parse(SYSTEM, "test").unwrap();
        crate::config::validate::system(&s, "test").unwrap();
        s
    }

    /// The same machine without its DRAM tier.
    fn system_without_dram() -> SystemSpec {
        let mut s = system();
        s.tiers.remove(DRAM);
        s
    }

    fn model(name: &str) -> ModelSpec {
        load::model(Some(name), &[]).unwrap().spec
    }

    fn llama() -> ModelSpec {
        model("llama-3.1-8b-instruct-q4_k_m")
    }

    fn qwen_moe() -> ModelSpec {
        model("qwen3-30b-a3b-iq4_xs")
    }

    fn ngl(n: u32) -> LlamaCppPlacement {
        LlamaCppPlacement {
            n_gpu_layers: Some(n),
            ..Default::default()
        }
    }

    fn ot(entries: &[&str]) -> LlamaCppPlacement {
        LlamaCppPlacement {
            override_tensors: entries.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn rule(tensors: &[TensorClass], layers: Option<&str>, tier: &str) -> WeightRule {
        WeightRule {
            tensors: tensors.to_vec(),
            layers: layers.map(|l| LayerSet::parse(l).unwrap()),
            tier: tier.to_owned(),
        }
    }

    /// Places `model` with the flags' rules appended and checks that no byte is lost.
    fn place(flags: &LlamaCppPlacement, model: &ModelSpec, mut system: SystemSpec) -> Machine {
        let rules = flags.rules(model, &system, "test").unwrap();
        system.placement.weights.rules.extend(rules);
        crate::config::validate::system(&system, "test").unwrap();
        let m = Machine::new(model, &system).unwrap();
        let total: Bytes = m.weight_bytes.iter().copied().sum();
        let size = m.traffic.model_size;
        assert!(
            (total.0 - size.0).abs() <= 1e-9 * size.0,
            "{total:?} placed of {size:?}"
        );
        m
    }

    fn err(flags: &LlamaCppPlacement, model: &ModelSpec, system: &SystemSpec) -> String {
        flags.rules(model, system, "test").unwrap_err().to_string()
    }

    /// Tiers of attention, FFN and experts of each layer.
    fn homes(m: &Machine) -> Vec<[usize; 3]> {
        m.layers
            .iter()
            .map(|h| [h.attn, h.ffn, h.experts])
            .collect()
    }

    #[test]
    fn ngl_offloads_the_output_layer_first_then_the_last_layers() {
        let (model, sys) = (llama(), system());
        // -ngl 0: everything in host memory.
        let flags = ngl(0);
        assert_eq!(
            flags.rules(&model, &sys, "test").unwrap(),
            vec![
                rule(&[TensorClass::All], Some("0-31"), "dram"),
                rule(&[TensorClass::Output, TensorClass::TokenEmbd], None, "dram"),
            ]
        );
        let m = place(&flags, &model, sys.clone());
        assert!(homes(&m).iter().all(|h| *h == [DRAM; 3]));
        assert_eq!((m.output, m.token_embd), (DRAM, DRAM));
        assert_eq!(m.weight_bytes[GPU], m.traffic.output_norm);

        // -ngl 1: the output layer alone.
        let m = place(&ngl(1), &model, sys.clone());
        assert!(homes(&m).iter().all(|h| *h == [DRAM; 3]));
        assert_eq!((m.output, m.token_embd), (GPU, DRAM));

        // -ngl 16: the output layer and the last 15 layers.
        let flags = ngl(16);
        assert_eq!(
            flags.rules(&model, &sys, "test").unwrap(),
            vec![
                rule(&[TensorClass::All], Some("0-16"), "dram"),
                rule(&[TensorClass::All], Some("17-31"), "gpu"),
                rule(&[TensorClass::Output], None, "gpu"),
                rule(&[TensorClass::TokenEmbd], None, "dram"),
            ]
        );
        let m = place(&flags, &model, sys.clone());
        for (l, h) in homes(&m).iter().enumerate() {
            let want = if l >= 17 { GPU } else { DRAM };
            assert_eq!(*h, [want; 3], "layer {l}");
        }
        assert_eq!((m.output, m.token_embd), (GPU, DRAM));

        // -ngl 32 = n_layers: layer 0 stays behind, because the output layer took a slot.
        let m = place(&ngl(32), &model, sys.clone());
        assert_eq!(homes(&m)[0], [DRAM; 3]);
        assert!(homes(&m)[1..].iter().all(|h| *h == [GPU; 3]));
        assert_eq!((m.output, m.token_embd), (GPU, DRAM));

        // -ngl 33 = n_layers + 1 (and anything above): all but the embedding.
        for n in [33, 99] {
            let flags = ngl(n);
            assert_eq!(
                flags.rules(&model, &sys, "test").unwrap(),
                vec![
                    rule(&[TensorClass::All], Some("0-31"), "gpu"),
                    rule(&[TensorClass::Output], None, "gpu"),
                    rule(&[TensorClass::TokenEmbd], None, "dram"),
                ]
            );
            let m = place(&flags, &model, sys.clone());
            assert!(homes(&m).iter().all(|h| *h == [GPU; 3]));
            assert_eq!((m.output, m.token_embd), (GPU, DRAM));
            assert_eq!(m.weight_bytes[DRAM], m.traffic.token_embd);
        }
    }

    #[test]
    fn no_flags_no_rules() {
        let flags = LlamaCppPlacement::default();
        assert!(
            flags
                .rules(&qwen_moe(), &system(), "test")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn exps_on_cpu_moves_the_experts_and_nothing_else() {
        let (model, sys) = (qwen_moe(), system());
        let flags = ot(&["exps=CPU"]);
        assert_eq!(
            flags.rules(&model, &sys, "test").unwrap(),
            vec![rule(&[TensorClass::Experts], Some("0-47"), "dram")]
        );
        let m = place(&flags, &model, sys);
        assert!(homes(&m).iter().all(|h| *h == [GPU, GPU, DRAM]));
        assert_eq!((m.output, m.token_embd), (GPU, GPU));
        let experts: Bytes = m.traffic.layers.iter().map(|l| l.experts_total()).sum();
        assert!((m.weight_bytes[DRAM].0 - experts.0).abs() <= 1e-9 * experts.0);
        assert_eq!(m.weight_bytes[HBF], Bytes::ZERO);
    }

    #[test]
    fn exps_on_a_tier_by_name() {
        let (model, sys) = (qwen_moe(), system());
        let flags = ot(&[r"ffn_(up|down|gate)_exps\.weight=hbf"]);
        let m = place(&flags, &model, sys);
        assert!(homes(&m).iter().all(|h| *h == [GPU, GPU, HBF]));
    }

    #[test]
    fn n_cpu_moe_keeps_the_first_layers_experts_on_the_host() {
        let (model, sys) = (qwen_moe(), system());
        let flags = LlamaCppPlacement {
            n_cpu_moe: Some(10),
            ..Default::default()
        };
        assert_eq!(
            flags.rules(&model, &sys, "test").unwrap(),
            vec![rule(&[TensorClass::Experts], Some("0-9"), "dram")]
        );
        let m = place(&flags, &model, sys.clone());
        for (l, h) in homes(&m).iter().enumerate() {
            let want = if l < 10 { DRAM } else { GPU };
            assert_eq!(*h, [GPU, GPU, want], "layer {l}");
        }
        // Past the last layer it is clamped, as llama.cpp's extra patterns match nothing.
        let flags = LlamaCppPlacement {
            n_cpu_moe: Some(1000),
            ..Default::default()
        };
        assert_eq!(
            flags.rules(&model, &sys, "test").unwrap(),
            vec![rule(&[TensorClass::Experts], Some("0-47"), "dram")]
        );
        // Nothing to keep on a dense model.
        let e = err(&flags, &llama(), &sys);
        assert!(e.contains("n_cpu_moe") && e.contains("no experts"), "{e}");
    }

    #[test]
    fn kv_cache_stays_with_the_layers_ngl_leaves_on_the_cpu_and_nkvo_keeps_it_all_there() {
        let (model, sys) = (llama(), system());
        let first_gpu = |flags: LlamaCppPlacement| {
            flags
                .kv_on_host(&model, &sys, "test")
                .unwrap()
                .map(|h| (h.tier, h.first_gpu_layer))
        };
        // 32 layers and the output layer: -ngl 1 offloads the output only, -ngl 33 all.
        for (n, expect) in [
            (0, Some((DRAM, 32))),
            (1, Some((DRAM, 32))),
            (2, Some((DRAM, 31))),
            (32, Some((DRAM, 1))),
            (33, None),
            (99, None),
        ] {
            assert_eq!(first_gpu(ngl(n)), expect, "-ngl {n}");
        }
        let nkvo = LlamaCppPlacement {
            no_kv_offload: true,
            ..ngl(99)
        };
        assert!(!nkvo.is_unset());
        assert_eq!(first_gpu(nkvo), Some((DRAM, 32)));
        // -ot moves weights, never a layer's KV cache.
        let ot = LlamaCppPlacement {
            override_tensors: vec!["blk\\.[0-9]\\.=CPU".into()],
            ..Default::default()
        };
        assert_eq!(first_gpu(ot), None);

        let e = ngl(0)
            .kv_on_host(&model, &system_without_dram(), "test")
            .unwrap_err()
            .to_string();
        assert!(e.contains("n_gpu_layers") && e.contains("KV cache"), "{e}");
    }

    #[test]
    fn ngl_with_overrides_the_usual_moe_recipe() {
        let (model, sys) = (qwen_moe(), system());
        // `-ngl 99 -ot exps=CPU`: dense part on the GPU, experts in host memory.
        let flags = LlamaCppPlacement {
            n_gpu_layers: Some(99),
            override_tensors: vec!["exps=CPU".into()],
            ..Default::default()
        };
        assert_eq!(
            flags.rules(&model, &sys, "test").unwrap(),
            vec![
                rule(&[TensorClass::All], Some("0-47"), "gpu"),
                rule(&[TensorClass::Experts], Some("0-47"), "dram"),
                rule(&[TensorClass::Output], None, "gpu"),
                rule(&[TensorClass::TokenEmbd], None, "dram"),
            ]
        );
        let m = place(&flags, &model, sys.clone());
        assert!(homes(&m).iter().all(|h| *h == [GPU, GPU, DRAM]));
        assert_eq!((m.output, m.token_embd), (GPU, DRAM));

        // `-ngl 40 --n-cpu-moe 5`: layers 0-8 on the host whole, experts of 0-4 there anyway;
        // the rules need no exception for them.
        let flags = LlamaCppPlacement {
            n_gpu_layers: Some(40),
            n_cpu_moe: Some(5),
            ..Default::default()
        };
        assert_eq!(
            flags.rules(&model, &sys, "test").unwrap(),
            vec![
                rule(&[TensorClass::All], Some("0-8"), "dram"),
                rule(&[TensorClass::All], Some("9-47"), "gpu"),
                rule(&[TensorClass::Output], None, "gpu"),
                rule(&[TensorClass::TokenEmbd], None, "dram"),
            ]
        );
        // -ot can also bring a CPU layer's tensors to the GPU.
        let flags = LlamaCppPlacement {
            n_gpu_layers: Some(0),
            override_tensors: vec![r"blk\.(0|1|2)\.=CUDA0".into()],
            ..Default::default()
        };
        let m = place(&flags, &model, sys);
        for (l, h) in homes(&m).iter().enumerate() {
            let want = if l < 3 { GPU } else { DRAM };
            assert_eq!(*h, [want; 3], "layer {l}");
        }
    }

    #[test]
    fn the_first_matching_pattern_wins() {
        let (model, sys) = (qwen_moe(), system());
        // Layer 0's experts match both; the earlier entry decides, as in llama.cpp.
        let flags = ot(&[r"blk\.0\.ffn_.*_exps=hbf", "exps=CPU"]);
        assert_eq!(
            flags.rules(&model, &sys, "test").unwrap(),
            vec![
                rule(&[TensorClass::Experts], Some("0"), "hbf"),
                rule(&[TensorClass::Experts], Some("1-47"), "dram"),
            ]
        );
        let m = place(&flags, &model, sys.clone());
        assert_eq!(homes(&m)[0], [GPU, GPU, HBF]);
        assert!(homes(&m)[1..].iter().all(|h| *h == [GPU, GPU, DRAM]));
        // -ot entries come before --n-cpu-moe's patterns.
        let flags = LlamaCppPlacement {
            override_tensors: vec!["exps=hbf".into()],
            n_cpu_moe: Some(10),
            ..Default::default()
        };
        let m = place(&flags, &model, sys.clone());
        assert!(homes(&m).iter().all(|h| *h == [GPU, GPU, HBF]));
        // Several overrides to one entry, split on commas like the flag's value.
        let flags = ot(&[r"blk\.[0-3]\.=hbf,exps=CPU"]);
        let m = place(&flags, &model, sys);
        assert!(homes(&m)[..4].iter().all(|h| *h == [HBF; 3]));
        assert!(homes(&m)[4..].iter().all(|h| *h == [GPU, GPU, DRAM]));
    }

    #[test]
    fn scattered_layers_share_one_rule() {
        let (model, sys) = (qwen_moe(), system());
        let flags = ot(&[r"blk\.([0-3]|7|4[0-7])\.ffn_.*_exps=CPU"]);
        assert_eq!(
            flags.rules(&model, &sys, "test").unwrap(),
            vec![rule(&[TensorClass::Experts], Some("0-3,7,40-47"), "dram")]
        );
        // A whole block moves as `all`.
        let flags = ot(&[r"blk\.(5|6)\.=CPU"]);
        assert_eq!(
            flags.rules(&model, &sys, "test").unwrap(),
            vec![rule(&[TensorClass::All], Some("5-6"), "dram")]
        );
    }

    #[test]
    fn output_and_embedding_by_pattern() {
        let (model, sys) = (llama(), system());
        let flags = ot(&[r"^output\.weight=hbf", "token_embd=CPU"]);
        assert_eq!(
            flags.rules(&model, &sys, "test").unwrap(),
            vec![
                rule(&[TensorClass::Output], None, "hbf"),
                rule(&[TensorClass::TokenEmbd], None, "dram"),
            ]
        );
        let m = place(&flags, &model, sys);
        assert_eq!((m.output, m.token_embd), (HBF, DRAM));
    }

    #[test]
    fn a_pattern_matching_nothing_is_an_error() {
        let e = err(&ot(&["foo=CPU"]), &qwen_moe(), &system());
        assert!(
            e.contains("-ot `foo=CPU` matches no tensor of qwen3-30b-a3b-iq4_xs")
                && e.contains("blk.0.ffn_gate_exps.weight"),
            "{e}"
        );
        // Experts do not exist in a dense model.
        let e = err(&ot(&["exps=CPU"]), &llama(), &system());
        assert!(e.contains("matches no tensor of llama-3.1-8b"), "{e}");
    }

    #[test]
    fn a_pattern_splitting_a_class_is_an_error() {
        let e = err(&ot(&["ffn_up_exps=CPU"]), &qwen_moe(), &system());
        assert!(
            e.contains(
                "-ot `ffn_up_exps=CPU` matches ffn_up_exps but not ffn_gate_exps/ffn_down_exps \
                 of layer 0"
            ) && e.contains("as wholes"),
            "{e}"
        );
        // Against -ngl the message says where the rest went.
        let flags = LlamaCppPlacement {
            n_gpu_layers: Some(99),
            override_tensors: vec!["attn_q=hbf".into()],
            ..Default::default()
        };
        let e = err(&flags, &llama(), &system());
        assert!(
            e.contains("(attn_k/attn_v/attn_output: to `gpu` by -ngl 99)"),
            "{e}"
        );
        // Splitting the class to one tier is harmless: every matrix ends up together.
        let flags = LlamaCppPlacement {
            n_gpu_layers: Some(0),
            override_tensors: vec!["ffn_up=CPU".into()],
            ..Default::default()
        };
        flags.rules(&llama(), &system(), "test").unwrap();
    }

    #[test]
    fn bad_entries_are_errors() {
        let (model, sys) = (qwen_moe(), system());
        let e = err(&ot(&["exps=NPU0"]), &model, &sys);
        assert!(
            e.contains("buffer `NPU0` is unknown")
                && e.contains("CUDA0")
                && e.contains("gpu, dram, hbf"),
            "{e}"
        );
        let e = err(&ot(&["exps"]), &model, &sys);
        assert!(e.contains("-ot `exps` has no `=`"), "{e}");
        let e = err(&ot(&["exps(=CPU"]), &model, &sys);
        assert!(e.contains("not a valid regular expression"), "{e}");
        let e = err(
            &LlamaCppPlacement {
                host_tier: Some("ram".into()),
                ..ot(&["exps=CPU"])
            },
            &model,
            &sys,
        );
        assert!(
            e.contains("host_tier") && e.contains("names tier `ram`"),
            "{e}"
        );
    }

    #[test]
    fn buffer_names() {
        let (model, sys) = (qwen_moe(), system());
        for gpu in ["CUDA0", "cuda1", "ROCm0", "Vulkan0", "Metal", "GPU", "gpu"] {
            let flags = LlamaCppPlacement {
                n_gpu_layers: Some(0),
                override_tensors: vec![format!("exps={gpu}")],
                ..Default::default()
            };
            let m = place(&flags, &model, sys.clone());
            assert!(homes(&m).iter().all(|h| *h == [DRAM, DRAM, GPU]), "{gpu}");
        }
        for cpu in ["CPU", "cpu"] {
            let m = place(&ot(&[&format!("exps={cpu}")]), &model, sys.clone());
            assert!(homes(&m).iter().all(|h| *h == [GPU, GPU, DRAM]), "{cpu}");
        }
        // host_tier redirects CPU.
        let flags = LlamaCppPlacement {
            host_tier: Some("hbf".into()),
            ..ot(&["exps=CPU"])
        };
        let m = place(&flags, &model, sys);
        assert!(homes(&m).iter().all(|h| *h == [GPU, GPU, HBF]));
    }

    #[test]
    fn cpu_needs_a_host_tier() {
        let sys = system_without_dram();
        let e = err(&ot(&["exps=CPU"]), &qwen_moe(), &sys);
        assert!(
            e.contains("override_tensors")
                && e.contains("-ot `exps=CPU`")
                && e.contains("no `dram` tier")
                && e.contains("host_tier"),
            "{e}"
        );
        // -ngl keeps the embedding on the host even when it offloads everything else.
        let e = err(&ngl(99), &llama(), &sys);
        assert!(
            e.contains("n_gpu_layers") && e.contains("keeps the token embedding"),
            "{e}"
        );
        let e = err(
            &LlamaCppPlacement {
                n_cpu_moe: Some(4),
                ..Default::default()
            },
            &qwen_moe(),
            &sys,
        );
        assert!(
            e.contains("--n-cpu-moe 4") && e.contains("no `dram` tier"),
            "{e}"
        );
        // Unless the embedding is sent elsewhere, or a tier is named for CPU.
        let flags = LlamaCppPlacement {
            n_gpu_layers: Some(99),
            override_tensors: vec!["token_embd=hbf".into()],
            ..Default::default()
        };
        place(&flags, &llama(), sys.clone());
        let flags = LlamaCppPlacement {
            host_tier: Some("hbf".into()),
            ..ngl(99)
        };
        let m = place(&flags, &llama(), sys);
        assert_eq!(m.token_embd, 1);
    }

    #[test]
    fn a_cpu_only_machine_is_its_own_host() {
        let mut sys = system();
        sys.tiers.truncate(1);
        sys.tiers[0].kind = TierKind::Dram;
        let flags = ngl(0);
        assert_eq!(
            flags.rules(&llama(), &sys, "test").unwrap(),
            vec![
                rule(&[TensorClass::All], Some("0-31"), "gpu"),
                rule(&[TensorClass::Output, TensorClass::TokenEmbd], None, "gpu"),
            ]
        );
        let m = place(&flags, &llama(), sys);
        assert_eq!(m.weight_bytes.len(), 1);
    }

    #[test]
    fn parses_from_yaml() {
        let text =
            "n_gpu_layers: 99\noverride_tensors: ['exps=CPU']\nn_cpu_moe: 3\nhost_tier: dram\n";
        let p: LlamaCppPlacement = serde_yaml::from_str(text).unwrap();
        assert_eq!(p.n_gpu_layers, Some(99));
        assert_eq!(p.override_tensors, vec!["exps=CPU"]);
        assert_eq!(p.n_cpu_moe, Some(3));
        assert_eq!(p.host_tier.as_deref(), Some("dram"));
        let empty: LlamaCppPlacement = serde_yaml::from_str("{}").unwrap();
        assert_eq!(empty, LlamaCppPlacement::default());
        assert!(serde_yaml::from_str::<LlamaCppPlacement>("ngl: 3").is_err());
        let back: LlamaCppPlacement =
            serde_yaml::from_str(&serde_yaml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn tensor_names_follow_the_model() {
        let names = |m: &ModelSpec| -> Vec<String> {
            model_tensors(m)
                .into_iter()
                .filter(|t| t.layer == Some(0))
                .map(|t| t.name)
                .collect()
        };
        let q = names(&qwen_moe());
        for n in [
            "blk.0.attn_q_norm.weight",
            "blk.0.ffn_gate_inp.weight",
            "blk.0.ffn_gate_exps.weight",
        ] {
            assert!(q.iter().any(|x| x == n), "{n} in {q:?}");
        }
        assert!(
            !q.iter()
                .any(|x| x.contains("shexp") || x == "blk.0.ffn_up.weight")
        );
        let l = names(&llama());
        assert!(l.iter().any(|x| x == "blk.0.ffn_gate.weight"));
        assert!(!l.iter().any(|x| x.contains("exps") || x.contains("bias")));
        let qwen2 = names(&model("qwen2.5-3b-instruct-q4_k_m"));
        assert!(qwen2.iter().any(|x| x == "blk.0.attn_v.bias"));
        let gemma = names(&model("gemma-3-270m-q4_k_m"));
        assert!(gemma.iter().any(|x| x == "blk.0.post_ffw_norm.weight"));
        // Tied embeddings: no output.weight to match.
        assert!(
            !model_tensors(&model("smollm2-135m-instruct-q4_1"))
                .iter()
                .any(|t| t.name == "output.weight")
        );
    }

    #[test]
    fn runs_skip_absent_layers_and_stop_at_undecided_ones() {
        use Fill::*;
        let r = runs(&[Must(1), Any, Must(1), Never, Must(1), May(1), Must(2), Any]);
        assert_eq!(
            r.into_iter().collect::<Vec<_>>(),
            vec![(1, vec![(0, 2), (4, 4)]), (2, vec![(6, 6)])]
        );
    }
}
