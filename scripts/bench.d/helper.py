"""Fixture processes run inside a benchmark namespace.

  helper.py listen PORT...        TCP listeners on 0.0.0.0 (and accept nothing)
  helper.py sockets N [UDP]       N loopback TCP connections (2N sockets plus a
                                  listener) and UDP sockets, all held open

Prints `ready` when set up, then holds everything until stdin closes.
"""

import resource
import socket
import sys


def listen(ports):
    held = []
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(port)))
        s.listen(128)
        held.append(s)
    return held


def sockets(n, udp):
    # 2N+1 descriptors in one process: raise the soft limit to the hard one.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * n + udp + 64
    if hard != resource.RLIM_INFINITY and hard < need:
        raise SystemExit(f"helper: need {need} file descriptors, hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4096)
    held = [srv]
    addr = srv.getsockname()
    for _ in range(n):
        c = socket.create_connection(addr)
        a, _ = srv.accept()
        held += [c, a]
    for _ in range(udp):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        held.append(u)
    return held


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "listen":
        held = listen(args)
    elif cmd == "sockets":
        held = sockets(int(args[0]), int(args[1]) if len(args) > 1 else 0)
    else:
        raise SystemExit(f"helper: unknown command {cmd}")
    print("ready", flush=True)
    sys.stdin.read()
    del held


if __name__ == "__main__":
    main()
