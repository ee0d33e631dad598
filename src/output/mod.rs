//! Printing results: tables on a terminal, JSON lines with `--json`.

pub mod envelope;
mod escape;
mod render;

pub use envelope::{Envelope, JsonFormat, RecordType};
pub use escape::{escape, lossless};
pub use render::{finding_line, print_value, render, render_table, to_json, ConsoleSink, Style};
