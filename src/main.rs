//! The `hound` command line. All the work lives in the library; this is
//! argument parsing, printing and exit codes.

#![allow(clippy::result_large_err)] // see lib.rs

mod cli;

/// Counts allocated bytes, so `--max-memory` stops a runaway script.
#[global_allocator]
static ALLOC: hound::runtime::memory::CountingAlloc = hound::runtime::memory::CountingAlloc;

fn main() {
    // Like any Unix filter: `hound ... | head` ends quietly instead of panicking.
    // SAFETY: called first thing, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(cli::main());
}
