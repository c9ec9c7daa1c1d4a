//! Configuration: system specs, embedded presets, loading with overrides, validation.
pub mod error;
pub mod llamacpp;
pub mod load;
pub mod presets;
mod suggest;
pub mod system;
pub mod validate;
