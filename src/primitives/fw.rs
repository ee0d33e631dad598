//! `fw::` primitives.

use rhai::plugin::*;

#[export_module]
pub mod fw_fns {}
