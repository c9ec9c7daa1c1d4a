//! The event core: a deterministic discrete-event scheduler and two FIFO resources.
//!
//! This module knows nothing of models, tiers or files. Time is an integer ([`SimTime`]);
//! events are plain data chosen by the caller; ties at the same instant pop in the order they
//! were scheduled, so a run is a pure function of its inputs. Where a resource serves requests
//! first-come first-served and requests arrive in time order, a [`Timeline`] or [`Pool`] answers
//! "when does this request start and end?" in O(1) or O(log n) without scheduling an event.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::units::SimTime;

/// An event with its firing key; ordered by the key alone so `E` needs no ordering.
struct Entry<E> {
    /// `time << 64 | sequence`: one integer comparison orders by time, then by insertion.
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: `BinaryHeap` is a max-heap and the earliest event must come out first.
        other.key.cmp(&self.key)
    }
}

/// A priority queue of future events and the current simulated time.
pub struct Scheduler<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
    now: SimTime,
}

impl<E> Default for Scheduler<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Scheduler<E> {
    /// An empty scheduler at time zero.
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
            now: SimTime::ZERO,
        }
    }

    /// The time of the event popped last.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events still pending.
    #[inline]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is pending.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Schedules `event` at `at`; a time in the past fires at the current time, because causality
    /// forbids going back and callers compute times that may round below `now`.
    #[inline]
    pub fn schedule(&mut self, at: SimTime, event: E) {
        let at = at.max(self.now);
        let key = (u128::from(at.0) << 64) | u128::from(self.seq);
        self.seq += 1;
        self.heap.push(Entry { key, event });
    }

    /// Removes the earliest event, advances the clock to it and returns it.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let Entry { key, event } = self.heap.pop()?;
        self.now = SimTime((key >> 64) as u64);
        Some((self.now, event))
    }

    /// Drops pending events and moves the clock to `at` (keeps the allocation for reuse).
    pub fn reset(&mut self, at: SimTime) {
        self.heap.clear();
        self.now = at;
    }
}

/// A single FIFO server (a link, a compute engine) as the time it is busy until.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeline {
    busy_until: SimTime,
    busy: u64,
}

impl Timeline {
    /// Serves a request arriving at `at` for `duration`; returns `(start, end)`.
    ///
    /// Callers must reserve in arrival order for the FIFO discipline to hold.
    #[inline]
    pub fn reserve(&mut self, at: SimTime, duration: SimTime) -> (SimTime, SimTime) {
        let start = at.max(self.busy_until);
        let end = start + duration;
        self.busy_until = end;
        self.busy = self.busy.saturating_add(duration.0);
        (start, end)
    }

    /// When the server becomes free.
    #[inline]
    pub fn busy_until(&self) -> SimTime {
        self.busy_until
    }

    /// Total time served so far.
    #[inline]
    pub fn busy_time(&self) -> SimTime {
        SimTime(self.busy)
    }
}

/// `n` identical FIFO servers (units, lanes): each request takes the one that frees first.
///
/// Which of several servers freeing at the same time takes a request cannot matter (they are
/// identical), so only the multiset of their free times is kept: a heap for many servers, and a
/// plain array scanned for its minimum for a few, where a scan costs less than the heap's
/// data-dependent sift (a device's coarse lanes are 8).
#[derive(Debug, Clone)]
pub struct Pool {
    free_at: Servers,
    busy: u64,
}

/// The free times of a [`Pool`]'s servers.
#[derive(Debug, Clone)]
enum Servers {
    Few(Vec<u64>),
    Many(BinaryHeap<Reverse<u64>>),
}

impl Pool {
    /// The most servers kept in an array.
    const FEW: u32 = 16;

    /// `n` servers, all free at time zero (`n` is at least one).
    pub fn new(n: u32) -> Self {
        let n = n.max(1);
        let free_at = if n <= Self::FEW {
            Servers::Few(vec![0; n as usize])
        } else {
            Servers::Many((0..n).map(|_| Reverse(0)).collect())
        };
        Self { free_at, busy: 0 }
    }

    /// Number of servers.
    pub fn size(&self) -> usize {
        match &self.free_at {
            Servers::Few(v) => v.len(),
            Servers::Many(h) => h.len(),
        }
    }

    /// Serves a request arriving at `at` for `duration` on the earliest free server;
    /// returns `(start, end)`.
    #[inline]
    pub fn reserve(&mut self, at: SimTime, duration: SimTime) -> (SimTime, SimTime) {
        let busy = &mut self.busy;
        let mut serve = |free_at: &mut u64| {
            let start = at.0.max(*free_at);
            let end = start.saturating_add(duration.0);
            *free_at = end;
            *busy = busy.saturating_add(duration.0);
            (SimTime(start), SimTime(end))
        };
        match &mut self.free_at {
            Servers::Few(v) => {
                let (mut first, mut min) = (0, u64::MAX);
                for (i, &t) in v.iter().enumerate() {
                    let less = t < min;
                    min = if less { t } else { min };
                    first = if less { i } else { first };
                }
                serve(&mut v[first])
            }
            Servers::Many(h) => serve(&mut h.peek_mut().expect("a pool has a server").0),
        }
    }

    /// When the earliest server frees.
    #[inline]
    pub fn next_free(&self) -> SimTime {
        SimTime(match &self.free_at {
            Servers::Few(v) => v.iter().copied().min().unwrap_or(0),
            Servers::Many(h) => h.peek().map_or(0, |r| r.0),
        })
    }

    /// Total server time used so far (summed over servers).
    pub fn busy_time(&self) -> SimTime {
        SimTime(self.busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pop_in_time_then_insertion_order() {
        let mut s = Scheduler::new();
        s.schedule(SimTime(30), 'c');
        s.schedule(SimTime(10), 'a');
        s.schedule(SimTime(30), 'd');
        s.schedule(SimTime(10), 'b');
        let order: Vec<char> = std::iter::from_fn(|| s.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ['a', 'b', 'c', 'd']);
        assert_eq!(s.now(), SimTime(30));
    }

    #[test]
    fn the_past_fires_now() {
        let mut s = Scheduler::new();
        s.schedule(SimTime(50), 1);
        s.pop();
        s.schedule(SimTime(10), 2);
        assert_eq!(s.pop(), Some((SimTime(50), 2)));
    }

    #[test]
    fn timeline_serialises_and_pool_parallelises() {
        let mut t = Timeline::default();
        assert_eq!(
            t.reserve(SimTime(0), SimTime(10)),
            (SimTime(0), SimTime(10))
        );
        assert_eq!(
            t.reserve(SimTime(5), SimTime(10)),
            (SimTime(10), SimTime(20))
        );
        assert_eq!(
            t.reserve(SimTime(40), SimTime(1)),
            (SimTime(40), SimTime(41))
        );
        assert_eq!(t.busy_time(), SimTime(21));

        let mut p = Pool::new(2);
        let ends: Vec<u64> = (0..5)
            .map(|_| p.reserve(SimTime(0), SimTime(10)).1.0)
            .collect();
        assert_eq!(ends, [10, 10, 20, 20, 30]);
        assert_eq!(p.busy_time(), SimTime(50));
    }

    /// A pool kept in an array (up to 16 servers) or a heap serves every request as a heap of
    /// free times does, for arrivals in and out of order and durations from none to long.
    #[test]
    fn pool_serves_as_a_heap_of_free_times() {
        for n in 1..=20u32 {
            let mut pool = Pool::new(n);
            let mut heap: BinaryHeap<Reverse<u64>> = (0..n).map(|_| Reverse(0)).collect();
            // A small linear congruential sequence: arrivals that mostly advance, sometimes
            // step back, and durations that often tie.
            let mut x: u64 = 0x2545_f491_4f6c_dd1d ^ u64::from(n);
            let mut at = 0u64;
            for _ in 0..2_000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                at = (at + (x >> 58)).saturating_sub((x >> 40) & 7);
                let duration = (x >> 20) % 40;
                let mut top = heap.peek_mut().expect("servers");
                let start = at.max(top.0);
                top.0 = start + duration;
                drop(top);
                assert_eq!(
                    pool.reserve(SimTime(at), SimTime(duration)),
                    (SimTime(start), SimTime(start + duration)),
                    "{n} servers"
                );
                assert_eq!(
                    pool.next_free().0,
                    heap.peek().expect("servers").0,
                    "{n} servers"
                );
            }
        }
    }
}
