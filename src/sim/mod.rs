//! The simulation of a model on a system: placement, KV residency, per-step work and its
//! execution on the event core.
pub mod compute;
pub mod experts;
pub mod kv;
pub mod machine;
pub mod run;
pub mod work;
