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
//!
//! A tier with a [`ReadPath`] adds its stages around the sense: admission and the channel's
//! command before it, and after it the page's data-out and its crossing of the channel's share
//! of the link (`read_bw / channels`), then a fixed post latency. The link is then per channel,
//! as HBF's interface is: a page holds its channel for the slower of data-out and link, and
//! the faster adds its time as latency. The fine granularity serves every read on its own
//! channel; the coarse one pools the channels into one server of the same throughput, so it
//! keeps their bound but not the queue of the busiest channel.

use crate::config::system::Granularity;
use crate::engine::{Pool, Timeline};
use crate::rng::SimRng;
use crate::tier::latency::{LatencyDist, LatencySampler};
use crate::tier::read_path::{ReadPath, Stages};
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
    /// Stages besides the sense and the link (admission, channels, ECC); none when absent.
    pub read_path: Option<ReadPath>,
}

/// The part of a read that remains once its lane has served the latency of its first round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLeg {
    /// Link time of the whole access.
    pub transfer: SimTime,
    /// The earliest the access can complete whatever the link does.
    pub not_before: SimTime,
    /// Time the access holds its channel (all channels pooled in the coarse granularity).
    pub channel_time: SimTime,
    /// The access's channel.
    pub channel: u32,
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
    path: Option<Box<PathState>>,
    stats: DeviceStats,
    /// The last read's split into accesses.
    shape: ReadShape,
    /// The last write's.
    write_shape: WriteShape,
}

/// When the ios of a coarse read pass a serial stage: the `k`-th (from 0) at `first + k · step`.
#[derive(Debug, Clone, Copy)]
struct Gate {
    first: SimTime,
    step: SimTime,
}

impl Gate {
    fn pass(self, k: u64) -> SimTime {
        self.first + SimTime(self.step.0.saturating_mul(k))
    }
}

/// The read path's servers: admission, and per channel (one pooled server in the coarse
/// granularity) commands and pages.
#[derive(Debug, Clone)]
struct PathState {
    stages: Stages,
    /// Time a page holds its channel: the slower of data-out and the channel's link.
    hold: SimTime,
    /// Latency the faster of the two adds to each page.
    fill: SimTime,
    admit: Timeline,
    commands: Vec<Timeline>,
    pages: Vec<Timeline>,
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
            path: p.read_path.as_ref().map(|rp| {
                let stages = Stages::new(rp, p.parallel_units);
                let link =
                    SimTime::from_seconds(p.io_size / (p.read_bw / stages.channels() as f64));
                let servers = if granularity == Granularity::Fine {
                    stages.channels() as usize
                } else {
                    1
                };
                Box::new(PathState {
                    hold: stages.data_out.max(link),
                    fill: stages.data_out.min(link),
                    stages,
                    admit: Timeline::default(),
                    commands: vec![Timeline::default(); servers],
                    pages: vec![Timeline::default(); servers],
                })
            }),
            stats: DeviceStats::default(),
            shape: ReadShape::default(),
            write_shape: WriteShape::default(),
        }
    }

    /// Reserves admission and commands for a whole coarse read of `n_ios` ios issued at `now`.
    /// Its accesses' ios pass these serial stages interleaved, as a controller takes them from
    /// its queue, so each access's first io passes early and its last late; reserving them per
    /// access would hold the last access back behind all the others' ios.
    #[inline(never)]
    fn gates(&mut self, now: SimTime, n_ios: u64) -> Option<[Gate; 2]> {
        if !self.coarse {
            return None;
        }
        let p = self.path.as_deref_mut()?;
        let st = &p.stages;
        let (a_start, _) = p
            .admit
            .reserve(now, SimTime(st.admission.0.saturating_mul(n_ios)));
        let admitted = Gate {
            first: a_start + st.admission,
            step: st.admission,
        };
        let pooled = SimTime(st.command.0 / st.channels());
        let (c_start, _) = p.commands[0].reserve(
            admitted.first,
            SimTime(mul_div(st.command.0, n_ios, st.channels())),
        );
        let commanded = Gate {
            first: c_start + st.command,
            step: pooled,
        };
        Some([admitted, commanded])
    }

    /// Admits an access of `ios` ios through the read path: returns when its first io may start
    /// sensing, when its last may, and its channel and time on the channel. A fine access (one
    /// io) takes its turn at admission and on its channel; a coarse one passes the `gates` of
    /// its read as the `first`-th and `last`-th io of the read.
    #[inline(never)]
    fn admit(
        &mut self,
        now: SimTime,
        ios: u64,
        gates: Option<[Gate; 2]>,
        (first, last): (u64, u64),
    ) -> (SimTime, SimTime, u32, SimTime) {
        let Some(p) = self.path.as_deref_mut() else {
            return (now, now, 0, SimTime::ZERO);
        };
        let st = &p.stages;
        if let Some(gates) = gates {
            let pass = |k: u64| gates.iter().map(|g| g.pass(k)).fold(now, SimTime::max) + st.front;
            // Pooled channels serve an access's ios side by side: its share of their time,
            // never less than one io's.
            let share = SimTime(mul_div(p.hold.0, ios, st.channels()).max(p.hold.0));
            return (pass(first), pass(last), 0, share);
        }
        let channel = p.stages.next_channel();
        let st = &p.stages;
        let (_, admitted) = p.admit.reserve(now, st.admission);
        let (_, commanded) = p.commands[channel].reserve(admitted, st.command);
        let ready = commanded + st.front;
        (ready, ready, channel as u32, p.hold)
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
        leg: impl FnMut(SimTime, ReadLeg),
    ) {
        if bytes.0 <= 0.0 {
            return;
        }
        if self.shape.bytes != bytes.0.to_bits() {
            self.shape = self.shape_of(bytes);
        }
        self.stats.bytes_read += bytes;
        self.stats.read_ios += self.shape.n_ios;
        // Two copies of the access loop: a tier without a read path keeps the lean one that
        // the step loop inlines (the extra stages cost it ~10 % of a serve run otherwise).
        if self.path.is_none() {
            self.read_accesses::<false>(now, rng, leg);
        } else {
            self.read_accesses::<true>(now, rng, leg);
        }
    }

    #[inline]
    fn read_accesses<const PATH: bool>(
        &mut self,
        now: SimTime,
        rng: &mut SimRng,
        mut leg: impl FnMut(SimTime, ReadLeg),
    ) {
        let shape = self.shape;
        let gates = if PATH {
            self.gates(now, shape.n_ios)
        } else {
            None
        };
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
            let (ready, last_ready, channel, channel_time) = if PATH {
                self.admit(now, ios, gates, (i, shape.n_ios - shape.accesses + i))
            } else {
                (now, now, 0, SimTime::ZERO)
            };
            let (start, _) = self.lanes.reserve(ready, hold);
            // Data starts to flow when the first round ends: about one mean latency in, or
            // sooner when the whole access is quicker than that.
            let round = if rounds == 1 {
                latency
            } else {
                SimTime(latency.0 / rounds)
            };
            let first = start + round.min(self.read_mean);
            let not_before = if PATH {
                // The last io cannot finish before it is admitted and has sensed, and then
                // its page crosses both channel stages and the post latency (the link among
                // them).
                let p = self.path.as_deref().expect("a read path");
                (start + latency).max(last_ready + round) + p.hold + p.fill + p.stages.post
            } else {
                start + latency + tail
            };
            leg(
                first,
                ReadLeg {
                    transfer,
                    not_before,
                    channel_time,
                    channel,
                },
            );
        }
    }

    /// Moves a leg across the link at `at`; returns when the access completes.
    pub fn transfer(&mut self, at: SimTime, leg: ReadLeg) -> SimTime {
        let Some(p) = self.path.as_deref_mut() else {
            let (_, end) = self.read_link.reserve(at, leg.transfer);
            return end.max(leg.not_before);
        };
        // The channel (its link included) carries the pages; the last one then takes the
        // faster stage's time and the post latency.
        let (_, end) = p.pages[leg.channel as usize].reserve(at, leg.channel_time);
        (end + p.fill + p.stages.post).max(leg.not_before)
    }

    /// Writes `bytes` issued at `now`: the data crosses the write path and units program each
    /// page as it arrives. Returns when the last access completes. Writes occupy lanes, so
    /// reads issued later queue behind them.
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
        let (sent, arrived) = self.write_link.reserve(now, shape.link);
        let (link, n_ios, accesses) = (shape.link, shape.n_ios, shape.accesses);
        let mut done = arrived;
        for i in 0..accesses {
            let ios = shape.ios[usize::from(i >= shape.extra)];
            let rounds = ios.div_ceil(u64::from(self.width));
            let program = SimTime::from_seconds(self.write.sample_ios(rng, ios));
            // The accesses' pages cross the link interleaved, as a controller stripes them: an
            // access's first page is in after `i + 1` pages' link time and its last after all
            // but the later accesses' last pages. A unit programs a page once it is in, rather
            // than waiting for the whole write.
            let first_in = sent + SimTime(mul_div(link.0, i + 1, n_ios));
            let last_in = sent + SimTime(mul_div(link.0, n_ios - accesses + i + 1, n_ios));
            let (start, _) = self.lanes.reserve(first_in, self.hold(ios, program));
            let round = if rounds == 1 {
                program
            } else {
                SimTime(program.0 / rounds)
            };
            done = done.max(start + program).max(last_in + round);
        }
        done
    }

    /// Totals so far.
    pub fn stats(&self) -> DeviceStats {
        self.stats
    }

    /// Time the read link has been busy; with a read path, the channels' mean busy time (each
    /// holding a page for the slower of data-out and its share of the link).
    pub fn read_busy(&self) -> SimTime {
        match self.path.as_deref() {
            None => self.read_link.busy_time(),
            Some(p) => {
                let total = p
                    .pages
                    .iter()
                    .fold(0u64, |acc, t| acc.saturating_add(t.busy_time().0));
                SimTime(total / p.pages.len() as u64)
            }
        }
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

/// `a · b / c` rounded down, saturating past `u64::MAX` (a time past the clock's range, which
/// `SimTime::check` reports): in 64 bits when the product fits (a 128-bit division costs several
/// times a 64-bit one on the sampling hot path), else in 128.
#[inline]
fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    match a.checked_mul(b) {
        Some(p) => p / c,
        None => mul_div_wide(a, b, c),
    }
}

/// [`mul_div`] past 64 bits: rare, and kept out of line so that the device's access loop stays
/// small enough to inline into the step.
#[cold]
#[inline(never)]
fn mul_div_wide(a: u64, b: u64, c: u64) -> u64 {
    u64::try_from(u128::from(a) * u128::from(b) / u128::from(c)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Scheduler;
    use crate::rng;
    use crate::tier::read_path::ChannelMapping;
    use crate::units::Seconds;

    fn flash(path: ReadPath, units: u32, link: f64) -> DeviceParams {
        DeviceParams {
            read_bw: BytesPerSec(link),
            write_bw: BytesPerSec(link),
            read_latency: LatencyDist::fixed(Seconds::us(4.0)),
            write_latency: LatencyDist::fixed(Seconds::us(75.0)),
            parallel_units: units,
            queue_depth: units * 2,
            io_size: Bytes(4096.0),
            read_path: Some(path),
        }
    }

    fn path() -> ReadPath {
        ReadPath {
            channels: 4,
            mapping: ChannelMapping::Striped,
            admission: Seconds::ns(5.0),
            command: Seconds::ns(2.0),
            front: Seconds::ns(100.0),
            data_out: Seconds::ns(40.0),
            post: Seconds::ns(250.0),
        }
    }

    /// Seconds until the last of `ios` reads issued at zero completes.
    fn burst(p: &DeviceParams, g: Granularity, ios: u64) -> f64 {
        let mut dev = Device::new(p, g, 16);
        let mut rng = rng::stream(0, 0);
        let mut sched = Scheduler::new();
        dev.read(
            SimTime::ZERO,
            p.io_size * ios as f64,
            &mut rng,
            |at, leg| sched.schedule(at, leg),
        );
        let mut end = SimTime::ZERO;
        while let Some((t, leg)) = sched.pop() {
            end = end.max(dev.transfer(t, leg));
        }
        end.to_seconds().0
    }

    #[test]
    fn one_read_crosses_every_stage_in_turn() {
        // 4 channels share 409.6 GB/s: a page takes 40 ns on its channel's link, as long as
        // its data-out, so 40 ns holds the channel and 40 ns more is latency.
        let p = flash(path(), 64, 409.6e9);
        let t = burst(&p, Granularity::Fine, 1);
        let want = (5.0 + 2.0 + 100.0 + 4000.0 + 40.0 + 40.0 + 250.0) * 1e-9;
        assert!((t - want).abs() < 2e-12, "{t} vs {want}");
    }

    #[test]
    fn a_long_burst_runs_at_the_slowest_stage() {
        // The time each extra read adds to a long burst is the slowest stage's time per read;
        // the fixed latencies (sense, front, post) cancel in the difference.
        let per_read = |p: &DeviceParams| {
            let n = 10_000;
            (burst(p, Granularity::Fine, 2 * n) - burst(p, Granularity::Fine, n)) / n as f64
        };
        // Channels bind: a 204.8 GB/s link is 80 ns per page on each of 4 channels.
        let t = per_read(&flash(path(), 1024, 204.8e9));
        assert!((t / 20e-9 - 1.0).abs() < 0.005, "{t}");
        // Admission binds: one read per 30 ns; the channels take one per 10 ns.
        let slow = ReadPath {
            admission: Seconds::ns(30.0),
            ..path()
        };
        let t = per_read(&flash(slow, 1024, 819.2e9));
        assert!((t / 30e-9 - 1.0).abs() < 0.005, "{t}");
        // The array binds: 64 units x one read per 4 us.
        let t = per_read(&flash(path(), 64, 819.2e9));
        assert!((t / 62.5e-9 - 1.0).abs() < 0.005, "{t}");
    }

    #[test]
    fn pooled_channels_keep_the_fine_bound() {
        for (units, link) in [(1024, 204.8e9), (64, 819.2e9), (256, 409.6e9)] {
            let p = flash(path(), units, link);
            let fine = burst(&p, Granularity::Fine, 8192);
            let coarse = burst(&p, Granularity::Coarse, 8192);
            assert!(
                (coarse / fine - 1.0).abs() < 0.05,
                "{units}: {fine} vs {coarse}"
            );
        }
    }

    fn write_time(p: &DeviceParams, g: Granularity, pages: u64) -> f64 {
        let mut dev = Device::new(p, g, 16);
        let mut rng = rng::stream(0, 0);
        let end = dev.write(SimTime::ZERO, p.io_size * pages as f64, &mut rng);
        end.to_seconds().0
    }

    #[test]
    fn pages_program_as_they_arrive() {
        // 64 units programming 75 us pages behind a link moving a page per 1.6 us: the link
        // binds (64 units take a page per 1.17 us), so the write ends one program after its
        // last page is in, not after all of them are in plus every round of programs.
        let p = DeviceParams {
            write_bw: BytesPerSec(4096.0 / 1.6e-6),
            ..flash(path(), 64, 409.6e9)
        };
        let pages = 640;
        let link = pages as f64 * 1.6e-6;
        let t = write_time(&p, Granularity::Fine, pages);
        assert!((t - (link + 75e-6)).abs() < 1e-9, "{t}");
        // Coarse lanes track it within a round of programs.
        let c = write_time(&p, Granularity::Coarse, pages);
        assert!((c - t).abs() <= 75e-6 + 1e-9, "{c} vs {t}");
        // With a fast link the units bind: ten rounds of programs, after the first round's 64
        // pages (10 ns each) are in.
        let fast = DeviceParams {
            write_bw: BytesPerSec(409.6e9),
            ..p
        };
        let t = write_time(&fast, Granularity::Fine, pages);
        assert!((t - (10.0 * 75e-6 + 64.0 * 10e-9)).abs() < 1e-9, "{t}");
    }

    #[test]
    fn contiguous_reads_queue_on_one_channel() {
        // 4 reads: striped they leave on four channels at once; contiguous (16 units per
        // channel) they queue on the first, 3 x 40 ns later.
        let striped = flash(path(), 64, 409.6e9);
        let contiguous = flash(
            ReadPath {
                mapping: ChannelMapping::Contiguous,
                admission: Seconds::ZERO,
                ..path()
            },
            64,
            409.6e9,
        );
        let striped = DeviceParams {
            read_path: Some(ReadPath {
                admission: Seconds::ZERO,
                ..path()
            }),
            ..striped
        };
        let s = burst(&striped, Granularity::Fine, 4);
        let c = burst(&contiguous, Granularity::Fine, 4);
        assert!(((c - s) - 120e-9).abs() < 1e-11, "{s} {c}");
    }
}
