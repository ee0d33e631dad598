//! Parsing what a responder types: targets (`172.20.0.0/24`,
//! `172.20.0.1-50`, `10.0.0.5`, `::1`, a host name) and port specs
//! (`"22,80,443"`, `"1-1024"`, `"top:50"`, `"all"`). Errors name the argument
//! and quote the bad value; the binding adds the primitive's name.

use crate::error::{Error, Result};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

/// The default ceiling on addresses per scan (`max_targets` raises it).
pub const DEFAULT_MAX_TARGETS: u64 = 65_536;

/// TCP ports ranked by nmap's open-frequency data, most frequent first.
static TOP_TCP: &str = include_str!("../../../data/top-tcp-ports.txt");

/// The `n` most frequently open TCP ports, in nmap's order.
pub fn top_ports(n: usize) -> Vec<u16> {
    TOP_TCP
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim().parse().ok())
        .take(n)
        .collect()
}

/// How many ranked ports `top:N` may ask for.
pub fn top_ports_len() -> usize {
    top_ports(usize::MAX).len()
}

/// Expands target specs into addresses, in order, without duplicates.
/// Refuses more than `max` addresses before allocating them.
pub fn parse_targets(specs: &[String], max: u64) -> Result<Vec<IpAddr>> {
    if specs.is_empty() {
        return Err(Error::invalid("targets: the list is empty").with_hint(
            "give an address, a CIDR (\"172.20.0.0/24\") or a range (\"172.20.0.1-50\")",
        ));
    }
    let mut total: u64 = 0;
    let mut parsed = Vec::new();
    for s in specs {
        let t = parse_one(s.trim())?;
        total = total.saturating_add(t.len());
        if total > max {
            return Err(Error::invalid(format!(
                "targets: {total} or more addresses exceed the limit of {max}"
            ))
            .with_hint("narrow the targets, or raise the limit with the max_targets option"));
        }
        parsed.push(t);
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in parsed {
        t.expand(&mut |ip| {
            if seen.insert(ip) {
                out.push(ip);
            }
        });
    }
    Ok(out)
}

enum Target {
    V4(u32, u32),
    V6(u128, u128),
    Names(Vec<IpAddr>),
}

impl Target {
    fn len(&self) -> u64 {
        match self {
            Target::V4(a, b) => u64::from(b - a) + 1,
            Target::V6(a, b) => u64::try_from(b - a).unwrap_or(u64::MAX).saturating_add(1),
            Target::Names(v) => v.len() as u64,
        }
    }
    fn expand(&self, f: &mut dyn FnMut(IpAddr)) {
        match self {
            Target::V4(a, b) => (*a..=*b).for_each(|x| f(IpAddr::V4(Ipv4Addr::from(x)))),
            Target::V6(a, b) => {
                let mut x = *a;
                loop {
                    f(IpAddr::V6(Ipv6Addr::from(x)));
                    if x == *b {
                        break;
                    }
                    x += 1;
                }
            }
            Target::Names(v) => v.iter().for_each(|ip| f(*ip)),
        }
    }
}

fn parse_one(s: &str) -> Result<Target> {
    if s.is_empty() {
        return Err(Error::invalid("targets: \"\" is not an address"));
    }
    if let Some((net, bits)) = s.split_once('/') {
        return parse_cidr(s, net, bits);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(single(ip));
    }
    if let Some((start, end)) = s.split_once('-') {
        if start.trim().parse::<Ipv4Addr>().is_ok() {
            return parse_range(s, start, end);
        }
    }
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        && s.chars().any(|c| c.is_ascii_alphabetic())
    {
        // A host name: resolved once, here, with the system resolver.
        let addrs: Vec<IpAddr> = (s, 0)
            .to_socket_addrs()
            .map(|it| it.map(|a| a.ip()).collect())
            .unwrap_or_default();
        if addrs.is_empty() {
            return Err(Error::invalid(format!(
                "targets: {s:?} does not resolve to an address"
            )));
        }
        // Prefer IPv4 (raw scans are IPv4); keep one address per name.
        let pick = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .copied()
            .unwrap_or(addrs[0]);
        return Ok(Target::Names(vec![pick]));
    }
    Err(Error::invalid(format!(
        "targets: {s:?} is not an address, CIDR or range"
    )))
}

fn single(ip: IpAddr) -> Target {
    match ip {
        IpAddr::V4(v) => Target::V4(u32::from(v), u32::from(v)),
        IpAddr::V6(v) => Target::V6(u128::from(v), u128::from(v)),
    }
}

fn parse_cidr(s: &str, net: &str, bits: &str) -> Result<Target> {
    let bad = || Error::invalid(format!("{s:?} is not a valid CIDR"));
    let bits: u32 = bits.parse().map_err(|_| bad())?;
    match net.parse::<IpAddr>().map_err(|_| bad())? {
        IpAddr::V4(v) => {
            if bits > 32 {
                return Err(bad());
            }
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            let base = u32::from(v) & mask;
            Ok(Target::V4(base, base | !mask))
        }
        IpAddr::V6(v) => {
            if bits > 128 {
                return Err(bad());
            }
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            let base = u128::from(v) & mask;
            Ok(Target::V6(base, base | !mask))
        }
    }
}

/// `172.20.0.1-50` (last octet) or `172.20.0.1-172.20.1.9` (full addresses).
fn parse_range(s: &str, start: &str, end: &str) -> Result<Target> {
    let bad = || Error::invalid(format!("targets: {s:?} is not a valid range"));
    let a: Ipv4Addr = start.trim().parse().map_err(|_| bad())?;
    let end = end.trim();
    let b: Ipv4Addr = if let Ok(last) = end.parse::<u8>() {
        let o = a.octets();
        Ipv4Addr::new(o[0], o[1], o[2], last)
    } else {
        end.parse().map_err(|_| bad())?
    };
    let (a, b) = (u32::from(a), u32::from(b));
    if b < a {
        return Err(Error::invalid(format!(
            "targets: {s:?} ends before it starts"
        )));
    }
    Ok(Target::V4(a, b))
}

/// Parses a port spec into distinct ports, in the order given (ranked order
/// for `top:N`).
pub fn parse_ports(spec: &str) -> Result<Vec<u16>> {
    let spec = spec.trim();
    let bad = |why: String| {
        Error::invalid(format!("ports: {why}"))
            .with_hint("e.g. \"22,80,443\", \"1-1024\", \"top:100\" or \"all\"")
    };
    if spec.is_empty() {
        return Err(bad("the port list is empty".into()));
    }
    if spec.eq_ignore_ascii_case("all") || spec == "-" {
        return Ok((1..=65535).collect());
    }
    if let Some(n) = spec.strip_prefix("top:") {
        let max = top_ports_len();
        return match n.trim().parse::<usize>() {
            Ok(k) if (1..=max).contains(&k) => Ok(top_ports(k)),
            _ => Err(bad(format!("{spec:?}: top:N takes N from 1 to {max}"))),
        };
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for part in spec.split(',').map(str::trim) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (port(a, part)?, port(b, part)?),
            None => {
                let p = port(part, part)?;
                (p, p)
            }
        };
        if hi < lo {
            return Err(bad(format!("{part:?} ends before it starts")));
        }
        for p in lo..=hi {
            if seen.insert(p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn port(s: &str, part: &str) -> Result<u16> {
    match s.trim().parse::<i64>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        Ok(n) => Err(Error::invalid(format!(
            "ports: {n} is not a port (1 to 65535)"
        ))),
        Err(_) => Err(
            Error::invalid(format!("ports: {part:?} is not a port or range"))
                .with_hint("e.g. \"22,80,443\", \"1-1024\", \"top:100\" or \"all\""),
        ),
    }
}

/// Checks ports given as Rhai integers.
pub fn check_port_ints(v: &[i64]) -> Result<Vec<u16>> {
    if v.is_empty() {
        return Err(Error::invalid("ports: the port list is empty"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for &n in v {
        if !(1..=65535).contains(&n) {
            return Err(Error::invalid(format!(
                "ports: {n} is not a port (1 to 65535)"
            )));
        }
        if seen.insert(n) {
            out.push(n as u16);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &[&str]) -> Result<Vec<IpAddr>> {
        parse_targets(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>(), 65536)
    }

    #[test]
    fn targets_expand() {
        assert_eq!(t(&["172.20.0.0/30"]).unwrap().len(), 4);
        assert_eq!(t(&["172.20.0.1-50"]).unwrap().len(), 50);
        assert_eq!(t(&["10.0.0.1", "10.0.0.1", "::1"]).unwrap().len(), 2);
        assert_eq!(t(&["10.0.0.250-10.0.1.4"]).unwrap().len(), 11);
    }

    #[test]
    fn bad_targets_name_the_value() {
        let e = t(&["172.19.0.0/33"]).unwrap_err();
        assert_eq!(e.message, "\"172.19.0.0/33\" is not a valid CIDR");
        assert!(t(&[]).is_err());
        assert!(t(&["10.0.0.9-3"]).is_err());
        let e = t(&["10.0.0.0/8"]).unwrap_err();
        assert!(e.message.contains("limit of 65536"), "{}", e.message);
    }

    #[test]
    fn port_specs() {
        assert_eq!(parse_ports("22,80,443").unwrap(), vec![22, 80, 443]);
        assert_eq!(parse_ports("1-1024").unwrap().len(), 1024);
        assert_eq!(parse_ports("all").unwrap().len(), 65535);
        let top = parse_ports("top:1000").unwrap();
        assert_eq!(top.len(), 1000);
        assert_eq!(&top[..3], &[80, 23, 443]);
        assert!(parse_ports("top:0").is_err());
        assert!(parse_ports("70000").unwrap_err().message.contains("70000"));
        assert!(parse_ports("").is_err());
        assert!(check_port_ints(&[0]).is_err());
    }
}
