//! `hound case verify DIR` and `hound report DIR`.

use super::{report_error, Global, EXIT_ERROR, EXIT_OK};
use hound::runtime::{case, report};
use hound::ScriptError;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum CaseCmd {
    /// Check a case journal: hash chain, sequence, nothing cut off or added,
    /// and the head's signature when given the public key
    Verify {
        dir: PathBuf,
        /// ed25519 public key (32 bytes, raw or hex) the heads were signed for
        #[arg(long, value_name = "FILE")]
        pubkey: Option<PathBuf>,
    },
    /// Print the public key of a signing key file (keep it outside the case)
    Pubkey {
        /// The signing key file
        #[arg(value_name = "KEY_FILE")]
        key_file: PathBuf,
    },
}

pub fn main(g: &Global, cmd: &CaseCmd) -> i32 {
    match cmd {
        CaseCmd::Verify { dir, pubkey } => match case::verify_with(dir, pubkey.as_deref()) {
            Ok(v) => {
                if g.json {
                    println!("{}", serde_json::json!({ "ok": true, "verified": v }));
                } else if !g.quiet {
                    println!(
                        "ok: {} journal entries, hash chain intact, nothing cut off",
                        v.entries
                    );
                    match v.head_seq {
                        Some(s) => println!("head: entry {s} {}", v.head_hash),
                        None => println!("head: empty journal"),
                    }
                    if v.crash_lag {
                        println!("note: the last entry is vouched for by the head's pending hash (the run stopped before updating the head)");
                    }
                    println!("anchor: {}", v.anchor);
                }
                EXIT_OK
            }
            Err(e) => {
                report_error(g, &ScriptError::from(e));
                EXIT_ERROR
            }
        },
        CaseCmd::Pubkey { key_file } => match hound::runtime::anchor::public_key_of(key_file) {
            Ok(k) => {
                println!("{k}");
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
