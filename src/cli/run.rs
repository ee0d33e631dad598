//! `hound run` and `hound check`.

use super::{
    report_error, runtime, runtime_with, Global, EXIT_CANCELLED, EXIT_ERROR, EXIT_FINDINGS, EXIT_OK,
};
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

/// A hunt whose header says it is destructive is refused at once, not at
/// its first destructive call after minutes of work.
fn refuse_destructive(g: &Global, script: &Script) -> Result<(), ScriptError> {
    let Some(h) = script.header.as_ref().filter(|h| h.destructive) else {
        return Ok(());
    };
    if g.allow_destructive || g.dry_run {
        return Ok(());
    }
    let mut e = ScriptError::new(
        "permission_denied",
        format!(
            "`{}` is destructive (it may kill processes, quarantine files or change the firewall)",
            h.name
        ),
    );
    e.hint = Some(
        "see what it would do with --dry-run, then let it act with --allow-destructive".into(),
    );
    Err(e)
}

/// A primitive's hint may name one of its options; inside a bundled hunt
/// the user can only pass the hunt's parameters, so say those instead.
fn hunt_hint(mut e: ScriptError, script: &Script) -> ScriptError {
    let Some(h) = &script.header else {
        return e;
    };
    if !script.origin.starts_with("hound/") {
        return e;
    }
    let names: Vec<&str> = h.params.iter().map(|p| p.name.as_str()).collect();
    let names_option = e.hint.as_deref().is_some_and(|t| {
        t.contains("option") && !names.iter().any(|n| t.contains(&format!("{n} option")))
    });
    if names_option {
        e.hint = Some(format!(
            "`{}` takes --param {} (`hound doc {}` says what each does)",
            h.name,
            names.join(", "),
            h.name
        ));
    }
    e
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
        super::case::check_choice(g)?;
        let script = Script::load(&a.script)?;
        if let Some(e) = sink.envelope() {
            let name = script
                .header
                .as_ref()
                .map(|h| h.name.clone())
                .unwrap_or_else(|| {
                    std::path::Path::new(&script.origin)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "script".into())
                });
            e.set_dataset(&name);
        }
        let pairs = a
            .params
            .iter()
            .map(|p| params::split(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ScriptError::from)?;
        // Everything the user typed is checked before anything runs.
        params::build(script.header.as_ref(), &pairs).map_err(ScriptError::from)?;
        refuse_destructive(g, &script)?;
        let rt = runtime.insert(runtime_with(g, cancel.clone(), sink.clone())?);
        let value = rt.run(&script, &pairs).map_err(|e| hunt_hint(e, &script));
        // Records gathered so far print even when the script failed or was cancelled.
        sink.flush();
        // A primitive may return what it had when Ctrl-C came; the run still
        // counts as cancelled.
        if cancel.is_cancelled() {
            return Err(ScriptError::from(hound::Error::cancelled()));
        }
        let value = value?;
        sink.print_result(&value);
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
            match sink.envelope() {
                Some(env) => env.error(&serde_json::to_value(&e).unwrap_or_default()),
                None => report_error(g, &e),
            }
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
        let checked = Script::load(f).and_then(|s| {
            let ast = rt.check(&s)?;
            Ok((rt.unknown_calls(&s, &ast), s))
        });
        match checked {
            Ok((unknown, s)) if unknown.is_empty() => {
                if !g.quiet {
                    eprintln!("ok: {}", hound::output::escape(&s.origin));
                }
            }
            Ok((unknown, _)) => {
                for e in &unknown {
                    report_error(g, e);
                }
                code = EXIT_ERROR;
            }
            Err(e) => {
                report_error(g, &e);
                code = EXIT_ERROR;
            }
        }
    }
    code
}
