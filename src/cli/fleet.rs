//! `hound fleet merge`: the results of a hunt run on many hosts through
//! Ansible, as one JSON-lines file and one summary.

use super::{report_error, Global, EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};
use hound::ScriptError;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum FleetCmd {
    /// Merge the results the playbook fetched: verify every host's journal,
    /// write fleet.jsonl and a summary (Markdown, HTML, JSON). Exit 1 when
    /// any host has findings.
    Merge {
        /// The playbook's results folder (one folder per host, ansible.log)
        results: PathBuf,
        /// Where to write the merged files (a new or empty folder)
        #[arg(short, long, value_name = "OUT")]
        out: PathBuf,
        /// List the hosts whose output names this indicator (repeatable)
        #[arg(long = "indicator", value_name = "TEXT")]
        indicators: Vec<String>,
    },
}

pub fn main(g: &Global, cmd: &FleetCmd) -> i32 {
    let FleetCmd::Merge {
        results,
        out,
        indicators,
    } = cmd;
    match hound::fleet::merge(results, out, indicators) {
        Ok(f) => {
            if g.json {
                println!("{}", serde_json::to_string(&f).unwrap_or_default());
            } else if !g.quiet {
                print!("{}", hound::fleet::markdown(&f));
                for p in &f.files {
                    eprintln!("written: {}", p.display());
                }
            }
            if f.with_findings() > 0 {
                EXIT_FINDINGS
            } else {
                EXIT_OK
            }
        }
        Err(e) => {
            report_error(g, &ScriptError::from(e));
            EXIT_ERROR
        }
    }
}
