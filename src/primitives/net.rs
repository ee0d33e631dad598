//! `net::` primitives that read: sockets, neighbours, interfaces, routes,
//! watch (`net::probe` lives in `net_verify.rs`).

use crate::host::net::{self as host, Filter};
use crate::primitives::{args, ctx, to_dyn, IntoRhai, Opts, RhaiResult};
use rhai::plugin::*;
use rhai::{Dynamic, Map};
use std::time::Duration;

const KEYS: &[&str] = &[
    "proto",
    "state",
    "local",
    "remote",
    "port",
    "local_port",
    "remote_port",
    "pid",
];

/// A socket row's fields, in the row's (sorted) key order.
const FIELDS: [&str; 14] = [
    "family",
    "inode",
    "local_ip",
    "local_port",
    "peer_inode",
    "pid",
    "pids",
    "process",
    "proto",
    "remote_ip",
    "remote_port",
    "sock_type",
    "state",
    "uid",
];

/// The fields only the walk of every `/proc/PID/fd` can fill.
const OWNER_FIELDS: &[&str] = &["pid", "pids", "process"];

/// Which of [`FIELDS`] a row keeps (all without a `fields` option).
type Wanted = [bool; FIELDS.len()];

fn wanted(p: &str, o: &Opts) -> RhaiResult<Option<Wanted>> {
    let Some(v) = o.strings("fields")? else {
        return Ok(None);
    };
    if v.is_empty() {
        return Err(args::bad(p, "option \"fields\": name at least one field"));
    }
    let mut w = [false; FIELDS.len()];
    for k in &v {
        let Some(i) = FIELDS.iter().position(|f| f == k) else {
            return Err(args::bad(
                p,
                format!(
                    "option \"fields\": {k:?} is not a socket field (one of {})",
                    FIELDS.join(", ")
                ),
            ));
        };
        w[i] = true;
    }
    Ok(Some(w))
}

fn nets(p: &str, o: &Opts, key: &str) -> RhaiResult<Vec<crate::host::ioc::Indicator>> {
    o.strings(key)?
        .unwrap_or_default()
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|e: crate::Error| args::bad(p, format!("option {key:?}: {}", e.message)))
        })
        .collect()
}

fn port(o: &Opts, key: &str) -> RhaiResult<Option<u16>> {
    Ok(o.int(key, 0, 65535)?.map(|v| v as u16))
}

pub fn filter(p: &str, m: Map) -> RhaiResult<Filter> {
    filter_of(p, &Opts::new(p, m, KEYS)?)
}

fn filter_of(p: &str, o: &Opts) -> RhaiResult<Filter> {
    let proto = o.str("proto")?;
    if let Some(pr) = proto.as_deref() {
        if !matches!(pr, "tcp" | "udp" | "unix") {
            return Err(args::bad(
                p,
                format!("option \"proto\": {pr:?} is not \"tcp\", \"udp\" or \"unix\""),
            ));
        }
    }
    Ok(Filter {
        proto,
        state: o.strings("state")?,
        local: nets(p, o, "local")?,
        remote: nets(p, o, "remote")?,
        port: port(o, "port")?,
        local_port: port(o, "local_port")?,
        remote_port: port(o, "remote_port")?,
        pid: o.int("pid", 1, i32::MAX as i64)?.map(|v| v as i32),
        without_owners: false,
    })
}

fn sockets_impl(
    nc: &NativeCallContext,
    p: &str,
    f: Filter,
    keep: Option<&Wanted>,
) -> RhaiResult<Dynamic> {
    let c = ctx(nc, p)?;
    let v = host::sockets(&f, &c.cancel, &mut |w| c.warn(p, w)).rhai(p)?;
    Ok(sockets_dyn(&v, keep))
}

/// Sockets as Rhai maps, built directly rather than through serde (the
/// same maps `to_dyn` gives): the keys are made once, and equal strings
/// (addresses, states, process names: a busy host repeats them thousands
/// of times) share one `ImmutableString`, so a 4,000-socket table costs
/// few string allocations, and copying or dropping it in the script
/// touches no string either.
pub(crate) fn sockets_dyn(v: &[host::Socket], keep: Option<&Wanted>) -> Dynamic {
    let want = *keep.unwrap_or(&[true; FIELDS.len()]);
    // One template map per key set (inet; unix with and without a peer):
    // each row is a copy of it with its values written in key order, so no
    // row compares or sorts keys.
    let template = |peer: bool, unix: bool| -> Map {
        FIELDS
            .iter()
            .zip(want)
            .filter(|&(k, w)| w && (peer || *k != "peer_inode") && (unix || *k != "sock_type"))
            .map(|(k, _)| ((*k).into(), Dynamic::UNIT))
            .collect()
    };
    let [inet, unix, unix_peer] =
        [(false, false), (false, true), (true, true)].map(|(p, u)| template(p, u));
    let mut c_family = Recent::default();
    let mut c_local = Recent::default();
    let mut c_process = Recent::default();
    let mut c_proto = Recent::default();
    let mut c_remote = Recent::default();
    let mut c_type = Recent::default();
    let mut c_state = Recent::default();
    let int = Dynamic::from_int;
    let mut out = rhai::Array::with_capacity(v.len());
    // The values of one row, in the keys' (sorted) order.
    let mut vals: Vec<Dynamic> = Vec::with_capacity(14);
    let [family, inode, local_ip, local_port, peer, pid, pids, process, proto, remote_ip, remote_port, sock_type, state, uid] =
        want;
    for x in v {
        // Values in the keys' order, only for the kept keys (the template
        // has exactly those).
        if family {
            vals.push(c_family.get(x.family));
        }
        if inode {
            vals.push(int(x.inode as i64));
        }
        if local_ip {
            vals.push(c_local.get(&x.local_ip));
        }
        if local_port {
            vals.push(int(x.local_port.into()));
        }
        if let (true, Some(p)) = (peer, x.peer_inode) {
            vals.push(int(p as i64));
        }
        if pid {
            vals.push(x.pid.map_or(Dynamic::UNIT, |p| int(p.into())));
        }
        if pids {
            let list: rhai::Array = x.pids.iter().map(|&p| int(p.into())).collect();
            vals.push(list.into());
        }
        if process {
            let name = x.process.as_deref();
            vals.push(name.map_or(Dynamic::UNIT, |p| c_process.get(p)));
        }
        if proto {
            vals.push(c_proto.get(x.proto));
        }
        if remote_ip {
            vals.push(c_remote.get(&x.remote_ip));
        }
        if remote_port {
            vals.push(int(x.remote_port.into()));
        }
        if let (true, Some(t)) = (sock_type, x.sock_type) {
            vals.push(c_type.get(t));
        }
        if state {
            vals.push(c_state.get(x.state));
        }
        if uid {
            vals.push(int(x.uid.into()));
        }
        let mut m = match (x.peer_inode.is_some(), x.sock_type.is_some()) {
            (false, false) => inet.clone(),
            (false, true) => unix.clone(),
            (true, true) => unix_peer.clone(),
            // Not made by the host layer; built the slow way if it ever is.
            (true, false) => template(true, false),
        };
        debug_assert_eq!(m.len(), vals.len());
        for (slot, val) in m.values_mut().zip(vals.drain(..)) {
            *slot = val;
        }
        out.push(Dynamic::from_map(m));
    }
    out.into()
}

/// The last few distinct strings of one field, to share rather than copy
/// (no hashing: a table's values mostly repeat their neighbours').
#[derive(Default)]
struct Recent {
    slots: [Option<rhai::ImmutableString>; 4],
    next: usize,
}

impl Recent {
    fn get(&mut self, t: &str) -> Dynamic {
        for x in self.slots.iter().flatten() {
            if x.as_str() == t {
                return x.clone().into();
            }
        }
        let x = rhai::ImmutableString::from(t);
        self.slots[self.next] = Some(x.clone());
        self.next = (self.next + 1) % self.slots.len();
        x.into()
    }
}

#[export_module]
pub mod net_fns {
    use super::*;

    /// TCP and UDP sockets, IPv4 and IPv6, of this network namespace, with
    /// their owners: the `ss -tunap` view. Fields: `proto`, `family`,
    /// `state` (`ESTAB`, `SYN-SENT`, `LISTEN`, `TIME-WAIT`, `UNCONN`, ...),
    /// `local_ip`, `local_port`, `remote_ip`, `remote_port`, `inode`, `uid`,
    /// `pids`, `pid`, `process`. Unprivileged, other users' sockets have no
    /// owner (a warning says so).
    ///
    /// ```rhai
    /// net::sockets().all(|s| s.proto == "tcp" || s.proto == "udp")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "sockets", return_raw)]
    pub fn sockets(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        sockets_impl(&nc, "net::sockets", Filter::default(), None)
    }

    /// `net::sockets(filter)`. Keys: `proto` (`"tcp"`/`"udp"`), `state`
    /// (one or an array), `local` / `remote` (indicators, one or an array:
    /// `"10.0.0.196"`, `"10.0.0.0/24"`, `"10.0.0.196:80"`, `":443"`),
    /// `port` (either side), `local_port`, `remote_port`, `pid`.
    ///
    /// `proto: "unix"` lists unix sockets instead (the `ss -xap` view):
    /// `local_ip` is the bound path (`@name` for an abstract name, `*` when
    /// unnamed), `remote_ip` is `*`, ports are 0, and two more fields say
    /// `peer_inode` (connected sockets: the peer's `inode`) and `sock_type`
    /// (`stream`, `dgram`, `seqpacket`). Address and port filters leave
    /// unix sockets out.
    ///
    /// `fields` (a name or an array) keeps only those fields in each row.
    /// Without `pid`, `pids` or `process` among them (and no `pid` filter),
    /// owners are not looked up at all: that lookup reads every open
    /// descriptor on the host and is most of the call's time, so a check
    /// such as "nothing is established to the victim" is several times
    /// faster without it.
    ///
    /// ```rhai
    /// net::sockets(#{ proto: "tcp", remote: "10.0.0.0/8", state: ["ESTAB", "SYN-SENT"] });
    /// net::sockets(#{ proto: "unix", state: "LISTEN" }).map(|s| s.local_ip);
    /// net::sockets(#{ state: "ESTAB", fields: ["remote_ip", "remote_port"] })
    /// ```
    #[rhai_fn(name = "sockets", return_raw)]
    pub fn sockets_with(nc: NativeCallContext, filter_map: Map) -> RhaiResult<Dynamic> {
        const P: &str = "net::sockets";
        // The filter keys and `fields`.
        let keys: Vec<&str> = KEYS.iter().copied().chain(["fields"]).collect();
        let o = Opts::new(P, filter_map, &keys)?;
        let mut f = filter_of(P, &o)?;
        let keep = wanted(P, &o)?;
        if let Some(w) = &keep {
            f.without_owners = !FIELDS
                .iter()
                .zip(w)
                .any(|(k, &on)| on && OWNER_FIELDS.contains(k));
        }
        sockets_impl(&nc, P, f, keep.as_ref())
    }

    /// Sockets connected (or trying) to an address, CIDR or `address:port`,
    /// with owners: the `lsof -i @IP` view.
    ///
    /// ```rhai
    /// net::connections_to("10.0.0.196")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "connections_to", return_raw)]
    pub fn connections_to(nc: NativeCallContext, target: &str) -> RhaiResult<Dynamic> {
        const P: &str = "net::connections_to";
        let ind: crate::host::ioc::Indicator = target.parse().rhai(P)?;
        sockets_impl(
            &nc,
            P,
            Filter {
                remote: vec![ind],
                ..Filter::default()
            },
            None,
        )
    }

    /// Listening TCP sockets and bound UDP sockets, with owners.
    ///
    /// ```rhai
    /// net::listening().map(|s| `${s.proto}/${s.local_port} ${s.process}`)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "listening", return_raw)]
    pub fn listening(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        const P: &str = "net::listening";
        let c = ctx(&nc, P)?;
        let all = host::sockets(&Filter::default(), &c.cancel, &mut |w| c.warn(P, w)).rhai(P)?;
        let l: Vec<_> = all
            .into_iter()
            .filter(|s| s.state == "LISTEN" || (s.proto == "udp" && s.state == "UNCONN"))
            .collect();
        Ok(sockets_dyn(&l, None))
    }

    /// The ARP table: `ip`, `mac`, `device`, `state` (`ip neigh`, IPv4).
    ///
    /// ```rhai
    /// net::neighbors().filter(|n| n.mac != ())
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "neighbors", return_raw)]
    pub fn neighbors(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        let _ = ctx(&nc, "net::neighbors")?;
        to_dyn(&host::neighbors().rhai("net::neighbors")?)
    }

    /// Interfaces: `name`, `mac`, `addresses` (CIDR strings), `up`, `mtu`,
    /// `rx_bytes`, `tx_bytes`, `rx_packets`, `tx_packets`.
    ///
    /// ```rhai
    /// net::interfaces().map(|i| i.name)
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "interfaces", return_raw)]
    pub fn interfaces(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        let _ = ctx(&nc, "net::interfaces")?;
        to_dyn(&host::interfaces().rhai("net::interfaces")?)
    }

    /// Routes: `destination` (`default` or a CIDR), `gateway`, `device`,
    /// `metric`, `family`.
    ///
    /// ```rhai
    /// net::routes().filter(|r| r.destination == "default")
    /// ```
    ///
    /// Returns: array
    #[rhai_fn(name = "routes", return_raw)]
    pub fn routes(nc: NativeCallContext) -> RhaiResult<Dynamic> {
        let _ = ctx(&nc, "net::routes")?;
        to_dyn(&host::routes().rhai("net::routes")?)
    }

    /// Watches connections for `seconds` (sampling every 100 ms) and returns
    /// `#{attempts, summary, seconds, partial}`. Each attempt (a connection
    /// first seen during the watch): `proto`, `local_ip`, `local_port`,
    /// `remote_ip`, `remote_port`, `states`, `established`, `first_seen`,
    /// `first_seen_s`, `last_seen_s`, `pid`, `process`, `ppid`, `chain` (the
    /// parent chain when first seen). `summary`: `attempts`, `established`,
    /// `by_process`, `by_destination`. Filter keys as for `net::sockets`.
    /// Ctrl-C returns what was seen, with `partial: true`.
    ///
    /// ```rhai
    /// let w = net::watch(#{ remote: "10.0.0.196" }, 0.2);
    /// w.summary.established == 0
    /// ```
    ///
    /// Params: seconds: int|float|string
    /// Returns: map
    #[rhai_fn(name = "watch", return_raw)]
    pub fn watch(nc: NativeCallContext, filter_map: Map, seconds: Dynamic) -> RhaiResult<Dynamic> {
        const P: &str = "net::watch";
        let c = ctx(&nc, P)?;
        let f = filter(P, filter_map)?;
        let d = args::duration(P, "seconds", &seconds)?;
        let w = host::watch::watch(&f, d, Duration::from_millis(100), &c.cancel).rhai(P)?;
        to_dyn(&w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_dyn_gives_the_maps_serde_gives() {
        let tcp = host::Socket {
            proto: "tcp",
            family: "ipv4",
            state: "ESTAB",
            local_ip: "127.0.0.1".into(),
            local_port: 22,
            remote_ip: "10.0.0.9".into(),
            remote_port: 40000,
            inode: 123,
            uid: 0,
            pids: vec![7, 9],
            pid: Some(7),
            process: Some("sshd".into()),
            peer_inode: None,
            sock_type: None,
        };
        let lone = host::Socket {
            pids: vec![],
            pid: None,
            process: None,
            state: "LISTEN",
            ..tcp.clone()
        };
        let unix = host::Socket {
            proto: "unix",
            family: "unix",
            local_ip: "@x".into(),
            remote_ip: "*".into(),
            peer_inode: Some(5),
            sock_type: Some("stream"),
            ..tcp.clone()
        };
        let unix_alone = host::Socket {
            peer_inode: None,
            sock_type: Some("dgram"),
            ..unix.clone()
        };
        let v = vec![tcp, lone, unix, unix_alone];
        let ours = serde_json::to_string(&sockets_dyn(&v, None)).unwrap();
        let serde = serde_json::to_string(&to_dyn(&v).unwrap()).unwrap();
        assert_eq!(ours, serde);

        // A projection is the full row with the other keys taken out.
        let keep = ["inode", "peer_inode", "process", "state"];
        let mut want = [false; FIELDS.len()];
        for k in keep {
            want[FIELDS.iter().position(|f| *f == k).unwrap()] = true;
        }
        let full: Vec<serde_json::Value> = serde_json::from_str(&serde).unwrap();
        let part: Vec<serde_json::Value> =
            serde_json::from_str(&serde_json::to_string(&sockets_dyn(&v, Some(&want))).unwrap())
                .unwrap();
        for (f, p) in full.iter().zip(&part) {
            let mut expect = f.as_object().unwrap().clone();
            expect.retain(|k, _| keep.contains(&k.as_str()));
            assert_eq!(p.as_object().unwrap(), &expect);
        }
    }
}
