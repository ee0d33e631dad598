//! Plants a scenario on its compromised host, step by step, through the
//! host's own namespaces (its private /etc, /tmp, ... and its processes).

use super::scenario::{Scenario, Step};
use super::{command, ns_name, spawn_detached};
use crate::error::{Error, Result};
use crate::host::netns::Netns;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn sh(prefix: &str, host: &str, script: &str, input: &[u8]) -> Result<()> {
    let argv = ["sh".to_string(), "-c".to_string(), script.to_string()];
    let mut child = command(prefix, host, &argv)?
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("planting on {host}"), e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .map_err(|e| Error::io(format!("planting on {host}"), e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io(format!("planting on {host}"), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::io_msg(format!(
            "planting on {host}: {script}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Single-quotes a path for sh (the scenario's own constants, but quoted
/// anyway so a space cannot split them).
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(30) {
            return Err(Error::timeout(format!("scenario setup: {what}")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Whether a process whose command line contains `pattern` runs in `ns`.
pub fn running(ns: &str, pattern: &str) -> Vec<i32> {
    Netns::existing(ns, true)
        .pids()
        .into_iter()
        .filter(|p| {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let exe = std::fs::read_link(format!("/proc/{p}/exe")).unwrap_or_default();
            String::from_utf8_lossy(&cmd).contains(pattern)
                || exe.to_string_lossy().contains(pattern)
        })
        .collect()
}

/// The web-shell request, sent from `from`'s network namespace.
fn post(prefix: &str, from: &str, to: &str, path: &str, cmd: &str) -> Result<()> {
    let body = format!("c={}", super::services::url_encode(cmd));
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {to}\r\nUser-Agent: python-requests/2.31.0\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let to = to.to_string();
    let sent = Netns::existing(&ns_name(prefix, from), true).run(move || {
        let mut s = TcpStream::connect(&to)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(request.as_bytes())?;
        let mut reply = String::new();
        s.read_to_string(&mut reply)?;
        Ok::<String, std::io::Error>(reply)
    })?;
    match sent {
        Ok(reply) if reply.starts_with("HTTP/1.1 200") => Ok(()),
        Ok(reply) => Err(Error::io_msg(format!(
            "the web-shell request got {:?}",
            reply.lines().next().unwrap_or("")
        ))),
        Err(e) => Err(Error::io("the web-shell request", e)),
    }
}

pub fn plant(prefix: &str, s: &Scenario) -> Result<()> {
    let host = s.compromised;
    let ns = ns_name(prefix, host);
    for step in s.steps {
        match step {
            Step::Write {
                path,
                content,
                mode,
                owner,
            } => {
                let dir = std::path::Path::new(path)
                    .parent()
                    .map(|d| d.to_string_lossy().to_string())
                    .unwrap_or_else(|| "/".into());
                sh(
                    prefix,
                    host,
                    &format!(
                        "mkdir -p {d} && cat > {p} && chmod {mode:o} {p} && chown {owner} {p}",
                        d = q(&dir),
                        p = q(path)
                    ),
                    content.as_bytes(),
                )?;
            }
            Step::Append { path, content } => sh(
                prefix,
                host,
                &format!("cat >> {}", q(path)),
                content.as_bytes(),
            )?,
            Step::Link { path, target } => sh(
                prefix,
                host,
                &format!(
                    "mkdir -p \"$(dirname {p})\" && ln -sfn {t} {p}",
                    p = q(path),
                    t = q(target)
                ),
                b"",
            )?,
            Step::Run(argv) => {
                let script: Vec<String> = argv.iter().map(|a| q(a)).collect();
                sh(prefix, host, &script.join(" "), b"")?
            }
            Step::Start { argv, user } => {
                let mut full: Vec<String> = Vec::new();
                if let Some(u) = user {
                    let (uid, gid) = u.split_once(':').unwrap_or((u, u));
                    full.extend([
                        "setpriv".to_string(),
                        format!("--reuid={uid}"),
                        format!("--regid={gid}"),
                        "--clear-groups".to_string(),
                    ]);
                }
                full.extend(argv.iter().map(|a| a.to_string()));
                let refs: Vec<&str> = full.iter().map(String::as_str).collect();
                spawn_detached(prefix, host, &refs)?;
            }
            Step::Post {
                from,
                to,
                path,
                command,
            } => post(prefix, from, to, path, command)?,
            Step::WaitProc(pattern) => wait_until(&format!("{pattern} running"), || {
                !running(&ns, pattern).is_empty()
            })?,
            Step::WaitGone(path) => {
                let script = format!("! test -e {}", q(path));
                wait_until(&format!("{path} removed"), || {
                    sh(prefix, host, &script, b"").is_ok()
                })?
            }
        }
    }
    Ok(())
}
