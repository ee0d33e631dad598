//! A reusable network lab for integration tests, built only from namespaces
//! the test creates (never the host's):
//!
//! ```text
//!   scanner (LAN .100) ─┐
//!   host A  (LAN .X)  ──┼── router: bridge br0 (LAN .254) ── veth ── far host (FAR .10)
//!   host B  (LAN .Y)  ──┘           (FAR .254, forwarding on)
//! ```
//!
//! LAN is `10.<n>.1.0/24`, FAR is `10.<n>.2.0/24`, `n` chosen per lab so two
//! labs never share addresses (they could: namespaces are isolated; distinct
//! addresses just make failures easier to read). Hosts get explicit MACs,
//! optional nftables policies (drop everything, or reject), and TCP
//! listeners serving fixed banners. Everything is torn down on drop: the
//! listener threads stop and the namespaces (with their links) are deleted.
//!
//! ```ignore
//! let lab = Lab::build(&[HostSpec::new("web", 10).listen(22, Serve::Banner(b"SSH-2.0-x\r\n"))])?;
//! let out = lab.eval(r#"scan::hosts("10.7.1.0/24")"#);
//! ```

#![allow(dead_code)]

use hound::host::netns::{self, Netns};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a listener does with a connection.
#[derive(Clone, Debug)]
pub enum Serve {
    /// Accepts and says nothing.
    Silent,
    /// Sends these bytes first (SSH, SMTP, MySQL greetings).
    Banner(Vec<u8>),
    /// Answers an HTTP request with this `Server` header and a titled page.
    Http(String),
}

/// The firewall a host runs (nftables, inside its namespace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fw {
    None,
    /// Input policy drop: no IP answer at all (ARP still answers).
    DropAll,
    /// Closed ports answer with a TCP reset from nftables, and port 8080
    /// with ICMP admin-prohibited (a "filtered, icmp-unreachable" port).
    Reject,
}

#[derive(Clone, Debug)]
pub struct HostSpec {
    pub name: String,
    /// Last octet on the LAN (or on FAR when `far`).
    pub octet: u8,
    pub mac: Option<String>,
    pub fw: Fw,
    pub far: bool,
    pub listeners: Vec<(u16, Serve)>,
}

impl HostSpec {
    pub fn new(name: &str, octet: u8) -> Self {
        HostSpec {
            name: name.into(),
            octet,
            mac: None,
            fw: Fw::None,
            far: false,
            listeners: Vec::new(),
        }
    }
    pub fn mac(mut self, mac: &str) -> Self {
        self.mac = Some(mac.into());
        self
    }
    pub fn fw(mut self, fw: Fw) -> Self {
        self.fw = fw;
        self
    }
    /// Puts the host behind the router, on FAR.
    pub fn far(mut self) -> Self {
        self.far = true;
        self
    }
    pub fn listen(mut self, port: u16, serve: Serve) -> Self {
        self.listeners.push((port, serve));
        self
    }
}

pub struct LabHost {
    pub spec: HostSpec,
    pub ns: Netns,
    pub ip: Ipv4Addr,
}

impl LabHost {
    pub fn open_ports(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self.spec.listeners.iter().map(|l| l.0).collect();
        v.sort();
        v
    }
}

pub struct Lab {
    pub n: u8,
    pub router: Netns,
    pub scanner: Netns,
    pub hosts: Vec<LabHost>,
    stop: Arc<AtomicBool>,
}

static NEXT_NET: AtomicU32 = AtomicU32::new(0);

impl Lab {
    /// The LAN prefix, e.g. `10.7.1`.
    pub fn lan(&self) -> String {
        format!("10.{}.1", self.n)
    }
    pub fn far_net(&self) -> String {
        format!("10.{}.2", self.n)
    }
    pub fn scanner_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.n, 1, 100)
    }
    pub fn router_lan_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.n, 1, 254)
    }
    pub fn router_far_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.n, 2, 254)
    }
    pub fn host(&self, name: &str) -> &LabHost {
        self.hosts
            .iter()
            .find(|h| h.spec.name == name)
            .unwrap_or_else(|| panic!("no lab host {name}"))
    }

    pub fn build(specs: &[HostSpec]) -> hound::Result<Lab> {
        let n = 10 + (NEXT_NET.fetch_add(1, Ordering::SeqCst) % 200) as u8;
        let router = Netns::create_unique("hd-r")?;
        let scanner = Netns::create_unique("hd-s")?;
        let mut lab = Lab {
            n,
            router,
            scanner,
            hosts: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let r = &lab.router;
        r.exec_ok(&["ip", "link", "add", "br0", "type", "bridge"])?;
        r.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("10.{n}.1.254/24"),
            "dev",
            "br0",
        ])?;
        r.exec_ok(&["ip", "link", "set", "br0", "up"])?;
        r.exec_ok(&["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        lab.attach_lan(&lab.scanner, "vscan", 100, None)?;
        let mut far_made = false;
        for (k, spec) in specs.iter().enumerate() {
            let ns = Netns::create_unique(&format!("hd-{}", &spec.name[..spec.name.len().min(4)]))?;
            let ip = if spec.far {
                if !far_made {
                    far_made = true;
                }
                let rif = format!("vf{k}");
                netns::veth(
                    &ns,
                    "eth0",
                    &format!("10.{n}.2.{}/24", spec.octet),
                    &lab.router,
                    &rif,
                    &format!("10.{n}.2.254/24"),
                )?;
                set_mac(&ns, spec.mac.as_deref())?;
                ns.exec_ok(&[
                    "ip",
                    "route",
                    "add",
                    "default",
                    "via",
                    &format!("10.{n}.2.254"),
                ])?;
                Ipv4Addr::new(10, n, 2, spec.octet)
            } else {
                lab.attach_lan(&ns, &format!("vh{k}"), spec.octet, spec.mac.as_deref())?;
                Ipv4Addr::new(10, n, 1, spec.octet)
            };
            firewall(&ns, spec)?;
            let host = LabHost {
                spec: spec.clone(),
                ns,
                ip,
            };
            for (port, serve) in &spec.listeners {
                let l = host
                    .ns
                    .run(move || TcpListener::bind((ip, *port)))?
                    .map_err(|e| hound::Error::io(format!("listen {ip}:{port}"), e))?;
                serve_forever(l, serve.clone(), lab.stop.clone());
            }
            lab.hosts.push(host);
        }
        Ok(lab)
    }

    fn attach_lan(&self, ns: &Netns, rif: &str, octet: u8, mac: Option<&str>) -> hound::Result<()> {
        let n = self.n;
        netns::veth(
            ns,
            "eth0",
            &format!("10.{n}.1.{octet}/24"),
            &self.router,
            rif,
            "",
        )?;
        self.router
            .exec_ok(&["ip", "link", "set", rif, "master", "br0"])?;
        set_mac(ns, mac)?;
        ns.exec_ok(&[
            "ip",
            "route",
            "add",
            "default",
            "via",
            &format!("10.{n}.1.254"),
        ])?;
        Ok(())
    }

    /// Evaluates a script with hound's runtime on a thread inside the
    /// scanner namespace; returns the value as JSON and the warnings.
    pub fn eval(&self, script: &str) -> (Result<serde_json::Value, String>, Vec<String>) {
        self.eval_in(&self.scanner, script)
    }

    pub fn eval_in(
        &self,
        ns: &Netns,
        script: &str,
    ) -> (Result<serde_json::Value, String>, Vec<String>) {
        let script = script.to_string();
        ns.run(move || {
            let sink = Arc::new(hound::runtime::CollectSink::default());
            let rt = hound::Runtime::builder()
                .sink(sink.clone())
                .build()
                .expect("runtime");
            let r = rt
                .eval(&script)
                .map(|v| serde_json::to_value(&v).unwrap_or(serde_json::Value::Null))
                .map_err(|e| e.to_string());
            let w = sink.warnings.lock().map(|w| w.clone()).unwrap_or_default();
            (r, w)
        })
        .expect("enter the scanner namespace")
    }

    /// Runs a command in the scanner namespace (nmap, for comparisons).
    pub fn scanner_cmd(&self, argv: &[&str]) -> String {
        let out = self.scanner.exec(argv).expect("run command in namespace");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Hosts and their namespaces drop first (field order would do it
        // after the router); explicit for clarity.
        self.hosts.clear();
    }
}

fn set_mac(ns: &Netns, mac: Option<&str>) -> hound::Result<()> {
    if let Some(m) = mac {
        ns.exec_ok(&["ip", "link", "set", "dev", "eth0", "down"])?;
        ns.exec_ok(&["ip", "link", "set", "dev", "eth0", "address", m])?;
        ns.exec_ok(&["ip", "link", "set", "dev", "eth0", "up"])?;
    }
    Ok(())
}

fn firewall(ns: &Netns, spec: &HostSpec) -> hound::Result<()> {
    let base = "add table inet hdlab; add chain inet hdlab input { type filter hook input priority 0; policy accept; };";
    let rules = match spec.fw {
        Fw::None => return Ok(()),
        Fw::DropAll => "add table inet hdlab; add chain inet hdlab input { type filter hook input priority 0; policy drop; };".to_string(),
        Fw::Reject => {
            let mut r = format!("{base} add rule inet hdlab input tcp dport 8080 reject with icmpx type admin-prohibited;");
            let open: Vec<String> = spec.listeners.iter().map(|l| l.0.to_string()).collect();
            if open.is_empty() {
                r.push_str(" add rule inet hdlab input meta l4proto tcp reject with tcp reset;");
            } else {
                r.push_str(&format!(
                    " add rule inet hdlab input tcp dport != {{ {} }} reject with tcp reset;",
                    open.join(", ")
                ));
            }
            r
        }
    };
    ns.exec_ok(&["nft", &rules]).map(|_| ())
}

fn serve_forever(l: TcpListener, serve: Serve, stop: Arc<AtomicBool>) {
    let _ = l.set_nonblocking(true);
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((s, _)) => {
                    let serve = serve.clone();
                    std::thread::spawn(move || handle(s, &serve));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
}

fn handle(mut s: TcpStream, serve: &Serve) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    match serve {
        Serve::Silent => {
            let mut b = [0u8; 512];
            let _ = s.read(&mut b);
        }
        Serve::Banner(b) => {
            let _ = s.write_all(b);
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
        }
        Serve::Http(server) => {
            let mut req = Vec::new();
            let mut b = [0u8; 512];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => req.extend_from_slice(&b[..n]),
                }
            }
            let body = "<html><head><title>hound lab</title></head><body>ok</body></html>";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nServer: {server}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    }
}

/// A MySQL/MariaDB-style handshake packet announcing `version`.
pub fn mysql_greeting(version: &str) -> Vec<u8> {
    hound::host::lab::services::mysql_greeting(version)
}

/// Parses `nmap -oG -` output: host -> open TCP ports.
pub fn nmap_open_ports(grepable: &str) -> Vec<(String, Vec<u16>)> {
    let mut out = Vec::new();
    for line in grepable.lines().filter(|l| l.contains("Ports:")) {
        let host = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let ports = line
            .split("Ports:")
            .nth(1)
            .unwrap_or("")
            .split(',')
            .filter(|p| p.contains("/open/"))
            .filter_map(|p| p.trim().split('/').next()?.parse().ok())
            .collect();
        out.push((host, ports));
    }
    out
}

/// Parses `nmap -sn -oG -`: the addresses reported up.
pub fn nmap_up_hosts(grepable: &str) -> Vec<String> {
    grepable
        .lines()
        .filter(|l| l.contains("Status: Up"))
        .filter_map(|l| l.split_whitespace().nth(1).map(String::from))
        .collect()
}

/// Serialises lab building a little: many namespaces created at once from
/// parallel tests make iproute2 slow but stay correct; nothing else shared.
pub static LAB_LOCK: Mutex<()> = Mutex::new(());
