//! A memory tier as a device: lanes of parallel units behind a queue, and a link (DESIGN §2.3).
//!
//! An access waits for a lane, holds it for a sampled latency, then crosses the link at the
//! tier's bandwidth. A *lane* is one queue slot bound to one unit when the queue is the tighter
//! limit (`queue_depth ≤ parallel_units`: the slot is held through the transfer, so the cycle
//! is `latency + size/bandwidth`), or one unit when units are the tighter limit (the unit frees
//! as soon as its latency ends and the transfer is pipelined). Together these give the bounds
//! `min(bw, units·S/latency, qd·S/(latency + S/bw))`.
//!
//! To keep a 32k-token KV fetch from costing thousands of events, the *coarse* granularity
//! binds `k` units into one lane (at most `lanes` lanes) and gives each access of a fetch a
//! lane with its share of the ios. Within a lane, units pull ios as they free up, as a device's
//! dies pull from its queue, so the lane's time is the balanced work `Σ latencies / k` plus
//! one slowest round (see [`LatencySampler::sample_ios`]); an access smaller than a lane holds
//! it only for its share of the units. A fetch is then at most `lanes` accesses and events.
//! With fixed latencies this is exact for whole rounds; with random ones it tracks the fine
//! granularity within a few percent (a test checks it) and keeps the "slowest of the parallel
//! accesses sets the pace" effect at the end of every fetch (DESIGN §2.3). The *fine*
//! granularity simulates every `io_size` access.

use crate::config::system::Granularity;
use crate::engine::{Pool, Timeline};
use crate::rng::SimRng;
use crate::tier::latency::{LatencyDist, LatencySampler};
use crate::units::{Bytes, BytesPerSec, SimTime};

mod shape;

use self::shape::{Access, ReadShape, WriteShape};

/// The physical figures of a device tier, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceParams {
    /// Link bandwidth for reads.
    pub read_bw: BytesPerSec,
    /// Bandwidth at which writes are accepted.
    pub write_bw: BytesPerSec,
    /// Latency a read holds a unit.
    pub read_latency: LatencyDist,
    /// Latency a write (program) holds a unit.
    pub write_latency: LatencyDist,
    /// Units serving one access each.
    pub parallel_units: u32,
    /// Most accesses outstanding.
    pub queue_depth: u32,
    /// Transfer unit.
    pub io_size: Bytes,
}

/// The part of a read that remains once its lane has served the latency of its first round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLeg {
    /// Link time of the whole access.
    pub transfer: SimTime,
    /// The earliest the access can complete whatever the link does.
    pub not_before: SimTime,
}

/// Totals a device accumulates over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeviceStats {
    /// Bytes read through the link.
    pub bytes_read: Bytes,
    /// Bytes written.
    pub bytes_written: Bytes,
    /// Read accesses of `io_size` issued.
    pub read_ios: u64,
    /// Write accesses of `io_size` issued.
    pub write_ios: u64,
}

/// A simulated device tier.
#[derive(Debug, Clone)]
pub struct Device {
    lanes: Pool,
    read_link: Timeline,
    write_link: Timeline,
    read: LatencySampler,
    write: LatencySampler,
    width: u32,
    coarse: bool,
    serial: bool,
    read_bw: BytesPerSec,
    write_bw: BytesPerSec,
    io_size: Bytes,
    read_mean: SimTime,
    stats: DeviceStats,
    /// The last read's split into accesses.
    shape: ReadShape,
    /// The last write's.
    write_shape: WriteShape,
}

impl Device {
    /// A device idle at time zero. `lanes` is the coarse granularity's target concurrency.
    pub fn new(p: &DeviceParams, granularity: Granularity, lanes: u32) -> Self {
        let parallel = p.parallel_units.min(p.queue_depth).max(1);
        let (width, n_lanes) = match granularity {
            Granularity::Fine => (1, parallel),
            Granularity::Coarse => {
                let width = parallel.div_ceil(lanes.max(1));
                (width, (parallel / width).max(1))
            }
        };
        Self {
            lanes: Pool::new(n_lanes),
            read_link: Timeline::default(),
            write_link: Timeline::default(),
            read: LatencySampler::new(&p.read_latency, width),
            write: LatencySampler::new(&p.write_latency, width),
            width,
            coarse: granularity == Granularity::Coarse,
            serial: p.queue_depth <= p.parallel_units,
            read_bw: p.read_bw,
            write_bw: p.write_bw,
            io_size: p.io_size,
            read_mean: SimTime::from_seconds(p.read_latency.mean()),
            stats: DeviceStats::default(),
            shape: ReadShape::default(),
            write_shape: WriteShape::default(),
        }
    }

    /// Splits `n_ios` ios into accesses: the first `extra` of `accesses` carry `per + 1` ios,
    /// the others `per`.
    fn split(&self, n_ios: u64) -> (u64, u64, u64) {
        let accesses = if self.coarse {
            n_ios
                .div_ceil(u64::from(self.width))
                .min(self.lanes.size() as u64)
        } else {
            n_ios
        };
        (accesses, n_ios / accesses, n_ios % accesses)
    }

    fn ios(&self, bytes: Bytes) -> u64 {
        // Rounded up by hand: `f64::ceil` is a libm call on the baseline x86-64 target.
        let exact = bytes.0 / self.io_size.0;
        let whole = exact as u64;
        whole
            .saturating_add(u64::from((whole as f64) < exact))
            .max(1)
    }

    /// How long an access of `ios` ios keeps its lane: all of `latency` when it fills the lane's
    /// units, else the share of the lane it uses, since the idle units serve other accesses.
    fn hold(&self, ios: u64, latency: SimTime) -> SimTime {
        let width = u64::from(self.width);
        if ios >= width {
            latency
        } else {
            SimTime(mul_div(latency.0, ios, width))
        }
    }

    /// Plans a read of `bytes` issued at `now`: reserves lanes and samples latencies, and calls
    /// `leg(first_round_end, leg)` for each access. The caller must call [`Device::transfer`]
    /// for each leg at its `first_round_end`, in time order with every other leg.
    pub fn read(
        &mut self,
        now: SimTime,
        bytes: Bytes,
        rng: &mut SimRng,
        mut leg: impl FnMut(SimTime, ReadLeg),
    ) {
        if bytes.0 <= 0.0 {
            return;
        }
        if self.shape.bytes != bytes.0.to_bits() {
            self.shape = self.shape_of(bytes);
        }
        let shape = self.shape;
        self.stats.bytes_read += bytes;
        self.stats.read_ios += shape.n_ios;
        for i in 0..shape.accesses {
            let Access {
                ios,
                rounds,
                transfer,
                tail,
            } = shape.access[usize::from(i >= shape.extra)];
            let latency = SimTime::from_seconds(self.read.sample_ios(rng, ios));
            let hold = if self.serial {
                self.hold(ios, latency + tail)
            } else {
                self.hold(ios, latency)
            };
            let (start, _) = self.lanes.reserve(now, hold);
            // Data starts to flow when the first round ends: about one mean latency in, or
            // sooner when the whole access is quicker than that.
            let round = if rounds == 1 {
                latency
            } else {
                SimTime(latency.0 / rounds)
            };
            let first = start + round.min(self.read_mean);
            leg(
                first,
                ReadLeg {
                    transfer,
                    not_before: start + latency + tail,
                },
            );
        }
    }

    /// Moves a leg across the link at `at`; returns when the access completes.
    pub fn transfer(&mut self, at: SimTime, leg: ReadLeg) -> SimTime {
        let (_, end) = self.read_link.reserve(at, leg.transfer);
        end.max(leg.not_before)
    }

    /// Writes `bytes` issued at `now`: the data crosses the write path, then units hold for the
    /// program time. Returns when the last access completes. Writes occupy lanes, so reads
    /// issued later queue behind them.
    pub fn write(&mut self, now: SimTime, bytes: Bytes, rng: &mut SimRng) -> SimTime {
        if bytes.0 <= 0.0 {
            return now;
        }
        if self.write_shape.bytes != bytes.0.to_bits() {
            self.write_shape = self.write_shape_of(bytes);
        }
        let shape = self.write_shape;
        self.stats.bytes_written += bytes;
        self.stats.write_ios += shape.n_ios;
        let (_, arrived) = self.write_link.reserve(now, shape.link);
        let mut done = arrived;
        for i in 0..shape.accesses {
            let ios = shape.ios[usize::from(i >= shape.extra)];
            let program = SimTime::from_seconds(self.write.sample_ios(rng, ios));
            let (start, _) = self.lanes.reserve(arrived, self.hold(ios, program));
            done = done.max(start + program);
        }
        done
    }

    /// Totals so far.
    pub fn stats(&self) -> DeviceStats {
        self.stats
    }

    /// Time the read link has been busy.
    pub fn read_busy(&self) -> SimTime {
        self.read_link.busy_time()
    }

    /// Time the write path has been busy.
    pub fn write_busy(&self) -> SimTime {
        self.write_link.busy_time()
    }

    /// Lane-time used, summed over lanes, and the number of lanes.
    pub fn lane_busy(&self) -> (SimTime, usize) {
        (self.lanes.busy_time(), self.lanes.size())
    }
}

/// `a · b / c` rounded down, for `b <= c`: in 64 bits when the product fits (a 128-bit division
/// costs several times a 64-bit one on the sampling hot path), else in 128.
#[inline]
fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    match a.checked_mul(b) {
        Some(p) => p / c,
        None => (u128::from(a) * u128::from(b) / u128::from(c)) as u64,
    }
}
