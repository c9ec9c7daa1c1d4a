//! What one step asks of each layer: compute time and bytes per tier (DESIGN §2.1, §2.4).

use crate::model::traffic::ModelTraffic;
use crate::sim::experts::Experts;
use crate::sim::kv::KvLayout;
use crate::sim::machine::Machine;
use crate::units::{Bytes, Seconds, SimTime};

/// One forward pass of `seqs` sequences together: each adds `tokens` new tokens, the
/// sequences hold `ctx` cached tokens between them, and `outputs` tokens get logits.
///
/// The weights are read once for the whole batch; KV is read and written per sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Tokens cached before the step, summed over the sequences.
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

    /// New tokens over all sequences: the matmuls' width.
    pub fn batch_tokens(&self) -> u32 {
        self.tokens.saturating_mul(self.seqs.max(1))
    }
}

/// Per-layer demands of a step; the output head is the last "layer".
#[derive(Debug, Clone, Default)]
pub struct StepWork {
    tiers: usize,
    /// Roofline time of each layer, overhead included.
    pub compute: Vec<SimTime>,
    /// Bytes moved in the compute-local tier per layer (reads and writes).
    pub local: Vec<Bytes>,
    reads: Vec<Bytes>,
    writes: Vec<Bytes>,
}

impl StepWork {
    /// Layers including the output head.
    pub fn layers(&self) -> usize {
        self.compute.len()
    }

    /// Tiers of the system.
    pub fn tiers(&self) -> usize {
        self.tiers
    }

    /// Bytes layer `l` reads from tier `tier`.
    pub fn read(&self, l: usize, tier: usize) -> Bytes {
        self.reads[l * self.tiers + tier]
    }

    /// Bytes layer `l` writes to tier `tier` when it finishes.
    pub fn write(&self, l: usize, tier: usize) -> Bytes {
        self.writes[l * self.tiers + tier]
    }

    /// Remote bytes layer `l` reads from every device tier.
    pub fn remote_reads(&self, l: usize) -> Bytes {
        (1..self.tiers).map(|t| self.read(l, t)).sum()
    }

    /// Fills in the demands of `step` on machine `m` with KV layout `kv`, reusing allocations.
    /// With `experts`, MoE layers read the experts their tokens are routed to (and the cache
    /// serves what it holds); without, the expected count under uniform routing.
    pub fn plan(
        &mut self,
        m: &Machine,
        kv: &KvLayout,
        step: Step,
        mut experts: Option<&mut Experts>,
    ) {
        let t: &ModelTraffic = &m.traffic;
        let n = t.layers.len() + 1;
        self.tiers = m.system.tiers.len();
        self.compute.clear();
        self.local.clear();
        self.reads.clear();
        self.reads.resize(n * self.tiers, Bytes::ZERO);
        self.writes.clear();
        self.writes.resize(n * self.tiers, Bytes::ZERO);
        let tiers = self.tiers;
        let batch = step.batch_tokens();
        let matmul = m.matmul_rate(batch);
        let attention = m.attention_rate();
        let overhead = m.system.compute.layer_overhead;
        let tokens = f64::from(batch);

        for (l, (w, homes)) in t.layers.iter().zip(&m.layers).enumerate() {
            let reads = &mut self.reads[l * tiers..(l + 1) * tiers];
            let writes = &mut self.writes[l * tiers..(l + 1) * tiers];
            reads[homes.attn] += w.attn;
            reads[homes.ffn] += w.ffn;
            match experts.as_deref_mut() {
                Some(x) => {
                    let r = x.route(m, l, batch);
                    reads[homes.experts] += r.home;
                    reads[0] += r.cached;
                    writes[0] += r.fill;
                }
                None => reads[homes.experts] += w.expert * w.experts_read(batch),
            }
            if l == 0 {
                reads[m.token_embd] += t.embd_row * tokens;
            }
            let flow = kv.flow(m, l, step);
            for (pos, &tier) in kv.tiers.iter().enumerate() {
                reads[tier] += kv.per_token * flow.read_tokens[pos] as f64;
                writes[tier] += kv.per_token * flow.write_tokens[pos] as f64;
            }
            let local = reads[0] + writes[0];
            let flops = t.matmul_flops(l, batch) / matmul
                + t.attention_flops_by(l, step.ctx, step.tokens, step.seqs) / attention;
            self.local.push(local);
            self.compute.push(SimTime::from_seconds(
                roofline(flops, local / m.local_bw) + overhead,
            ));
        }

        let head = n - 1;
        // llama.cpp skips the output head on a ubatch that asks for no logits.
        if step.outputs > 0 {
            self.reads[head * tiers + m.output] += t.output;
            self.reads[head * tiers] += t.output_norm;
        }
        let local = self.reads[head * tiers];
        self.local.push(local);
        let flops = t.head_flops(step.outputs) / matmul;
        self.compute
            .push(SimTime::from_seconds(roofline(flops, local / m.local_bw)));
    }
}

/// The roofline: compute and local memory traffic overlap, the slower one sets the time.
fn roofline(compute: Seconds, memory: Seconds) -> Seconds {
    compute.max(memory)
}
