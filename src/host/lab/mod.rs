//! `hound lab`: an incident's network on one machine, for tests and for
//! training. Every host is a network namespace (`PREFIX-HOST`) with its own
//! mount and PID namespaces (see [`hosts`]); the segments are bridges inside
//! a router namespace. Nothing links to the host's namespace: the veth pairs
//! are created with both ends inside lab namespaces. A scenario
//! ([`scenario`]) says which network to build and what to plant.

pub mod hosts;
mod plant;
pub mod scenario;
pub mod services;
pub mod topology;

use crate::error::{Error, Result};
use crate::host::netns::{self, Netns};
use scenario::Scenario;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use topology::ROUTER;

pub const DEFAULT_PREFIX: &str = "hlab";
const RUN_DIR: &str = "/run/hound-lab";

fn check_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 24
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !prefix.starts_with('_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "--name {prefix:?}: use 1-24 letters, digits or _ (it prefixes namespace names)"
        )))
    }
}

pub fn ns_name(prefix: &str, host: &str) -> String {
    format!("{prefix}-{host}")
}

fn mnt_dir(prefix: &str) -> PathBuf {
    Path::new(RUN_DIR).join(prefix).join("mnt")
}

/// The lab's own copy of hound: visible on every host, wherever the
/// original lives (a binary under /tmp would be hidden by the hosts' /tmp).
pub fn hound_copy(prefix: &str) -> PathBuf {
    Path::new(RUN_DIR).join(prefix).join("bin/hound")
}

fn mnt_file(prefix: &str, host: &str) -> PathBuf {
    mnt_dir(prefix).join(host)
}

fn pid_file(prefix: &str, host: &str) -> PathBuf {
    mnt_dir(prefix).join(format!("{host}.pid"))
}

fn run_dir(prefix: &str) -> PathBuf {
    Path::new(RUN_DIR).join(prefix)
}

/// The scenario a running lab was built from (the original for a lab
/// built before scenarios existed).
pub fn running_scenario(prefix: &str) -> &'static Scenario {
    std::fs::read_to_string(run_dir(prefix).join("scenario"))
        .ok()
        .and_then(|n| scenario::find(n.trim()))
        .or_else(|| scenario::find(scenario::DEFAULT))
        .unwrap_or(scenario::all()[0])
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            Error::io(format!("running {program}"), e).with_hint("install util-linux and iproute2")
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::io_msg(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A command run on a lab host: inside its network namespace and, when it
/// has one, its mount namespace.
pub fn command(prefix: &str, host: &str, argv: &[String]) -> Result<Command> {
    check_prefix(prefix)?;
    let names = topology::names(running_scenario(prefix).hosts);
    if !names.contains(&host) {
        return Err(Error::invalid(format!(
            "host {host:?}: the lab has {}",
            names.join(", ")
        )));
    }
    let ns = ns_name(prefix, host);
    if !Path::new("/run/netns").join(&ns).exists() {
        return Err(Error::not_found(format!("lab host {ns} does not exist"))
            .with_hint(format!("start the lab: hound lab up --name {prefix}")));
    }
    let (prog, rest) = argv.split_first().ok_or_else(|| {
        Error::invalid("command: nothing to run (hound lab exec HOST -- CMD ...)")
    })?;
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{ns}"));
    let mnt = mnt_file(prefix, host);
    if mnt.exists() {
        c.arg(format!("--mount={}", mnt.display()));
    }
    c.arg("--");
    // The host's PID namespace is entered by the lab's hound (`lab enter`),
    // not nsenter, whose waiting parent would die of a Ctrl-C meant for the
    // command: the command then runs as a process of the host, in its /proc.
    // Inside the host's mount namespace its /proc is that PID namespace's,
    // and pid 1 there is the host's init.
    let copy = hound_copy(prefix);
    if pid_file(prefix, host).exists() && copy.exists() {
        c.arg(&copy)
            .args(["lab", "enter", "--pid", "/proc/1/ns/pid", "--"]);
    }
    // `hound` on a lab host means this hound (the lab's copy).
    if prog == "hound" && copy.exists() {
        c.arg(copy).args(rest);
    } else {
        c.arg(prog).args(rest);
    }
    Ok(c)
}

/// Starts a detached process on a lab host (it survives `lab up` exiting).
pub(crate) fn spawn_detached(prefix: &str, host: &str, argv: &[&str]) -> Result<()> {
    let mut full = vec!["setsid".to_string(), "-f".to_string()];
    full.extend(argv.iter().map(|s| s.to_string()));
    let status = command(prefix, host, &full)?
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| Error::io("starting a lab process", e))?;
    if !status.success() {
        return Err(Error::io_msg(format!(
            "starting {} on {host} failed",
            argv.join(" ")
        )));
    }
    Ok(())
}

/// Starts every host's mount and PID namespaces and its init, inside its
/// network namespace, and waits until all are ready.
fn host_namespaces(prefix: &str, s: &Scenario) -> Result<()> {
    let dir = mnt_dir(prefix);
    let top = run_dir(prefix);
    for d in [dir.clone(), top.join("stage"), top.join("ready")] {
        std::fs::create_dir_all(&d).map_err(|e| Error::io(d.display(), e))?;
    }
    let d = dir.to_string_lossy().to_string();
    // A persistent mount namespace is bind-mounted onto a file; the folder
    // holding it must itself be a private mount.
    run("mount", &["--bind", &d, &d])?;
    run("mount", &["--make-private", &d])?;
    let mut ready = Vec::new();
    for h in s.hosts {
        let (mnt, pid) = (mnt_file(prefix, h.name), pid_file(prefix, h.name));
        for f in [&mnt, &pid] {
            std::fs::File::create(f).map_err(|e| Error::io(f.display(), e))?;
        }
        let stage = top.join("stage").join(h.name);
        std::fs::create_dir_all(&stage).map_err(|e| Error::io(stage.display(), e))?;
        let r = top.join("ready").join(h.name);
        let mut argv = vec![
            "setsid".to_string(),
            "-f".to_string(),
            "nsenter".to_string(),
            format!("--net=/run/netns/{}", ns_name(prefix, h.name)),
            "--".to_string(),
        ];
        argv.extend(hosts::unshare_argv(
            &mnt,
            &pid,
            &stage,
            &hound_copy(prefix),
            &r,
        ));
        let status = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| Error::io("starting a lab host (setsid, nsenter, unshare)", e))?;
        if !status.success() {
            return Err(Error::io_msg(format!(
                "starting lab host {} failed",
                h.name
            )));
        }
        ready.push(r);
    }
    hosts::wait_ready(&ready)
}

fn network(prefix: &str, s: &Scenario) -> Result<()> {
    let router = Netns::create(&ns_name(prefix, ROUTER))?.keep();
    router.exec_ok(&["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
    for seg in s.segments {
        let br = format!("br-{}", seg.name);
        router.exec_ok(&["ip", "link", "add", "name", &br, "type", "bridge"])?;
        router.exec_ok(&["ip", "link", "set", &br, "address", seg.router_mac])?;
        router.exec_ok(&["ip", "addr", "add", seg.router_addr, "dev", &br])?;
        router.exec_ok(&["ip", "link", "set", &br, "up"])?;
    }
    for h in s.hosts {
        let ns = Netns::create(&ns_name(prefix, h.name))?.keep();
        let Some(seg) = h.segment else { continue };
        let port = format!("v-{}", h.name);
        netns::veth(&ns, "eth0", "", &router, &port, "")?;
        ns.exec_ok(&["ip", "link", "set", "eth0", "down"])?;
        ns.exec_ok(&["ip", "link", "set", "eth0", "address", h.mac])?;
        ns.exec_ok(&["ip", "addr", "add", h.addr, "dev", "eth0"])?;
        ns.exec_ok(&["ip", "link", "set", "eth0", "up"])?;
        router.exec_ok(&["ip", "link", "set", &port, "master", &format!("br-{seg}")])?;
        if let Some(gw) = topology::gateway(s.segments, seg) {
            ns.exec_ok(&["ip", "route", "add", "default", "via", gw])?;
        }
    }
    Ok(())
}

fn wait_listening(prefix: &str, host: &str, ports: &[u16]) -> Result<()> {
    let start = Instant::now();
    loop {
        let listening = listening_ports(prefix, host);
        if ports.iter().all(|p| listening.contains(p)) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Err(Error::timeout(format!(
                "services on {host} did not start ({ports:?})"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Builds the lab of a scenario. On any failure, removes what was built.
pub fn up(prefix: &str, hound: &Path, scenario: &str) -> Result<Vec<String>> {
    check_prefix(prefix)?;
    let s = scenario::find(scenario).ok_or_else(|| {
        let names: Vec<&str> = scenario::all().iter().map(|s| s.name).collect();
        Error::invalid(format!(
            "--scenario {scenario:?}: expected one of {}",
            names.join(", ")
        ))
        .with_hint("hound lab scenarios")
    })?;
    if !nix::unistd::Uid::effective().is_root() {
        return Err(
            Error::permission("the lab creates network, mount and PID namespaces")
                .with_hint("run as root"),
        );
    }
    if !netns::list_prefix(&format!("{prefix}-")).is_empty() {
        return Err(
            Error::invalid(format!("a lab named {prefix} is already up"))
                .with_hint(format!("hound lab down --name {prefix}")),
        );
    }
    let built = (|| -> Result<Vec<String>> {
        let copy = hound_copy(prefix);
        if let Some(dir) = copy.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        }
        std::fs::copy(hound, &copy).map_err(|e| Error::io(copy.display(), e))?;
        let top = run_dir(prefix);
        std::fs::write(top.join("scenario"), s.name).map_err(|e| Error::io(top.display(), e))?;
        let json = serde_json::to_vec_pretty(&scenario::describe(s))
            .map_err(|e| Error::io_msg(format!("scenario.json: {e}")))?;
        std::fs::write(top.join("scenario.json"), json).map_err(|e| Error::io(top.display(), e))?;
        network(prefix, s)?;
        host_namespaces(prefix, s)?;
        let exe = copy.to_string_lossy().to_string();
        for h in s.hosts {
            if let Some(role) = h.serve {
                spawn_detached(prefix, h.name, &[&exe, "lab", "serve", "--role", role])?;
            }
        }
        for h in s.hosts {
            if let Some(role) = h.serve {
                wait_listening(prefix, h.name, services::ports(role)?)?;
            }
        }
        plant::plant(prefix, s)?;
        let mut lines: Vec<String> = s
            .hosts
            .iter()
            .map(|h| {
                format!(
                    "{:<9} {:<16} {}",
                    h.name,
                    h.addr.split('/').next().unwrap_or("-"),
                    h.what
                )
            })
            .collect();
        lines.push(format!(
            "scenario {}: hound lab exec --name {prefix} {} -- hound run incident-response -p {}",
            s.name,
            s.compromised,
            s.params().join(" -p ")
        ));
        Ok(lines)
    })();
    if built.is_err() {
        let _ = down(prefix);
    }
    built
}

/// Removes a lab completely, also after a crash: processes, namespaces,
/// mount namespaces and the run folder. Idempotent.
pub fn down(prefix: &str) -> Result<Vec<String>> {
    check_prefix(prefix)?;
    let removed = netns::cleanup_prefix(&format!("{prefix}-"));
    let dir = mnt_dir(prefix);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let _ = run("umount", &[&e.path().to_string_lossy()]);
        }
    }
    let _ = run("umount", &[&dir.to_string_lossy()]);
    let top = Path::new(RUN_DIR).join(prefix);
    if top.exists() {
        std::fs::remove_dir_all(&top).map_err(|e| Error::io(top.display(), e))?;
    }
    Ok(removed)
}

fn listening_ports(prefix: &str, host: &str) -> Vec<u16> {
    let ns = Netns::existing(&ns_name(prefix, host), true);
    let out = ns
        .exec(&["ss", "-ltnH"])
        .map(|o| o.stdout)
        .unwrap_or_default();
    let mut ports: Vec<u16> = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .nth(3)?
                .rsplit(':')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    ports.sort();
    ports.dedup();
    ports
}

/// A pid as its lab host numbers it (the last NSpid).
fn host_pid(pid: i32) -> i32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .and_then(|v| v.split_whitespace().last().and_then(|p| p.parse().ok()))
        })
        .unwrap_or(pid)
}

#[derive(Debug, Serialize)]
pub struct HostStatus {
    pub host: String,
    pub namespace: String,
    pub up: bool,
    pub addresses: Vec<String>,
    pub listening: Vec<u16>,
    /// Processes matching the scenario's malicious patterns, numbered as
    /// the host sees them (its own PID namespace).
    pub suspect_pids: Vec<i32>,
}

/// What is running, host by host.
pub fn status(prefix: &str) -> Result<Vec<HostStatus>> {
    check_prefix(prefix)?;
    let s = running_scenario(prefix);
    let mut out = Vec::new();
    for host in topology::names(s.hosts) {
        let name = ns_name(prefix, host);
        let up = Path::new("/run/netns").join(&name).exists();
        let ns = Netns::existing(&name, true);
        let (addresses, listening, bot_pids) = if up {
            let addrs = ns
                .exec(&["ip", "-o", "-4", "addr", "show"])
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split_whitespace().nth(3).map(String::from))
                .collect();
            let mut bots: Vec<i32> = if host == s.compromised {
                s.malicious
                    .processes
                    .iter()
                    .flat_map(|p| plant::running(&name, p.pattern))
                    .map(host_pid)
                    .collect()
            } else {
                vec![]
            };
            bots.sort();
            bots.dedup();
            (addrs, listening_ports(prefix, host), bots)
        } else {
            (vec![], vec![], vec![])
        };
        out.push(HostStatus {
            host: host.to_string(),
            namespace: name,
            up,
            addresses,
            listening,
            suspect_pids: bot_pids,
        });
    }
    Ok(out)
}
