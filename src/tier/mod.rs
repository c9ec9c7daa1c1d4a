//! Tier devices: latency distributions and the access timeline of a memory tier.
pub mod latency;
