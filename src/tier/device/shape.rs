//! How a device's reads and writes split into accesses, worked out once per size: the layers
//! of a model repeat the same reads and writes step after step, and the split costs several
//! divisions and a conversion per access that the draws do not need.

use super::{Device, mul_div};
use crate::units::{Bytes, SimTime};

/// How a write splits into accesses: the first `extra` of `accesses` have `ios[0]` ios, the
/// others `ios[1]`; and its time on the write path.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct WriteShape {
    /// The write's size, as bits (as [`ReadShape::bytes`]).
    pub(super) bytes: u64,
    /// Ios of the whole write.
    pub(super) n_ios: u64,
    /// Its time on the write path.
    pub(super) link: SimTime,
    /// Accesses it splits into.
    pub(super) accesses: u64,
    /// Accesses of the first size.
    pub(super) extra: u64,
    /// Ios of an access of each size.
    pub(super) ios: [u64; 2],
}

/// How a read splits into accesses: the first `extra` of `accesses` are `access[0]`, the others
/// `access[1]`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ReadShape {
    /// The read's size, as bits (no read has size 0, the bits of the default).
    pub(super) bytes: u64,
    /// Ios of the whole read.
    pub(super) n_ios: u64,
    /// Accesses it splits into.
    pub(super) accesses: u64,
    /// Accesses of the first size.
    pub(super) extra: u64,
    /// An access of each size.
    pub(super) access: [Access; 2],
}

/// An access of a read, apart from its latency.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Access {
    /// Its ios.
    pub(super) ios: u64,
    /// Rounds its ios take on its lane's units.
    pub(super) rounds: u64,
    /// Its share of the read's link time.
    pub(super) transfer: SimTime,
    /// What follows its latency before it completes: its last round's transfer, or when queue
    /// slots bind, its unit's own transfers.
    pub(super) tail: SimTime,
}

impl Device {
    /// How a read of `bytes` splits into accesses: worked out once for the reads of a size,
    /// which identical layers repeat.
    #[cold]
    pub(super) fn shape_of(&self, bytes: Bytes) -> ReadShape {
        let n_ios = self.ios(bytes);
        let (accesses, per, extra) = self.split(n_ios);
        let link = SimTime::from_seconds(bytes / self.read_bw);
        let access = |ios: u64| {
            let rounds = ios.div_ceil(u64::from(self.width));
            // Each access's share of the whole read's link time, split in ticks: the shares
            // add up to the whole within a tick per access, and no access converts from
            // seconds again (a conversion costs as much as a latency draw).
            let transfer = SimTime(mul_div(link.0, ios, n_ios));
            let tail = if self.serial {
                // When slots bind, each unit's chain is latency then its own transfer, round
                // after round: a unit moves `rounds` ios, not the whole access.
                SimTime(mul_div(transfer.0, rounds, ios))
            } else if rounds == 1 {
                transfer
            } else {
                SimTime(transfer.0 / rounds)
            };
            Access {
                ios,
                rounds,
                transfer,
                tail,
            }
        };
        ReadShape {
            bytes: bytes.0.to_bits(),
            n_ios,
            accesses,
            extra,
            access: [access(per + 1), access(per)],
        }
    }

    /// How a write of `bytes` splits into accesses, and its time on the write path.
    #[cold]
    pub(super) fn write_shape_of(&self, bytes: Bytes) -> WriteShape {
        let n_ios = self.ios(bytes);
        let (accesses, per, extra) = self.split(n_ios);
        WriteShape {
            bytes: bytes.0.to_bits(),
            n_ios,
            link: SimTime::from_seconds(bytes / self.write_bw),
            accesses,
            extra,
            ios: [per + 1, per],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::system::Granularity;
    use crate::rng;
    use crate::tier::device::{DeviceParams, ReadLeg};
    use crate::tier::latency::LatencyDist;
    use crate::tier::read_path::{ChannelMapping, ReadPath};
    use crate::units::{BytesPerSec, Seconds};

    /// Reads and writes that repeat a size (as identical layers do) or change it give the same
    /// legs, completions and totals on a device that keeps its shapes as on one that works
    /// them out afresh for every access, for each granularity, either binding limit, and with
    /// a read path.
    #[test]
    fn kept_shapes_serve_as_fresh_ones() {
        let sizes = [40_000.0, 40_000.0, 4_096.0, 1e6, 1e6, 1e6, 123.0, 40_000.0];
        let path = ReadPath {
            channels: 16,
            mapping: ChannelMapping::Striped,
            admission: Seconds::ns(5.0),
            command: Seconds::ns(1.0),
            front: Seconds::ns(100.0),
            data_out: Seconds::ns(40.0),
            post: Seconds::ns(500.0),
        };
        for (granularity, queue_depth, read_path) in [
            (Granularity::Coarse, 512, None),
            (Granularity::Coarse, 64, None),
            (Granularity::Fine, 16, None),
            (Granularity::Coarse, 512, Some(path)),
            (Granularity::Fine, 512, Some(path)),
        ] {
            let params = DeviceParams {
                read_bw: BytesPerSec(1.6e12),
                write_bw: BytesPerSec(16e9),
                read_latency: LatencyDist::Lognormal {
                    median: Seconds::us(4.0),
                    p99: Seconds::us(10.0),
                },
                write_latency: LatencyDist::fixed(Seconds::us(100.0)),
                parallel_units: 256,
                queue_depth,
                io_size: Bytes(4096.0),
                read_path,
            };
            let mut kept = Device::new(&params, granularity, 8);
            let mut fresh = kept.clone();
            let (mut rng_kept, mut rng_fresh) = (rng::stream(7, 1), rng::stream(7, 1));
            let mut now = SimTime::ZERO;
            for (step, &size) in sizes.iter().cycle().take(64).enumerate() {
                let bytes = Bytes(size);
                let mut legs: Vec<(SimTime, ReadLeg)> = Vec::new();
                kept.read(now, bytes, &mut rng_kept, |at, leg| legs.push((at, leg)));
                let mut fresh_legs: Vec<(SimTime, ReadLeg)> = Vec::new();
                fresh.shape = ReadShape::default();
                fresh.read(now, bytes, &mut rng_fresh, |at, leg| {
                    fresh_legs.push((at, leg));
                });
                assert_eq!(legs, fresh_legs, "read {step}");
                let written = Bytes(size / 64.0);
                fresh.write_shape = WriteShape::default();
                assert_eq!(
                    kept.write(now, written, &mut rng_kept),
                    fresh.write(now, written, &mut rng_fresh),
                    "write {step}"
                );
                now += SimTime(3_000_000);
            }
            assert_eq!(kept.stats(), fresh.stats());
            assert_eq!(kept.lane_busy(), fresh.lane_busy());
        }
    }
}
