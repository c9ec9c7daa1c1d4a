//! Calibration against real hardware: reading measured `llama-bench` results (and the
//! predecessor harness's) into one row type that fitting and validation can use.

pub mod error;
pub mod fit;
pub mod levenberg;
pub mod nelder_mead;
pub mod plan;
pub mod points;
pub mod progress;
pub mod readers;
pub mod report;
