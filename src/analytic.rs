//! Closed forms the simulator must reproduce in their limit cases.

use crate::units::{Bytes, BytesPerSec, Seconds};

/// The predecessor's decode ceiling (`kv_spill_sim.py`): per token, `bytes / bandwidth + ops ·
/// latency`; the ceiling is its inverse, infinite when it is zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KvSpillCeiling {
    /// KV bytes fetched from the tier per decoded token.
    pub bytes_per_token: Bytes,
    /// Accesses per token, each paying the full latency (queue depth 1).
    pub ops_per_token: f64,
    /// Latency of one access.
    pub op_latency: Seconds,
}

impl KvSpillCeiling {
    /// Time per token at tier bandwidth `bw`.
    pub fn time_per_token(&self, bw: BytesPerSec) -> Seconds {
        self.bytes_per_token / bw + self.op_latency * self.ops_per_token
    }

    /// Tokens per second at tier bandwidth `bw` (`inf` when the time is zero).
    pub fn tg_max(&self, bw: BytesPerSec) -> f64 {
        let t = self.time_per_token(bw).0;
        if t == 0.0 { f64::INFINITY } else { 1.0 / t }
    }
}

/// The predecessor's staging time (`tier_copy.py`): `size / bandwidth + chunks · latency`.
pub fn staging_time(size: Bytes, bw: BytesPerSec, chunk: Bytes, chunk_latency: Seconds) -> Seconds {
    let chunks = (size.0 / chunk.0).ceil();
    size / bw + chunk_latency * chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_is_the_inverse_of_the_per_token_time() {
        let c = KvSpillCeiling {
            bytes_per_token: Bytes(256e3),
            ops_per_token: 2.0,
            op_latency: Seconds::ms(0.05),
        };
        // 256 kB at 1000 MB/s = 0.256 ms, plus 0.1 ms.
        assert!((c.tg_max(BytesPerSec(1e9)) - 1.0 / 0.356e-3).abs() < 1e-9);
        let free = KvSpillCeiling {
            bytes_per_token: Bytes(0.0),
            ops_per_token: 0.0,
            op_latency: Seconds(0.0),
        };
        assert!(free.tg_max(BytesPerSec(1.0)).is_infinite());
    }

    #[test]
    fn staging_is_bytes_over_bandwidth_plus_chunk_latencies() {
        let t = staging_time(Bytes(10e6), BytesPerSec(1e6), Bytes(4e6), Seconds::ms(5.0));
        assert!((t.0 - (10.0 + 3.0 * 0.005)).abs() < 1e-12);
    }
}
