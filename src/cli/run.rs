//! `hound run` and `hound check`.

use super::{
    report_error, runtime, runtime_with, Global, EXIT_CANCELLED, EXIT_ERROR, EXIT_FINDINGS, EXIT_OK,
};
use hound::output::print_value;
use hound::runtime::params;
use hound::{CancelToken, Script, ScriptError};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A script file, or the name of a bundled hunt (`hound list`)
    #[arg(value_name = "FILE|NAME")]
    pub script: String,
    /// A parameter for the script, as key=value (repeatable)
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    pub params: Vec<String>,
}

/// Journal entries in a case folder now (0 when it has no journal).
fn entries_in(dir: &std::path::Path) -> usize {
    hound::runtime::case::read_journal(dir)
        .map(|j| j.len())
        .unwrap_or(0)
}

/// Which case the run wrote to, on stderr (a JSON object with `--json`), so
/// every step of an incident says where its record went.
fn announce_case(g: &Global, rt: &hound::Runtime, before: usize, start_dir: &std::path::Path) {
    let Ok(case) = rt.context().case.lock().map(|c| c.dir.clone()) else {
        return;
    };
    let now = entries_in(&case);
    let wrote = if case == start_dir {
        now > before
    } else {
        now > 0
    };
    if !wrote || g.quiet {
        return;
    }
    let findings = rt.findings().len();
    if g.json {
        eprintln!(
            "{}",
            serde_json::json!({ "case": { "dir": case, "entries": now, "findings_this_run": findings } })
        );
    } else {
        eprintln!(
            "case: {} ({now} journal entries; {findings} finding(s) this run)",
            hound::output::escape(&case.display().to_string())
        );
    }
}

pub fn main(g: &Global, a: &RunArgs) -> i32 {
    let cancel = CancelToken::new();
    super::install_ctrlc(&cancel);
    let _echo = super::NoEchoCtl::new();
    let sink = super::sink(g);
    let choice = super::case::choice(g);
    let before = entries_in(&choice.dir);
    let mut runtime: Option<hound::Runtime> = None;
    let result = (|| -> Result<i32, ScriptError> {
        let script = Script::load(&a.script)?;
        let pairs = a
            .params
            .iter()
            .map(|p| params::split(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ScriptError::from)?;
        let rt = runtime.insert(runtime_with(g, cancel.clone(), sink.clone())?);
        let value = rt.run(&script, &pairs);
        // Records gathered so far print even when the script failed or was cancelled.
        sink.flush();
        // A primitive may return what it had when Ctrl-C came; the run still
        // counts as cancelled.
        if cancel.is_cancelled() {
            return Err(ScriptError::from(hound::Error::cancelled()));
        }
        let value = value?;
        print_value(&value, super::style(g));
        Ok(if rt.findings().is_empty() {
            EXIT_OK
        } else {
            EXIT_FINDINGS
        })
    })();
    if let Some(rt) = &runtime {
        announce_case(g, rt, before, &choice.dir);
    }
    super::case::tidy(&choice.dir, choice.existed);
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

pub fn check(g: &Global, files: &[String]) -> i32 {
    let rt = match runtime(g, CancelToken::new()) {
        Ok(rt) => rt,
        Err(e) => {
            report_error(g, &e);
            return EXIT_ERROR;
        }
    };
    let mut code = EXIT_OK;
    for f in files {
        match Script::load(f).and_then(|s| rt.check(&s).map(|_| s)) {
            Ok(s) => {
                if !g.quiet {
                    eprintln!("ok: {}", hound::output::escape(&s.origin));
                }
            }
            Err(e) => {
                report_error(g, &e);
                code = EXIT_ERROR;
            }
        }
    }
    code
}
