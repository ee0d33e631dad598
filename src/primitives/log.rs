//! `log::` primitives.

use rhai::plugin::*;

#[export_module]
pub mod log_fns {}
