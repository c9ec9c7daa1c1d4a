//! The named, portable random generator and its seeding (DESIGN §3.3).

use rand::SeedableRng;

/// The simulator's generator: PCG-64 with a multiplicative congruential step, a named algorithm
/// whose output does not change between `rand` releases or platforms.
pub type SimRng = rand_pcg::Pcg64Mcg;

/// SplitMix64 finaliser: spreads nearby integers to unrelated 64-bit values.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator for stream `id` (a sweep point, a repetition, a tier) of run `seed`.
///
/// Streams depend only on `(seed, id)`, never on thread scheduling, so results are identical
/// for any thread count or shard split.
pub fn stream(seed: u64, id: u64) -> SimRng {
    let hi = mix(seed ^ mix(id));
    let lo = mix(hi ^ id.rotate_left(32));
    SimRng::seed_from_u64(hi ^ lo.rotate_left(17))
}
