//! `scan::` against the namespace lab (tests/it/netlab.rs): discovery, SYN
//! and connect scans, service identification, nmap agreement, bad input.

use crate::netlab::{mysql_greeting, nmap_open_ports, nmap_up_hosts, Fw, HostSpec, Lab, Serve};
use crate::{require_cmd, require_root};
use serde_json::Value;
use std::collections::BTreeSet;

const PROXMOX_MAC: &str = "bc:24:11:fb:f0:03";

fn lab() -> Lab {
    Lab::build(&[
        HostSpec::new("web", 10)
            .mac("02:42:0a:00:00:0a")
            .listen(
                22,
                Serve::Banner(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec()),
            )
            .listen(80, Serve::Http("Apache/2.4.62 (Debian)".into()))
            .listen(
                3306,
                Serve::Banner(mysql_greeting("5.5.5-10.11.6-MariaDB-0+deb12u1")),
            )
            .listen(40123, Serve::Silent),
        HostSpec::new("client", 22)
            .mac(PROXMOX_MAC)
            .listen(3389, Serve::Silent),
        HostSpec::new("drop", 30)
            .mac("02:42:0a:00:00:1e")
            .fw(Fw::DropAll),
        HostSpec::new("rej", 31)
            .mac("02:42:0a:00:00:1f")
            .fw(Fw::Reject)
            .listen(
                25,
                Serve::Banner(b"220 mx.lab ESMTP Postfix (Debian)\r\n".to_vec()),
            ),
        HostSpec::new("far", 10).far().listen(443, Serve::Silent),
    ])
    .expect("build the lab")
}

fn ok(r: (Result<Value, String>, Vec<String>)) -> (Vec<Value>, Vec<String>) {
    let (v, w) = r;
    let v = v.unwrap_or_else(|e| panic!("script failed: {e}\nwarnings: {w:?}"));
    (v.as_array().cloned().unwrap_or_default(), w)
}

fn field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or("")
}

fn ports_in(v: &[Value], state: &str) -> Vec<u16> {
    v.iter()
        .filter(|r| field(r, "state") == state)
        .filter_map(|r| r["port"].as_u64().map(|p| p as u16))
        .collect()
}

#[test]
fn discovery_ports_services_and_nmap_agree() {
    require_root!();
    require_cmd!("nft");
    let lab = lab();
    let lan = lab.lan();
    let web = lab.host("web");

    // Host discovery on the LAN: exactly the live hosts, with their MACs.
    let (hosts, _) = ok(lab.eval(&format!(r#"scan::hosts("{lan}.0/24")"#)));
    let got: BTreeSet<String> = hosts.iter().map(|h| field(h, "ip").to_string()).collect();
    let want: BTreeSet<String> = [10, 22, 30, 31, 100, 254]
        .iter()
        .map(|o| format!("{lan}.{o}"))
        .collect();
    assert_eq!(got, want, "{hosts:?}");
    let client = hosts
        .iter()
        .find(|h| field(h, "ip") == format!("{lan}.22"))
        .unwrap();
    assert_eq!(field(client, "mac"), PROXMOX_MAC);
    assert_eq!(field(client, "vendor"), "Proxmox Server Solutions GmbH");
    assert_eq!(field(client, "method"), "arp");
    let drop = hosts
        .iter()
        .find(|h| field(h, "ip") == format!("{lan}.30"))
        .unwrap();
    assert_eq!(
        field(drop, "mac"),
        "02:42:0a:00:00:1e",
        "ARP sees a host that drops IP"
    );
    assert_eq!(
        field(
            &hosts
                .iter()
                .find(|h| field(h, "ip") == format!("{lan}.100"))
                .unwrap()
                .clone(),
            "method"
        ),
        "local"
    );

    // Routed discovery (ICMP/TCP through the router).
    let far = lab.far_net();
    let (fh, _) = ok(lab.eval(&format!(
        r#"scan::hosts("{far}.0/28", #{{ timeout: "300ms" }})"#
    )));
    let got: Vec<&str> = fh.iter().map(|h| field(h, "ip")).collect();
    assert_eq!(got, vec![format!("{far}.10")], "{fh:?}");
    assert_ne!(field(&fh[0], "method"), "arp");

    // nmap agrees on the LAN's live hosts.
    let nm = lab.scanner_cmd(&["nmap", "-sn", "-n", "-oG", "-", &format!("{lan}.0/24")]);
    let nm: BTreeSet<String> = nmap_up_hosts(&nm).into_iter().collect();
    assert_eq!(nm, want, "nmap -sn disagrees:\n{nm:?}");

    // Full TCP range on the web host: exactly the listeners, the rest closed.
    // (65,535 full records exceed the runtime's data limits; "all" lists open ports.)
    let (all, _) = ok(lab.eval(&format!(r#"scan::ports("{}", "all")"#, web.ip)));
    assert_eq!(ports_in(&all, "open"), web.open_ports());
    assert_eq!(all.len(), web.open_ports().len());
    assert!(all.iter().all(|r| field(r, "reason") == "syn-ack"));
    let nm = lab.scanner_cmd(&[
        "nmap",
        "-sS",
        "-Pn",
        "-n",
        "-p-",
        "-oG",
        "-",
        &web.ip.to_string(),
    ]);
    assert_eq!(
        nmap_open_ports(&nm),
        vec![(web.ip.to_string(), web.open_ports())],
        "nmap -p- disagrees"
    );

    // The connect scan agrees with the SYN scan.
    let spec = "1-1100,3306,3389,40000-40200";
    let (syn, _) = ok(lab.eval(&format!(
        r#"scan::ports("{}", "{spec}", #{{ method: "syn", show: "all" }})"#,
        web.ip
    )));
    let (con, _) = ok(lab.eval(&format!(
        r#"scan::ports("{}", "{spec}", #{{ method: "connect", show: "all" }})"#,
        web.ip
    )));
    assert_eq!(syn.len(), 1100 + 2 + 201);
    assert_eq!(ports_in(&syn, "open"), vec![22, 80, 3306, 40123]);
    assert_eq!(
        ports_in(&syn, "closed").len(),
        syn.len() - 4,
        "no filtered ports on an open host"
    );
    assert_eq!(ports_in(&syn, "open"), ports_in(&con, "open"));
    assert_eq!(ports_in(&syn, "closed"), ports_in(&con, "closed"));
    assert!(con
        .iter()
        .filter(|r| field(r, "state") == "closed")
        .all(|r| field(r, "reason") == "conn-refused"));

    // A host that drops everything: filtered by timeout, in bounded time.
    let d = lab.host("drop");
    let (f, _) = ok(lab.eval(&format!(
        r#"scan::ports("{}", "top:100", #{{ timeout: "300ms" }})"#,
        d.ip
    )));
    assert_eq!(f.len(), 100);
    assert!(
        f.iter()
            .all(|r| field(r, "state") == "filtered" && field(r, "reason") == "timeout"),
        "{f:?}"
    );
    let (fc, _) = ok(lab.eval(&format!(
        r#"scan::ports("{}", "top:20", #{{ method: "connect", timeout: "300ms" }})"#,
        d.ip
    )));
    assert!(fc.iter().all(|r| field(r, "state") == "filtered"), "{fc:?}");

    // A host that rejects: RST for closed ports, ICMP for 8080.
    let r = lab.host("rej");
    let (rj, _) = ok(lab.eval(&format!(r#"scan::ports("{}", [22, 25, 8080])"#, r.ip)));
    let by_port = |p: u64| {
        rj.iter()
            .find(|x| x["port"].as_u64() == Some(p))
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (field(&by_port(22), "state"), field(&by_port(22), "reason")),
        ("closed", "rst")
    );
    assert_eq!(field(&by_port(25), "state"), "open");
    assert_eq!(
        (
            field(&by_port(8080), "state"),
            field(&by_port(8080), "reason")
        ),
        ("filtered", "icmp-unreachable")
    );

    // Services: SSH banner, HTTP server and title, MariaDB greeting, SMTP;
    // a port that answers no probe stays unknown.
    let (sv, _) = ok(lab.eval(&format!(
        r#"scan::services(["{}", "{}"], [22, 25, 80, 3306, 40123])"#,
        web.ip, r.ip
    )));
    let svc = |ip: &str, p: u64| {
        sv.iter()
            .find(|x| field(x, "ip") == ip && x["port"].as_u64() == Some(p))
            .cloned()
            .unwrap_or_else(|| panic!("no {ip}:{p} in {sv:?}"))
    };
    let w = web.ip.to_string();
    let ssh = svc(&w, 22);
    assert_eq!(
        (
            field(&ssh, "service"),
            field(&ssh, "product"),
            field(&ssh, "version")
        ),
        ("ssh", "OpenSSH", "9.2p1")
    );
    let http = svc(&w, 80);
    assert_eq!(
        (
            field(&http, "service"),
            field(&http, "product"),
            field(&http, "version"),
            field(&http, "title")
        ),
        ("http", "Apache", "2.4.62", "hound lab")
    );
    let my = svc(&w, 3306);
    assert_eq!(
        (
            field(&my, "service"),
            field(&my, "product"),
            field(&my, "version")
        ),
        ("mysql", "MariaDB", "10.11.6")
    );
    let silent = svc(&w, 40123);
    assert_eq!(
        (
            field(&silent, "service"),
            field(&silent, "product"),
            field(&silent, "auth")
        ),
        ("unknown", "", "unknown")
    );
    assert!(silent.get("exposures").is_none(), "{silent:?}");
    let smtp = svc(&r.ip.to_string(), 25);
    assert_eq!(
        (field(&smtp, "service"), field(&smtp, "product")),
        ("smtp", "Postfix")
    );

    // IPv6 goes through connect probes.
    let (v6, _) = ok(lab.eval(r#"scan::ports("::1", [22, 23])"#));
    assert_eq!(ports_in(&v6, "closed"), vec![22, 23], "{v6:?}");
    assert_eq!(field(&v6[0], "reason"), "conn-refused");
    let (h6, _) = ok(lab.eval(r#"scan::hosts("::1")"#));
    assert_eq!(field(&h6[0], "method"), "tcp-connect", "{h6:?}");

    // Unprivileged: connect fallback, with a warning, same open ports.
    if std::process::Command::new("setpriv")
        .arg("--help")
        .output()
        .is_ok()
    {
        let (dir, path) = crate::common::script(
            "u.rhai",
            &format!(r#"scan::ports("{}", "20-25,80,3306")"#, web.ip),
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = lab
            .scanner
            .command("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(crate::common::hound_path())
            .args(["--json", "run", path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("falling back to a TCP connect scan"),
            "{stderr}"
        );
        let rows = crate::common::json_lines(&out.stdout);
        assert_eq!(ports_in(&rows, "open"), vec![22, 80, 3306]);
        assert!(rows
            .iter()
            .all(|r| field(r, "state") == "open" || field(r, "reason") == "conn-refused"));
    }

    // version: true on scan::ports adds the same fields to open ports.
    let (pv, _) = ok(lab.eval(&format!(
        r#"scan::ports("{}", "22,80", #{{ version: true }})"#,
        web.ip
    )));
    assert!(pv.iter().any(|x| field(x, "service") == "ssh"), "{pv:?}");
}

#[test]
fn cancelling_returns_partial_results() {
    require_root!();
    require_cmd!("nft");
    let lab = Lab::build(&[HostSpec::new("web", 10).listen(22, Serve::Silent)]).expect("lab");
    let ip = lab.host("web").ip;
    let script = format!(r#"scan::ports("{ip}", "all", #{{ rate: 2000, show: "all" }})"#);
    let (r, emitted) = lab
        .scanner
        .run(move || {
            let sink = std::sync::Arc::new(hound::runtime::CollectSink::default());
            let rt = hound::Runtime::builder()
                .sink(sink.clone())
                .build()
                .unwrap();
            let token = rt.cancel_token();
            let t = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(400));
                token.cancel();
            });
            let r = rt.eval(&script).map(|_| ());
            t.join().unwrap();
            let emitted: Vec<Value> = sink
                .emitted
                .lock()
                .unwrap()
                .iter()
                .map(|d| serde_json::to_value(d).unwrap())
                .collect();
            (r, emitted)
        })
        .unwrap();
    // The scan stopped early and emitted what it had found (the script may
    // or may not reach another operation before the cancel stops it).
    let _ = r;
    assert!(
        !emitted.is_empty() && emitted.len() < 65535,
        "{}",
        emitted.len()
    );
    assert!(emitted.iter().all(|e| e["partial"] == Value::Bool(true)));
}

#[test]
fn bad_inputs_are_named_errors() {
    require_root!();
    // In an empty namespace: a name lookup can reach no resolver.
    let ns = hound::host::netns::Netns::create_unique("hd-sb").expect("netns");
    let cases = [
        (
            r#"scan::hosts("172.19.0.0/33")"#,
            r#"scan::hosts: "172.19.0.0/33" is not a valid CIDR"#,
        ),
        (
            r#"scan::ports("10.0.0.1", "70000")"#,
            "scan::ports: ports: 70000 is not a port",
        ),
        (
            r#"scan::ports("10.0.0.1", "top:0")"#,
            "top:N takes N from 1 to 1000",
        ),
        (
            r#"scan::ports("10.0.0.1", [])"#,
            "scan::ports: ports: the port list is empty",
        ),
        (
            r#"scan::hosts([])"#,
            "scan::hosts: targets: the list is empty",
        ),
        (r#"scan::hosts("no-such-host.invalid")"#, "does not resolve"),
        (r#"scan::hosts("10.0.0.0/8")"#, "exceed the limit of 65536"),
        (r#"scan::ports("10.0.0.1", 70000)"#, "70000 is not a port"),
        (
            r#"scan::ports("10.0.0.1", "22", #{ method: "udp" })"#,
            "\"udp\" is not one of",
        ),
        (
            r#"scan::hosts("10.0.0.1", #{ tiemout: 1 })"#,
            "unknown option \"tiemout\"",
        ),
    ];
    for (script, want) in cases {
        let script = format!("let k = \"\"; let m = \"\"; try {{ {script}; }} catch (e) {{ k = e.kind; m = e.message; }} [k, m]");
        let s2 = script.clone();
        let v = ns
            .run(move || {
                let rt = hound::Runtime::builder().build().unwrap();
                serde_json::to_value(rt.eval(&s2).unwrap()).unwrap()
            })
            .unwrap();
        assert_eq!(v[0], "invalid_argument", "{script}: {v}");
        let msg = v[1].as_str().unwrap();
        assert!(msg.contains(want), "{script}: {msg:?} lacks {want:?}");
    }
}

#[test]
fn services_read_a_tls_certificate_subject() {
    require_root!();
    require_cmd!("openssl");
    let lab = Lab::build(&[HostSpec::new("tls", 10)]).expect("lab");
    let host = lab.host("tls");
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("k.pem"), dir.path().join("c.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=server01.lab/O=Hound Lab", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success());
    // Killed with the namespace when the lab drops.
    let mut server = host
        .ns
        .command("openssl")
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &format!("{}:8443", host.ip),
        ])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it listens (a bounded poll, not a timing assertion).
    let script = format!(
        r#"scan::ports("{}", [8443]).filter(|p| p.state == "open").len()"#,
        host.ip
    );
    for _ in 0..50 {
        if lab.eval(&script).0.ok() == Some(Value::from(1)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (sv, _) = ok(lab.eval(&format!(r#"scan::services("{}", [8443])"#, host.ip)));
    assert_eq!(field(&sv[0], "service"), "tls", "{sv:?}");
    assert_eq!(
        field(&sv[0], "cert_subject"),
        "CN=server01.lab, O=Hound Lab"
    );
    let _ = server.kill();
    let _ = server.wait();
}
