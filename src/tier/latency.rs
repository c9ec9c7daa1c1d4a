//! STUB — being replaced.
use serde::{Deserialize, Serialize};
use crate::units::Seconds;
/// Latency distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyDist {
    /// Fixed.
    Fixed(Seconds),
}
