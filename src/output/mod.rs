//! Printing results: tables on a terminal, JSON lines with `--json`.

mod render;

// Kept at the old path: text escaping lives in the dependency-free `crate::text`.
pub use crate::text::{escape, lossless};
pub use render::{finding_line, print_value, render, render_table, to_json, ConsoleSink, Style};
