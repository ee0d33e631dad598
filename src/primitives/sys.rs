//! `sys::` primitives.

use rhai::plugin::*;

#[export_module]
pub mod sys_fns {}
