//! Host layer for `net::`.
