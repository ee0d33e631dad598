//! Host layer for `fw::`.
