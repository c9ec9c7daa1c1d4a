//! Executing steps on the event core: layer fetches through the tier devices, compute on the
//! local roofline, overlapped as the system's overlap mode says (DESIGN §2.4).

use crate::config::system::OverlapMode;
use crate::engine::Scheduler;
use crate::rng::SimRng;
use crate::sim::experts::{CacheStats, Experts};
use crate::sim::kv::KvLayout;
use crate::sim::machine::Machine;
use crate::sim::work::{Group, KernelOptions, Step, StepWork};
use crate::tier::device::{Device, ReadLeg};
use crate::units::{Bytes, SimTime};

/// Events of a step: a read leg reaching the link, a layer's fetch done, a layer's compute done.
#[derive(Debug, Clone, Copy)]
enum Ev {
    Leg { tier: u32, layer: u32, leg: ReadLeg },
    Fetched { layer: u32 },
    Computed { layer: u32 },
}

/// Totals of a run, per tier where it applies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunTotals {
    /// Time compute waited for each tier's data.
    pub stall: Vec<SimTime>,
    /// Bytes read from the local tier by the roofline (weights, KV, embeddings).
    pub local_bytes: Bytes,
    /// Bytes host processors read in place from each tier (weights they compute on, KV cache
    /// they attend over).
    pub host_read: Vec<Bytes>,
    /// Bytes host processors write in place to each tier (KV cache they hold).
    pub host_written: Vec<Bytes>,
    /// Time the local tier's memory stream was busy.
    pub local_busy: SimTime,
}

/// Per-layer progress of the step being run.
#[derive(Debug, Clone, Copy, Default)]
struct LayerState {
    issued: bool,
    fetched: bool,
    pending: u32,
    fetch_end: SimTime,
    last_tier: u32,
    buffered: Bytes,
}

/// One repetition of a test: devices, clock and random stream, stepped forward step by step.
pub struct Run<'a> {
    m: &'a Machine,
    kv: &'a KvLayout,
    devices: Vec<Option<Device>>,
    sched: Scheduler<Ev>,
    rng: SimRng,
    now: SimTime,
    work: StepWork,
    state: Vec<LayerState>,
    totals: RunTotals,
    experts: Option<Experts>,
    options: KernelOptions,
    /// Read legs of the layer being fetched, `(first round's end, tier, leg)`.
    legs: Vec<(SimTime, usize, ReadLeg)>,
}

impl<'a> Run<'a> {
    /// A run with idle devices at time zero.
    pub fn new(m: &'a Machine, kv: &'a KvLayout, mut rng: SimRng) -> Self {
        let sim = &m.system.sim;
        let devices = m
            .devices
            .iter()
            .map(|d| {
                d.as_ref()
                    .map(|p| Device::new(p, sim.granularity, sim.lanes))
            })
            .collect();
        let experts = Experts::new(m, &mut rng);
        Self {
            m,
            kv,
            devices,
            sched: Scheduler::new(),
            rng,
            now: SimTime::ZERO,
            work: StepWork::new(m),
            state: Vec::new(),
            totals: RunTotals {
                stall: vec![SimTime::ZERO; m.system.tiers.len()],
                host_read: vec![Bytes::ZERO; m.system.tiers.len()],
                host_written: vec![Bytes::ZERO; m.system.tiers.len()],
                ..RunTotals::default()
            },
            experts,
            options: KernelOptions::default(),
            legs: Vec::new(),
        }
    }

    /// Sets the kernel options (flash attention, repacking) of the steps to come.
    pub fn set_options(&mut self, options: KernelOptions) {
        self.options = options;
    }

    /// The clock: when the last step ended.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Devices by tier (`None` for the local tier).
    pub fn devices(&self) -> &[Option<Device>] {
        &self.devices
    }

    /// Totals so far.
    pub fn totals(&self) -> &RunTotals {
        &self.totals
    }

    /// Expert-cache accesses so far; `None` without a cache in use.
    pub fn expert_cache(&self) -> Option<CacheStats> {
        self.experts.as_ref().and_then(Experts::cache_stats)
    }

    /// Copies `bytes` from device tier `tier` into the local tier starting now (a cold start's
    /// staging of the weights); returns how long it took. The copy goes through the device like
    /// any fetch, so its queue depth, units and latencies apply.
    pub fn stage(&mut self, tier: usize, bytes: Bytes) -> SimTime {
        let start = self.now;
        if self.m.idle_device(tier).is_none() {
            return SimTime::ZERO;
        }
        let dev = device(self.m, &mut self.devices, tier);
        let mut sched: Scheduler<ReadLeg> = Scheduler::new();
        let mut end = start;
        dev.read(start, bytes, &mut self.rng, |at, leg| {
            sched.schedule(at, leg)
        });
        while let Some((t, leg)) = sched.pop() {
            end = end.max(dev.transfer(t, leg));
        }
        self.sched.reset(end);
        self.now = end;
        end.saturating_sub(start)
    }

    /// Lets the clock run idle until `t` (nothing happens when it is already later): a server
    /// waiting for its next request.
    pub fn idle_until(&mut self, t: SimTime) {
        if t > self.now {
            self.sched.reset(t);
            self.now = t;
        }
    }

    /// Simulates one step starting now; returns its duration.
    pub fn step(&mut self, step: Step) -> SimTime {
        self.step_groups(&[step.group()], step.outputs)
    }

    /// Simulates one step over `groups` of sequences, `outputs` of whose tokens get logits,
    /// starting now; returns its duration.
    pub fn step_groups(&mut self, groups: &[Group], outputs: u32) -> SimTime {
        let mut work = std::mem::take(&mut self.work);
        work.plan(
            self.m,
            self.kv,
            groups,
            outputs,
            self.experts.as_mut(),
            self.options,
        );
        let start = self.now;
        let end = self.execute(
            &work,
            start + SimTime::from_seconds(self.m.system.compute.step_overhead),
        );
        self.work = work;
        self.now = end;
        end.saturating_sub(start)
    }

    fn execute(&mut self, work: &StepWork, t0: SimTime) -> SimTime {
        let n = work.layers();
        for l in 0..n {
            self.totals.local_bytes += work.local(l);
        }
        for tier in 0..work.tiers() {
            self.totals.host_read[tier] += work.host_read(tier);
            self.totals.host_written[tier] += work.host_write(tier);
        }
        let overlap = &self.m.system.overlap;
        let mode = overlap.mode;
        let ahead = if mode == OverlapMode::Prefetch {
            overlap.prefetch_layers as usize
        } else {
            0
        };
        if ahead == 0 {
            return self.execute_in_order(work, t0, mode == OverlapMode::Stream);
        }
        self.execute_ahead(work, t0, ahead)
    }

    /// [`Self::execute`] with prefetch `ahead` layers deep, on the event queue. Kept out of
    /// line: the in-order steps, most steps of most runs, then compile to a compact loop.
    #[inline(never)]
    fn execute_ahead(&mut self, work: &StepWork, t0: SimTime, ahead: usize) -> SimTime {
        let n = work.layers();
        self.state.clear();
        self.state.resize(n, LayerState::default());
        let overlap = &self.m.system.overlap;
        let mode = overlap.mode;
        let buffer = overlap.buffer;

        let mut cur = 0usize;
        let mut ready = t0;
        let mut started = false;
        let mut computed = false;
        let mut compute_end = t0;
        let mut now = t0;
        loop {
            // Advance the layer pipeline as far as the current time allows.
            loop {
                if cur == n {
                    return ready;
                }
                if !started {
                    if !self.state[cur].issued {
                        self.issue(work, cur, now);
                    }
                    let st = self.state[cur];
                    if mode != OverlapMode::Stream && !st.fetched {
                        break;
                    }
                    if mode != OverlapMode::Stream && now > ready {
                        self.totals.stall[st.last_tier as usize] += now.saturating_sub(ready);
                    }
                    started = true;
                    compute_end = now + work.compute(cur);
                    self.sched
                        .schedule(compute_end, Ev::Computed { layer: cur as u32 });
                    for l in cur + 1..(cur + 1 + ahead).min(n) {
                        if self.state[l].issued {
                            continue;
                        }
                        let in_flight: Bytes = self.state[cur..l].iter().map(|s| s.buffered).sum();
                        let fits = buffer.is_none_or(|b| in_flight + work.remote_reads(l) <= b);
                        if !fits {
                            break;
                        }
                        self.issue(work, l, now);
                    }
                    break;
                }
                let st = self.state[cur];
                if !(computed && st.fetched) {
                    break;
                }
                if st.fetch_end > compute_end {
                    self.totals.stall[st.last_tier as usize] +=
                        st.fetch_end.saturating_sub(compute_end);
                }
                self.retire(work, cur, now);
                cur += 1;
                ready = now;
                started = false;
                computed = false;
            }
            let (t, ev) = self
                .sched
                .pop()
                .expect("a step in progress has pending events");
            now = t;
            match ev {
                Ev::Leg { tier, layer, leg } => {
                    let dev = device(self.m, &mut self.devices, tier as usize);
                    let done = dev.transfer(t, leg);
                    let st = &mut self.state[layer as usize];
                    if done >= st.fetch_end {
                        st.fetch_end = done;
                        st.last_tier = tier;
                    }
                    st.pending -= 1;
                    if st.pending == 0 {
                        self.sched.schedule(st.fetch_end, Ev::Fetched { layer });
                    }
                }
                Ev::Fetched { layer } => self.state[layer as usize].fetched = true,
                Ev::Computed { layer } => {
                    debug_assert_eq!(layer as usize, cur);
                    computed = true;
                }
            }
        }
    }

    /// [`Self::execute`] without prefetch: one layer fetches at a time, so its read legs reach
    /// the links in time order among themselves alone and are served in that order directly,
    /// and the layer ends when its compute and its fetch both have. The timeline is the one
    /// the event queue gives, tie for tie (legs in issue order at equal times), without the
    /// queue: most layers of a serving step fetch nothing, and those that do fetch a few legs.
    fn execute_in_order(&mut self, work: &StepWork, t0: SimTime, stream: bool) -> SimTime {
        let mut now = t0;
        for l in 0..work.layers() {
            if !work.remote(l) {
                // Nothing to fetch or write: the layer is its compute, stalling on nothing.
                now += work.compute(l);
                self.totals.local_busy += work.local_time(l);
                continue;
            }
            let ready = now;
            let mut legs = std::mem::take(&mut self.legs);
            legs.clear();
            for tier in 1..self.devices.len() {
                let bytes = work.read(l, tier);
                if bytes.0 <= 0.0 {
                    continue;
                }
                let dev = device(self.m, &mut self.devices, tier);
                dev.read(now, bytes, &mut self.rng, |first, leg| {
                    legs.push((first, tier, leg));
                });
            }
            // Stable: legs due at the same time keep their issue order, as the queue's
            // sequence numbers keep it.
            legs.sort_by_key(|&(first, _, _)| first);
            let (mut fetch_end, mut last_tier) = (now, 0);
            for &(first, tier, leg) in &legs {
                let done = device(self.m, &mut self.devices, tier).transfer(first, leg);
                if done >= fetch_end {
                    fetch_end = done;
                    last_tier = tier;
                }
            }
            let fetching = !legs.is_empty();
            self.legs = legs;
            let end = if stream {
                let compute_end = now + work.compute(l);
                if fetch_end > compute_end {
                    self.totals.stall[last_tier] += fetch_end.saturating_sub(compute_end);
                }
                compute_end.max(fetch_end)
            } else {
                let start = if fetching { fetch_end } else { now };
                if start > ready {
                    self.totals.stall[last_tier] += start.saturating_sub(ready);
                }
                start + work.compute(l)
            };
            now = end;
            self.retire(work, l, now);
        }
        now
    }

    /// Starts the fetch of layer `l`'s remote bytes at `now`.
    /// Ends layer `l` at `now`: its writes (KV appends, spills) go to their devices and its
    /// local-memory time is counted.
    #[inline]
    fn retire(&mut self, work: &StepWork, l: usize, now: SimTime) {
        for tier in 1..work.tiers() {
            let bytes = work.write(l, tier);
            if bytes.0 > 0.0 {
                let dev = device(self.m, &mut self.devices, tier);
                dev.write(now, bytes, &mut self.rng);
            }
        }
        self.totals.local_busy += work.local_time(l);
    }

    fn issue(&mut self, work: &StepWork, l: usize, now: SimTime) {
        let Self {
            m,
            devices,
            sched,
            rng,
            state,
            ..
        } = self;
        let st = &mut state[l];
        st.issued = true;
        st.fetch_end = now;
        for tier in 1..devices.len() {
            let bytes = work.read(l, tier);
            if bytes.0 <= 0.0 {
                continue;
            }
            let dev = device(m, devices, tier);
            st.buffered += bytes;
            dev.read(now, bytes, rng, |first, leg| {
                st.pending += 1;
                sched.schedule(
                    first,
                    Ev::Leg {
                        tier: tier as u32,
                        layer: l as u32,
                        leg,
                    },
                );
            });
        }
        st.fetched = st.pending == 0;
    }
}

/// The run's device for `tier`, cloned from the machine's idle one on first use.
#[inline]
fn device<'d>(m: &Machine, devices: &'d mut [Option<Device>], tier: usize) -> &'d mut Device {
    let slot = &mut devices[tier];
    if slot.is_none() {
        *slot = Some(idle_device(m, tier));
    }
    slot.as_mut().expect("set above")
}

/// A copy of the machine's idle device for `tier`: once per tier and run, so kept out of line.
#[cold]
#[inline(never)]
fn idle_device(m: &Machine, tier: usize) -> Device {
    m.idle_device(tier)
        .expect("traffic only goes to device tiers")
        .clone()
}
