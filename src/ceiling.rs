//! Decode ceilings: the predecessor's formula beside a simulation of the same tier, and where
//! the difference comes from.
//!
//! A decode token reads `bytes` from the tier (its KV, and its weights when they stream from
//! there) and must have all of them before the next token starts. The formula charges
//! `bytes / bandwidth + ops · latency`, i.e. accesses one after another; the simulation issues
//! them through the device's lanes. Four counterfactual runs split the simulated time into what
//! bandwidth, latency, too little parallelism, the latency tail and write interference each
//! add.

use crate::analytic::KvSpillCeiling;
use crate::config::system::Granularity;
use crate::engine::Scheduler;
use crate::rng::{self, SimRng};
use crate::scenario::percentile;
use crate::tier::device::{Device, DeviceParams};
use crate::tier::latency::LatencyDist;
use crate::units::{Bytes, BytesPerSec, ClockOverflow, Seconds, SimTime};

/// What a ceiling curve simulates at every bandwidth.
#[derive(Debug, Clone, PartialEq)]
pub struct CeilingSetup {
    /// Bytes read from the tier per token.
    pub read_per_token: Bytes,
    /// Bytes written to the tier per token (new KV), which occupy units for the program time.
    pub write_per_token: Bytes,
    /// The formula's accesses per token and latency per access.
    pub formula: KvSpillCeiling,
    /// The device (its `read_bw` is replaced at each point).
    pub device: DeviceParams,
    /// Access grouping of the device model.
    pub granularity: Granularity,
    /// Coarse lanes.
    pub lanes: u32,
    /// Tokens simulated per point.
    pub tokens: u32,
    /// Seed.
    pub seed: u64,
}

/// One point of a ceiling curve.
#[derive(Debug, Clone, PartialEq)]
pub struct CeilingPoint {
    /// Tier read bandwidth.
    pub bw: BytesPerSec,
    /// The formula's ceiling (t/s).
    pub formula_tps: f64,
    /// The simulated ceiling: tokens over the time they took (t/s).
    pub simulated_tps: f64,
    /// Per-token time percentiles: p50, p99, p99.9.
    pub token_time: [Seconds; 3],
    /// Shares of the mean simulated token time due to bandwidth, latency, too little
    /// parallelism, the latency tail and writes (sum to 1).
    pub shares: [f64; 5],
}

/// Names of [`CeilingPoint::shares`], in order.
pub const CAUSES: [&str; 5] = ["bandwidth", "latency", "parallelism", "tail", "writes"];

impl CeilingSetup {
    /// Per-token times of `tokens` decode tokens on a device built from `params`.
    pub fn token_times(
        &self,
        params: &DeviceParams,
        writes: bool,
        stream: u64,
    ) -> Result<Vec<Seconds>, ClockOverflow> {
        let mut dev = Device::new(params, self.granularity, self.lanes);
        let mut rng: SimRng = rng::stream(self.seed, stream);
        let mut sched = Scheduler::new();
        let mut now = SimTime::ZERO;
        let mut times = Vec::with_capacity(self.tokens as usize);
        for _ in 0..self.tokens {
            if writes {
                dev.write(now, self.write_per_token, &mut rng);
            }
            let mut end = now;
            dev.read(now, self.read_per_token, &mut rng, |at, leg| {
                sched.schedule(at, leg)
            });
            while let Some((t, leg)) = sched.pop() {
                end = end.max(dev.transfer(t, leg));
            }
            times.push(end.check()?.saturating_sub(now).to_seconds());
            now = end;
        }
        Ok(times)
    }

    /// Simulates one bandwidth; fails when the tokens run past the clock's range.
    pub fn point(&self, bw: BytesPerSec) -> Result<CeilingPoint, ClockOverflow> {
        let actual = DeviceParams {
            read_bw: bw,
            ..self.device.clone()
        };
        let mean_latency = LatencyDist::fixed(actual.read_latency.mean());
        let fixed = DeviceParams {
            read_latency: mean_latency.clone(),
            ..actual.clone()
        };
        let unlimited = DeviceParams {
            parallel_units: 1 << 24,
            queue_depth: 1 << 24,
            ..fixed.clone()
        };
        let mean = |v: &[Seconds]| v.iter().map(|s| s.0).sum::<f64>() / v.len().max(1) as f64;
        let has_writes = self.write_per_token.0 > 0.0;
        let sim = self.token_times(&actual, has_writes, 0)?;
        let t_sim = mean(&sim);
        let t_bw = (self.read_per_token / bw).0;
        let t_lat = mean(&self.token_times(&unlimited, false, 1)?);
        let t_par = mean(&self.token_times(&fixed, false, 2)?);
        let t_tail = if has_writes {
            mean(&self.token_times(&actual, false, 3)?)
        } else {
            t_sim
        };
        let parts = [
            t_bw,
            t_lat - t_bw,
            t_par - t_lat,
            t_tail - t_par,
            t_sim - t_tail,
        ];
        let shares = if t_sim > 0.0 {
            parts.map(|p| p / t_sim)
        } else {
            [0.0; 5]
        };
        Ok(CeilingPoint {
            bw,
            formula_tps: self.formula.tg_max(bw),
            simulated_tps: if t_sim > 0.0 {
                1.0 / t_sim
            } else {
                f64::INFINITY
            },
            token_time: [
                percentile(&sim, 0.5),
                percentile(&sim, 0.99),
                percentile(&sim, 0.999),
            ],
            shares,
        })
    }

    /// The device a formula-equivalent setup uses: one unit, queue depth 1, fixed latency,
    /// `ops` accesses per token.
    pub fn formula_device(read_per_token: Bytes, ops: f64, latency: Seconds) -> DeviceParams {
        DeviceParams {
            read_bw: BytesPerSec(1.0),
            write_bw: BytesPerSec(1.0),
            read_latency: LatencyDist::fixed(latency),
            write_latency: LatencyDist::fixed(latency),
            parallel_units: 1,
            queue_depth: 1,
            io_size: Bytes((read_per_token.0 / ops.max(1.0)).max(1.0)),
            read_path: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(device: DeviceParams) -> CeilingSetup {
        CeilingSetup {
            read_per_token: Bytes(256e3),
            write_per_token: Bytes(0.0),
            formula: KvSpillCeiling {
                bytes_per_token: Bytes(256e3),
                ops_per_token: 2.0,
                op_latency: Seconds::ms(0.05),
            },
            device,
            granularity: Granularity::Coarse,
            lanes: 8,
            tokens: 16,
            seed: 1,
        }
    }

    #[test]
    fn formula_device_reproduces_the_formula() {
        let s = setup(CeilingSetup::formula_device(
            Bytes(256e3),
            2.0,
            Seconds::ms(0.05),
        ));
        for mbps in [500.0, 1000.0, 8000.0] {
            let p = s.point(BytesPerSec(mbps * 1e6)).unwrap();
            assert!(
                (p.simulated_tps - p.formula_tps).abs() / p.formula_tps < 1e-9,
                "{p:?}"
            );
            assert!((p.shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn parallelism_helps_and_tails_hurt() {
        let base = CeilingSetup::formula_device(Bytes(256e3), 2.0, Seconds::ms(0.05));
        let serial = setup(DeviceParams {
            io_size: Bytes(4096.0),
            ..base.clone()
        });
        let parallel = setup(DeviceParams {
            io_size: Bytes(4096.0),
            parallel_units: 64,
            queue_depth: 64,
            ..base.clone()
        });
        let bw = BytesPerSec(4e9);
        assert!(
            parallel.point(bw).unwrap().simulated_tps > serial.point(bw).unwrap().simulated_tps
        );
        let tail = setup(DeviceParams {
            io_size: Bytes(4096.0),
            parallel_units: 64,
            queue_depth: 64,
            read_latency: LatencyDist::Lognormal {
                median: Seconds::ms(0.05),
                p99: Seconds::ms(0.5),
            },
            ..base
        });
        let p = tail.point(bw).unwrap();
        assert!(p.shares[3] > 0.0, "{p:?}");
    }
}
