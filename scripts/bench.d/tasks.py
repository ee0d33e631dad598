"""The benchmark tasks. Each builds its fixture (namespaces, listeners,
files), measures hound against the standard tool in alternation, and
returns report rows. Fixtures are torn down by the caller's Cleanup.
"""

import json
import os
import sys
import shutil
from collections import Counter

import parse
import yara_task
from engine import Contender, Row, measure, require, set_diff
from harness import check, fmt_kib, log, run_timed
from lab import Lab, exec_argv

MIB = 1024  # ru_maxrss is in KiB
FULL_RANGE_PORTS = [1, 22, 80, 443, 3306, 8080, 31337, 65535]
SWEEP_HOSTS = [10, 20, 30]
FILTERED_BOUND_S = 2.0
ARRAY_SIZES = (10_000, 100_000)
ARRAY_SIZES_QUICK = (500, 5_000)
# A quadratic engine needs minutes for 100,000 pushes: the row gives up
# after this long and reports the goal missed rather than hold the bench.
ARRAY_TIMEOUT_S = 60
# Ten times the elements may take at most this many times as long: linear
# growth plus slack for the fixed cost of starting hound; quadratic is ~100x.
ARRAY_LINEAR_BOUND = 15.0
UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
STARTUP_GOAL_S = 0.020
RSS_GOAL_KIB = 50 * MIB
SOCKET_PAIRS = 2000
SOCKET_UDP = 10
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helper.py")


class Ctx:
    """What every task needs: options, the hound binary, scratch space."""

    def __init__(self, hound, runs, warmup, files, cleanup):
        self.hound = hound
        self.runs = runs
        self.warmup = warmup
        self.files = files
        self.cleanup = cleanup
        self.scratch = cleanup.tempdir("scripts")
        self.commands = {}  # task -> contenders, for the report's exact commands
        self.replace = {self.scratch: "$SCRIPTS"}  # temp paths made readable in the report

    def script(self, name, body):
        path = os.path.join(self.scratch, name + ".rhai")
        with open(path, "w") as f:
            f.write(body)
        return path

    def hound_run(self, ns, name, bodies):
        """Candidate argvs running each script body (first one that exists wins)."""
        out = []
        for i, body in enumerate(bodies):
            argv = [self.hound, "run", "--json", self.script(f"{name}{i}", body)]
            out.append(exec_argv(ns, argv) if ns else argv)
        return out


def rhai_str(s):
    return json.dumps(s)  # Rhai and JSON agree on "..." with \" \\ \n escapes


def wrap(call):
    """A script returning the primitive's value as the one JSON line {"r": ...}."""
    return f"let r = {call};\n#{{r: r}}\n"


def hound_contender(ctx, ns, name, calls, parse_fn):
    argvs = ctx.hound_run(ns, name, [wrap(c) for c in calls])
    return Contender("hound", argvs, lambda out: parse_fn(parse.hound_value(out)), hound=True, ok_codes=(0, 1))


def record(ctx, task, *contenders):
    """Remembers what was measured; read after the runs, when each hound
    contender has settled on the script spelling that exists."""
    ctx.commands[task] = contenders


def goal_speed(min_ratio, extra=None, text=None):
    """Goal: at least `min_ratio` times as fast (1 = no slower), identical results."""

    def goal(row):
        r = row.ratio()
        label = text or ("no slower" if min_ratio == 1 else f"≥{min_ratio:g}x faster")
        met = r is not None and r >= min_ratio and row.identical is True
        if extra:
            t, ok = extra(row)
            label, met = f"{label}, {t}", met and ok
        return label, met

    return goal


def rss_under(limit):
    def check_rss(row):
        rss = row.hound.peak_rss()
        return f"RSS <{fmt_kib(limit)}", rss is not None and rss < limit

    return check_rss


# ------------------------------------------------------- full TCP port range

def two_hosts(lab, subnet, target_role):
    """A scanner namespace and a target namespace on one veth link."""
    s = lab.netns("scan")
    t = lab.netns(target_role)
    lab.veth(s, "eth0", f"{subnet}.1/24", t, "eth0", f"{subnet}.2/24")
    return s, t, f"{subnet}.2"


def full_range(ctx):
    lab = Lab(ctx.cleanup)
    s, t, ip = two_hosts(lab, "10.77.1", "target")
    lab.spawn(t, ["python3", HELPER, "listen"] + [str(p) for p in FULL_RANGE_PORTS], "listeners")
    hound = hound_contender(ctx, s, "full_range", [f'scan::ports("{ip}", "all")'],
                            lambda v: frozenset(parse.hound_ports(v).get("open", set())))
    nmap = Contender("nmap", ["ip", "netns", "exec", s, "nmap", "-sS", "-Pn", "-n", "-p-", "-oX", "-", ip],
                     lambda out: frozenset(parse.nmap_ports(out)[0].get("open", set())))
    record(ctx, "full", hound, nmap)

    def cold():
        lab.flush_neighbors(s)
        lab.flush_neighbors(t)

    measure("full range", [hound, nmap], ctx.runs, ctx.warmup, cold)
    expected = frozenset(FULL_RANGE_PORTS)

    def cmp(a, b, la, lb):
        out = set_diff("open ports", a, b, la, lb)
        for side, label in ((a, la), (b, lb)):
            if side != expected:
                out.append(f"{label} did not find exactly the listeners {sorted(expected)}: {sorted(side)}")
        return out

    row = Row(f"Full TCP range (1–65535), one host, {len(FULL_RANGE_PORTS)} listeners",
              hound, nmap, cmp, goal_speed(4, rss_under(RSS_GOAL_KIB), "≤0.25x nmap's time"))
    if hound.contents:
        row.note = f"open ports found: {sorted(hound.contents[0])}"
    return [row]


# ------------------------------------------------------------ /24 discovery

def sweep(ctx):
    lab = Lab(ctx.cleanup)
    net = "10.77.2"
    w = lab.netns("switch")
    br = lab.bridge(w)
    s = lab.netns("scan")
    lab.attach(w, br, "p0", s, "eth0", f"{net}.1/24")
    hosts = []
    for i, last in enumerate(SWEEP_HOSTS, 1):
        h = lab.netns(f"h{i}")
        lab.attach(w, br, f"p{i}", h, "eth0", f"{net}.{last}/24")
        hosts.append(h)
    own = f"{net}.1"

    # nmap counts the scanning address itself as up; the comparison is about
    # the other hosts, so the scanner's own address is left out of both sides.
    def others(ips):
        return frozenset(ips - {own})

    hound = hound_contender(ctx, s, "sweep", [f'scan::hosts("{net}.0/24")'],
                            lambda v: others(parse.hound_hosts(v)))
    nmap = Contender("nmap", ["ip", "netns", "exec", s, "nmap", "-sn", "-n", "-oX", "-", f"{net}.0/24"],
                     lambda out: others(parse.nmap_hosts(out)))
    record(ctx, "sweep", hound, nmap)

    def cold():
        for ns in [s] + hosts:
            lab.flush_neighbors(ns)

    measure("sweep", [hound, nmap], ctx.runs, ctx.warmup, cold)

    expected = frozenset(f"{net}.{h}" for h in SWEEP_HOSTS)

    def cmp(a, b, la, lb):
        out = set_diff("hosts", a, b, la, lb)
        # Agreeing is not enough: both must find exactly the hosts that are up.
        for side, label in ((a, la), (b, lb)):
            if side != expected:
                out.append(f"{label} did not find exactly the live hosts {sorted(expected)}: {sorted(side)}")
        return out

    row = Row(f"Host discovery, /24 with {len(SWEEP_HOSTS)} live hosts", hound, nmap, cmp,
              goal_speed(10, text="≤0.1x nmap's time"))
    return [row]


# ------------------------------------------------- top-1000 on a silent host

def filtered(ctx):
    lab = Lab(ctx.cleanup)
    s, d, ip = two_hosts(lab, "10.77.3", "drop")
    lab.drop_all(d)

    def hound_content(v):
        # At most 1,024 ports asked for: scan::ports lists every one.
        by_state = parse.hound_ports(v)
        return {
            "open": frozenset(by_state.get("open", set())),
            "closed": frozenset(by_state.get("closed", set())),
            "filtered": len(by_state.get("filtered", set())),
            "ports": frozenset(set().union(*by_state.values())) if by_state else None,
        }

    def nmap_content(out):
        by_state, counts, scanned = parse.nmap_ports(out)
        return {
            "open": frozenset(by_state.get("open", set())),
            "closed": frozenset(by_state.get("closed", set())),
            "filtered": counts.get("filtered", 0),
            "ports": frozenset(scanned),
        }

    hound = hound_contender(ctx, s, "filtered", [f'scan::ports("{ip}", "top:1000")'], hound_content)
    nmap = Contender("nmap", ["ip", "netns", "exec", s, "nmap", "-sS", "-Pn", "-n", "--top-ports", "1000",
                              "-oX", "-", ip], nmap_content)
    record(ctx, "filtered", hound, nmap)
    measure("filtered", [hound, nmap], ctx.runs, ctx.warmup, lambda: lab.flush_neighbors(s))

    def cmp(a, b, la, lb):
        out = []
        for side, lab_ in ((a, la), (b, lb)):
            if side["open"] or side["closed"]:
                out.append(f"{lab_} reports ports answering on a host that drops everything: "
                           f"open {sorted(side['open'])[:10]}, closed {sorted(side['closed'])[:10]}")
            if side["filtered"] != 1000:
                out.append(f"{lab_} reports {side['filtered']} filtered ports, not 1000")
        if a["ports"] is not None and b["ports"] is not None and a["ports"] != b["ports"]:
            out += set_diff("ports in the top-1000 list", a["ports"], b["ports"], la, lb)
        return out

    def goal(row):
        st = row.hound.stats()
        ok = bool(st) and st.median < FILTERED_BOUND_S and row.identical is True
        return f"<{FILTERED_BOUND_S:g} s, all filtered", ok

    return [Row("Top 1000 ports, host that drops everything", hound, nmap, cmp, goal)]


# ----------------------------------------- full range, unprivileged connect

def connect_range(ctx):
    """nmap -sT and scan::ports with method connect, both as `nobody`."""
    lab = Lab(ctx.cleanup)
    s, t, ip = two_hosts(lab, "10.77.4", "target")
    lab.spawn(t, ["python3", HELPER, "listen"] + [str(p) for p in FULL_RANGE_PORTS], "listeners")
    # The unprivileged user needs to reach the binary and the script.
    pub = ctx.cleanup.tempdir("nobody")
    os.chmod(pub, 0o755)
    binary = os.path.join(pub, "hound")
    shutil.copy2(os.path.abspath(ctx.hound), binary)
    ctx.replace[pub] = "$PUBLIC"
    argvs = []
    for i, call in enumerate([f'scan::ports("{ip}", "all", #{{method: "connect"}})']):
        path = os.path.join(pub, f"connect{i}.rhai")
        with open(path, "w") as f:
            f.write(wrap(call))
        os.chmod(path, 0o644)
        argvs.append(exec_argv(s, UNPRIVILEGED + [binary, "run", "--json", path]))
    hound = Contender("hound", argvs,
                      lambda out: frozenset(parse.hound_ports(parse.hound_value(out)).get("open", set())),
                      hound=True, ok_codes=(0, 1))
    nmap = Contender("nmap", exec_argv(s, UNPRIVILEGED + ["nmap", "-sT", "-Pn", "-n", "-p-", "-oX", "-", ip]),
                     lambda out: frozenset(parse.nmap_ports(out)[0].get("open", set())))
    record(ctx, "connect", hound, nmap)

    def cold():
        lab.flush_neighbors(s)
        lab.flush_neighbors(t)

    measure("connect range", [hound, nmap], ctx.runs, ctx.warmup, cold)
    expected = frozenset(FULL_RANGE_PORTS)

    def cmp(a, b, la, lb):
        out = set_diff("open ports", a, b, la, lb)
        for side, label in ((a, la), (b, lb)):
            if side != expected:
                out.append(f"{label} did not find exactly the listeners {sorted(expected)}: {sorted(side)}")
        return out

    row = Row(f"Full TCP range, connect scan as an unprivileged user, {len(FULL_RANGE_PORTS)} listeners",
              hound, nmap, cmp, goal_speed(2, text="≤0.5x nmap's time"))
    if hound.contents:
        row.note = f"open ports found: {sorted(hound.contents[0])}"
    return [row]


# ------------------------------------------------ script: array of maps

def array_of_maps(ctx):
    """A script that builds N maps into an array: the engine's own cost.

    Measured at two sizes; ten times the elements must cost about ten
    times as much (a push that re-measures the whole array is quadratic).
    """
    sizes = ARRAY_SIZES if ctx.warmup else ARRAY_SIZES_QUICK
    contenders = []
    for n in sizes:
        body = (f"let a = [];\nfor i in 0..{n} {{ a.push(#{{ id: i, name: `n${{i}}`, ok: true }}); }}\n"
                "#{r: a.len()}\n")
        path = ctx.script(f"array{n}", body)
        contenders.append(Contender(f"hound {n:,}", [ctx.hound, "run", "--json", path],
                                    lambda out: parse.hound_value(out), hound=True,
                                    timeout=ARRAY_TIMEOUT_S))
    small, big = contenders
    record(ctx, "array", small, big)
    measure("array of maps", contenders, ctx.runs, ctx.warmup)

    def cmp(a, b, la, lb):
        return [] if a == b else [f"{la} counted {a}, {lb} {b}"]

    goal_text = f"≤{ARRAY_LINEAR_BOUND:g}x the {sizes[0]:,}-element time (linear)"

    def goal(row):
        if not (small.times and big.times):
            return goal_text, False
        ratio = big.stats().median / small.stats().median
        right = bool(big.contents) and big.contents[0] == sizes[1]
        return goal_text, right and ratio <= ARRAY_LINEAR_BOUND

    # Too slow to finish is a missed goal (the figure to fix), not a failed
    # bench: the count is checked whenever the run completes.
    slow = bool(big.error) and big.error.startswith("timed out")
    if slow:
        big.error = None
    row = Row(f"Script: build an array of {sizes[1]:,} maps", big, None, cmp, goal)
    if slow:
        row.identical, row.goal_text, row.goal_met = None, goal_text, False
        row.note = (f"{sizes[1]:,} maps did not finish within {ARRAY_TIMEOUT_S} s; "
                    f"{sizes[0]:,} maps: {small.stats().text()}: the push grows faster than linearly")
    elif small.times and big.times:
        ratio = big.stats().median / small.stats().median
        row.note = (f"{sizes[0]:,} maps: {small.stats().text()}; {sizes[1]:,} maps: "
                    f"{big.stats().text()}; ratio {ratio:.1f}x for 10x the elements")
    return [row]


# ------------------------------------------------------------ socket table

def sockets(ctx):
    lab = Lab(ctx.cleanup)
    n = lab.netns("sockets")
    lab.spawn(n, ["python3", HELPER, "sockets", str(SOCKET_PAIRS), str(SOCKET_UDP)], "socket holder")

    def hound_content(v):
        keys, owned = parse.hound_sockets(v)
        return Counter(keys), owned

    def ss_content(out):
        keys, owned = parse.ss_sockets(out)
        return Counter(keys), owned

    hound = hound_contender(ctx, n, "sockets", ["net::sockets()", "net::sockets(#{})"], hound_content)
    ss = Contender("ss", ["ip", "netns", "exec", n, "ss", "-tunap"], ss_content)
    lsof = Contender("lsof", ["ip", "netns", "exec", n, "lsof", "-i", "-P", "-n"], parse.lsof_count,
                     ok_codes=(0, 1))
    record(ctx, "sockets", hound, ss, lsof)
    measure("sockets", [hound, ss, lsof], ctx.runs, ctx.warmup)

    def cmp_ss(a, b, la, lb):
        (ka, oa), (kb, ob) = a, b
        out = []
        if ka != kb:
            extra_a = ka - kb
            extra_b = kb - ka
            out.append(f"{la} lists {sum(ka.values())} sockets, {lb} {sum(kb.values())}")
            if extra_a:
                out.append(f"only {la}: {list(extra_a.elements())[:5]}")
            if extra_b:
                out.append(f"only {lb}: {list(extra_b.elements())[:5]}")
        if oa != ob:
            out.append(f"sockets with an owner: {la} {oa}, {lb} {ob}")
        return out

    def cmp_lsof(a, b, la, lb):
        na = sum(a[0].values()) if isinstance(a, tuple) else a
        nb = sum(b[0].values()) if isinstance(b, tuple) else b
        return [] if na == nb else [f"{la} counts {na} sockets, {lb} {nb}"]

    total = 2 * SOCKET_PAIRS + 1 + SOCKET_UDP
    desc = f"Socket table with owners, {total} sockets"
    rows = [
        Row(desc + " (vs ss)", hound, ss, cmp_ss, goal_speed(1, text="no slower than ss")),
        Row(desc + " (vs lsof)", hound, lsof, cmp_lsof, lambda row: ("—", None)),
    ]
    notes = []
    for c in (hound, ss):
        if c.contents:
            keys, owned = c.contents[0]
            notes.append(f"{c.label} lists {sum(keys.values())} sockets, {owned} with owners")
    inner = in_script_sockets(ctx, n)
    if inner:
        notes.append(inner)
    rows[0].note = "; ".join(notes)
    if lsof.contents:
        rows[1].note = f"lsof lists {lsof.contents[0]} rows (one per process and descriptor)"
    return rows


def in_script_sockets(ctx, ns):
    """How long the `net::sockets()` call itself takes inside a script (the
    process's start and the JSON printing left out): median of several runs,
    with owners (the full rows) and without (`fields` naming no owner field:
    no /proc/*/fd walk)."""
    bare = '["proto", "state", "local_ip", "local_port", "remote_ip", "remote_port"]'
    path = ctx.script("sockets_inner",
                      "let t = epoch();\nlet r = net::sockets();\n"
                      "let ms = (epoch() - t) * 1000.0;\n"
                      f"let t2 = epoch();\nlet b = net::sockets(#{{ fields: {bare} }});\n"
                      "let ms2 = (epoch() - t2) * 1000.0;\n"
                      "#{r: #{ms: ms, n: r.len(), bare_ms: ms2, bare_n: b.len()}}\n")
    samples, bare_samples, count = [], [], None
    for _ in range(max(ctx.runs, 3)):
        res = run_timed(exec_argv(ns, [ctx.hound, "run", "--json", path]), ok_codes=(0, 1))
        if not res.ok():
            return None
        try:
            v = parse.hound_value(res.stdout)
            samples.append(float(v["ms"]))
            bare_samples.append(float(v["bare_ms"]))
            count = v["n"]
            if v["bare_n"] != count:
                return f"in-script `net::sockets()`: {count} rows with owners, {v['bare_n']} without"
        except (ValueError, KeyError, TypeError):
            return None
    samples.sort()
    bare_samples.sort()
    return (f"in-script `net::sockets()` of {count} sockets: {samples[len(samples) // 2]:.1f} ms "
            f"with owners, {bare_samples[len(bare_samples) // 2]:.1f} ms without "
            f"(`fields` naming no owner field; goal < 10 ms) (medians)")


# --------------------------------------------------------------- file hunt

def make_tree(root, n, content=None):
    """n regular files in 100-file directories, two levels deep: the one
    tree of the file-hunt and YARA rows.

    Every 10th file is a .log, every 50th an executable .sh, some names have
    spaces or start with a dot, and every 1,000th entry is a symlink, so both
    tools meet the cases a real /tmp holds. Files are empty unless
    `content(k, path)` gives the bytes of the k-th regular file (from 1).
    Returns the counts by kind.
    """
    per_dir = 100
    counts = Counter()
    for i in range(n):
        d = os.path.join(root, f"d{i // (per_dir * 10):03d}", f"s{(i // per_dir) % 10}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        if i % 1000 == 999:
            os.symlink(f"f{i - 1}.txt", os.path.join(d, f"link {i}.log"))
            counts["symlink"] += 1
            continue
        if i % 50 == 7:
            name, mode = f"run{i}.sh", 0o755
        elif i % 10 == 3:
            name, mode = f"app {i}.log" if i % 20 == 3 else f"app{i}.log", 0o644
        elif i % 97 == 5:
            name, mode = f".hidden{i}.log", 0o600
        else:
            name, mode = f"f{i}.txt", 0o644
        path = os.path.join(d, name)
        counts["file"] += 1
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            if content:
                os.write(fd, content(counts["file"], path))
        finally:
            os.close(fd)
        os.chmod(path, mode)  # umask must not change the fixture
    return counts


def file_hunt(ctx):
    root = ctx.cleanup.tempdir("tree")
    ctx.replace[root] = "$TREE"
    log(f"  [file hunt] creating {ctx.files:,} files in {root}")
    make_tree(root, ctx.files)

    def norm(paths):
        return frozenset(p if os.path.isabs(p) else os.path.join(root, p) for p in paths)

    def cmp(a, b, la, lb):
        return set_diff("paths", a, b, la, lb, limit=5)

    r = rhai_str(root)
    cases = [
        ("name", f"File hunt, {ctx.files:,} files: name glob *.log",
         [f'fs::find({r}, #{{name: "*.log", fields: ["path"]}})', f'fs::find({r}, #{{name: "*.log"}})'],
         ["find", root, "-name", "*.log"]),
        ("exec", f"File hunt, {ctx.files:,} files: executable files",
         [f'fs::find({r}, #{{type: "file", executable: true, fields: ["path"]}})',
          f'fs::find({r}, #{{type: "file", executable: true}})'],
         ["find", root, "-type", "f", "-perm", "/111"]),
    ]
    rows = []
    for key, desc, calls, find_argv in cases:
        hound = hound_contender(ctx, None, f"find_{key}", calls, lambda v: norm(parse.hound_paths(v)))
        find = Contender("find", find_argv, lambda out: norm(parse.find_paths(out)))
        record(ctx, f"find_{key}", hound, find)
        measure(f"file hunt {key}", [hound, find], ctx.runs, ctx.warmup)
        row = Row(desc, hound, find, cmp, goal_speed(1 / 0.7, text="≤0.7x find's time"))
        if find.contents:
            row.note = f"{len(find.contents[0]):,} paths match"
        rows.append(row)
    return rows


# ----------------------------------------------------------------- startup

def startup(ctx):
    path = ctx.script("empty", "")
    hound = Contender("hound", [ctx.hound, "run", "--json", path], lambda out: out.strip(), hound=True)
    record(ctx, "startup", hound)
    measure("startup", [hound], max(ctx.runs * 4, 5), True)

    def cmp(a, b, la, lb):
        return [] if a == b else [f"{la} printed {a!r}, {lb} {b!r}"]

    def goal(row):
        st = row.hound.stats()
        return f"<{STARTUP_GOAL_S * 1000:g} ms", bool(st) and st.median < STARTUP_GOAL_S

    return [Row("Startup: `hound run` on an empty script", hound, None, cmp, goal)]


from services_task import services  # noqa: E402  (its own file: scan::services vs nmap -sV)

NETWORK = {"full": full_range, "sweep": sweep, "filtered": filtered, "sockets": sockets,
           "connect": connect_range, "services": services}
LOCAL = {"files": file_hunt, "startup": startup, "array": array_of_maps,
         "yara": lambda ctx: yara_task.yara_hunt(ctx, sys.modules[__name__])}
ORDER = ["startup", "array", "files", "yara", "sockets", "sweep", "full", "connect", "filtered", "services"]
ALL = {**NETWORK, **LOCAL}
