//! `case::` primitives.

use rhai::plugin::*;

#[export_module]
pub mod case_fns {}
