"""Network namespaces for the benchmark, and nothing outside them.

NETWORK SAFETY: every namespace is created here with a unique name, every
veth pair is created from inside a namespace (`ip -n NS link add ... peer
... netns OTHER`), so no interface ever exists in the host's namespace, and
every measured command runs through `ip netns exec`. Nothing here routes,
forwards or bridges to the host.
"""

import os
import re
import shutil
import subprocess
import tempfile

from harness import check, debug, log

PREFIX = "hbench-"


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def list_netns():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def delete_netns(name):
    """Kills what still runs inside, then deletes the namespace."""
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    for pid in pids.split():
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, ValueError):
            pass
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


STALE = re.compile(PREFIX + r"([0-9a-f]+)-")


def remove_stale():
    """Namespaces and temp dirs left by an earlier bench killed with SIGKILL.

    Only ours (the prefix) and only when the pid in the name is gone, so a
    bench running in parallel keeps its own.
    """
    for name in list_netns():
        m = STALE.match(name)
        if m and not _alive(int(m.group(1), 16)):
            log(f"bench: removing stale namespace {name}")
            delete_netns(name)
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        m = STALE.match(name)
        path = os.path.join(tmp, name)
        if m and not _alive(int(m.group(1), 16)) and os.path.isdir(path) and not os.path.islink(path):
            log(f"bench: removing stale {path}")
            shutil.rmtree(path, ignore_errors=True)


class Lab:
    """Namespaces for one task; `cleanup` deletes them at the end."""

    def __init__(self, cleanup):
        self.cleanup = cleanup
        self.tag = f"{PREFIX}{os.getpid():x}-"

    def netns(self, role):
        name = self.tag + role
        check(["ip", "netns", "add", name])
        self.cleanup.add(f"ip netns del {name}", lambda: delete_netns(name))
        check(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def veth(self, a, a_if, a_addr, b, b_if, b_addr):
        """A veth pair created inside `a` with its peer moved straight into `b`."""
        check(["ip", "-n", a, "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b])
        for ns, ifname, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            if addr:
                check(["ip", "-n", ns, "addr", "add", addr, "dev", ifname])
            check(["ip", "-n", ns, "link", "set", ifname, "up"])

    def bridge(self, ns, name="br0"):
        """A switch: a bridge without STP, so ports forward at once."""
        check(["ip", "-n", ns, "link", "add", name, "type", "bridge", "stp_state", "0"])
        check(["ip", "-n", ns, "link", "set", name, "up"])
        return name

    def attach(self, switch_ns, bridge, port, host_ns, host_if, host_addr):
        """Plugs `host_ns` into the switch's bridge through a new veth pair."""
        self.veth(switch_ns, port, "", host_ns, host_if, host_addr)
        check(["ip", "-n", switch_ns, "link", "set", port, "master", bridge])

    def drop_all(self, ns):
        """A firewall in `ns` that silently drops every packet coming in."""
        rules = (
            "table inet hbench {\n"
            "  chain input { type filter hook input priority 0; policy drop; }\n"
            "}\n"
        )
        check(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules)

    def flush_neighbors(self, ns):
        """Forget learned MACs so every run starts from the same cold state."""
        check(["ip", "-n", ns, "neigh", "flush", "all"])

    def spawn(self, ns, argv, what):
        """A helper process inside `ns` that says `ready` on stdout when set up.

        It holds stdin open and exits when stdin closes, so it cannot outlive
        the bench even if cleanup is skipped by SIGKILL.
        """
        full = ["ip", "netns", "exec", ns] + argv
        debug(" ".join(full))
        p = subprocess.Popen(full, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.cleanup.process(p, what)
        line = p.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"{what} did not start: {line!r}")
        return p


def exec_argv(ns, argv):
    """argv, run inside `ns` (ip netns exec execs in place: no extra process)."""
    return ["ip", "netns", "exec", ns] + list(argv)
