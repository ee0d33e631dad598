//! Printing results: tables on a terminal, JSON lines with `--json`.

mod escape;
mod render;

pub use escape::{escape, lossless};
pub use render::{print_value, render_table, to_json, ConsoleSink, Style};
