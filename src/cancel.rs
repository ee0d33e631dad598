//! Cancellation, shared by every layer: it depends on nothing but the error
//! type, so host code can poll it without knowing the runtime.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A flag shared by the engine's progress callback, every long primitive and
/// whoever may cancel (a Ctrl-C handler, the embedding program). Rhai's
/// `on_progress` cannot fire while a native function blocks, so primitives
/// must poll this themselves.
#[derive(Clone, Default, Debug)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// The flag itself, for a signal handler to set (signal-hook's `flag::register`).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// `Err(cancelled)` once cancelled: put `ctx.cancel.check()?` in loops.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::cancelled())
        } else {
            Ok(())
        }
    }
    /// Resolves when cancelled; `select!` it against slow futures.
    pub async fn cancelled(&self) {
        while !self.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    /// Sleeps for `d` unless cancelled first.
    pub fn sleep(&self, d: Duration) -> Result<()> {
        let step = Duration::from_millis(25);
        let start = std::time::Instant::now();
        while start.elapsed() < d {
            self.check()?;
            std::thread::sleep(step.min(d.saturating_sub(start.elapsed())));
        }
        self.check()
    }
}
