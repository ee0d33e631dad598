//! `proc::` primitives.

use rhai::plugin::*;

#[export_module]
pub mod proc_fns {}
