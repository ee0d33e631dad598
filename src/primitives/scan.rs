//! `scan::` primitives: host discovery, port scans, service identification.
//! The work is in `crate::host::scan`; here are argument checks, the choice
//! between raw and connect methods, progress bars and partial results.
//!
//! Cancellation (Ctrl-C): a scan stops within a few tens of milliseconds and
//! returns what it found, each record marked `partial: true`. Because the
//! run is being cancelled, the script itself stops right after; so the
//! partial records are also emitted (printed), and a warning says the scan
//! was cut short.

use rhai::plugin::*;

use crate::error::Error;
use crate::host::scan::discover::{self, HostMethod, HostOpts};
use crate::host::scan::services::ServiceResult;
use crate::host::scan::{
    connect, services, sock, spec, syn, PortMethod, PortOpts, PortResult, Progress,
};
use crate::primitives::{args, ctx, to_dyn, IntoRhai, Opts, RhaiResult};
use crate::runtime::Ctx;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const fn opt(
    key: &'static str,
    ty: &'static str,
    default: &'static str,
    description: &'static str,
) -> args::Opt {
    args::Opt {
        key,
        ty,
        default,
        description,
    }
}

/// The options of `scan::hosts` (`hound doc` shows them; `Opts::spec`
/// accepts exactly these keys).
pub const HOSTS_OPTS: &[args::Opt] = &[
    opt(
        "method",
        "string",
        "\"auto\"",
        "auto, arp, icmp, tcp, connect",
    ),
    opt("timeout", "int|string", "1s", "longest wait per probe"),
    opt(
        "retries",
        "int",
        "1",
        "0-10 retransmissions of silent probes",
    ),
    opt("rate", "int", "0", "packets per second (0 = unlimited)"),
    opt(
        "max_targets",
        "int",
        "65536",
        "refuse more addresses than this",
    ),
    opt(
        "ports",
        "string|int|array",
        "443, 80, 22",
        "TCP probe ports",
    ),
];

/// The options of `scan::ports`.
pub const PORTS_OPTS: &[args::Opt] = &[
    opt("method", "string", "\"auto\"", "auto, syn, connect"),
    opt(
        "timeout",
        "int|string",
        "1s",
        "upper bound of the adaptive timeout",
    ),
    opt(
        "retries",
        "int",
        "1",
        "0-10 retransmissions of silent probes",
    ),
    opt("rate", "int", "0", "packets per second (0 = unlimited)"),
    opt(
        "max_targets",
        "int",
        "65536",
        "refuse more addresses than this",
    ),
    opt(
        "concurrency",
        "int",
        "auto",
        "probes or connections in flight",
    ),
    opt("source_port", "int", "random", "1-65535"),
    opt(
        "show",
        "string",
        "open if > 1024 ports",
        "\"open\" or \"all\"",
    ),
    opt(
        "version",
        "bool",
        "false",
        "identify the services on open ports",
    ),
];

/// The options of `scan::services`.
pub const SERVICES_OPTS: &[args::Opt] = &[
    opt("method", "string", "\"auto\"", "auto, syn, connect"),
    opt("timeout", "int|string", "3s", "per connection"),
    opt(
        "retries",
        "int",
        "1",
        "0-10 retransmissions of silent probes",
    ),
    opt("rate", "int", "0", "packets per second (0 = unlimited)"),
    opt(
        "max_targets",
        "int",
        "65536",
        "refuse more addresses than this",
    ),
    opt("concurrency", "int", "256", "connections in flight"),
    opt(
        "udp",
        "bool",
        "false",
        "also probe UDP services (DNS version.bind, SNMP sysDescr with \"public\")",
    ),
];

fn targets(p: &str, v: &Dynamic, o: &Opts) -> RhaiResult<Vec<IpAddr>> {
    let specs = args::string_list(p, "targets", v)?;
    let max = o
        .int("max_targets", 1, i64::from(u32::MAX))?
        .map(|n| n as u64)
        .unwrap_or(spec::DEFAULT_MAX_TARGETS);
    spec::parse_targets(&specs, max).rhai(p)
}

fn ports_arg(p: &str, v: &Dynamic) -> RhaiResult<Vec<u16>> {
    if let Ok(n) = v.as_int() {
        return spec::check_port_ints(&[n]).rhai(p);
    }
    if v.is_string() {
        return spec::parse_ports(&v.to_string()).rhai(p);
    }
    if let Some(a) = v.read_lock::<rhai::Array>() {
        if a.iter().all(|x| x.is_int()) {
            let ints: Vec<i64> = a.iter().filter_map(|x| x.as_int().ok()).collect();
            return spec::check_port_ints(&ints).rhai(p);
        }
        let parts = args::string_list(p, "ports", v)?;
        return spec::parse_ports(&parts.join(",")).rhai(p);
    }
    Err(args::bad(
        p,
        format!("ports: expected a spec string like \"22,80\" or \"top:100\", an integer or an array, found {}", v.type_name()),
    ))
}

fn port_opts(p: &str, o: &Opts, default_timeout: Duration) -> RhaiResult<PortOpts> {
    let method = match o.str("method")?.as_deref() {
        None | Some("auto") => PortMethod::Auto,
        Some("syn") => PortMethod::Syn,
        Some("connect") => PortMethod::Connect,
        Some(m) => {
            return Err(args::bad(
                p,
                format!("option \"method\": {m:?} is not one of auto, syn, connect"),
            ))
        }
    };
    Ok(PortOpts {
        method,
        timeout: o
            .duration("timeout")?
            .unwrap_or(default_timeout)
            .max(Duration::from_millis(10)),
        retries: o.int("retries", 0, 10)?.unwrap_or(1) as u32,
        rate: o.int("rate", 0, 10_000_000)?.unwrap_or(0) as u64,
        concurrency: o.int("concurrency", 1, 100_000)?.map(|n| n as usize),
        source_port: o.int("source_port", 1, 65535)?.map(|n| n as u16),
    })
}

/// Whether raw sockets are usable; warns once when falling back.
fn use_raw(c: &Ctx, p: &str, method: PortMethod) -> RhaiResult<bool> {
    let raw = sock::raw_allowed();
    match method {
        PortMethod::Connect => Ok(false),
        PortMethod::Syn if !raw => Err(crate::primitives::to_rhai(
            Error::permission("a SYN scan needs raw sockets (root or CAP_NET_RAW)")
                .in_primitive(p)
                .with_hint("run as root, or use method: \"connect\""),
        )),
        PortMethod::Syn => Ok(true),
        PortMethod::Auto => {
            if !raw {
                c.warn(p, "no raw-socket privilege: falling back to a TCP connect scan (slower, logged by targets)");
            }
            Ok(raw)
        }
    }
}

fn split(t: &[IpAddr]) -> (Vec<Ipv4Addr>, Vec<IpAddr>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for ip in t {
        match ip {
            IpAddr::V4(a) => v4.push(*a),
            IpAddr::V6(_) => v6.push(*ip),
        }
    }
    (v4, v6)
}

/// Runs a collector-based async scan; `Ok(true)` when it was cancelled.
fn run_collected<F>(c: &Ctx, p: &str, fut: F) -> RhaiResult<bool>
where
    F: std::future::Future<Output = crate::Result<()>> + Send,
{
    match c.block_on(fut) {
        Ok(()) => Ok(false),
        Err(e) if e.is_cancelled() => Ok(true),
        Err(e) => Err(crate::primitives::to_rhai(e.in_primitive(p))),
    }
}

fn take<T>(v: &Arc<Mutex<Vec<T>>>) -> Vec<T> {
    v.lock()
        .map(|mut g| std::mem::take(&mut *g))
        .unwrap_or_default()
}

/// Port results for `targets` × `ports`, with the method the options ask for.
fn port_scan(
    c: &Ctx,
    p: &str,
    t: &[IpAddr],
    ports: &[u16],
    po: &PortOpts,
) -> RhaiResult<(Vec<PortResult>, bool)> {
    let raw = use_raw(c, p, po.method)?;
    let progress = Progress::new(c.sink.interactive(), (t.len() * ports.len()) as u64, p);
    let (v4, v6) = split(t);
    let mut out = Vec::new();
    let mut partial = false;
    let connect_targets: Vec<IpAddr> = if raw {
        let (r, part) =
            syn::scan(&v4, ports, po, &c.cancel, &progress, &mut |w| c.warn(p, w)).rhai(p)?;
        out = r;
        partial = part;
        v6
    } else {
        t.to_vec()
    };
    if !connect_targets.is_empty() && !partial {
        let coll = Arc::new(Mutex::new(Vec::new()));
        let base = out.len() as u64;
        partial = run_collected(
            c,
            p,
            connect::scan(
                connect_targets,
                ports.to_vec(),
                po.clone(),
                progress.offset(base),
                coll.clone(),
            ),
        )?;
        out.extend(take(&coll));
        syn::sort(&mut out);
    }
    progress.finish();
    if partial {
        for r in &mut out {
            r.partial = true;
        }
    }
    Ok((out, partial))
}

fn identify(
    c: &Ctx,
    p: &str,
    open: Vec<(IpAddr, u16)>,
    timeout: Duration,
    conc: Option<usize>,
) -> RhaiResult<(Vec<ServiceResult>, bool)> {
    let progress = Progress::new(c.sink.interactive(), open.len() as u64, p);
    let coll = Arc::new(Mutex::new(Vec::new()));
    let window = connect::fd_window(conc.or(Some(256)));
    let partial = run_collected(
        c,
        p,
        services::identify_all(open, timeout, window, progress.clone(), coll.clone()),
    )?;
    progress.finish();
    let mut v = take(&coll);
    v.sort_by_cached_key(|r| (r.ip.parse::<IpAddr>().ok(), r.port));
    if partial {
        v.iter_mut().for_each(|r| r.partial = true);
    }
    Ok((v, partial))
}

fn finish<T: serde::Serialize>(c: &Ctx, p: &str, v: &[T], partial: bool) -> RhaiResult<Dynamic> {
    let d = to_dyn(v)?;
    if partial {
        c.warn(
            p,
            format!("cancelled: {} result(s) so far, marked partial", v.len()),
        );
        if let Some(a) = d.read_lock::<rhai::Array>() {
            a.iter().for_each(|r| c.sink.emit(r));
        }
    }
    Ok(d)
}

fn hosts_impl(nc: &NativeCallContext, t: Dynamic, opts: rhai::Map) -> RhaiResult<Dynamic> {
    const P: &str = "scan::hosts";
    let c = ctx(nc, P)?;
    let o = Opts::spec(P, opts, HOSTS_OPTS)?;
    let t = targets(P, &t, &o)?;
    let method = match o.str("method")?.as_deref() {
        None | Some("auto") => HostMethod::Auto,
        Some("arp") => HostMethod::Arp,
        Some("icmp") => HostMethod::Icmp,
        Some("tcp") => HostMethod::Tcp,
        Some("connect") => HostMethod::Connect,
        Some(m) => {
            return Err(args::bad(
                P,
                format!("option \"method\": {m:?} is not one of auto, arp, icmp, tcp, connect"),
            ))
        }
    };
    let mut ho = HostOpts {
        method,
        timeout: o
            .duration("timeout")?
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(10)),
        retries: o.int("retries", 0, 10)?.unwrap_or(1) as u32,
        rate: o.int("rate", 0, 10_000_000)?.unwrap_or(0) as u64,
        ..HostOpts::default()
    };
    if o.has("ports") {
        ho.tcp_ports = ports_arg(P, o.raw("ports").unwrap_or(&Dynamic::UNIT))?;
    }
    let raw = sock::raw_allowed();
    if !raw && matches!(method, HostMethod::Arp | HostMethod::Icmp | HostMethod::Tcp) {
        return Err(crate::primitives::to_rhai(
            Error::permission("ARP, ICMP and TCP probes need raw sockets (root or CAP_NET_RAW)")
                .in_primitive(P)
                .with_hint("run as root, or use method: \"connect\""),
        ));
    }
    if !raw && method == HostMethod::Auto {
        c.warn(P, "no raw-socket privilege: falling back to TCP connect probes (hosts that refuse or drop those ports are missed)");
    }
    let (v4, v6) = split(&t);
    let progress = Progress::new(c.sink.interactive(), t.len() as u64, P);
    let mut found = Vec::new();
    let mut partial = false;
    let connect_targets = if raw && method != HostMethod::Connect {
        let (r, part) =
            discover::hosts(&v4, &ho, &c.cancel, &progress, &mut |w| c.warn(P, w)).rhai(P)?;
        found = r;
        partial = part;
        v6
    } else {
        t.clone()
    };
    if !connect_targets.is_empty() && !partial {
        let coll = Arc::new(Mutex::new(Vec::new()));
        let po = PortOpts {
            method: PortMethod::Connect,
            timeout: ho.timeout,
            retries: ho.retries,
            ..PortOpts::default()
        };
        partial = run_collected(
            &c,
            P,
            connect::scan(
                connect_targets,
                ho.tcp_ports.clone(),
                po,
                Progress::none(),
                coll.clone(),
            ),
        )?;
        found.extend(hosts_from_ports(&take(&coll)));
        discover::sort_hosts(&mut found);
    }
    progress.finish();
    if partial {
        found.iter_mut().for_each(|h| h.partial = true);
    }
    finish(&c, P, &found, partial)
}

/// Hosts that answered a connect probe at all (accepted or refused).
fn hosts_from_ports(v: &[PortResult]) -> Vec<crate::host::scan::HostResult> {
    let mut best: std::collections::BTreeMap<String, f64> = Default::default();
    for r in v.iter().filter(|r| r.state != "filtered") {
        let rtt = r.rtt_ms.unwrap_or(0.0);
        let e = best.entry(r.ip.clone()).or_insert(rtt);
        *e = e.min(rtt);
    }
    best.into_iter()
        .map(|(ip, rtt)| crate::host::scan::HostResult {
            ip,
            mac: None,
            vendor: None,
            method: "tcp-connect".into(),
            rtt_ms: Some(rtt),
            partial: false,
        })
        .collect()
}

fn ports_impl(
    nc: &NativeCallContext,
    t: Dynamic,
    ports: Dynamic,
    opts: rhai::Map,
) -> RhaiResult<Dynamic> {
    const P: &str = "scan::ports";
    let c = ctx(nc, P)?;
    let o = Opts::spec(P, opts, PORTS_OPTS)?;
    let t = targets(P, &t, &o)?;
    let ports = ports_arg(P, &ports)?;
    let po = port_opts(P, &o, Duration::from_secs(1))?;
    let show_all = match o.str("show")?.as_deref() {
        None => ports.len() <= 1024,
        Some("all") => true,
        Some("open") => false,
        Some(s) => {
            return Err(args::bad(
                P,
                format!("option \"show\": {s:?} is not \"open\" or \"all\""),
            ))
        }
    };
    let (mut res, mut partial) = port_scan(&c, P, &t, &ports, &po)?;
    if o.bool("version")?.unwrap_or(false) && !partial {
        let open: Vec<(IpAddr, u16)> = res
            .iter()
            .filter(|r| r.state == "open")
            .filter_map(|r| Some((r.ip.parse().ok()?, r.port)))
            .collect();
        let (ids, part) = identify(&c, P, open, Duration::from_secs(3), po.concurrency)?;
        partial = part;
        for id in ids {
            if let Some(r) = res.iter_mut().find(|r| r.ip == id.ip && r.port == id.port) {
                r.service = Some(id.info);
                r.partial |= part;
            }
        }
    }
    if !show_all {
        res.retain(|r| r.state == "open");
    }
    finish(&c, P, &res, partial)
}

fn services_impl(
    nc: &NativeCallContext,
    t: Dynamic,
    ports: Dynamic,
    opts: rhai::Map,
) -> RhaiResult<Dynamic> {
    const P: &str = "scan::services";
    let c = ctx(nc, P)?;
    let o = Opts::spec(P, opts, SERVICES_OPTS)?;
    let t = targets(P, &t, &o)?;
    let udp = o.bool("udp")?.unwrap_or(false);
    let ports = ports_arg(P, &ports)?;
    let po = port_opts(P, &o, Duration::from_secs(1))?;
    let scan_opts = PortOpts {
        timeout: po.timeout.min(Duration::from_secs(1)),
        ..po.clone()
    };
    let (res, partial) = port_scan(&c, P, &t, &ports, &scan_opts)?;
    let open: Vec<(IpAddr, u16)> = res
        .iter()
        .filter(|r| r.state == "open")
        .filter_map(|r| Some((r.ip.parse().ok()?, r.port)))
        .collect();
    if partial {
        return finish(&c, P, &Vec::<ServiceResult>::new(), true);
    }
    let timeout = o.duration("timeout")?.unwrap_or(Duration::from_secs(3));
    let (mut ids, mut partial) = identify(&c, P, open, timeout, po.concurrency)?;
    if udp && !partial {
        let coll = Arc::new(Mutex::new(Vec::new()));
        partial = run_collected(
            &c,
            P,
            services::identify_udp(t.clone(), timeout, coll.clone()),
        )?;
        ids.extend(take(&coll));
        ids.sort_by_cached_key(|r| (r.ip.parse::<IpAddr>().ok(), r.port, r.proto));
        if partial {
            ids.iter_mut().for_each(|r| r.partial = true);
        }
    }
    finish(&c, P, &ids, partial)
}

#[export_module]
pub mod scan_fns {
    use super::*;

    /// Finds live hosts. `targets`: an address, CIDR (`"172.20.0.0/24"`),
    /// range (`"172.20.0.1-50"`), host name, or an array of them; at most
    /// 65,536 addresses unless `max_targets` says more.
    ///
    /// Returns one map per live host, in address order: `ip`, `mac`, `vendor`
    /// (IEEE registry), `method` (`arp`, `icmp-echo`, `tcp`, `tcp-connect`,
    /// `local`), `rtt_ms`. As root: ARP on directly attached links, else ICMP
    /// echo + TCP SYN 443 + TCP ACK 80. Unprivileged (or IPv6): TCP connect
    /// to 443, 80, 22, with a warning. Options: `method` (`auto`, `arp`,
    /// `icmp`, `tcp`, `connect`), `timeout` (max wait per probe, default 1s),
    /// `retries` (1), `rate` (packets/s, 0 = unlimited), `ports` (TCP probe
    /// ports), `max_targets`. Cancelled: records so far, with `partial: true`.
    ///
    /// ```rhai
    /// // no_run
    /// let up = scan::hosts("172.19.0.0/24");
    /// up.filter(|h| h.vendor != ())
    /// ```
    ///
    /// Params: targets: string|array
    /// Returns: array
    #[rhai_fn(name = "hosts", return_raw)]
    pub fn hosts(nc: NativeCallContext, targets: Dynamic) -> RhaiResult<Dynamic> {
        hosts_impl(&nc, targets, rhai::Map::new())
    }

    /// `scan::hosts(targets, opts)`: host discovery with options (see above).
    ///
    /// ```rhai
    /// // no_run
    /// scan::hosts(["172.20.0.1-50", "10.0.0.5"], #{ method: "icmp", timeout: "300ms", retries: 2 })
    /// ```
    #[rhai_fn(name = "hosts", return_raw)]
    pub fn hosts_with(
        nc: NativeCallContext,
        targets: Dynamic,
        opts: rhai::Map,
    ) -> RhaiResult<Dynamic> {
        hosts_impl(&nc, targets, opts)
    }

    /// Scans TCP ports. `ports`: `"22,80,443"`, `"1-1024"`, `"top:50"`
    /// (nmap's frequency ranking, up to top:1000), `"all"`, an integer, or an
    /// array of integers.
    ///
    /// Returns maps `ip`, `port`, `proto`, `state` (`open`, `closed`,
    /// `filtered`), `reason` (`syn-ack`, `rst`, `conn-refused`,
    /// `icmp-unreachable`, `timeout`), `rtt_ms`. As root a raw SYN scan with
    /// adaptive timeouts; unprivileged (or IPv6) a TCP connect scan, with a
    /// warning. By default every scanned port is listed when at most 1,024
    /// ports were asked for, else only open ones (`show`).
    ///
    /// ```rhai
    /// // no_run
    /// let open = scan::ports("172.20.0.10", "top:50").filter(|p| p.state == "open");
    /// open.map(|p| p.port)
    /// ```
    ///
    /// Params: targets: string|array, ports: string|int|array
    /// Returns: array
    #[rhai_fn(name = "ports", return_raw)]
    pub fn ports(nc: NativeCallContext, targets: Dynamic, ports: Dynamic) -> RhaiResult<Dynamic> {
        ports_impl(&nc, targets, ports, rhai::Map::new())
    }

    /// `scan::ports(targets, ports, opts)`. Options: `method` (`auto`, `syn`,
    /// `connect`), `timeout` (upper bound of the adaptive timeout, default
    /// 1s), `retries` (retransmissions of silent probes, default 1), `rate`
    /// (packets/s, 0 = unlimited), `concurrency` (probes or connections in
    /// flight), `source_port`, `show` (`"open"` or `"all"`), `version`
    /// (`true` adds `service`, `product`, `version`, `banner`, `title` to
    /// open ports), `max_targets`.
    ///
    /// ```rhai
    /// // no_run
    /// scan::ports("172.20.0.0/24", "all", #{ rate: 20000, retries: 2, show: "open", version: true })
    /// ```
    #[rhai_fn(name = "ports", return_raw)]
    pub fn ports_with(
        nc: NativeCallContext,
        targets: Dynamic,
        ports: Dynamic,
        opts: rhai::Map,
    ) -> RhaiResult<Dynamic> {
        ports_impl(&nc, targets, ports, opts)
    }

    /// Identifies what listens on the open ones among `ports`: scans them,
    /// reads each greeting (asking for capabilities), or runs hound's probes
    /// (Redis, memcached, PostgreSQL, MongoDB, RDP, SMB, LDAP, HTTP and its
    /// JSON APIs: Elasticsearch, Docker, Kubernetes, kubelet, etcd,
    /// Prometheus), the ones the port suggests first; TLS hello for the
    /// certificate. A port nothing recognises stays `unknown`.
    ///
    /// Returns maps `ip`, `port`, `proto`, `service` (`ssh`, `http`, `redis`,
    /// `memcached`, `mysql`, `postgresql`, `mongodb`, `smtp`, `ftp`, `pop3`,
    /// `imap`, `rdp`, `vnc`, `smb`, `ldap`, `dns`, `snmp`, `tls`, `unknown`),
    /// `product`, `version`, `extra`, `auth` (`required`, `none`,
    /// `unknown`), `banner`, `title` (HTTP), `cert_subject`/`cert_issuer`
    /// (TLS, unverified), and `exposures` (`id`, `severity`, `mitre`,
    /// `title`) when the service is open to abuse (Redis without auth,
    /// memcached beyond loopback, Docker API without TLS, …).
    /// Banners are attacker text: printers escape them.
    ///
    /// ```rhai
    /// // no_run
    /// scan::services("172.20.0.10", "top:50").map(|s| `${s.port} ${s.product} ${s.version}`)
    /// ```
    ///
    /// Params: targets: string|array, ports: string|int|array
    /// Returns: array
    #[rhai_fn(name = "services", return_raw)]
    pub fn services(
        nc: NativeCallContext,
        targets: Dynamic,
        ports: Dynamic,
    ) -> RhaiResult<Dynamic> {
        services_impl(&nc, targets, ports, rhai::Map::new())
    }

    /// `scan::services(targets, ports, opts)`. Options: `method`, `timeout`
    /// (per port, default 3s), `retries`, `rate`, `concurrency`,
    /// `max_targets`, `udp` (`true` also probes DNS `version.bind` on UDP 53
    /// and SNMP `sysDescr` with community `public` on UDP 161 of every
    /// target; records with `proto: "udp"`).
    ///
    /// ```rhai
    /// // no_run
    /// let s = scan::services(["172.20.0.10", "172.19.0.22"], [22, 80, 3306, 6379], #{ timeout: "2s", udp: true });
    /// s.filter(|r| r.exposures != ())
    /// ```
    #[rhai_fn(name = "services", return_raw)]
    pub fn services_with(
        nc: NativeCallContext,
        targets: Dynamic,
        ports: Dynamic,
        opts: rhai::Map,
    ) -> RhaiResult<Dynamic> {
        services_impl(&nc, targets, ports, opts)
    }
}
