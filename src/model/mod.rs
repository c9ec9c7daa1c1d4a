//! Model architectures and the traffic they generate.
pub mod gguf;
pub mod quant;
pub mod spec;
pub mod traffic;
