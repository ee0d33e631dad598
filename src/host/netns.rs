//! Network namespaces for the lab and the tests: every packet those send
//! stays inside namespaces created here, joined by veth pairs whose two ends
//! are created directly inside them, so nothing ever touches the host's
//! namespace. Namespaces are removed on drop, and stale ones (from a crash)
//! by [`cleanup_prefix`].
//!
//! Setup shells out to iproute2 on purpose: it is what an administrator would
//! type, and this is plumbing, not introspection.

use crate::error::{Error, Result};
use std::os::fd::AsFd;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A short unique tag: process id plus a counter, so tests in parallel (and
/// in parallel processes) never collide. Fits interface names (15 bytes).
pub fn unique_tag() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{:x}{n:x}", std::process::id() % 0xfffff)
}

fn ip(args: &[&str]) -> Result<Output> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            Error::io("running `ip` (iproute2)", e)
                .with_hint("install iproute2 (apt-get install iproute2)")
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let mut e = Error::io_msg(format!("ip {}: {}", args.join(" "), err.trim()));
        if err.contains("Operation not permitted") || err.contains("Permission denied") {
            e.kind = crate::error::ErrorKind::PermissionDenied;
            e.hint = Some("network namespaces need root".into());
        }
        return Err(e);
    }
    Ok(out)
}

/// Whether this process may create network namespaces (root, in practice).
pub fn available() -> bool {
    nix::unistd::Uid::effective().is_root()
        && Command::new("ip")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// A named network namespace (`/run/netns/NAME`), deleted on drop together
/// with every process still inside it.
#[derive(Debug)]
pub struct Netns {
    name: String,
    keep: bool,
}

impl Netns {
    /// Creates `NAME` with its loopback up.
    pub fn create(name: &str) -> Result<Netns> {
        ip(&["netns", "add", name])?;
        let ns = Netns {
            name: name.to_string(),
            keep: false,
        };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Creates `PREFIX-<unique>`.
    pub fn create_unique(prefix: &str) -> Result<Netns> {
        Self::create(&format!("{prefix}-{}", unique_tag()))
    }

    /// Adopts an existing namespace (the lab's, across commands).
    pub fn existing(name: &str, keep: bool) -> Netns {
        Netns {
            name: name.to_string(),
            keep,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keep the namespace when this handle drops (the lab outlives `lab up`).
    pub fn keep(mut self) -> Self {
        self.keep = true;
        self
    }

    /// A command that will run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs a command inside and returns its output, whatever its status.
    pub fn exec(&self, argv: &[&str]) -> Result<Output> {
        let (prog, rest) = argv
            .split_first()
            .ok_or_else(|| Error::invalid("netns exec: empty command"))?;
        self.command(prog)
            .args(rest)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io(format!("ip netns exec {} {prog}", self.name), e))
    }

    /// Runs a command inside; a non-zero exit is an error with its stderr.
    pub fn exec_ok(&self, argv: &[&str]) -> Result<Output> {
        let out = self.exec(argv)?;
        if !out.status.success() {
            return Err(Error::io_msg(format!(
                "in netns {}: {}: {}",
                self.name,
                argv.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(out)
    }

    /// Runs `f` on a fresh thread that has entered this namespace. Only that
    /// thread moves (setns is per thread); the rest of the process stays put,
    /// and every socket `f` creates belongs to the namespace.
    pub fn run<F, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let path = format!("/run/netns/{}", self.name);
        let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        std::thread::scope(|s| {
            s.spawn(move || {
                nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| Error::io(format!("setns {path}"), e.into()))?;
                Ok(f())
            })
            .join()
            .map_err(|_| Error::io_msg("thread inside the namespace panicked"))?
        })
    }

    /// Pids of the processes inside.
    pub fn pids(&self) -> Vec<i32> {
        ip(&["netns", "pids", &self.name])
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Kills what runs inside and deletes the namespace.
    pub fn destroy(&self) -> Result<()> {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        ip(&["netns", "del", &self.name]).map(|_| ())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if !self.keep {
            let _ = self.destroy();
        }
    }
}

/// Joins two namespaces with a veth pair, created with each end already in
/// its namespace, addressed (`"172.20.0.10/24"`) and up.
pub fn veth(
    a: &Netns,
    a_if: &str,
    a_addr: &str,
    b: &Netns,
    b_if: &str,
    b_addr: &str,
) -> Result<()> {
    ip(&[
        "link",
        "add",
        a_if,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ])?;
    for (ns, ifname, addr) in [(a, a_if, a_addr), (b, b_if, b_addr)] {
        if !addr.is_empty() {
            ns.exec_ok(&["ip", "addr", "add", addr, "dev", ifname])?;
        }
        ns.exec_ok(&["ip", "link", "set", ifname, "up"])?;
    }
    Ok(())
}

/// Names of existing namespaces that start with `prefix`.
pub fn list_prefix(prefix: &str) -> Vec<String> {
    ip(&["netns", "list"])
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|n| n.starts_with(prefix))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Removes every namespace whose name starts with `prefix` (after a crash).
pub fn cleanup_prefix(prefix: &str) -> Vec<String> {
    let names = list_prefix(prefix);
    for n in &names {
        let _ = Netns::existing(n, false).destroy();
    }
    names
}
