//! How far a fit has got. A fit runs for tens of seconds in stages of known length; it reports
//! them here and the caller decides whether and how to show them (a bar on a terminal, nothing
//! in a pipe or a test).

/// Receives a fit's stages and steps; called from the fit's worker threads.
pub trait Progress: Sync {
    /// A stage of `steps` steps begins (`fitting`, `sensitivity`, `leave-one-out`).
    fn stage(&self, name: &'static str, steps: usize);
    /// One step of the current stage is done.
    fn step(&self);
}

/// Shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _: &'static str, _: usize) {}
    fn step(&self) {}
}
