//! The lab's services, small and deterministic: what the incident's hosts
//! answered. `hound lab serve --role ROLE` runs them inside a lab host.

use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

pub const SSH_BANNER: &str = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
pub const APACHE: &str = "Apache/2.4.62 (Debian)";
pub const MARIADB: &str = "5.5.5-10.11.6-MariaDB-0+deb12u1";
pub const ACCESS_LOG: &str = "/var/log/apache2/access.log";

const PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Apache2 Debian Default Page: It works</title></head>\n<body><h1>It works!</h1></body></html>\n";

/// Ordinary traffic from before the incident, as the real log held.
const SEED_LOG: &str = r#"10.0.0.203 - - [27/Nov/2026:09:12:01 +0000] "GET / HTTP/1.1" 200 10701 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
10.0.0.203 - - [27/Nov/2026:09:12:01 +0000] "GET /icons/openlogo-75.png HTTP/1.1" 200 6040 "http://172.20.0.10/" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
10.0.0.203 - - [27/Nov/2026:09:12:02 +0000] "GET /favicon.ico HTTP/1.1" 404 489 "http://172.20.0.10/" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
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

fn http(mut s: TcpStream, log: bool) {
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
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        if let Some(v) = line.strip_prefix("User-Agent: ") {
            agent = v.trim().to_string();
        }
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = if path == "/" || path == "/index.html" {
        (200, PAGE)
    } else {
        (404, "Not Found\n")
    };
    let date = chrono::Utc::now();
    let _ = write!(
        s,
        "HTTP/1.1 {status} {}\r\nDate: {}\r\nServer: {APACHE}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        if status == 200 { "OK" } else { "Not Found" },
        date.format("%a, %d %b %Y %H:%M:%S GMT"),
        body.len()
    );
    if log {
        let entry = format!(
            "{peer} - - [{}] \"{}\" {status} {} \"-\" \"{agent}\"\n",
            date.format("%d/%b/%Y:%H:%M:%S %z"),
            request.trim(),
            body.len()
        );
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(ACCESS_LOG)
        {
            let _ = f.write_all(entry.as_bytes());
        }
    }
}

fn handle(port: u16, role: &str, mut s: TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    let mut sink = [0u8; 512];
    match port {
        22 => {
            let _ = s.write_all(SSH_BANNER.as_bytes());
            let _ = s.read(&mut sink);
        }
        80 => http(s, role == "server"),
        3306 => {
            let _ = s.write_all(&mysql_greeting(MARIADB));
            let _ = s.read(&mut sink);
        }
        3389 if s.read(&mut sink).is_ok_and(|n| n > 0) => {
            let _ = s.write_all(&RDP_CONFIRM);
        }
        _ => {}
    }
}

/// Ports served by a role.
pub fn ports(role: &str) -> Result<&'static [u16]> {
    match role {
        "server" => Ok(&[22, 80, 3306]),
        "client" => Ok(&[3389]),
        "victim" => Ok(&[80]),
        _ => Err(Error::invalid(format!(
            "role {role:?}: expected server, client or victim"
        ))),
    }
}

/// Serves a role forever (until killed), one thread per listener and per
/// connection: the traffic is a class's, not a load test's.
pub fn serve(role: &str) -> Result<()> {
    let ports = ports(role)?;
    if role == "server" {
        std::fs::create_dir_all("/var/log/apache2")
            .map_err(|e| Error::io("/var/log/apache2", e))?;
        std::fs::write(ACCESS_LOG, SEED_LOG).map_err(|e| Error::io(ACCESS_LOG, e))?;
    }
    let mut threads = Vec::new();
    for &port in ports {
        let l = TcpListener::bind(("0.0.0.0", port))
            .map_err(|e| Error::io(format!("listening on {port}"), e))?;
        let role = role.to_string();
        threads.push(std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let role = role.clone();
                std::thread::spawn(move || handle(port, &role, s));
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}
