//! Tier devices: latency distributions and the access model of a memory tier.
pub mod device;
pub mod fio;
pub mod latency;
pub mod read_path;
