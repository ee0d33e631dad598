//! Lab networks as data: who sits where, with which address, MAC and
//! services. Each scenario names its own segments and hosts; `hound lab up`
//! builds exactly those. The original incident's network lives here.

use serde::Serialize;

/// One lab host.
#[derive(Debug, Serialize)]
pub struct Host {
    pub name: &'static str,
    /// The segment it hangs on (`None`: loopback only).
    pub segment: Option<&'static str>,
    pub addr: &'static str,
    pub mac: &'static str,
    /// The role of the `hound lab serve` process started on it, if any.
    pub serve: Option<&'static str>,
    pub what: &'static str,
}

/// An L2 segment: a bridge inside the router namespace.
#[derive(Debug, Serialize)]
pub struct Segment {
    pub name: &'static str,
    pub router_addr: &'static str,
    pub router_mac: &'static str,
}

pub const ORIGINAL_SEGMENTS: &[Segment] = &[
    Segment {
        name: "clients",
        router_addr: "172.19.0.254/24",
        router_mac: "bc:24:11:00:19:fe",
    },
    Segment {
        name: "servers",
        router_addr: "172.20.0.254/24",
        router_mac: "bc:24:11:00:20:fe",
    },
    Segment {
        name: "outside",
        router_addr: "10.0.0.254/24",
        router_mac: "bc:24:11:00:0a:fe",
    },
];

pub const ORIGINAL_HOSTS: &[Host] = &[
    Host {
        name: "analyst",
        segment: Some("clients"),
        addr: "172.19.0.100/24",
        mac: "bc:24:11:aa:00:64",
        serve: None,
        what: "the responder's seat",
    },
    Host {
        name: "client",
        segment: Some("clients"),
        addr: "172.19.0.22/24",
        mac: "bc:24:11:fb:f0:03",
        serve: Some("client"),
        what: "a workstation exposing RDP (3389)",
    },
    Host {
        name: "server",
        segment: Some("servers"),
        addr: "172.20.0.10/24",
        mac: "bc:24:11:5e:00:0a",
        serve: Some("server"),
        what: "server01: ssh 22, http 80 (Apache), mysql 3306 (MariaDB); runs the bot",
    },
    Host {
        name: "victim",
        segment: Some("outside"),
        addr: "10.0.0.196/24",
        mac: "bc:24:11:0a:00:c4",
        serve: Some("victim"),
        what: "the outside host under attack (http 80)",
    },
    Host {
        name: "isolated",
        segment: None,
        addr: "",
        mac: "",
        serve: None,
        what: "a host with nothing but loopback",
    },
];

/// The router is a namespace of its own, with one bridge per segment.
pub const ROUTER: &str = "router";

/// The bot, byte for byte as found in the incident (64 bytes).
pub const BOT_PATH: &str = "/tmp/bot.sh";
pub const BOT: &str = "#!/bin/bash\n\nwhile true; do nc -zv 10.0.0.196 80; sleep 2; done\n";

/// Every host name of a network, router included (for `lab exec`).
pub fn names(hosts: &[Host]) -> Vec<&'static str> {
    let mut v: Vec<&str> = hosts.iter().map(|h| h.name).collect();
    v.push(ROUTER);
    v
}

/// The gateway of a segment, without the prefix length.
pub fn gateway(segments: &[Segment], segment: &str) -> Option<&'static str> {
    segments
        .iter()
        .find(|s| s.name == segment)
        .and_then(|s| s.router_addr.split('/').next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bot_is_the_incidents_64_bytes() {
        assert_eq!(BOT.len(), 64);
        assert!(BOT.contains("nc -zv 10.0.0.196 80"));
    }

    #[test]
    fn every_host_segment_exists() {
        for h in ORIGINAL_HOSTS {
            if let Some(s) = h.segment {
                assert!(gateway(ORIGINAL_SEGMENTS, s).is_some(), "{}", h.name);
            }
        }
    }
}
