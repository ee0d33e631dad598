//! Compiled regexes kept per thread, so a hunt matching thousands of log
//! lines against one pattern compiles it once.

use super::{args, RhaiResult};
use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;

const MAX: usize = 256;

thread_local! {
    static CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

/// Runs `f` with the compiled `pattern`; a bad pattern is an invalid
/// argument of `primitive`, with the regex crate's explanation.
pub fn with<T>(primitive: &str, pattern: &str, f: impl FnOnce(&Regex) -> T) -> RhaiResult<T> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if !c.contains_key(pattern) {
            let re = regex::RegexBuilder::new(pattern)
                .size_limit(1 << 22)
                .build()
                .map_err(|e| args::bad(primitive, format!("pattern {pattern:?}: {e}")))?;
            if c.len() >= MAX {
                c.clear();
            }
            c.insert(pattern.to_string(), re);
        }
        match c.get(pattern) {
            Some(re) => Ok(f(re)),
            None => Err(args::bad(primitive, "regex cache failure")),
        }
    })
}
