//! Subcommands. Exit status: 0 ran with no findings, 1 ran with findings,
//! 2 usage or script error, 130 cancelled.

mod apply;
mod case;
mod doc;
mod fleet;
mod lab;
mod repl;
mod run;

use clap::{CommandFactory, Parser, Subcommand};
use hound::output::{ConsoleSink, Envelope, JsonFormat, Style};
use hound::{CancelToken, Runtime, ScriptError};
use std::path::PathBuf;
use std::sync::Arc;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_ERROR: i32 = 2;
pub const EXIT_CANCELLED: i32 = 130;

#[derive(Parser, Debug)]
#[command(
    name = "hound",
    version,
    about = "Threat hunting and incident response on Linux, scripted in Rhai",
    long_about = "hound gives Rhai scripts real primitives for scanning, sockets, processes, \
the firewall (nftables) and the file system. Run a bundled hunt (`hound run triage`), \
your own script, or explore interactively (`hound repl`).",
    after_help = "Exit status: 0 no findings, 1 findings, 2 usage or script error, 130 cancelled."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Global {
    /// Print results as JSON lines (one object per line) instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    /// Write the JSON lines (warnings included) to FILE instead of stdout; implies --json
    #[arg(long, global = true, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
    /// Field names of JSON lines: hound (envelope + the script's fields) or ecs (Elastic Common Schema)
    #[arg(long, global = true, value_name = "FORMAT", default_value = "hound",
          value_parser = ["hound", "ecs"])]
    pub json_format: String,
    /// Destructive primitives report what they would do and change nothing
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Let destructive primitives (kill, quarantine, firewall) act without asking
    #[arg(long, global = true)]
    pub allow_destructive: bool,
    /// Case folder for the journal, evidence and reports
    #[arg(long, global = true, value_name = "DIR", env = "HOUND_CASE")]
    pub case: Option<PathBuf>,
    /// Extra folder to resolve `import` from (repeatable; also HOUND_PATH)
    #[arg(long = "lib", global = true, value_name = "DIR")]
    pub lib: Vec<PathBuf>,
    /// Stop a script after this many operations (0 = no limit)
    #[arg(long, global = true, value_name = "N")]
    pub max_operations: Option<u64>,
    /// No colours (also NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// No warnings or progress on stderr
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Interactive hunting shell (the default)
    Repl,
    /// Run a script file or a bundled hunt
    Run(run::RunArgs),
    /// Compile scripts without running them; syntax errors with positions
    Check {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// List the bundled hunts
    List,
    /// Show the documentation of a primitive, family or hunt
    Doc {
        /// `proc::list`, `proc`, or a hunt name; nothing for the index
        name: Option<String>,
    },
    /// Carry out a case's saved plan (plan.json), identities re-checked
    Apply(apply::ApplyArgs),
    /// Case folders: verify a journal
    #[command(subcommand)]
    Case(case::CaseCmd),
    /// Write (and print) the incident report of a case folder
    Report {
        dir: PathBuf,
        /// md, json or html
        #[arg(long, default_value = "md")]
        format: String,
    },
    /// The incident's network on this machine, for practice and tests
    #[command(subcommand)]
    Lab(lab::LabCmd),
    /// Many hosts: merge the results of the Ansible playbook (ansible/)
    #[command(subcommand)]
    Fleet(fleet::FleetCmd),
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        None | Some(Cmd::Repl) => repl::main(&cli.global),
        Some(Cmd::Run(args)) => run::main(&cli.global, &args),
        Some(Cmd::Check { files }) => run::check(&cli.global, &files),
        Some(Cmd::List) => doc::list(&cli.global),
        Some(Cmd::Doc { name }) => doc::main(&cli.global, name.as_deref()),
        Some(Cmd::Lab(cmd)) => lab::main(&cli.global, &cmd),
        Some(Cmd::Apply(args)) => apply::main(&cli.global, &args),
        Some(Cmd::Fleet(cmd)) => fleet::main(&cli.global, &cmd),
        Some(Cmd::Case(cmd)) => case::main(&cli.global, &cmd),
        Some(Cmd::Report { dir, format }) => case::report(&cli.global, &dir, &format),
        Some(Cmd::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "hound", &mut std::io::stdout());
            EXIT_OK
        }
    }
}

pub fn style(g: &Global) -> Style {
    Style::detect(g.json || g.json_out.is_some(), g.no_color)
}

/// The runtime every subcommand uses, set up from the global flags.
pub fn runtime(g: &Global, cancel: CancelToken) -> Result<Runtime, ScriptError> {
    runtime_with(g, cancel, sink(g))
}

/// The console sink of a run, kept by the caller so it can flush it.
pub fn sink(g: &Global) -> Arc<ConsoleSink> {
    let sink = ConsoleSink::new(style(g), g.quiet);
    if !(g.json || g.json_out.is_some()) {
        return Arc::new(sink);
    }
    let format = JsonFormat::parse(&g.json_format).unwrap_or(JsonFormat::Hound);
    let envelope = match g.json_out.as_deref().map(|p| Envelope::to_path(format, p)) {
        None => Envelope::new(format),
        Some(Ok(e)) => e,
        Some(Err(e)) => {
            // The run goes on with JSON on stdout rather than losing its output.
            eprintln!(
                "warning: --json-out: {}",
                hound::output::escape(&e.to_string())
            );
            Envelope::new(format)
        }
    };
    Arc::new(sink.with_envelope(Arc::new(envelope)))
}

pub fn runtime_with(
    g: &Global,
    cancel: CancelToken,
    sink: Arc<ConsoleSink>,
) -> Result<Runtime, ScriptError> {
    builder(g, cancel, sink).build().map_err(ScriptError::from)
}

/// The builder behind every subcommand's runtime, for callers that add to it
/// (the REPL adds its confirmation prompt).
pub fn builder(g: &Global, cancel: CancelToken, sink: Arc<ConsoleSink>) -> hound::RuntimeBuilder {
    let mut b = Runtime::builder()
        .dry_run(g.dry_run)
        .allow_destructive(g.allow_destructive)
        .cancel_token(cancel)
        .sink(sink);
    if let Some(n) = g.max_operations {
        b = b.max_operations(n);
    }
    if let Some(c) = &g.case {
        b = b.case_dir(c);
    }
    for d in &g.lib {
        b = b.lib_dir(d);
    }
    b
}

/// Prints an error for a person (or, with --json, as one JSON object on stderr).
pub fn report_error(g: &Global, e: &ScriptError) {
    if g.json || g.json_out.is_some() {
        eprintln!("{}", serde_json::json!({ "error": e }));
    } else {
        use owo_colors::OwoColorize;
        use std::io::IsTerminal;
        let text = e.to_string();
        if !g.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
        {
            eprint!("{}", text.red());
        } else {
            eprint!("{text}");
        }
    }
}

/// Ctrl-C cancels the running script; a second Ctrl-C exits at once.
pub fn install_ctrlc(token: &CancelToken) {
    let t = token.clone();
    let _ = ctrlc::set_handler(move || {
        if t.is_cancelled() {
            std::process::exit(EXIT_CANCELLED);
        }
        t.cancel();
    });
}
