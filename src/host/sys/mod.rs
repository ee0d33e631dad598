//! Host layer for `sys::`: the machine, its accounts, logins and the places
//! things are scheduled to run. Everything reads files under a `root` (`/`
//! on a live host; a fixture tree or a mounted image otherwise).

pub mod persist;
pub mod users;
pub mod utmp;

pub use persist::{crontabs, services, CronJob, Service};
pub use users::{authorized_keys, users, AuthorizedKey, User};
pub use utmp::{logins, logins_from, sessions, Login, Record, Session};

use crate::error::{Error, Result};
use crate::text::lossless;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// `<root>/<path>`, for a path written either way (`/etc/x` or `etc/x`).
pub fn rel(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// The machine at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub hostname: String,
    pub kernel: String,
    pub kernel_version: String,
    pub arch: String,
    /// `PRETTY_NAME` of os-release.
    pub distro: String,
    pub distro_id: String,
    pub uptime_s: u64,
    pub boot_time: String,
    pub now: String,
}

fn os_release(root: &Path) -> (String, String) {
    let text = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read(rel(root, p)).ok())
        .map(|b| lossless(&b))
        .unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    (get("PRETTY_NAME"), get("ID"))
}

/// `sys::info`: hostname, kernel (uname), distro (os-release), uptime.
pub fn info(root: &Path) -> Result<Info> {
    let u = nix::sys::utsname::uname().map_err(|e| Error::io_msg(format!("uname: {e}")))?;
    let (distro, distro_id) = os_release(root);
    let uptime_s = std::fs::read_to_string(rel(root, "proc/uptime"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0) as u64;
    let now = chrono::Utc::now().timestamp();
    let hostname = if root == Path::new("/") {
        lossless(u.nodename().as_encoded_bytes())
    } else {
        std::fs::read_to_string(rel(root, "etc/hostname"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    Ok(Info {
        hostname,
        kernel: lossless(u.release().as_encoded_bytes()),
        kernel_version: lossless(u.version().as_encoded_bytes()),
        arch: lossless(u.machine().as_encoded_bytes()),
        distro,
        distro_id,
        uptime_s,
        boot_time: crate::host::fs::iso(now - uptime_s as i64),
        now: crate::host::fs::iso(now),
    })
}

/// A loaded kernel module (`/proc/modules`).
#[derive(Debug, Clone, Serialize)]
pub struct Module {
    pub name: String,
    pub size: u64,
    pub refcount: i64,
    pub used_by: Vec<String>,
    /// `Live`, `Loading` or `Unloading`.
    pub state: String,
    /// Taint letters such as `OE` (out-of-tree, unsigned): rootkits are both.
    pub taint: String,
}

/// `sys::kernel_modules`: the modules in `<root>/proc/modules`.
pub fn kernel_modules(root: &Path) -> Result<Vec<Module>> {
    let p = rel(root, "proc/modules");
    let text = std::fs::read(&p).map_err(|e| Error::io(p.display(), e))?;
    let mut out = Vec::new();
    for line in lossless(&text).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 {
            continue;
        }
        let taint = f
            .get(6)
            .map(|t| t.trim_matches(|c| c == '(' || c == ')').to_string())
            .unwrap_or_default();
        out.push(Module {
            name: f[0].into(),
            size: f[1].parse().unwrap_or(0),
            refcount: f[2].parse().unwrap_or(-1),
            used_by: f[3]
                .split(',')
                .filter(|s| !s.is_empty() && *s != "-")
                .map(String::from)
                .collect(),
            state: f[4].into(),
            taint,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_parse() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("proc")).unwrap();
        std::fs::write(
            d.path().join("proc/modules"),
            "rk 16384 0 - Live 0x0000000000000000 (OE)\nbr 1 2 a,b, Live 0x0\n",
        )
        .unwrap();
        let m = kernel_modules(d.path()).unwrap();
        assert_eq!(m[0].taint, "OE");
        assert_eq!(m[1].used_by, ["a", "b"]);
    }
}
