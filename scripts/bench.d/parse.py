"""Turning each tool's output into comparable content: sets of ports, hosts,
paths, socket keys. Parsing of hound's side is tolerant on purpose: a
primitive may return an array of rows or a map that wraps one
(`{results: [...], partial: false}`), and field names are looked up among a
few spellings, so the benchmark survives small changes in result shapes.
"""

import ipaddress
import json
import xml.etree.ElementTree as ET


# ---------------------------------------------------------------- hound side

def hound_value(stdout):
    """The script's value: the scripts return `#{r: VALUE}`, printed by
    `hound run --json` as one JSON line (other lines are records or noise)."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if isinstance(v, dict) and "r" in v:
            return v["r"]
    raise ValueError("no result line ({\"r\": ...}) in hound's output")


ROW_KEYS = ("results", "rows", "hosts", "ports", "sockets", "files", "entries", "items", "matches")


def rows(v):
    """The list of rows inside a result, whatever wraps it."""
    if isinstance(v, list):
        return v
    if isinstance(v, dict):
        for k in ROW_KEYS:
            if isinstance(v.get(k), list):
                return v[k]
        lists = [x for x in v.values() if isinstance(x, list)]
        if len(lists) == 1:
            return lists[0]
    raise ValueError(f"cannot find rows in result of type {type(v).__name__}")


def field(row, *names, default=None):
    for n in names:
        if isinstance(row, dict) and n in row and row[n] is not None:
            return row[n]
    return default


def _port_rows(v, host=None):
    """Flattens port results: rows with a port, or hosts with a `ports` array."""
    for r in v if isinstance(v, list) else rows(v):
        if not isinstance(r, dict):
            continue
        h = field(r, "ip", "host", "address", "addr", "target", default=host)
        if "port" in r:
            yield h, int(r["port"]), str(field(r, "state", "status", default="")).lower()
        elif isinstance(r.get("ports"), list):
            yield from _port_rows(r["ports"], h)


def hound_ports(v):
    """{state: set(ports)} from a scan::ports result."""
    by_state = {}
    if isinstance(v, dict) and not any(isinstance(x, list) for x in v.values()):
        v = []
    for _h, port, state in _port_rows(v):
        by_state.setdefault(state, set()).add(port)
    return by_state


def hound_port_counts(v):
    """Counts per state that a result states as numbers ({filtered: 1000}),
    for scanners that summarise rather than list silent ports."""
    out = {}
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            for k, val in x.items():
                if k in ("open", "closed", "filtered") and isinstance(val, int) and not isinstance(val, bool):
                    out[k] = out.get(k, 0) + val
                elif isinstance(val, (dict, list)) and k not in ("results", "ports", "rows"):
                    stack.append(val)
    return out


def hound_hosts(v):
    ips = set()
    for r in rows(v):
        ip = r if isinstance(r, str) else field(r, "ip", "address", "addr", "host")
        if ip is not None:
            up = field(r, "up", "alive", default=True) if isinstance(r, dict) else True
            state = str(field(r, "state", "status", default="up")).lower() if isinstance(r, dict) else "up"
            if up and state in ("up", "alive", "live", "online"):
                ips.add(str(ipaddress.ip_address(str(ip))))
    return ips


def hound_paths(v):
    out = set()
    for r in rows(v):
        p = r if isinstance(r, str) else field(r, "path", "file", "name")
        if p is not None:
            out.add(p)
    return out


def _addr_port(row, side):
    """(address, port) of one end of a socket row, from split or joined fields."""
    ip = field(row, f"{side}_ip", f"{side}_addr", f"{side}_address", f"{side}ip")
    port = field(row, f"{side}_port", f"{side}port")
    if port is None:
        joined = field(row, side, f"{side}_endpoint")
        if isinstance(joined, dict):
            ip, port = field(joined, "ip", "addr", "address"), field(joined, "port")
        elif isinstance(joined, str):
            ip, _, port = joined.rpartition(":")
    return norm_addr(ip), norm_port(port)


def hound_sockets(v):
    """Socket keys (proto, local, remote) and how many rows carry an owner."""
    keys, owned = [], 0
    for r in rows(v):
        proto = str(field(r, "proto", "protocol", "netid", default="")).lower()
        proto = "udp" if proto.startswith("udp") else "tcp" if proto.startswith("tcp") else proto
        keys.append((proto, _addr_port(r, "local"), _addr_port(r, "remote")))
        owner = field(r, "pid", "pids", "owners", "processes", "process", "users")
        if owner not in (None, [], "", 0):
            owned += 1
    return keys, owned


# ---------------------------------------------------------- reference tools

def norm_addr(a):
    if a in (None, "", "*"):
        return "*"
    a = str(a).strip("[]").split("%")[0]
    try:
        ip = ipaddress.ip_address(a)
    except ValueError:
        return a
    if ip.is_unspecified:
        return "*"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)


def norm_port(p):
    if p in (None, "", "*"):
        return 0
    try:
        return int(p)
    except (TypeError, ValueError):
        return 0


def nmap_xml(stdout):
    return ET.fromstring(stdout)


def nmap_ports(stdout):
    """{state: set(ports)} listed individually, plus collapsed counts and
    the port list nmap was asked to scan (from <scaninfo services=...>)."""
    root = nmap_xml(stdout)
    by_state, counts, scanned = {}, {}, set()
    for si in root.iter("scaninfo"):
        for part in si.get("services", "").split(","):
            if "-" in part:
                lo, hi = part.split("-")
                scanned.update(range(int(lo), int(hi) + 1))
            elif part:
                scanned.add(int(part))
    for port in root.iter("port"):
        st = port.find("state").get("state")
        by_state.setdefault(st, set()).add(int(port.get("portid")))
        counts[st] = counts.get(st, 0) + 1
    for ex in root.iter("extraports"):
        st = ex.get("state")
        counts[st] = counts.get(st, 0) + int(ex.get("count"))
    return by_state, counts, scanned


def nmap_hosts(stdout):
    ips = set()
    for host in nmap_xml(stdout).iter("host"):
        if host.find("status").get("state") != "up":
            continue
        for a in host.iter("address"):
            if a.get("addrtype") in ("ipv4", "ipv6"):
                ips.add(a.get("addr"))
    return ips


def _split_endpoint(s):
    addr, _, port = s.rpartition(":")
    return norm_addr(addr), norm_port(port)


def ss_sockets(stdout):
    """`ss -tunap` rows as (proto, local, remote) keys, and the owned count."""
    keys, owned = [], 0
    for line in stdout.splitlines()[1:]:
        f = line.split()
        if len(f) < 6:
            continue
        keys.append((f[0], _split_endpoint(f[4]), _split_endpoint(f[5])))
        if "users:(" in line:
            owned += 1
    return keys, owned


def lsof_count(stdout):
    """Rows of `lsof -i -P -n` (one per process and descriptor)."""
    return max(0, len([line for line in stdout.splitlines() if line.strip()]) - 1)


def find_paths(stdout):
    return set(line for line in stdout.split("\n") if line)
