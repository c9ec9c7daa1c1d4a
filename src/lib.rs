pub mod config;
pub mod layers;
pub mod model;
pub mod rng;
pub mod tier;
pub mod units;
