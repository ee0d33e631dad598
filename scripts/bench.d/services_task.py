"""scan::services against nmap -sV on real Debian daemons (scripts/services-lab),
all in one namespace on their usual ports, both tools run inside it.

"Same result" means: per port, the same service (nmap's names mapped:
ms-wbt-server is rdp, netbios-ssn is smb), hound's product named in nmap's
product or version, and hound's version inside nmap's wherever nmap states
an exact one (not a range, "or later", or its fixed Samba guess).
"""

import os
import re
import subprocess
import time

import parse
from engine import Contender, Row, measure
from harness import HarnessError, check, log
from lab import Lab, exec_argv

LAB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "services-lab")
IP = "10.201.0.1"
# One namespace, so one Redis (the test covers the one with requirepass).
DAEMONS = ["ssh", "nginx", "redis", "memcached", "postgresql", "mariadb", "vsftpd",
           "postfix", "samba", "xrdp", "vnc"]
GOAL_RATIO = 4
NMAP_NAMES = {"ms-wbt-server": "rdp", "netbios-ssn": "smb", "microsoft-ds": "smb"}


def norm(s):
    return re.sub(r"[^a-z0-9.]", "", (s or "").lower())


def hound_services(v):
    out = {}
    for r in parse.rows(v):
        out[int(r["port"])] = (r.get("service") or "", r.get("product") or "", r.get("version") or "")
    return out


def nmap_services(stdout):
    out = {}
    for port in parse.nmap_xml(stdout).iter("port"):
        s = port.find("service")
        get = (lambda k: s.get(k, "") if s is not None else "")
        out[int(port.get("portid"))] = (get("name"), get("product"), get("version"))
    return out


def compare(a, b, la, lb):
    """Texts for each port where `a` (hound or a run) and `b` disagree."""
    diffs = []
    if set(a) != set(b):
        diffs.append(f"ports {sorted(a)} ({la}) vs {sorted(b)} ({lb})")
    hound_vs_nmap = lb == "nmap"
    for p in sorted(set(a) & set(b)):
        if not hound_vs_nmap:
            if a[p] != b[p]:
                diffs.append(f"{p}: {a[p]} ({la}) vs {b[p]} ({lb})")
            continue
        (hs, hp, hv), (ns, np_, nv) = a[p], b[p]
        if hs != NMAP_NAMES.get(ns, ns):
            diffs.append(f"{p}: service {hs!r} vs nmap {ns!r}")
        if not hp or norm(hp) not in norm(np_ + " " + nv):
            diffs.append(f"{p}: product {hp!r} vs nmap {np_!r}")
        guess = "or later" in nv or " - " in nv or norm(np_).startswith("sambasmbd")
        if nv and not guess and (not hv or hv not in nv):
            diffs.append(f"{p}: version {hv!r} vs nmap {nv!r}")
    return diffs


def wait_listening(ns, ports, deadline):
    while time.monotonic() < deadline:
        ss = check(["ip", "netns", "exec", ns, "ss", "-Htln"])
        if all(f":{p} " in ss for p in ports):
            return
        time.sleep(0.2)
    raise HarnessError(f"daemons did not all listen on {sorted(ports)}")


def services(ctx):
    have = [d for d in DAEMONS if subprocess.run([LAB, "check", d], capture_output=True).returncode == 0]
    if len(have) < 3:
        raise HarnessError("the daemons are not installed (scripts/test installs them)")
    lab = Lab(ctx.cleanup)
    ns = lab.netns("daemons")
    scratch = ctx.cleanup.tempdir("services")
    os.chmod(scratch, 0o755)  # daemons that drop root (postgres) work below it
    ports = []
    for i, d in enumerate(have):
        # The first start gives the namespace its link and address.
        argv = [LAB, "start", d, ns, IP, os.path.join(scratch, d)]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        ctx.cleanup.process(p, d)
        ports += [int(x) for x in check([LAB, "ports", d]).split()]
        if i == 0:
            wait_listening(ns, ports, time.monotonic() + 30)
    wait_listening(ns, ports, time.monotonic() + 90)
    plist = ",".join(str(p) for p in sorted(ports))
    call = f'scan::services("{IP}", [{plist}])'
    argvs = ctx.hound_run(ns, "services", [f"let r = {call};\n#{{r: r}}\n"])
    hound = Contender("hound", argvs, lambda out: hound_services(parse.hound_value(out)),
                      hound=True, ok_codes=(0, 1))
    nmap = Contender("nmap", exec_argv(ns, ["nmap", "-sV", "-Pn", "-n", "-p", plist, "-oX", "-", IP]),
                     nmap_services)
    ctx.commands["services"] = (hound, nmap)
    measure("services", [hound, nmap], ctx.runs, ctx.warmup)

    def goal(row):
        r = row.ratio()
        return f"≥{GOAL_RATIO}x faster, same products/versions", (
            r is not None and r >= GOAL_RATIO and row.identical is True)

    row = Row(f"Service identification, {len(have)} real daemons ({', '.join(have)})",
              hound, nmap, compare, goal)
    if hound.contents:
        row.note = "; ".join(f"{p}: {' '.join(x for x in v if x)}" for p, v in sorted(hound.contents[0].items()))
    return [row]
