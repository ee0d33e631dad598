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

pub fn main(g: &Global, a: &RunArgs) -> i32 {
    let cancel = CancelToken::new();
    super::install_ctrlc(&cancel);
    let sink = super::sink(g);
    let result = (|| -> Result<i32, ScriptError> {
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
        let rt = runtime_with(g, cancel.clone(), sink.clone())?;
        let value = rt.run(&script, &pairs);
        // Records gathered so far print even when the script failed or was cancelled.
        sink.flush();
        let value = value?;
        sink.print_result(&value);
        let findings = rt.findings();
        if !findings.is_empty() && !g.quiet && !g.json && g.json_out.is_none() {
            let dir = rt.context().case.lock().map(|c| c.dir.clone()).ok();
            eprintln!(
                "{} finding(s); case folder: {}",
                findings.len(),
                dir.map(|d| d.display().to_string()).unwrap_or_default()
            );
        }
        Ok(if findings.is_empty() {
            EXIT_OK
        } else {
            EXIT_FINDINGS
        })
    })();
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
