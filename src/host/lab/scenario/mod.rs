//! Incident scenarios: each one a network, a compromised host, what the
//! attacker planted there, and, as data the tests check against, what is
//! malicious and what is innocent and must survive a response untouched.
//! `hound lab scenarios --json` prints them; `lab up` saves the running
//! one in its run folder (`scenario.json`).

mod admin_parent;
mod deleted_miner;
mod original;
mod ssh_foothold;
mod systemd_shell;
mod timer_udp;
mod trojaned_script;
mod webshell;

use super::topology::{Host, Segment};
use serde::Serialize;

/// A process pattern: a substring of its command line or executable path.
#[derive(Debug, Serialize)]
pub struct Proc {
    pub what: &'static str,
    pub pattern: &'static str,
}

/// A persistence entry or an approval item: a whole file (`line: None`) or
/// one exact line of a file the host needs for other things.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub what: &'static str,
    pub path: &'static str,
    pub line: Option<&'static str>,
}

/// What a response must remove.
#[derive(Debug, Serialize)]
pub struct Malicious {
    pub processes: &'static [Proc],
    /// Payloads, droppers, web shells (files that must be gone).
    pub files: &'static [&'static str],
    pub persistence: &'static [Entry],
    /// Accounts and keys: plan items that need explicit approval; they stay
    /// until approved.
    pub approval: &'static [Entry],
}

/// What a response must leave alone.
#[derive(Debug, Serialize)]
pub struct Innocent {
    pub processes: &'static [Proc],
    /// Files that must stay byte-identical (symlinks: the same target).
    pub files: &'static [&'static str],
    /// `addr:port` an innocent periodic job keeps talking to.
    pub flows: &'static [&'static str],
}

/// One step of planting a scenario on its compromised host.
#[derive(Debug)]
pub enum Step {
    /// A file (parent folders created), with mode and `user:group`.
    Write {
        path: &'static str,
        content: &'static str,
        mode: u32,
        owner: &'static str,
    },
    /// Lines added to the host's private copy of a file (/etc/passwd).
    Append {
        path: &'static str,
        content: &'static str,
    },
    Link {
        path: &'static str,
        target: &'static str,
    },
    /// A command, waited for.
    Run(&'static [&'static str]),
    /// A detached process, as `uid:gid` when given.
    Start {
        argv: &'static [&'static str],
        user: Option<&'static str>,
    },
    /// A web-shell request from another lab host: a form POST of `c=CMD`.
    Post {
        from: &'static str,
        to: &'static str,
        path: &'static str,
        command: &'static str,
    },
    /// Until a process whose command line contains this runs.
    WaitProc(&'static str),
    /// Until this path is gone (a dropper that deletes its binary).
    WaitGone(&'static str),
}

#[derive(Debug, Serialize)]
pub struct Scenario {
    pub name: &'static str,
    pub summary: &'static str,
    pub story: &'static str,
    /// The host the playbook runs on.
    pub compromised: &'static str,
    /// The address reported as attacked, and its port.
    pub victim: &'static str,
    pub victim_port: u16,
    /// `addr:port` services that must keep answering.
    pub services: &'static [&'static str],
    pub malicious: Malicious,
    pub innocent: Innocent,
    pub segments: &'static [Segment],
    pub hosts: &'static [Host],
    #[serde(skip)]
    pub steps: &'static [Step],
}

impl Scenario {
    /// The playbook's parameters, from the scenario's declared victim.
    pub fn params(&self) -> Vec<String> {
        vec![
            format!("victim={}", self.victim),
            format!("victim_port={}", self.victim_port),
            format!("services={}", self.services.join(",")),
        ]
    }

    pub fn host(&self, name: &str) -> Option<&'static Host> {
        self.hosts.iter().find(|h| h.name == name)
    }
}

/// A scenario with its playbook parameters, as `--json` prints it.
#[derive(Serialize)]
pub struct Described<'a> {
    #[serde(flatten)]
    pub scenario: &'a Scenario,
    pub params: Vec<String>,
}

pub fn describe(s: &Scenario) -> Described<'_> {
    Described {
        scenario: s,
        params: s.params(),
    }
}

pub const DEFAULT: &str = "original";

/// Every scenario, the default first.
pub fn all() -> &'static [&'static Scenario] {
    ALL
}

pub fn find(name: &str) -> Option<&'static Scenario> {
    ALL.iter().copied().find(|s| s.name == name)
}

static ALL: &[&Scenario] = &[
    &original::SCENARIO,
    &webshell::SCENARIO,
    &deleted_miner::SCENARIO,
    &admin_parent::SCENARIO,
    &systemd_shell::SCENARIO,
    &ssh_foothold::SCENARIO,
    &trojaned_script::SCENARIO,
    &timer_udp::SCENARIO,
];

/// The processes every lab host runs: its init (pid 1 of its own PID
/// namespace). Killing it would end the host.
pub(super) const INIT: Proc = Proc {
    what: "the host's init (pid 1 of its PID namespace)",
    pattern: "lab init",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_are_consistent() {
        assert_eq!(all()[0].name, DEFAULT);
        assert!(all().len() >= 6);
        for s in all() {
            assert!(s.host(s.compromised).is_some(), "{}", s.name);
            for h in s.hosts {
                if let Some(seg) = h.segment {
                    assert!(s.segments.iter().any(|g| g.name == seg), "{}", h.name);
                }
                assert!(h.name.len() <= 8, "{} fits veth names", h.name);
                assert_ne!(h.name, super::super::topology::ROUTER);
            }
            assert!(!s.malicious.processes.is_empty(), "{}", s.name);
            let steps = format!("{:?}", s.steps);
            for e in s.malicious.persistence.iter().chain(s.malicious.approval) {
                if let Some(line) = e.line {
                    // Both sides as Debug escapes them (quotes in a unit's line).
                    let escaped = format!("{line:?}");
                    assert!(steps.contains(escaped.trim_matches('"')), "{line}");
                }
            }
            let p = s.params();
            assert!(p[0].starts_with("victim=") && p[2].contains(':'), "{p:?}");
        }
    }

    #[test]
    fn each_scenario_has_its_own_addresses_and_paths() {
        let all = all();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.victim, b.victim);
                for f in a.malicious.files {
                    assert!(!b.malicious.files.contains(f), "{f}");
                }
                for h in a.hosts {
                    assert!(
                        h.addr.is_empty() || !b.hosts.iter().any(|g| g.addr == h.addr),
                        "{}",
                        h.addr
                    );
                }
            }
        }
    }
}
