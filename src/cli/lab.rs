//! `hound lab`: an incident's network on this machine, in namespaces.

use super::{Global, EXIT_ERROR, EXIT_OK};
use hound::host::lab::{self, DEFAULT_PREFIX};
use hound::output::{escape, print_value};
use hound::ScriptError;

#[derive(clap::Subcommand, Debug)]
pub enum LabCmd {
    /// Build the lab of a scenario (default: the original incident)
    Up {
        #[arg(long, default_value = DEFAULT_PREFIX)]
        name: String,
        /// Which incident to plant (`hound lab scenarios` lists them)
        #[arg(long, default_value = lab::scenario::DEFAULT)]
        scenario: String,
    },
    /// The scenarios `lab up --scenario` plants, one line each (--json: all their data)
    Scenarios,
    /// Remove the lab and everything in it (also after a crash)
    Down {
        #[arg(long, default_value = DEFAULT_PREFIX)]
        name: String,
    },
    /// Hosts, addresses, listening ports and the scenario's malicious processes
    Status {
        #[arg(long, default_value = DEFAULT_PREFIX)]
        name: String,
    },
    /// Run a command on a lab host (its network and mount namespaces)
    Exec {
        #[arg(long, default_value = DEFAULT_PREFIX)]
        name: String,
        /// analyst, client, router, server, victim or isolated
        host: String,
        /// The command and its arguments, after `--`
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Serve a lab role's fake services (started by `lab up`)
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        role: String,
    },
    /// Run a command in a lab host's PID namespace (used by `lab exec`)
    #[command(hide = true)]
    Enter {
        #[arg(long)]
        pid: std::path::PathBuf,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Pid 1 of a lab host's PID namespace (started by `lab up`)
    #[command(hide = true)]
    Init {
        #[arg(long)]
        ready: std::path::PathBuf,
    },
}

fn scenarios(g: &Global) -> i32 {
    let all = lab::scenario::all();
    if g.json {
        for s in all {
            match serde_json::to_string(&lab::scenario::describe(s)) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    return fail(g, hound::Error::io_msg(format!("scenario {}: {e}", s.name)))
                }
            }
        }
    } else {
        for s in all {
            println!("{:<14} {}", s.name, s.summary);
        }
    }
    EXIT_OK
}

fn fail(g: &Global, e: hound::Error) -> i32 {
    super::report_error(g, &ScriptError::from(e));
    EXIT_ERROR
}

pub fn main(g: &Global, cmd: &LabCmd) -> i32 {
    match cmd {
        LabCmd::Scenarios => scenarios(g),
        LabCmd::Up { name, scenario } => {
            let exe = match std::env::current_exe() {
                Ok(p) => p,
                Err(e) => return fail(g, hound::Error::io("locating the hound binary", e)),
            };
            match lab::up(name, &exe, scenario) {
                Ok(lines) => {
                    if !g.quiet {
                        eprintln!(
                            "lab {name} ({scenario}) is up (hound lab exec --name {name} HOST -- CMD):"
                        );
                        for l in lines {
                            eprintln!("  {l}");
                        }
                    }
                    EXIT_OK
                }
                Err(e) => fail(g, e),
            }
        }
        LabCmd::Down { name } => match lab::down(name) {
            Ok(removed) => {
                if !g.quiet {
                    eprintln!("lab {name} is down ({} namespaces removed)", removed.len());
                }
                EXIT_OK
            }
            Err(e) => fail(g, e),
        },
        LabCmd::Status { name } => match lab::status(name) {
            Ok(s) => {
                let v = rhai::serde::to_dynamic(&s).unwrap_or_default();
                print_value(&v, super::style(g));
                EXIT_OK
            }
            Err(e) => fail(g, e),
        },
        LabCmd::Exec {
            name,
            host,
            command,
        } => match lab::command(name, host, command) {
            // Become the command (nsenter, which execs it in turn) rather
            // than wait for it: it then owns the terminal as we did, Ctrl-C
            // reaches it alone, and its exit status is ours. A waiting parent
            // would die of the same SIGINT and orphan an interactive child.
            Ok(mut c) => {
                let e = std::os::unix::process::CommandExt::exec(&mut c);
                fail(
                    g,
                    hound::Error::io(format!("running {}", escape(&command[0])), e),
                )
            }
            Err(e) => fail(g, e),
        },
        LabCmd::Serve { role } => match lab::services::serve(role) {
            Ok(()) => EXIT_OK,
            Err(e) => fail(g, e),
        },
        LabCmd::Enter { pid, command } => match lab::hosts::enter(pid, command) {
            Ok(code) => code,
            Err(e) => fail(g, e),
        },
        LabCmd::Init { ready } => match lab::hosts::init(ready) {
            Ok(()) => EXIT_OK,
            Err(e) => fail(g, e),
        },
    }
}
