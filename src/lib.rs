//! # hound
//!
//! A runtime for threat hunting and incident response on Linux: Rhai scripts
//! get real primitives for scanning, sockets, processes, the firewall
//! (nftables) and the file system.
//!
//! Layers, bottom up:
//! - [`host`]: plain Rust that reads and changes the system; serde structs
//!   and [`Error`]s, no Rhai.
//! - [`primitives`]: thin Rhai bindings, one module per family.
//! - [`runtime`]: the engine set-up (limits, cancellation, modules, params,
//!   policy, journal); [`Runtime`] is what an embedding program builds.
//! - [`output`]: tables and JSON lines, with attacker text escaped.

// Script errors carry a full diagnostic (file, line, source line, hint); they
// are rare, so their size on the error path does not matter.
#![allow(clippy::result_large_err)]

pub mod error;
pub mod fleet;
pub mod host;
pub mod output;
pub mod primitives;
pub mod runtime;

pub use error::{Error, ErrorKind, Result};
pub use runtime::{CancelToken, Limits, Runtime, RuntimeBuilder, Script, ScriptError};
