//! Model architectures and the traffic they generate.
pub mod quant;
pub mod spec;
pub mod traffic;
