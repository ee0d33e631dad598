//! Host layer for `fs::`.
