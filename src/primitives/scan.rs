//! `scan::` primitives: host discovery, port scans, service identification.
//! The work, including the choice between raw and connect methods, progress
//! bars and partial results, is in `crate::host::scan::run`; here are the
//! argument checks and the conversion to Rhai values.
//!
//! Cancellation (Ctrl-C): a scan stops within a few tens of milliseconds and
//! returns what it found, each record marked `partial: true`. Because the
//! run is being cancelled, the script itself stops right after; so the
//! partial records are also emitted (printed), and a warning says the scan
//! was cut short.

use rhai::plugin::*;

use crate::host::scan::discover::{HostMethod, HostOpts};
use crate::host::scan::run::{self, Env, PortView, Scanned};
use crate::host::scan::{spec, PortMethod, PortOpts};
use crate::primitives::{args, ctx, to_dyn, IntoRhai, Opts, RhaiResult};
use crate::runtime::Ctx;
use std::net::IpAddr;
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

/// The rows every scan primitive shares, written once.
const COMMON_SCAN_OPTS: [args::Opt; 3] = [
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
];

/// An option table: `head` (method, timeout), the common rows, then
/// `tail`. `N` must be the total; a wrong one fails the build.
const fn table<const N: usize>(head: [args::Opt; 2], tail: &[args::Opt]) -> [args::Opt; N] {
    assert!(N == head.len() + COMMON_SCAN_OPTS.len() + tail.len());
    let mut out = [head[0]; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < 2 {
            head[i]
        } else if i < 2 + COMMON_SCAN_OPTS.len() {
            COMMON_SCAN_OPTS[i - 2]
        } else {
            tail[i - 2 - COMMON_SCAN_OPTS.len()]
        };
        i += 1;
    }
    out
}

/// The options of `scan::hosts` (`hound doc` shows them; `Opts::spec`
/// accepts exactly these keys).
pub const HOSTS_OPTS: &[args::Opt] = &table::<6>(
    [
        opt(
            "method",
            "string",
            "\"auto\"",
            "auto, arp, icmp, tcp, connect",
        ),
        opt("timeout", "int|string", "1s", "longest wait per probe"),
    ],
    &[opt(
        "ports",
        "string|int|array",
        "443, 80, 22",
        "TCP probe ports",
    )],
);

/// The options of `scan::ports`.
pub const PORTS_OPTS: &[args::Opt] = &table::<9>(
    [
        opt("method", "string", "\"auto\"", "auto, syn, connect"),
        opt(
            "timeout",
            "int|string",
            "1s",
            "upper bound of the adaptive timeout",
        ),
    ],
    &[
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
    ],
);

/// The options of `scan::services`.
pub const SERVICES_OPTS: &[args::Opt] = &table::<7>(
    [
        opt("method", "string", "\"auto\"", "auto, syn, connect"),
        opt("timeout", "int|string", "3s", "per connection"),
    ],
    &[
        opt("concurrency", "int", "256", "connections in flight"),
        opt(
            "udp",
            "bool",
            "false",
            "also probe UDP services (DNS version.bind, SNMP sysDescr with \"public\")",
        ),
    ],
);

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

/// The `method` option as one of `choices`.
fn choice<T: Copy>(p: &str, o: &Opts, choices: &[(&str, T)]) -> RhaiResult<T> {
    let m = o.str("method")?;
    let m = m.as_deref().unwrap_or("auto");
    choices
        .iter()
        .find(|(name, _)| *name == m)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            args::bad(
                p,
                format!(
                    "option \"method\": {m:?} is not one of {}",
                    names.join(", ")
                ),
            )
        })
}

/// The timeout option, at least 10 ms.
fn timeout(o: &Opts, default: Duration) -> RhaiResult<Duration> {
    Ok(o.duration("timeout")?
        .unwrap_or(default)
        .max(Duration::from_millis(10)))
}

fn retries(o: &Opts) -> RhaiResult<u32> {
    Ok(o.int("retries", 0, 10)?.unwrap_or(1) as u32)
}

fn rate(o: &Opts) -> RhaiResult<u64> {
    Ok(o.int("rate", 0, 10_000_000)?.unwrap_or(0) as u64)
}

fn port_opts(p: &str, o: &Opts) -> RhaiResult<PortOpts> {
    let method = choice(
        p,
        o,
        &[
            ("auto", PortMethod::Auto),
            ("syn", PortMethod::Syn),
            ("connect", PortMethod::Connect),
        ],
    )?;
    Ok(PortOpts {
        method,
        timeout: timeout(o, Duration::from_secs(1))?,
        retries: retries(o)?,
        rate: rate(o)?,
        concurrency: o.int("concurrency", 1, 100_000)?.map(|n| n as usize),
        source_port: o.int("source_port", 1, 65535)?.map(|n| n as u16),
    })
}

/// Runs `f` with the host layer's view of the run.
fn with_env<T>(
    c: &Ctx,
    p: &str,
    f: impl FnOnce(&Env) -> crate::Result<Scanned<T>>,
) -> RhaiResult<Scanned<T>> {
    let warn = |w: &str| c.warn(p, w);
    let block_on = |t: run::Task| c.block_on(t);
    let env = Env {
        cancel: &c.cancel,
        interactive: c.sink.interactive(),
        label: p,
        warn: &warn,
        block_on: &block_on,
    };
    f(&env).rhai(p)
}

/// The results as Rhai values; a cancelled scan also emits them, with a
/// warning, because the script stops right after.
fn finish<T: serde::Serialize>(c: &Ctx, p: &str, s: &Scanned<T>) -> RhaiResult<Dynamic> {
    let d = to_dyn(&s.results)?;
    if s.partial {
        c.warn(
            p,
            format!(
                "cancelled: {} result(s) so far, marked partial",
                s.results.len()
            ),
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
    let method = choice(
        P,
        &o,
        &[
            ("auto", HostMethod::Auto),
            ("arp", HostMethod::Arp),
            ("icmp", HostMethod::Icmp),
            ("tcp", HostMethod::Tcp),
            ("connect", HostMethod::Connect),
        ],
    )?;
    let mut ho = HostOpts {
        method,
        timeout: timeout(&o, Duration::from_secs(1))?,
        retries: retries(&o)?,
        rate: rate(&o)?,
        ..HostOpts::default()
    };
    if let Some(v) = o.raw("ports") {
        ho.tcp_ports = ports_arg(P, v)?;
    }
    let s = with_env(&c, P, |env| run::hosts(env, &t, &ho))?;
    finish(&c, P, &s)
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
    let po = port_opts(P, &o)?;
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
    let view = PortView {
        show_all,
        version: o.bool("version")?.unwrap_or(false),
    };
    let s = with_env(&c, P, |env| run::ports(env, &t, &ports, &po, view))?;
    finish(&c, P, &s)
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
    let po = port_opts(P, &o)?;
    let per_port = o.duration("timeout")?.unwrap_or(Duration::from_secs(3));
    let s = with_env(&c, P, |env| {
        run::services(env, &t, &ports, &po, per_port, udp)
    })?;
    finish(&c, P, &s)
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
