//! The lab's services, small and deterministic: what the scenarios' hosts
//! answer. `hound lab serve --role ROLE` runs one role inside a lab host.
//! The `www` role also runs the web shell a scenario's attacker planted:
//! a POST to a `.php` file holding `system($_POST[...])` runs the command
//! as a child of the server, as mod_php would.

use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub const SSH_BANNER: &str = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
pub const APACHE: &str = "Apache/2.4.62 (Debian)";
pub const MARIADB: &str = "5.5.5-10.11.6-MariaDB-0+deb12u1";
pub const ACCESS_LOG: &str = "/var/log/apache2/access.log";
pub const WWW_LOG: &str = "/var/log/httpd/access_log";
pub const WWW_ROOT: &str = "/var/www/html";
pub const NAS_LOG: &str = "/var/log/rsyncd.log";

const PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Apache2 Debian Default Page: It works</title></head>\n<body><h1>It works!</h1></body></html>\n";
const CI_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Dashboard [Jenkins]</title></head>\n<body>Build queue: empty</body></html>\n";

/// Ordinary traffic from before the incident, as the real log held.
const SEED_LOG: &str = r#"10.0.0.203 - - [27/Nov/2026:09:12:01 +0000] "GET / HTTP/1.1" 200 10701 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
10.0.0.203 - - [27/Nov/2026:09:12:01 +0000] "GET /icons/openlogo-75.png HTTP/1.1" 200 6040 "http://172.20.0.10/" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
10.0.0.203 - - [27/Nov/2026:09:12:02 +0000] "GET /favicon.ico HTTP/1.1" 404 489 "http://172.20.0.10/" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
"#;

/// The web-shell scenario's log before the shell is called: ordinary
/// visits, then the upload that planted the shell.
const WWW_SEED_LOG: &str = r#"192.168.56.100 - - [28/Nov/2026:08:01:12 +0000] "GET / HTTP/1.1" 200 412 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
192.168.56.100 - - [28/Nov/2026:08:01:12 +0000] "GET /uploads/logo.png HTTP/1.1" 200 67 "http://192.168.56.20:8080/" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
198.51.100.50 - - [28/Nov/2026:11:47:03 +0000] "GET /upload.php HTTP/1.1" 200 388 "-" "python-requests/2.31.0"
198.51.100.50 - - [28/Nov/2026:11:47:04 +0000] "POST /upload.php HTTP/1.1" 200 19 "-" "python-requests/2.31.0"
"#;

/// A MySQL/MariaDB protocol-10 handshake announcing `version` (also what
/// the scan tests serve).
pub fn mysql_greeting(version: &str) -> Vec<u8> {
    let mut p = vec![0x0a];
    p.extend_from_slice(version.as_bytes());
    p.push(0);
    p.extend_from_slice(&[42, 0, 0, 0]); // connection id
    p.extend_from_slice(b"abcdefgh\0");
    p.extend_from_slice(&[0xff, 0xf7, 8, 2, 0, 0xff, 0x81, 21]);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
    let mut out = vec![(p.len() & 0xff) as u8, (p.len() >> 8) as u8, 0, 0];
    out.extend_from_slice(&p);
    out
}

/// TPKT + X.224 Connection Confirm + RDP negotiation response (TLS).
const RDP_CONFIRM: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x08, 0x00, 0x01,
    0x00, 0x00, 0x00,
];

/// What one role serves.
pub struct Role {
    pub ports: &'static [u16],
    /// The process name shown by ps (`comm`), when it should look like the
    /// daemon it plays.
    pub comm: Option<&'static str>,
    /// The access log it writes, seeded with older lines.
    log: Option<(&'static str, &'static str)>,
}

/// The roles a lab host can play.
pub fn role(name: &str) -> Result<Role> {
    let r = |ports, comm, log| Ok(Role { ports, comm, log });
    match name {
        "server" => r(&[22, 80, 3306], None, Some((ACCESS_LOG, SEED_LOG))),
        "client" => r(&[3389], None, None),
        "victim" => r(&[80], None, None),
        "www" => r(&[22, 8080], Some("httpd"), Some((WWW_LOG, WWW_SEED_LOG))),
        "c2" => r(&[443], None, None),
        "ci" => r(&[22, 8081], Some("java"), None),
        "pool" => r(&[3333], None, None),
        "files" => r(&[22, 445], Some("smbd"), None),
        "nas" => r(&[873], Some("rsync"), Some((NAS_LOG, ""))),
        "relay" => r(&[8443], None, None),
        _ => Err(Error::invalid(format!(
            "role {name:?}: expected server, client, victim, www, c2, ci, pool, files, nas or relay"
        ))),
    }
}

/// Ports served by a role.
pub fn ports(name: &str) -> Result<&'static [u16]> {
    role(name).map(|r| r.ports)
}

fn append(log: &str, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a form value (what the scenario's attacker sends).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs the web shell's command as a child of this server; a thread
/// reaps it so a killed payload leaves no zombie behind.
fn run_shell(cmd: &str) -> bool {
    let child = Command::new("/bin/sh")
        .args(["-c", cmd])
        .current_dir(WWW_ROOT)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(mut c) => {
            std::thread::spawn(move || {
                let _ = c.wait();
            });
            true
        }
        Err(_) => false,
    }
}

/// What a GET or POST of `path` returns on a role: (status, body).
fn respond(role: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let path = path.split('?').next().unwrap_or("/");
    match role {
        "ci" => return (200, CI_PAGE.into()),
        "www" => {}
        _ if path == "/" || path == "/index.html" => return (200, PAGE.into()),
        _ => return (404, "Not Found\n".into()),
    }
    let rel = if path == "/" { "/index.html" } else { path };
    if rel.contains("..") {
        return (400, "Bad Request\n".into());
    }
    let file = Path::new(WWW_ROOT).join(rel.trim_start_matches('/'));
    let Ok(content) = std::fs::read(&file) else {
        return (404, "Not Found\n".into());
    };
    let text = String::from_utf8_lossy(&content);
    if rel.ends_with(".php") {
        if method == "POST" && text.contains("system($_POST") {
            let cmd = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("c="))
                .map(url_decode)
                .unwrap_or_default();
            if !cmd.is_empty() && run_shell(&cmd) {
                return (200, "ok\n".into());
            }
        }
        return (200, "\n".into());
    }
    (200, text.into_owned())
}

fn http(mut s: TcpStream, role: &str, log: Option<&str>) {
    let peer = s
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "-".into());
    let mut reader = BufReader::new(match s.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() || request.is_empty() {
        return;
    }
    let mut agent = "-".to_string();
    let mut length = 0usize;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        if let Some(v) = line.strip_prefix("User-Agent: ") {
            agent = v.trim().to_string();
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length: ") {
            length = v.trim().parse().unwrap_or(0).min(1 << 20);
        }
        line.clear();
    }
    let mut body = vec![0u8; length];
    if length > 0 && reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut words = request.split_whitespace();
    let method = words.next().unwrap_or("GET");
    let path = words.next().unwrap_or("/");
    let (status, body) = respond(role, method, path, &String::from_utf8_lossy(&body));
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    let date = chrono::Utc::now();
    let _ = write!(
        s,
        "HTTP/1.1 {status} {reason}\r\nDate: {}\r\nServer: {APACHE}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        date.format("%a, %d %b %Y %H:%M:%S GMT"),
        body.len()
    );
    if let Some(log) = log {
        append(
            log,
            &format!(
                "{peer} - - [{}] \"{}\" {status} {} \"-\" \"{agent}\"\n",
                date.format("%d/%b/%Y:%H:%M:%S %z"),
                request.trim(),
                body.len()
            ),
        );
    }
}

fn handle(port: u16, role: &str, log: Option<&str>, mut s: TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    let mut sink = [0u8; 512];
    match port {
        22 => {
            let _ = s.write_all(SSH_BANNER.as_bytes());
            let _ = s.read(&mut sink);
        }
        80 | 8080 | 8081 => http(s, role, log),
        3306 => {
            let _ = s.write_all(&mysql_greeting(MARIADB));
            let _ = s.read(&mut sink);
        }
        3389 if s.read(&mut sink).is_ok_and(|n| n > 0) => {
            let _ = s.write_all(&RDP_CONFIRM);
        }
        // The C2 answers each check-in with a command, then hangs up.
        443 if s.read(&mut sink).is_ok_and(|n| n > 0) => {
            let _ = s.write_all(b"NOOP\n");
        }
        // The pool accepts the login and keeps the connection open.
        3333 => {
            if s.read(&mut sink).is_ok_and(|n| n > 0) {
                let _ =
                    s.write_all(b"{\"id\":1,\"jsonrpc\":\"2.0\",\"result\":{\"status\":\"OK\"}}\n");
            }
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
            while s.read(&mut sink).is_ok_and(|n| n > 0) {}
        }
        873 => {
            let peer = s.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            let _ = s.write_all(b"@RSYNCD: 31.0\n");
            let mut total = 0;
            while let Ok(n) = s.read(&mut sink) {
                if n == 0 {
                    break;
                }
                total += n;
            }
            if let Some(log) = log {
                let date = chrono::Utc::now().format("%Y/%m/%d %H:%M:%S");
                append(log, &format!("{date} connect from {peer}: {total} bytes\n"));
            }
        }
        _ => {
            let _ = s.read(&mut sink);
        }
    }
}

/// Names this process as the daemon it plays (ps shows `comm`).
fn set_comm(name: &str) {
    if let Ok(c) = std::ffi::CString::new(name) {
        // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16
        // bytes; longer names are truncated by the kernel.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, c.as_ptr() as libc::c_ulong, 0, 0, 0);
        }
    }
}

/// Serves a role forever (until killed), one thread per listener and per
/// connection: the traffic is a class's, not a load test's.
pub fn serve(name: &str) -> Result<()> {
    let role = role(name)?;
    if let Some(comm) = role.comm {
        set_comm(comm);
    }
    if let Some((log, seed)) = role.log {
        if let Some(dir) = Path::new(log).parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        }
        std::fs::write(log, seed).map_err(|e| Error::io(log, e))?;
    }
    let mut threads = Vec::new();
    for &port in role.ports {
        let l = TcpListener::bind(("0.0.0.0", port))
            .map_err(|e| Error::io(format!("listening on {port}"), e))?;
        let name = name.to_string();
        let log = role.log.map(|(l, _)| l);
        threads.push(std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let name = name.clone();
                std::thread::spawn(move || handle(port, &name, log, s));
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_round_trip() {
        let cmd = "mkdir -p /var/tmp/.x && echo 'a+b%' > f";
        assert_eq!(url_decode(&url_encode(cmd)), cmd);
        assert_eq!(url_decode("a+b%2"), "a b%2");
    }

    #[test]
    fn every_role_has_ports() {
        for r in [
            "server", "client", "victim", "www", "c2", "ci", "pool", "files", "nas", "relay",
        ] {
            assert!(!ports(r).unwrap().is_empty(), "{r}");
        }
        assert!(role("mars").is_err());
    }
}
