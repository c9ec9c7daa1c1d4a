//! Configuration: system specs, presets and overrides.
pub mod system;
