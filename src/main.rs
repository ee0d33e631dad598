//! The `hound` command line. All the work lives in the library; this is
//! argument parsing, printing and exit codes.

#![allow(clippy::result_large_err)] // see lib.rs

mod cli;

fn main() {
    // Like any Unix filter: `hound ... | head` ends quietly instead of panicking.
    // SAFETY: called first thing, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(cli::main());
}
