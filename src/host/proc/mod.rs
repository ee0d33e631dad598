//! Host layer for `proc::`.
