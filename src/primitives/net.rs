//! `net::` primitives.

use rhai::plugin::*;

#[export_module]
pub mod net_fns {}
