//! Host layer for `scan::`.
