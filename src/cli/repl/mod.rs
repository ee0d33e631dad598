//! The hunting REPL: variables and functions live for the session, results
//! print as tables, Ctrl-C cancels the running call and keeps the session.

mod helper;

use super::{report_error, Global, EXIT_ERROR, EXIT_OK};
use helper::{ReplHelper, Session, COMMANDS};
use hound::output::{escape, print_value, to_json, ConsoleSink};
use hound::runtime::{docs, params};
use hound::{CancelToken, Runtime, Script, ScriptError};
use rhai::{Dynamic, Scope, AST};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Config, Editor};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

struct Repl {
    /// The terminal's mode before the line editor made it raw: restored
    /// while a call runs, so Ctrl-C is a signal that cancels it.
    cooked: Option<nix::sys::termios::Termios>,
    rt: Runtime,
    sink: Arc<ConsoleSink>,
    scope: Scope<'static>,
    ast: AST,
    cancel: CancelToken,
    /// Where each function the session defined came from: (input label,
    /// that input), so an error inside it shows the line that was typed.
    fn_sources: std::collections::HashMap<String, (String, String)>,
    inputs: usize,
}

const HELP: &str = "\
hound: hunt interactively. Primitives live in families; type a family and :: then Tab.

  scan::  host discovery, port scans, services      net::   sockets, watch, probe, routes
  proc::  processes, parent chains, kill             fw::    nftables containment
  fs::    find, read, grep, hash, quarantine         sys::   users, logins, cron, services
  log::   tail, grep, access logs                    case::  findings, evidence, report

First five things to type on a suspect host:
  net::sockets(#{ state: [\"ESTAB\", \"SYN-SENT\"] })      who talks to whom, and which process
  proc::list().filter(|p| p.exe_deleted)                 binaries deleted after they started
  fs::temp_files(#{ executable: true })                  payloads in /tmp, /var/tmp, /dev/shm
  sys::crontabs()                                        what runs on a schedule
  :run triage                                            the read-only host sweep

The last result is `last`. Multi-line input continues while a brace or string is open.
Ctrl-C cancels a running call; Ctrl-D or :quit leaves.
";

fn confirm(question: &str) -> bool {
    eprint!("{} — go ahead? [y/N] ", escape(question));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok()
        && matches!(answer.trim(), "y" | "Y" | "yes")
}

fn history_path() -> Option<std::path::PathBuf> {
    let dir = dirs::data_dir()?.join("hound");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history"))
}

impl Repl {
    fn cook_terminal(&self) {
        if let Some(t) = &self.cooked {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSADRAIN,
                t,
            );
        }
    }

    fn eval(&mut self, source: &str) -> Result<Dynamic, ScriptError> {
        self.inputs += 1;
        let label = format!("<input {}>", self.inputs);
        let script = Script::from_source(label.clone(), source.to_string())?;
        let new = self.rt.compile(source, &label)?;
        for f in new.iter_functions() {
            self.fn_sources
                .insert(f.name.to_string(), (label.clone(), source.to_string()));
        }
        // Functions defined earlier stay callable; statements run once.
        self.ast = self.ast.merge(&new);
        let sources = &self.fn_sources;
        let r = self
            .rt
            .eval_ast_in(&mut self.scope, &self.ast, &script, &|name| {
                sources.get(name).cloned()
            });
        self.ast.clear_statements();
        r
    }

    fn show(&mut self, g: &Global, r: Result<Dynamic, ScriptError>) {
        self.sink.flush();
        match r {
            Ok(v) => {
                if !v.is_unit() {
                    print_value(&v, self.sink.current_style());
                    self.scope.set_value("last", v);
                }
            }
            Err(e) => report_error(g, &e),
        }
    }

    fn session_facts(&self) -> Session {
        let variables = self
            .scope
            .iter()
            .map(|(n, _, _)| n.to_string())
            .filter(|n| n != "params")
            .collect();
        let last = self
            .scope
            .get_value::<Dynamic>("last")
            .map(|v| to_json(&v))
            .unwrap_or_default();
        let sample = match &last {
            serde_json::Value::Array(a) => a.first().cloned().unwrap_or_default(),
            other => other.clone(),
        };
        let fields = sample
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        Session { variables, fields }
    }

    /// `:command args`; false to leave.
    fn command(&mut self, g: &Global, line: &str) -> bool {
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        match cmd {
            ":quit" | ":q" | ":exit" => return false,
            ":help" | ":h" => print!("{HELP}"),
            ":doc" if rest.is_empty() => {
                super::doc::main(g, None);
            }
            ":doc" => {
                super::doc::main(g, Some(rest));
            }
            ":run" => {
                let mut words = rest.split_whitespace();
                let Some(name) = words.next() else {
                    eprintln!("usage: :run NAME [key=value ...]");
                    return true;
                };
                let r = Script::load(name).and_then(|s| {
                    let pairs = words
                        .map(params::split)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(ScriptError::from)?;
                    self.rt.run(&s, &pairs)
                });
                self.show(g, r);
            }
            ":load" => match std::fs::read_to_string(rest) {
                Ok(src) => {
                    let r = self.eval(&src);
                    self.show(g, r);
                }
                Err(e) => eprintln!("error[not_found]: {}: {e}", escape(rest)),
            },
            ":vars" => {
                for (name, _, value) in self.scope.iter() {
                    let text = value.to_string();
                    let short: String = text.chars().take(70).collect();
                    println!("{:<16} {:<10} {}", name, value.type_name(), escape(&short));
                }
            }
            ":case" => {
                let r = self.rt.eval("let c = case::current(); c.titles = case::journal().filter(|e| e.primitive == \"case::finding\").map(|e| `[${e.args.severity}] ${e.args.title}`); c");
                self.show(g, r);
            }
            ":dry-run" => match rest {
                "on" => {
                    self.rt.context().set_dry_run(true);
                    println!("dry-run on: destructive primitives only describe what they would do");
                }
                "off" => {
                    self.rt.context().set_dry_run(false);
                    println!("dry-run off: destructive primitives act again");
                }
                _ => println!(
                    "dry-run is {}",
                    if self.rt.context().dry_run() {
                        "on"
                    } else {
                        "off"
                    }
                ),
            },
            ":json" => {
                let on = !self.sink.current_style().json;
                self.sink.set_json(on);
                println!("JSON output {}", if on { "on" } else { "off" });
            }
            _ => {
                eprintln!("unknown command {}; commands:", escape(cmd));
                for (c, what) in COMMANDS {
                    eprintln!("  {c:<9} {what}");
                }
            }
        }
        true
    }
}

pub fn main(g: &Global) -> i32 {
    let code = session(g);
    // A session that recorded nothing leaves no case folder behind.
    let choice = super::case::choice(g);
    super::case::tidy(&choice.dir, choice.existed);
    code
}

fn session(g: &Global) -> i32 {
    if let Err(e) = super::case::check_choice(g) {
        report_error(g, &ScriptError::from(e));
        return EXIT_ERROR;
    }
    let cancel = CancelToken::new();
    let sink = super::sink(g);
    let mut b = super::builder(g, cancel.clone(), sink.clone());
    if !g.allow_destructive && std::io::stdin().is_terminal() {
        b = b.confirm(Arc::new(confirm));
    }
    let rt = match b.build() {
        Ok(rt) => rt,
        Err(e) => {
            report_error(g, &ScriptError::from(e));
            return EXIT_ERROR;
        }
    };
    let color = super::style(g).color;
    let docs_rt = Arc::new(std::sync::Mutex::new(None::<Vec<docs::FnDoc>>));
    let index = docs::primitives(rt.engine());
    let _ = docs_rt.lock().map(|mut d| *d = Some(index));
    let helper = ReplHelper::new(
        Arc::new(move || {
            docs_rt
                .lock()
                .ok()
                .and_then(|mut d| d.take())
                .unwrap_or_default()
        }),
        color,
    );
    let session = helper.session.clone();
    // Taken after the echo of ^C is off, so calls run without it too.
    let _echo = super::NoEchoCtl::new();
    let cooked = nix::sys::termios::tcgetattr(std::io::stdin()).ok();
    // Tab lists the candidates (with their signatures) like a shell, rather
    // than cycling through them inline.
    let config = Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .max_history_size(10_000)
        .map(|b| b.build());
    let mut rl: Editor<ReplHelper, DefaultHistory> = match config.and_then(Editor::with_config) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return EXIT_ERROR;
        }
    };
    rl.set_helper(Some(helper));
    // Ctrl-C at the prompt is a key the line editor reads; while a call runs
    // (terminal cooked again) it is SIGINT, which cancels the call and never
    // the session. Registered after the editor, which installs its own
    // SIGINT handler; signal-hook chains to it.
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGINT, cancel.flag()) {
        eprintln!("warning: Ctrl-C will not cancel running calls: {e}");
    }
    let history = history_path();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    let mut scope = Scope::new();
    scope.push_constant("params", rhai::Map::new());
    let mut repl = Repl {
        cooked,
        rt,
        sink,
        scope,
        ast: AST::empty(),
        cancel,
        fn_sources: Default::default(),
        inputs: 0,
    };
    eprintln!(
        "hound {}: :help to start, Tab completes, Ctrl-D leaves",
        env!("CARGO_PKG_VERSION")
    );
    // Lines of one multi-line input, gathered until braces and strings close.
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "hound> "
        } else {
            "  ...> "
        };
        match rl.readline(prompt) {
            Ok(line) if pending.is_empty() && line.trim().is_empty() => continue,
            Ok(line) => {
                if !pending.is_empty() {
                    pending.push('\n');
                }
                pending.push_str(&line);
                if helper::incomplete(&pending) {
                    continue;
                }
                let line = std::mem::take(&mut pending);
                let _ = rl.add_history_entry(line.as_str());
                repl.cancel.reset();
                repl.cook_terminal();
                let keep = if line.trim_start().starts_with(':') {
                    repl.command(g, line.trim())
                } else {
                    let r = repl.eval(&line);
                    repl.show(g, r);
                    true
                };
                if let Some(h) = &history {
                    let _ = rl.save_history(h);
                }
                if let Ok(mut s) = session.lock() {
                    *s = repl.session_facts();
                }
                if !keep {
                    return EXIT_OK;
                }
            }
            Err(ReadlineError::Interrupted) if !pending.is_empty() => {
                pending.clear();
                eprintln!("(input discarded)");
            }
            Err(ReadlineError::Interrupted) => eprintln!("(Ctrl-D or :quit to leave)"),
            Err(ReadlineError::Eof) => return EXIT_OK,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_ERROR;
            }
        }
    }
}
