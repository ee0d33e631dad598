//! `hound apply CASE [--only A1,A3] [--approve A4]`: carries out a saved
//! plan, exactly those items, each identity re-checked.

use super::{report_error, Global, EXIT_CANCELLED, EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};
use hound::runtime::action::Status;
use hound::runtime::plan::{self, ApplyOpts};
use hound::{CancelToken, Error, ScriptError};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// The case folder holding plan.json
    pub dir: PathBuf,
    /// Only these items (comma-separated ids, e.g. A1,A3)
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub only: Option<Vec<String>>,
    /// Approve these items (needed for accounts, key lines, package files)
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub approve: Vec<String>,
}

/// Exit status: 0 every item done (or, with --dry-run, would be), 1 some
/// item skipped, refused or failed, 2 usage error, 130 cancelled.
pub fn main(g: &Global, a: &ApplyArgs) -> i32 {
    let cancel = CancelToken::new();
    super::install_ctrlc(&cancel);
    let result = (|| -> Result<i32, ScriptError> {
        if !a.dir.join(plan::PLAN).is_file() {
            return Err(ScriptError::from(Error::not_found(format!(
                "{}: no {} in this folder",
                a.dir.display(),
                plan::PLAN
            ))));
        }
        hound::runtime::case::preflight(&a.dir)?;
        let sink = super::sink(g);
        // Naming the case and the items on the command line is the consent
        // that --allow-destructive gives a script.
        let rt = super::builder(g, cancel, sink.clone())
            .allow_destructive(true)
            .case_dir(&a.dir)
            .build()
            .map_err(ScriptError::from)?;
        let opts = ApplyOpts {
            only: a.only.clone(),
            approve: a.approve.clone(),
        };
        let out = plan::apply(rt.context(), &opts).map_err(ScriptError::from)?;
        sink.flush();
        let v = rhai::serde::to_dynamic(&out)
            .map_err(|e| ScriptError::new("io", format!("printing the outcomes: {e}")))?;
        hound::output::print_value(&v, super::style(g));
        let all_ok = out
            .iter()
            .all(|o| matches!(o.status, Status::Done | Status::Would));
        Ok(if all_ok { EXIT_OK } else { EXIT_FINDINGS })
    })();
    match result {
        Ok(code) => code,
        Err(e) => {
            report_error(g, &e);
            if e.is_cancelled() {
                EXIT_CANCELLED
            } else {
                EXIT_ERROR
            }
        }
    }
}
