//! Host layer for `sys::`.
