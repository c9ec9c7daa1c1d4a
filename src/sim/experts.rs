//! Mixture-of-experts routing and the expert cache (DESIGN §2.1).
//!
//! Each token of a step draws `experts_per_token` distinct experts per MoE layer, by a Zipf
//! popularity whose ranking each layer shuffles once per run. A step reads the union of the
//! experts its tokens picked. When the experts' home is a slower tier and the system keeps an
//! expert cache, LRU caches of whole experts in the compute-local tier serve hits locally; a
//! miss is read from the home tier and copied in, evicting the least recently used. Each layer
//! has its own LRU with an equal share of the bytes: layers are visited in a fixed cycle, and
//! one LRU over all of them would evict every layer's experts just before they are needed again
//! whenever the cache is smaller than a step's working set. When the home tier computes its own
//! experts (a host processor), a miss is computed there and nothing is copied in: the cache is
//! then the static set of most popular experts a warm start gives it.

use rand::{Rng, SeedableRng};

use crate::config::system::Routing;
use crate::rng::SimRng;
use crate::sim::machine::Machine;
use crate::units::Bytes;

/// Where one layer's expert bytes come from in one step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExpertReads {
    /// Distinct experts the cache held (all of them when the home is local).
    pub hits: u32,
    /// Distinct experts read from the home tier.
    pub misses: u32,
    /// Bytes read from the experts' home tier.
    pub home: Bytes,
    /// Bytes read from the cache in the compute-local tier.
    pub cached: Bytes,
    /// Bytes copied into the cache (local writes).
    pub fill: Bytes,
}

/// Expert-cache accesses over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Distinct experts steps asked of the cache.
    pub accesses: u64,
    /// Those found in it.
    pub hits: u64,
}

impl CacheStats {
    /// Hits over accesses; `None` before any access.
    pub fn hit_rate(&self) -> Option<f64> {
        (self.accesses > 0).then(|| self.hits as f64 / self.accesses as f64)
    }
}

/// Routing state and cache of one run.
#[derive(Debug, Clone)]
pub struct Experts {
    rng: SimRng,
    /// Cumulative Zipf weights by rank, normalised to end at 1.
    cdf: Vec<f64>,
    /// Per MoE layer, the expert holding each rank.
    rank_to_expert: Vec<Vec<u32>>,
    /// Per layer, the offset of its experts in the flat id space (`u32::MAX` on dense layers).
    base: Vec<u32>,
    /// Per layer, the LRU of its cached experts (ids local to the layer).
    cache: Option<Vec<Lru>>,
    /// Step stamp of each flat expert id, marking the union of the current step.
    picked: Vec<u32>,
    /// Per-token stamp of each flat expert id, for drawing distinct experts.
    drawn: Vec<u32>,
    stamp: u32,
    token_stamp: u32,
    union: Vec<u32>,
    stats: CacheStats,
}

impl Experts {
    /// Routing for `m`, or `None` when the model is dense or routing is the expectation.
    /// Routing draws from a stream of its own, seeded by one draw from `parent` (none is taken
    /// when `None` is returned, so a dense model's device draws are unchanged).
    pub fn new(m: &Machine, parent: &mut SimRng) -> Option<Self> {
        let spec = &m.system.experts;
        let layers = &m.traffic.layers;
        if spec.routing == Routing::Expected || layers.iter().all(|l| l.n_experts == 0) {
            return None;
        }
        let mut rng = SimRng::seed_from_u64(parent.next_u64());
        let n = layers.iter().map(|l| l.n_experts).max().unwrap_or(0) as usize;
        let mut cdf: Vec<f64> = (1..=n).map(|r| (r as f64).powf(-spec.skew)).collect();
        let mut acc = 0.0;
        for w in &mut cdf {
            acc += *w;
            *w = acc;
        }
        for w in &mut cdf {
            *w /= acc;
        }
        let mut base = Vec::with_capacity(layers.len());
        let mut rank_to_expert = Vec::with_capacity(layers.len());
        let mut next = 0u32;
        for l in layers {
            if l.n_experts == 0 {
                base.push(u32::MAX);
                rank_to_expert.push(Vec::new());
                continue;
            }
            base.push(next);
            next += l.n_experts;
            let mut order: Vec<u32> = (0..l.n_experts).collect();
            shuffle(&mut order, &mut rng);
            rank_to_expert.push(order);
        }
        let total = next as usize;
        let remote = |l: usize| layers[l].n_experts > 0 && m.layers[l].experts > 0;
        let n_remote = (0..layers.len()).filter(|&l| remote(l)).count();
        let cache = spec.cache.filter(|_| n_remote > 0).map(|capacity| {
            let share = capacity / n_remote as f64;
            (0..layers.len())
                .map(|l| {
                    // Layers whose experts are already local keep no cache.
                    let cap = if remote(l) { share } else { Bytes::ZERO };
                    let mut lru = Lru::new(layers[l].n_experts as usize, layers[l].expert, cap);
                    if spec.warm {
                        lru.warm(&rank_to_expert[l]);
                    }
                    lru
                })
                .collect()
        });
        Some(Self {
            rng,
            cdf,
            rank_to_expert,
            base,
            picked: vec![0; total],
            drawn: vec![0; total],
            stamp: 0,
            token_stamp: 0,
            union: Vec::new(),
            cache,
            stats: CacheStats::default(),
        })
    }

    /// Cache accesses so far; `None` without a cache.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(|_| self.stats)
    }

    /// Routes `tokens` tokens through layer `layer` of `m` and says where the union of their
    /// experts is read from; with `admit` false a miss is not copied into the cache.
    pub fn route(&mut self, m: &Machine, layer: usize, tokens: u32, admit: bool) -> ExpertReads {
        let w = &m.traffic.layers[layer];
        if w.n_experts == 0 || tokens == 0 {
            return ExpertReads::default();
        }
        let base = self.base[layer];
        let n = w.n_experts as usize;
        let k = w.experts_per_token as usize;
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.picked.fill(0);
            self.stamp = 1;
        }
        self.union.clear();
        for _ in 0..tokens {
            // Once every expert is in the union, further tokens cannot add one.
            if self.union.len() == n {
                break;
            }
            self.token_stamp = self.token_stamp.wrapping_add(1);
            if self.token_stamp == 0 {
                self.drawn.fill(0);
                self.token_stamp = 1;
            }
            for _ in 0..k {
                let e = self.draw_distinct(layer, n);
                let id = (base + e) as usize;
                self.drawn[id] = self.token_stamp;
                if self.picked[id] != self.stamp {
                    self.picked[id] = self.stamp;
                    self.union.push(base + e);
                }
            }
        }
        let home_is_local = m.layers[layer].experts == 0;
        let distinct = self.union.len() as u32;
        match &mut self.cache {
            _ if home_is_local => ExpertReads {
                hits: distinct,
                cached: w.expert * f64::from(distinct),
                ..ExpertReads::default()
            },
            None => ExpertReads {
                misses: distinct,
                home: w.expert * f64::from(distinct),
                ..ExpertReads::default()
            },
            Some(caches) => {
                let lru = &mut caches[layer];
                // Ascending ids: the order tokens happened to draw them in is not an access order.
                self.union.sort_unstable();
                let mut hits = 0u32;
                for &id in &self.union {
                    hits += u32::from(lru.access(id - base, admit));
                }
                let misses = distinct - hits;
                self.stats.accesses += u64::from(distinct);
                self.stats.hits += u64::from(hits);
                let missed = w.expert * f64::from(misses);
                ExpertReads {
                    hits,
                    misses,
                    home: missed,
                    cached: w.expert * f64::from(hits),
                    fill: if admit && lru.admits() {
                        missed
                    } else {
                        Bytes::ZERO
                    },
                }
            }
        }
    }

    /// One expert of `layer` not yet drawn for the current token.
    fn draw_distinct(&mut self, layer: usize, n: usize) -> u32 {
        let base = self.base[layer] as usize;
        let order = &self.rank_to_expert[layer];
        let cdf = &self.cdf[..n];
        let total = cdf[n - 1];
        // Rejection is cheap while the drawn experts hold little of the mass; a steep skew can
        // make it crawl, so after a few misses fall back to an exact draw over the rest.
        for _ in 0..32 {
            let u = unit(&mut self.rng) * total;
            let rank = cdf.partition_point(|&c| c < u).min(n - 1);
            let e = order[rank];
            if self.drawn[base + e as usize] != self.token_stamp {
                return e;
            }
        }
        let mut free = 0.0;
        let mut prev = 0.0;
        for (rank, &c) in cdf.iter().enumerate() {
            if self.drawn[base + order[rank] as usize] != self.token_stamp {
                free += c - prev;
            }
            prev = c;
        }
        let mut u = unit(&mut self.rng) * free;
        let mut prev = 0.0;
        let mut last = order[0];
        for (rank, &c) in cdf.iter().enumerate() {
            let e = order[rank];
            if self.drawn[base + e as usize] != self.token_stamp {
                last = e;
                u -= c - prev;
                if u <= 0.0 {
                    return e;
                }
            }
            prev = c;
        }
        last
    }
}

/// A uniform variate in (0, 1) from 53 random bits.
fn unit(rng: &mut SimRng) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / 9_007_199_254_740_992.0)
}

/// Fisher–Yates with the portable generator (rand's `shuffle` is not promised stable across
/// releases, and the ranking must be).
fn shuffle(v: &mut [u32], rng: &mut SimRng) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

const NIL: u32 = u32::MAX;

/// One layer's LRU set of equally sized experts: an intrusive doubly linked list over expert
/// ids, so an access is O(1) and a run allocates once.
#[derive(Debug, Clone)]
struct Lru {
    size: Bytes,
    capacity: Bytes,
    used: Bytes,
    resident: Vec<bool>,
    prev: Vec<u32>,
    next: Vec<u32>,
    head: u32,
    tail: u32,
}

impl Lru {
    fn new(n: usize, size: Bytes, capacity: Bytes) -> Self {
        Self {
            size,
            capacity,
            used: Bytes::ZERO,
            resident: vec![false; n],
            prev: vec![NIL; n],
            next: vec![NIL; n],
            head: NIL,
            tail: NIL,
        }
    }

    /// Whether an expert fits at all.
    fn admits(&self) -> bool {
        self.size.0 > 0.0 && self.size <= self.capacity
    }

    /// Fills the cache with the layer's most popular experts, `order` listing them by rank;
    /// the most popular end up most recently used.
    fn warm(&mut self, order: &[u32]) {
        if !self.admits() {
            return;
        }
        let fit = (self.capacity / self.size).floor() as usize;
        for &e in order[..fit.min(order.len())].iter().rev() {
            self.used += self.size;
            self.resident[e as usize] = true;
            self.push_front(e);
        }
    }

    /// Touches expert `id`; true on a hit. A miss with `admit` inserts it, evicting from the
    /// tail.
    fn access(&mut self, id: u32, admit: bool) -> bool {
        let i = id as usize;
        if self.resident[i] {
            self.unlink(id);
            self.push_front(id);
            return true;
        }
        if !admit || !self.admits() {
            return false;
        }
        while self.used + self.size > self.capacity && self.tail != NIL {
            let victim = self.tail;
            self.unlink(victim);
            self.resident[victim as usize] = false;
            self.used = self.used - self.size;
        }
        self.resident[i] = true;
        self.used += self.size;
        self.push_front(id);
        false
    }

    fn unlink(&mut self, id: u32) {
        let i = id as usize;
        let (p, n) = (self.prev[i], self.next[i]);
        if p == NIL {
            self.head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.prev[n as usize] = p;
        }
        self.prev[i] = NIL;
        self.next[i] = NIL;
    }

    fn push_front(&mut self, id: u32) {
        let i = id as usize;
        self.prev[i] = NIL;
        self.next[i] = self.head;
        if self.head != NIL {
            self.prev[self.head as usize] = id;
        }
        self.head = id;
        if self.tail == NIL {
            self.tail = id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lru(n: usize, size: f64, cap: f64) -> Lru {
        Lru::new(n, Bytes(size), Bytes(cap))
    }

    #[test]
    fn lru_evicts_least_recently_used() {
        let mut c = lru(4, 1.0, 2.0);
        assert!(!c.access(0, true));
        assert!(!c.access(1, true));
        assert!(c.access(0, true));
        assert!(!c.access(2, true)); // evicts 1, the least recently used
        assert!(c.access(0, true));
        assert!(!c.access(1, true));
        assert_eq!(c.used, Bytes(2.0));
    }

    #[test]
    fn lru_never_holds_more_than_capacity() {
        let mut c = lru(10, 3.0, 10.0);
        for id in [0, 1, 2, 3, 4, 0, 5, 1, 9] {
            c.access(id, true);
            assert!(c.used <= Bytes(10.0));
            assert!(c.resident.iter().filter(|&&r| r).count() <= 3);
        }
    }

    #[test]
    fn an_expert_larger_than_the_cache_is_never_admitted() {
        let mut c = lru(2, 5.0, 4.0);
        assert!(!c.access(0, true));
        assert!(!c.access(0, true));
        assert_eq!(c.used, Bytes::ZERO);
        assert!(!c.admits());
    }

    #[test]
    fn warm_holds_the_top_ranks_and_a_closed_cache_never_changes() {
        let mut c = lru(8, 2.0, 5.0);
        c.warm(&[6, 1, 3, 0, 2, 4, 5, 7]);
        assert_eq!(c.used, Bytes(4.0));
        assert!(c.resident[6] && c.resident[1] && !c.resident[3]);
        assert!(!c.access(3, false));
        assert!(!c.resident[3] && c.resident[6] && c.resident[1]);
        assert!(c.access(6, false));
    }

    #[test]
    fn shuffle_is_a_permutation_and_seeded() {
        let mut a: Vec<u32> = (0..128).collect();
        let mut b = a.clone();
        shuffle(&mut a, &mut crate::rng::stream(7, 1));
        shuffle(&mut b, &mut crate::rng::stream(7, 1));
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..128).collect::<Vec<_>>());
        assert_ne!(a, sorted);
    }
}
