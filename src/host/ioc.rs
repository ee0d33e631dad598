//! Network indicators as responders write them: `10.0.0.196`, `10.0.0.0/24`,
//! `10.0.0.196:80`, `[2001:db8::1]:443`, `:80` (any address, that port).

use crate::error::{Error, Result};
use ipnet::IpNet;
use std::net::IpAddr;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub net: Option<IpNet>,
    pub port: Option<u16>,
}

fn parse_port(s: &str, whole: &str) -> Result<u16> {
    s.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::invalid(format!("{whole:?}: {s:?} is not a port (1-65535)")))
}

fn parse_net(s: &str, whole: &str) -> Result<IpNet> {
    if s.contains('/') {
        IpNet::from_str(s).map_err(|_| Error::invalid(format!("{whole:?} is not a valid CIDR")))
    } else {
        IpAddr::from_str(s).map(IpNet::from).map_err(|_| {
            Error::invalid(format!("{whole:?} is not an address, CIDR or address:port"))
        })
    }
}

impl FromStr for Indicator {
    type Err = Error;

    fn from_str(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::invalid("empty indicator"));
        }
        if let Some(p) = s.strip_prefix(':') {
            return Ok(Indicator {
                net: None,
                port: Some(parse_port(p, raw)?),
            });
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (addr, tail) = rest
                .split_once(']')
                .ok_or_else(|| Error::invalid(format!("{raw:?}: unclosed '['")))?;
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(parse_port(p, raw)?),
                None if tail.is_empty() => None,
                None => return Err(Error::invalid(format!("{raw:?}: unexpected {tail:?}"))),
            };
            return Ok(Indicator {
                net: Some(parse_net(addr, raw)?),
                port,
            });
        }
        // One colon: IPv4 (or CIDR) with a port. More: a bare IPv6 address.
        if s.matches(':').count() == 1 {
            let (addr, p) = s.split_once(':').unwrap_or((s, ""));
            return Ok(Indicator {
                net: Some(parse_net(addr, raw)?),
                port: Some(parse_port(p, raw)?),
            });
        }
        if s.chars().all(|c| c.is_ascii_digit()) {
            return Ok(Indicator {
                net: None,
                port: Some(parse_port(s, raw)?),
            });
        }
        Ok(Indicator {
            net: Some(parse_net(s, raw)?),
            port: None,
        })
    }
}

impl Indicator {
    /// Whether an endpoint matches. A port of 0 means "unknown": it matches
    /// only indicators without a port.
    pub fn matches(&self, ip: &IpAddr, port: u16) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(*ip),
            v4 => *v4,
        };
        self.net.is_none_or(|n| n.contains(&ip)) && self.port.is_none_or(|p| p == port)
    }
}

pub fn parse_all(list: &[String]) -> Result<Vec<Indicator>> {
    list.iter().map(|s| s.parse()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ind: &str, ip: &str, port: u16) -> bool {
        ind.parse::<Indicator>()
            .unwrap()
            .matches(&ip.parse().unwrap(), port)
    }

    #[test]
    fn forms_responders_write() {
        assert!(m("10.0.0.196", "10.0.0.196", 80));
        assert!(m("10.0.0.0/24", "10.0.0.7", 1));
        assert!(m("10.0.0.196:80", "10.0.0.196", 80));
        assert!(!m("10.0.0.196:80", "10.0.0.196", 81));
        assert!(m(":80", "192.0.2.1", 80));
        assert!(m("2001:db8::1", "2001:db8::1", 5));
        assert!(m("[2001:db8::1]:443", "2001:db8::1", 443));
        assert!(m("10.0.0.196", "::ffff:10.0.0.196", 80));
    }

    #[test]
    fn bad_ones_are_named() {
        let e = "172.19.0.0/33".parse::<Indicator>().unwrap_err();
        assert!(e.message.contains("\"172.19.0.0/33\" is not a valid CIDR"));
        assert!("10.0.0.1:70000".parse::<Indicator>().is_err());
        assert!("".parse::<Indicator>().is_err());
    }
}
