"""Turning each tool's output into comparable content: sets of ports, hosts,
paths, socket keys. hound's side is read strictly: each primitive returns
the array of maps its doc comment documents (`hound doc scan::ports`,
docs/json.md), and a documented field that is missing or renamed fails the
row with a message naming the primitive, the row and the field, rather
than being looked up among other spellings until something matches.
"""

import ipaddress
import json
import xml.etree.ElementTree as ET


class ShapeError(ValueError):
    """hound's result is not the documented shape (the row fails loudly)."""


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
    raise ShapeError("no result line ({\"r\": ...}) in hound's output")


def rows(v, primitive="hound"):
    """The rows of a primitive's result: it returns an array of maps."""
    if not isinstance(v, list):
        raise ShapeError(f"{primitive}: expected an array of rows, got {type(v).__name__}: {str(v)[:200]}")
    for i, r in enumerate(v):
        if not isinstance(r, dict):
            raise ShapeError(f"{primitive}: row {i}: expected a map, got {type(r).__name__}: {str(r)[:200]}")
    return v


def field(row, name, i, primitive, null_ok=False):
    """A documented field of row `i`; missing (or null, unless the doc says
    it may be) is an error naming the row and the field."""
    if name not in row:
        raise ShapeError(f"{primitive}: row {i}: no field {name!r} (see `hound doc {primitive}`); "
                         f"it has {sorted(row)}")
    if row[name] is None and not null_ok:
        raise ShapeError(f"{primitive}: row {i}: field {name!r} is null: {str(row)[:200]}")
    return row[name]


def hound_ports(v):
    """{state: set(ports)} from a scan::ports result (`ip`, `port`, `state`)."""
    p = "scan::ports"
    by_state = {}
    for i, r in enumerate(rows(v, p)):
        field(r, "ip", i, p)
        state = str(field(r, "state", i, p))
        by_state.setdefault(state, set()).add(int(field(r, "port", i, p)))
    return by_state


def hound_hosts(v):
    """The `ip` of each row of scan::hosts (one row per live host)."""
    p = "scan::hosts"
    return {str(ipaddress.ip_address(field(r, "ip", i, p))) for i, r in enumerate(rows(v, p))}


def hound_paths(v):
    """The `path` of each fs::find entry."""
    p = "fs::find"
    return {field(r, "path", i, p) for i, r in enumerate(rows(v, p))}


def hound_yara(v):
    """(rule, path) of each fs::yara match."""
    p = "fs::yara"
    return frozenset((field(r, "rule", i, p), field(r, "path", i, p)) for i, r in enumerate(rows(v, p)))


def hound_sockets(v):
    """Socket keys (proto, local, remote) of net::sockets, and how many rows
    have an owner (a non-empty `pids`)."""
    p = "net::sockets"
    keys, owned = [], 0
    for i, r in enumerate(rows(v, p)):
        proto = str(field(r, "proto", i, p)).lower()
        if proto not in ("tcp", "udp"):
            raise ShapeError(f"{p}: row {i}: proto {proto!r} is neither tcp nor udp")
        local = (norm_addr(field(r, "local_ip", i, p)), norm_port(field(r, "local_port", i, p)))
        remote = (norm_addr(field(r, "remote_ip", i, p)), norm_port(field(r, "remote_port", i, p)))
        keys.append((proto, local, remote))
        if field(r, "pids", i, p):
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
