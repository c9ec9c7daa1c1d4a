//! Where the KV cache lives as the context grows (DESIGN §2.2).
//!
//! Oldest-first: every global layer keeps its newest tokens in the first KV tier up to the
//! budget; older tokens sit in the next tier, and the oldest of all in the one after when that
//! is full. Sliding-window layers keep at most `window` tokens and never spill. Whole-layers:
//! the last layers' KV lives entirely in the next tier, as many layers as the budget requires at
//! the test's largest context.
//!
//! llama.cpp's flags can pin layers: under `-ngl` the layers left on the CPU keep their whole KV
//! cache in the host tier (all layers under `-nkvo`), outside the spill placement, and that
//! tier's room for spilled KV shrinks by what they hold.

use crate::config::error::ConfigError;
use crate::config::system::SpillPolicy;
use crate::model::quant::QuantType;
use crate::sim::machine::{Machine, overflow};
use crate::units::Bytes;

/// KV residency for one test: a pure function of the context length.
#[derive(Debug, Clone, PartialEq)]
pub struct KvLayout {
    /// KV bytes one token adds to one layer.
    pub per_token: Bytes,
    /// KV tiers (indices into the system's tiers), fastest first.
    pub tiers: Vec<usize>,
    /// Whether K or V is stored quantised (`q8_0`...), which attention must dequantise.
    pub quantized: bool,
    /// Oldest-first: tokens of a global layer each KV tier holds (the last is unbounded when
    /// it fits). Whole-layers: unused.
    caps: Vec<u64>,
    /// Whole-layers: the KV tier (position in `tiers`) of each layer.
    layer_tier: Option<Vec<usize>>,
    /// Layers pinned by llama.cpp's flags: those below `.0` keep their KV at position `.1`.
    pinned: Option<(usize, usize)>,
}

/// What one layer's KV does during one step: bytes read and written per KV tier position.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KvFlow {
    /// Tokens of cached context read for attention, per KV tier position.
    pub read_tokens: [u64; MAX_KV_TIERS],
    /// Tokens written (new tokens and evictions into it), per KV tier position.
    pub write_tokens: [u64; MAX_KV_TIERS],
}

/// The most KV tiers a placement may chain.
pub const MAX_KV_TIERS: usize = 4;

impl KvLayout {
    /// Lays out the KV cache of `m` for contexts up to `max_ctx` tokens, or says what overflows.
    pub fn new(
        m: &Machine,
        type_k: QuantType,
        type_v: QuantType,
        max_ctx: u64,
    ) -> Result<Self, ConfigError> {
        Self::for_batch(m, type_k, type_v, max_ctx, 1)
    }

    /// Lays out the KV cache of `seqs` sequences of up to `max_ctx` tokens each. Every tier's
    /// room is split evenly between them, as llama.cpp's server splits its context between
    /// parallel slots; each sequence spills within its share.
    pub fn for_batch(
        m: &Machine,
        type_k: QuantType,
        type_v: QuantType,
        max_ctx: u64,
        seqs: u32,
    ) -> Result<Self, ConfigError> {
        let kv = &m.system.placement.kv;
        let quantized = !(type_k.is_float() && type_v.is_float());
        let mut tiers: Vec<usize> = kv
            .tiers
            .iter()
            .map(|n| m.tier_index(n).expect("validated"))
            .collect();
        // The spill chain is the placement's tiers; a host tier holding pinned layers joins
        // the positions after it when it is not in the chain already.
        let chain = tiers.len();
        let pinned = m.kv_on_host.map(|h| {
            let pos = tiers.iter().position(|&t| t == h.tier).unwrap_or_else(|| {
                tiers.push(h.tier);
                tiers.len() - 1
            });
            (h.first_gpu_layer as usize, pos)
        });
        if tiers.len() > MAX_KV_TIERS {
            let host = if tiers.len() > chain {
                " with llama.cpp's host tier"
            } else {
                ""
            };
            return Err(ConfigError::invalid(
                &m.system.name,
                "placement.kv.tiers",
                format!(
                    "lists {} tiers{host}; at most {MAX_KV_TIERS} are supported",
                    tiers.len()
                ),
            ));
        }
        let per_token = m.traffic.kv_per_token(type_k, type_v);
        let t = &m.traffic;
        let share = 1.0 / f64::from(seqs.max(1));
        let is_pinned = |l: usize| pinned.is_some_and(|(below, _)| l < below);
        // What the pinned layers hold per sequence at the largest context, checked first.
        let pinned_bytes: Bytes = (0..t.layers.len())
            .filter(|&l| is_pinned(l))
            .map(|l| per_token * t.attended(l, max_ctx) as f64)
            .sum();
        let free = |pos: usize| {
            let tier = tiers[pos];
            let free = (m.system.tiers[tier].capacity - m.weight_bytes[tier]) * share;
            match pinned {
                Some((_, p)) if p == pos => free - pinned_bytes,
                _ => free,
            }
        };
        let room = |pos: usize| {
            let free = free(pos);
            match (pos, kv.budget) {
                (0, Some(b)) => (b * share).min(free),
                _ => free,
            }
        };
        let what = |ctx: u64| {
            let seqs = if seqs > 1 {
                format!(" in each of {seqs} sequences")
            } else {
                String::new()
            };
            format!(
                "the KV cache at {ctx} tokens{seqs} ({} of {} per token and layer)",
                per_token, m.model.name
            )
        };
        if let Some((_, pos)) = pinned
            && free(pos).0 < 0.0
        {
            let tier = tiers[pos];
            return Err(overflow(
                format!("{}, kept on the host by llama.cpp's flags", what(max_ctx)),
                &m.system.tiers[tier].name,
                (m.system.tiers[tier].capacity - m.weight_bytes[tier]) * share,
                pinned_bytes,
            ));
        }
        let n_global = (0..t.layers.len())
            .filter(|&l| t.layers[l].global && !is_pinned(l))
            .count() as f64;
        let swa: Bytes = (0..t.layers.len())
            .filter(|&l| !t.layers[l].global && !is_pinned(l))
            .map(|l| per_token * t.attended(l, max_ctx) as f64)
            .sum();

        match kv.policy {
            SpillPolicy::OldestFirst => {
                let global_per_token = per_token * n_global;
                let mut caps = Vec::with_capacity(tiers.len());
                let mut left = max_ctx;
                for pos in 0..chain {
                    let mut r = room(pos);
                    if pos == 0 {
                        if swa > r {
                            return Err(overflow(
                                what(max_ctx),
                                &m.system.tiers[tiers[0]].name,
                                r,
                                swa,
                            ));
                        }
                        r = r - swa;
                    }
                    let cap = if global_per_token.0 > 0.0 {
                        (r / global_per_token).floor().max(0.0) as u64
                    } else {
                        u64::MAX
                    };
                    caps.push(cap);
                    left = left.saturating_sub(cap);
                }
                if left > 0 {
                    let last = chain - 1;
                    let need = global_per_token * (left + caps[last]) as f64;
                    return Err(overflow(
                        what(max_ctx),
                        &m.system.tiers[tiers[last]].name,
                        room(last),
                        need,
                    ));
                }
                // A host tier outside the chain takes no spilled tokens.
                caps.resize(tiers.len(), 0);
                Ok(Self {
                    per_token,
                    quantized,
                    tiers,
                    caps,
                    layer_tier: None,
                    pinned,
                })
            }
            SpillPolicy::WholeLayers => {
                let layer_bytes = |l: usize| per_token * t.attended(l, max_ctx) as f64;
                let mut assign = vec![0usize; t.layers.len()];
                let mut used = vec![Bytes::ZERO; tiers.len()];
                // The first layers stay fastest: fill tiers front to back in layer order.
                let mut pos = 0;
                for (l, slot) in assign.iter_mut().enumerate() {
                    if let Some((_, p)) = pinned.filter(|_| is_pinned(l)) {
                        *slot = p;
                        continue;
                    }
                    let need = layer_bytes(l);
                    while used[pos] + need > room(pos) && pos + 1 < chain {
                        pos += 1;
                    }
                    if used[pos] + need > room(pos) {
                        return Err(overflow(
                            what(max_ctx),
                            &m.system.tiers[tiers[pos]].name,
                            room(pos),
                            used[pos] + need,
                        ));
                    }
                    used[pos] += need;
                    *slot = pos;
                }
                Ok(Self {
                    per_token,
                    quantized,
                    tiers,
                    caps: Vec::new(),
                    layer_tier: Some(assign),
                    pinned,
                })
            }
        }
    }

    /// Global-layer tokens at KV tier position `pos` or beyond, when `ctx` tokens are cached.
    fn beyond(&self, pos: usize, ctx: u64) -> u64 {
        ctx.saturating_sub(
            self.caps[..pos]
                .iter()
                .fold(0u64, |a, &c| a.saturating_add(c)),
        )
    }

    /// The tier holding all of layer `layer`'s KV cache because llama.cpp's flags keep it on
    /// the host, if they do.
    pub fn host_tier(&self, layer: usize) -> Option<usize> {
        self.pinned
            .filter(|&(below, _)| layer < below)
            .map(|(_, pos)| self.tiers[pos])
    }

    /// Whether layers `a` and `b` keep their KV cache alike (both pinned to the host or
    /// neither; the same tier under whole-layers), so that two layers of equal traffic have
    /// equal flows at every context.
    pub fn same_placement(&self, a: usize, b: usize) -> bool {
        let pinned = |l: usize| self.pinned.is_some_and(|(below, _)| l < below);
        pinned(a) == pinned(b) && self.layer_tier.as_ref().is_none_or(|t| t[a] == t[b])
    }

    /// The flow of layer `layer` for one sequence adding `tokens` tokens after `ctx` cached ones.
    pub fn flow(&self, m: &Machine, layer: usize, ctx: u64, tokens: u32) -> KvFlow {
        let mut f = KvFlow::default();
        let t = u64::from(tokens);
        let attended = m.traffic.attended(layer, ctx);
        let whole = match self.pinned {
            Some((below, pos)) if layer < below => Some(pos),
            _ => self.layer_tier.as_ref().map(|assign| assign[layer]),
        };
        if let Some(pos) = whole {
            f.read_tokens[pos] = attended;
            f.write_tokens[pos] = t;
            return f;
        }
        if !m.traffic.layers[layer].global {
            f.read_tokens[0] = attended;
            f.write_tokens[0] = t;
            return f;
        }
        for pos in 0..self.tiers.len() {
            f.read_tokens[pos] = self.beyond(pos, ctx) - self.beyond(pos + 1, ctx);
            // Tokens entering this tier: the growth of everything at or beyond it.
            f.write_tokens[pos] = if pos == 0 {
                t
            } else {
                self.beyond(pos, ctx + t) - self.beyond(pos, ctx)
            };
        }
        // Evictions also read the moved tokens out of a device tier before writing them deeper.
        for pos in 1..self.tiers.len() {
            let moved_out = self.beyond(pos + 1, ctx + t) - self.beyond(pos + 1, ctx);
            f.read_tokens[pos] += moved_out;
        }
        f
    }
}
