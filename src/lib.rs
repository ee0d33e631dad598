//! # hound
//!
//! A runtime for threat hunting and incident response on Linux: Rhai scripts
//! get real primitives for scanning, sockets, processes, the firewall
//! (nftables) and the file system.
//!
//! Layers, bottom up (each uses only the ones above it in this list):
//! - [`error`], [`text`] (escaping, lossless bytes) and [`cancel`]: no
//!   dependencies inside the crate.
//! - [`host`]: plain Rust that reads and changes the system; serde structs
//!   and [`Error`]s, no Rhai.
//! - [`runtime`]: the per-run context (policy, dry-run, case journal, the
//!   action gate, the plan), the report, params, docs; `runtime`'s engine
//!   assembly ([`Runtime`]) is the one place that registers the primitives.
//! - [`primitives`]: thin Rhai bindings, one module per family, on top of
//!   `host` and the runtime's context, action gate, case and plan (never
//!   the other way round: only the engine assembly in `runtime` names them).
//! - [`output`]: tables and JSON lines (a [`runtime::Sink`]), with attacker
//!   text escaped. The binary (`src/cli`) sits on top of everything.

// Script errors carry a full diagnostic (file, line, source line, hint); they
// are rare, so their size on the error path does not matter.
#![allow(clippy::result_large_err)]

pub mod cancel;
pub mod error;
pub mod fleet;
pub mod host;
pub mod output;
pub mod primitives;
pub mod runtime;
pub mod text;

pub use error::{Error, ErrorKind, Result};
pub use runtime::{CancelToken, Limits, Runtime, RuntimeBuilder, Script, ScriptError};
