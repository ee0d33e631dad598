//! `scan::` primitives.

use rhai::plugin::*;

#[export_module]
pub mod scan_fns {}
