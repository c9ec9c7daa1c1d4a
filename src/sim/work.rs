//! What one step asks of each layer: compute time and bytes per tier (DESIGN §2.1, §2.4).

use crate::config::system::HostCompute;
use crate::model::traffic::ModelTraffic;
use crate::sim::compute::{self, Class};
use crate::sim::experts::{ExpertReads, Experts};
use crate::sim::kv::{KvFlow, KvLayout};
use crate::sim::machine::Machine;
use crate::units::{Bytes, Flops, Seconds, SimTime};

/// One forward pass of `seqs` sequences at the same point: each has `ctx` cached tokens and
/// adds `tokens`; `outputs` tokens get logits.
///
/// The weights are read once for the whole batch; KV is read and written per sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Tokens each sequence has cached before the step.
    pub ctx: u64,
    /// Tokens each sequence processes (the ubatch, or 1 when decoding).
    pub tokens: u32,
    /// Tokens whose logits are computed (1 per sequence in llama-bench's tests).
    pub outputs: u32,
    /// Sequences in the step (1 in llama-bench).
    pub seqs: u32,
}

impl Step {
    /// A single sequence's step.
    pub fn single(ctx: u64, tokens: u32, outputs: u32) -> Self {
        Self {
            ctx,
            tokens,
            outputs,
            seqs: 1,
        }
    }

    /// The step's sequences as one group.
    pub fn group(&self) -> Group {
        Group {
            ctx: self.ctx,
            tokens: self.tokens,
            count: self.seqs.max(1),
        }
    }
}

/// Sequences at the same point of a batched step: `count` of them, each with `ctx` cached
/// tokens, each adding `tokens`. A serving step lists one group per running request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// Tokens each sequence has cached.
    pub ctx: u64,
    /// Tokens each sequence adds.
    pub tokens: u32,
    /// Sequences in the group.
    pub count: u32,
}

impl Group {
    /// New tokens of the whole group.
    pub fn new_tokens(&self) -> u32 {
        self.tokens.saturating_mul(self.count)
    }
}

/// llama.cpp settings that change which kernels a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelOptions {
    /// Flash attention (`-fa`): one fused attention node instead of separate score, softmax
    /// and value products.
    pub flash_attn: bool,
    /// Weight repacking at load (`--repack`).
    pub repack: bool,
}

impl Default for KernelOptions {
    /// llama-bench's defaults on a CPU: flash attention `auto` (on), repacking on.
    fn default() -> Self {
        Self {
            flash_attn: true,
            repack: true,
        }
    }
}

/// Per-layer demands of a step; the output head is the last "layer".
///
/// Demands are kept per *row*, and each layer points at its row: a layer that repeats an earlier
/// one shares its row instead of holding a copy, so a step of a model with a few distinct
/// layers plans (and, when they touch no device, runs) those few.
#[derive(Debug, Clone, Default)]
pub struct StepWork {
    tiers: usize,
    /// Per layer, its row.
    rows: Vec<usize>,
    /// Per row, the roofline time of its layers, overhead included.
    compute: Vec<SimTime>,
    /// Per row, bytes moved in the compute-local tier (reads and writes).
    local: Vec<Bytes>,
    /// Per row, the time the local tier's memory stream spends on those bytes.
    local_time: Vec<SimTime>,
    /// Per row, whether its layers read from or write to a device tier.
    remote: Vec<bool>,
    /// Per row and tier, bytes read and written.
    reads: Vec<Bytes>,
    writes: Vec<Bytes>,
    /// Bytes host processors read in place from each tier over the whole step.
    host_reads: Vec<Bytes>,
    /// Bytes host processors write in place to each tier (KV cache they hold).
    host_writes: Vec<Bytes>,
    /// Per layer, the first layer from 1 on with the same weights, kernels and homes (itself
    /// when there is none; layer 0, which also reads the token embedding, is its own). Empty:
    /// not known.
    proto: Vec<usize>,
    /// The host-tier additions of the layers planned in full, `(written, tier, bytes)`, replayed
    /// in order for their copies so that the totals round exactly as in full; and each row's
    /// span of them.
    ledger: Vec<(bool, usize, Bytes)>,
    ledger_span: Vec<(usize, usize)>,
    /// Per group of the step, its KV flow and attention FLOPs per sequence in the layer planned
    /// in full last: the next such layer with the same KV placement has the same ones.
    flows: Vec<(KvFlow, Flops)>,
}

impl StepWork {
    /// An empty plan for steps on `m`, knowing which of its layers repeat an earlier one: a
    /// step plans such a layer by copying that layer's demands when the KV layout places their
    /// caches alike too, which is most layers of most models (a model's layers come in a few
    /// quantisation mixes). Only plan steps on `m` with it.
    pub fn new(m: &Machine) -> Self {
        let t = &m.traffic;
        let same = |a: usize, b: usize| {
            t.layers[a] == t.layers[b]
                && t.kernels.get(a) == t.kernels.get(b)
                && m.layers[a] == m.layers[b]
        };
        // Scanning the distinct layers only: a model has a few, so this is linear in practice.
        let mut distinct: Vec<usize> = Vec::new();
        let proto = (0..t.layers.len())
            .map(|l| {
                if l == 0 {
                    return 0;
                }
                distinct
                    .iter()
                    .copied()
                    .find(|&p| same(p, l))
                    .unwrap_or_else(|| {
                        distinct.push(l);
                        l
                    })
            })
            .collect();
        Self {
            proto,
            ..Self::default()
        }
    }

    /// Layers including the output head.
    pub fn layers(&self) -> usize {
        self.rows.len()
    }

    /// Roofline time of layer `l`, overhead included.
    #[inline]
    pub fn compute(&self, l: usize) -> SimTime {
        self.compute[self.rows[l]]
    }

    /// Bytes layer `l` moves in the compute-local tier (reads and writes).
    #[inline]
    pub fn local(&self, l: usize) -> Bytes {
        self.local[self.rows[l]]
    }

    /// Time the local tier's memory stream spends on layer `l`'s bytes.
    #[inline]
    pub fn local_time(&self, l: usize) -> SimTime {
        self.local_time[self.rows[l]]
    }

    /// Whether layer `l` reads from or writes to a device tier.
    #[inline]
    pub fn remote(&self, l: usize) -> bool {
        self.remote[self.rows[l]]
    }

    /// Tiers of the system.
    pub fn tiers(&self) -> usize {
        self.tiers
    }

    /// Bytes layer `l` reads from tier `tier`.
    #[inline]
    pub fn read(&self, l: usize, tier: usize) -> Bytes {
        self.reads[self.rows[l] * self.tiers + tier]
    }

    /// Bytes layer `l` writes to tier `tier` when it finishes.
    #[inline]
    pub fn write(&self, l: usize, tier: usize) -> Bytes {
        self.writes[self.rows[l] * self.tiers + tier]
    }

    /// Bytes a host processor reads in place from tier `tier` over the whole step.
    pub fn host_read(&self, tier: usize) -> Bytes {
        self.host_reads[tier]
    }

    /// Bytes a host processor writes in place to tier `tier` over the whole step.
    pub fn host_write(&self, tier: usize) -> Bytes {
        self.host_writes[tier]
    }

    /// Remote bytes layer `l` reads from every device tier.
    pub fn remote_reads(&self, l: usize) -> Bytes {
        (1..self.tiers).map(|t| self.read(l, t)).sum()
    }

    /// Fills in the demands of a step over `groups` of sequences, `outputs` of whose tokens
    /// get logits, on machine `m` with KV layout `kv`, reusing allocations. With `experts`, MoE
    /// layers read the experts their tokens are routed to (and the cache serves what it holds);
    /// without, the expected count under uniform routing. `options` are llama.cpp's
    /// flash-attention and repacking settings.
    pub fn plan(
        &mut self,
        m: &Machine,
        kv: &KvLayout,
        groups: &[Group],
        outputs: u32,
        mut experts: Option<&mut Experts>,
        options: KernelOptions,
    ) {
        let t: &ModelTraffic = &m.traffic;
        self.tiers = m.system.tiers.len();
        self.rows.clear();
        self.compute.clear();
        self.local.clear();
        self.local_time.clear();
        self.remote.clear();
        self.reads.clear();
        self.writes.clear();
        self.host_reads.clear();
        self.host_reads.resize(self.tiers, Bytes::ZERO);
        self.host_writes.clear();
        self.host_writes.resize(self.tiers, Bytes::ZERO);
        let tiers = self.tiers;
        let batch: u32 = groups.iter().map(Group::new_tokens).sum();
        let matmul = m.matmul_rate(batch);
        let per_seq = groups.iter().map(|g| g.tokens).max().unwrap_or(1);
        let attention =
            compute::attention_rate(&m.system.compute, per_seq, kv.quantized, options.flash_attn);
        let overhead = m.system.compute.layer_overhead;
        let tokens = f64::from(batch);

        // Routing draws experts layer by layer, so a routed step plans every layer in full.
        let reuse = experts.is_none() && self.proto.len() == t.layers.len();
        self.ledger.clear();
        self.ledger_span.clear();
        // The layer whose flows `self.flows` holds.
        let mut flows_of = None;
        for (l, (w, homes)) in t.layers.iter().zip(&m.layers).enumerate() {
            let p = if reuse { self.proto[l] } else { l };
            if p < l && kv.same_placement(l, p) {
                self.rows.push(self.rows[p]);
                let (from, to) = self.ledger_span[self.rows[p]];
                for &(written, tier, bytes) in &self.ledger[from..to] {
                    if written {
                        self.host_writes[tier] += bytes;
                    } else {
                        self.host_reads[tier] += bytes;
                    }
                }
                continue;
            }
            let ledger_from = self.ledger.len();
            let row = self.compute.len();
            self.rows.push(row);
            self.reads.resize((row + 1) * tiers, Bytes::ZERO);
            self.writes.resize((row + 1) * tiers, Bytes::ZERO);
            let reads = &mut self.reads[row * tiers..];
            let writes = &mut self.writes[row * tiers..];
            let mut host = HostWork::default();
            // Kernel time of the classes the device computes (per-kernel model only).
            let mut device_kernels = Seconds::ZERO;
            for (home, bytes, params, class) in [
                (homes.attn, w.attn, w.attn_params, Class::Attn),
                (homes.ffn, w.ffn, w.ffn_params, Class::Ffn),
            ] {
                match m.host_compute(home, batch) {
                    Some(h) => {
                        host.add(h, bytes, Flops(2.0 * params * tokens));
                        self.host_reads[home] += bytes;
                        self.ledger.push((false, home, bytes));
                    }
                    None => {
                        reads[home] += bytes;
                        if let Some(k) = &m.kernels {
                            device_kernels += k.class_time(l, class, batch, options.repack);
                        }
                    }
                }
            }
            let routed = Flops(2.0 * w.expert_params * f64::from(w.experts_per_token) * tokens);
            let expert_host = m.host_compute(homes.experts, batch);
            let r = match experts.as_deref_mut() {
                // A host that computes its own experts keeps the misses: nothing is copied in.
                Some(x) => x.route(m, l, batch, expert_host.is_none()),
                None => ExpertReads {
                    home: w.expert * w.experts_read(batch),
                    ..ExpertReads::default()
                },
            };
            reads[0] += r.cached;
            writes[0] += r.fill;
            // Experts the step's tokens use: counted by the router, else expected.
            let distinct = if r.hits + r.misses > 0 {
                f64::from(r.hits + r.misses)
            } else {
                w.experts_read(batch)
            };
            match expert_host {
                Some(h) => {
                    // Tokens' expert uses split between device and host as their experts do.
                    let routed_to = r.hits + r.misses;
                    let host_share = if routed_to > 0 {
                        f64::from(r.misses) / f64::from(routed_to)
                    } else {
                        1.0
                    };
                    host.add(h, r.home, routed * host_share);
                    self.host_reads[homes.experts] += r.home;
                    self.ledger.push((false, homes.experts, r.home));
                    if let Some(k) = &m.kernels {
                        let pairs = w.experts_per_token.saturating_mul(batch);
                        device_kernels +=
                            k.expert_time(l, pairs, distinct, options.repack) * (1.0 - host_share);
                    }
                }
                None => {
                    reads[homes.experts] += r.home;
                    if let Some(k) = &m.kernels {
                        let pairs = w.experts_per_token.saturating_mul(batch);
                        device_kernels += k.expert_time(l, pairs, distinct, options.repack);
                    }
                }
            }
            if l == 0 {
                reads[m.token_embd] += t.embd_row * tokens;
            }
            let weights_local = reads[0] + writes[0];
            let mut attention_flops = Flops(0.0);
            // llama.cpp computes attention where the KV cache is: a host holding a layer's
            // whole cache reads and writes it in place, with no copy over the link.
            let kv_host = kv
                .host_tier(l)
                .and_then(|tier| Some((tier, m.system.tiers[tier].compute.as_ref()?)));
            let mut host_kv = (Bytes::ZERO, Flops(0.0));
            let same_flows = flows_of.is_some_and(|f: usize| {
                kv.same_placement(l, f) && t.layers[l].global == t.layers[f].global
            });
            if !same_flows {
                self.flows.clear();
                self.flows.extend(groups.iter().map(|g| {
                    (
                        kv.flow(m, l, g.ctx, g.tokens),
                        t.attention_flops(l, g.ctx, g.tokens),
                    )
                }));
                flows_of = Some(l);
            }
            for (g, &(flow, flops)) in groups.iter().zip(&self.flows) {
                let count = f64::from(g.count);
                let flops = flops * count;
                if let Some((tier, _)) = kv_host {
                    let read = kv.per_token * (flow.read_tokens.iter().sum::<u64>() as f64 * count);
                    let written =
                        kv.per_token * (flow.write_tokens.iter().sum::<u64>() as f64 * count);
                    self.host_reads[tier] += read;
                    self.host_writes[tier] += written;
                    self.ledger.push((false, tier, read));
                    self.ledger.push((true, tier, written));
                    host_kv.0 += read + written;
                    host_kv.1 += flops;
                    continue;
                }
                for (pos, &tier) in kv.tiers.iter().enumerate() {
                    reads[tier] += kv.per_token * (flow.read_tokens[pos] as f64 * count);
                    writes[tier] += kv.per_token * (flow.write_tokens[pos] as f64 * count);
                }
                attention_flops += flops;
            }
            if let Some((_, h)) = kv_host {
                host.attend(h, host_kv.0, host_kv.1);
            }
            let local = reads[0] + writes[0];
            self.remote.push(is_remote(reads, writes));
            self.local.push(local);
            self.local_time
                .push(SimTime::from_seconds(local / m.local_bw));
            // llama.cpp runs a layer's graph splits one after another: the host's share adds
            // to the device's rather than overlapping it.
            let device = match &m.kernels {
                None => {
                    let device_flops = t.matmul_flops(l, batch) - host.flops;
                    let flops = device_flops / matmul + attention_flops / attention;
                    roofline(flops, local / m.local_bw)
                }
                Some(k) => {
                    // Each kernel is its own roofline: the weights' matmuls against their
                    // bytes, attention against the cache's.
                    k.combine(device_kernels, weights_local / m.local_bw)
                        + k.combine(
                            attention_flops / attention,
                            (local - weights_local) / m.local_bw,
                        )
                        + k.layer_fixed(batch, options.flash_attn)
                }
            };
            self.compute
                .push(SimTime::from_seconds(device + overhead + host.time()));
            self.ledger_span.push((ledger_from, self.ledger.len()));
        }

        let head = self.compute.len();
        self.rows.push(head);
        self.reads.resize((head + 1) * tiers, Bytes::ZERO);
        self.writes.resize((head + 1) * tiers, Bytes::ZERO);
        // llama.cpp skips the output head on a ubatch that asks for no logits.
        let mut host = HostWork::default();
        if outputs > 0 {
            match m.host_compute(m.output, outputs) {
                Some(h) => {
                    host.add(h, t.output, t.head_flops(outputs));
                    self.host_reads[m.output] += t.output;
                }
                None => self.reads[head * tiers + m.output] += t.output,
            }
            self.reads[head * tiers] += t.output_norm;
        }
        let local = self.reads[head * tiers];
        self.remote.push(is_remote(
            &self.reads[head * tiers..],
            &self.writes[head * tiers..],
        ));
        self.local.push(local);
        self.local_time
            .push(SimTime::from_seconds(local / m.local_bw));
        let device = match &m.kernels {
            None => roofline(
                (t.head_flops(outputs) - host.flops) / matmul,
                local / m.local_bw,
            ),
            Some(k) => {
                let kernel = if host.flops.0 > 0.0 {
                    Seconds::ZERO
                } else {
                    k.head_time(outputs)
                };
                k.combine(kernel, local / m.local_bw) + k.outside_fixed()
            }
        };
        self.compute
            .push(SimTime::from_seconds(device + host.time()));
    }
}

/// Whether a row's bytes per tier touch a device tier (any tier but the local one, 0).
fn is_remote(reads: &[Bytes], writes: &[Bytes]) -> bool {
    reads[1..].iter().chain(&writes[1..]).any(|b| b.0 > 0.0)
}

/// The part of a layer a host processor computes on the weights its tier holds.
#[derive(Debug, Clone, Copy, Default)]
struct HostWork {
    flops: Flops,
    time: Seconds,
}

impl HostWork {
    /// Adds a class of weights computed by `h`: its own roofline, plus a hand-over.
    fn add(&mut self, h: &HostCompute, bytes: Bytes, flops: Flops) {
        if bytes.0 <= 0.0 {
            return;
        }
        self.flops += flops;
        self.time += host_roofline(h, bytes, flops) + h.hop;
    }

    /// Adds attention over a KV cache the host holds: its roofline, plus a hand-over unless
    /// the host already computes part of the layer (then attention runs in the same split).
    /// Attention is not a matmul over weights, so the device's matmul share stays whole.
    fn attend(&mut self, h: &HostCompute, bytes: Bytes, flops: Flops) {
        if bytes.0 <= 0.0 && flops.0 <= 0.0 {
            return;
        }
        let hop = if self.time.0 > 0.0 {
            Seconds::ZERO
        } else {
            h.hop
        };
        self.time += host_roofline(h, bytes, flops) + hop;
    }

    fn time(&self) -> Seconds {
        self.time
    }
}

/// Host `h`'s roofline over `bytes` of its own memory and `flops`.
fn host_roofline(h: &HostCompute, bytes: Bytes, flops: Flops) -> Seconds {
    roofline(flops / (h.peak_flops * h.efficiency), bytes / h.memory_bw)
}

/// The roofline: compute and local memory traffic overlap, the slower one sets the time.
fn roofline(compute: Seconds, memory: Seconds) -> Seconds {
    compute.max(memory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::{self, Override};
    use crate::model::quant::QuantType;

    /// Every demand of a plan, bit for bit.
    fn demands(w: &StepWork) -> Vec<u64> {
        let mut out: Vec<u64> = (0..w.layers()).map(|l| w.compute(l).0).collect();
        out.extend((0..w.layers()).map(|l| w.local(l).0.to_bits()));
        for tier in 0..w.tiers() {
            for l in 0..w.layers() {
                out.extend([w.read(l, tier).0.to_bits(), w.write(l, tier).0.to_bits()]);
            }
            out.extend([
                w.host_read(tier).0.to_bits(),
                w.host_write(tier).0.to_bits(),
            ]);
        }
        out
    }

    /// Copying a layer's demands from an earlier identical one gives exactly what planning it
    /// in full gives: spilled and window layers, whole-layer spills, KV kept on the host.
    #[test]
    fn copied_layers_plan_as_in_full() {
        let cases: [(&str, &str, &[&str]); 4] = [
            (
                "qwen2.5-3b-instruct-q4_k_m",
                "h100-hbf",
                &["placement.kv.budget=64MiB"],
            ),
            (
                "gemma-3-270m-q4_k_m",
                "h100-hbf",
                &["placement.kv.budget=34MB"],
            ),
            (
                "qwen2.5-3b-instruct-q4_k_m",
                "h100-hbf",
                &[
                    "placement.kv.budget=256MiB",
                    "placement.kv.policy=whole_layers",
                ],
            ),
            (
                "qwen2.5-3b-instruct-q4_k_m",
                "rtx4090",
                &["placement.llamacpp.n_gpu_layers=20"],
            ),
        ];
        let groups = [
            Group {
                ctx: 900,
                tokens: 1,
                count: 3,
            },
            Group {
                ctx: 5000,
                tokens: 1,
                count: 1,
            },
            Group {
                ctx: 12,
                tokens: 300,
                count: 1,
            },
        ];
        for (model, system, sets) in cases {
            let model = load::model(Some(model), &[]).unwrap();
            let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
            let system = load::system(Some(system), &sets).unwrap();
            let m = Machine::new(&model.spec, &system.spec).unwrap();
            let kv = KvLayout::for_batch(&m, QuantType::F16, QuantType::F16, 8192, 4).unwrap();
            let mut copying = StepWork::new(&m);
            assert!(
                copying.proto.iter().enumerate().any(|(l, &p)| p < l),
                "{}: no layer repeats another",
                m.model.name
            );
            let mut full = StepWork::default();
            for n in 1..=groups.len() {
                let options = KernelOptions::default();
                copying.plan(&m, &kv, &groups[..n], 2, None, options);
                full.plan(&m, &kv, &groups[..n], 2, None, options);
                assert_eq!(demands(&copying), demands(&full), "{}", m.model.name);
            }
        }
    }
}
