//! Printing results: tables on a terminal, JSON lines with `--json`.

pub mod envelope;
mod render;

// Kept at the old path: text escaping lives in the dependency-free `crate::text`.
pub use crate::text::{escape, lossless};
pub use envelope::{Envelope, JsonFormat, RecordType};
pub use render::{finding_line, print_value, render, render_table, to_json, ConsoleSink, Style};
