//! `net::` primitives (second file of the family; see `mod.rs`).

use rhai::plugin::*;

#[export_module]
pub mod net_verify_fns {}
