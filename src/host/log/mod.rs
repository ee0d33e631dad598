//! Host layer for `log::`.
