//! Printing results: tables on a terminal, JSON lines with `--json`.

mod escape;
mod render;

pub use escape::{escape, json_safe, lossless, markdown_cell, JsonSafe};
pub use render::{finding_line, print_value, render, render_table, to_json, ConsoleSink, Style};
