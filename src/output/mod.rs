//! Printing results: tables on a terminal, JSON lines with `--json`.

mod escape;
mod render;

pub use escape::{escape, lossless};
pub use render::{
    finding_line, print_value, remember_map_literals, render, render_table, to_json, ConsoleSink,
    Style,
};
