//! `fs::` primitives.

use rhai::plugin::*;

#[export_module]
pub mod fs_fns {}
