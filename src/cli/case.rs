//! `hound case verify DIR` and `hound report DIR`.

use super::{report_error, Global, EXIT_ERROR, EXIT_OK};
use hound::runtime::{case, report};
use hound::ScriptError;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum CaseCmd {
    /// Check a case journal: hash chain, sequence, and that nothing was cut off
    Verify { dir: PathBuf },
}

pub fn main(g: &Global, cmd: &CaseCmd) -> i32 {
    match cmd {
        CaseCmd::Verify { dir } => match case::verify(dir) {
            Ok(n) => {
                if !g.quiet {
                    println!("ok: {n} journal entries, hash chain intact, nothing cut off");
                }
                EXIT_OK
            }
            Err(e) => {
                report_error(g, &ScriptError::from(e));
                EXIT_ERROR
            }
        },
    }
}

/// `hound report DIR [--format md|json|html]`: writes the report and prints it.
pub fn report(g: &Global, dir: &std::path::Path, format: &str) -> i32 {
    match report::write(dir, format) {
        Ok(path) => {
            match std::fs::read_to_string(&path) {
                Ok(text) => print!("{text}"),
                Err(e) => eprintln!("warning: {}: {e}", path.display()),
            }
            if !g.quiet {
                eprintln!("written to {}", path.display());
            }
            EXIT_OK
        }
        Err(e) => {
            report_error(g, &ScriptError::from(e));
            EXIT_ERROR
        }
    }
}
