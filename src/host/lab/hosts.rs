//! Each lab host's own namespaces besides its network: a mount namespace
//! (private /tmp, /var/tmp, /dev/shm, /var/log, and copy-on-write /etc,
//! /root, /home, /var and /usr/local, so a scenario's planted files and a
//! response's changes never reach the real machine) and a PID namespace with
//! its own /proc, so a hunt run on a host sees that host's processes only.
//!
//! A PID namespace lives as long as its pid 1, so every host runs
//! `hound lab init`: it reaps orphans (a killed daemon must not linger as a
//! zombie) and does nothing else.

use crate::error::{Error, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::path::Path;
use std::time::{Duration, Instant};

/// Folders a host gets a copy-on-write view of (an overlay whose upper
/// layer is a tmpfs of the host's own).
const OVERLAID: &[&str] = &["etc", "root", "home", "var", "usr/local"];

/// The shell run as the host's first process, before it becomes init.
fn setup_script(stage: &Path) -> String {
    let mut s = String::from("set -e\n");
    s += &format!(
        "S='{}'\nmount -t tmpfs hound-lab-stage \"$S\"\n",
        stage.display()
    );
    for d in OVERLAID {
        let n = d.replace('/', "_");
        s += &format!(
            "if [ -d /{d} ]; then mkdir -p \"$S/u/{n}\" \"$S/w/{n}\"; \
             mount -t overlay hound-lab-{n} -o \"lowerdir=/{d},upperdir=$S/u/{n},workdir=$S/w/{n}\" /{d}; fi\n"
        );
    }
    s += "mount -t tmpfs -o mode=1777 hound-lab-tmp /tmp\n\
          mount -t tmpfs -o mode=1777 hound-lab-vartmp /var/tmp\n\
          mount -t tmpfs -o mode=1777 hound-lab-shm /dev/shm\n\
          mount -t tmpfs hound-lab-log /var/log\n\
          mkdir -p /var/log/apache2\n\
          touch /var/log/wtmp /var/log/btmp /var/log/lastlog\n";
    // No systemd runs in a lab host: hide the real one's sockets, so a
    // `systemctl stop` from a hunt there cannot reach the real machine's.
    s += "if [ -d /run/systemd ]; then mount -t tmpfs hound-lab-systemd /run/systemd; fi\n";
    // The paths come as arguments, so that the unshare process (whose
    // command line holds this script) does not itself look like the init.
    s += "exec \"$1\" lab \"$3\" --ready \"$2\"\n";
    s
}

/// The argv that creates a host's mount and PID namespaces (persisted on
/// `mnt` and `pid`), mounts its /proc and runs the setup, then init.
pub fn unshare_argv(
    mnt: &Path,
    pid: &Path,
    stage: &Path,
    hound: &Path,
    ready: &Path,
) -> Vec<String> {
    vec![
        "unshare".into(),
        format!("--mount={}", mnt.display()),
        "--propagation".into(),
        "private".into(),
        format!("--pid={}", pid.display()),
        "--fork".into(),
        "--mount-proc".into(),
        "sh".into(),
        "-c".into(),
        setup_script(stage),
        "sh".into(),
        hound.display().to_string(),
        ready.display().to_string(),
        "init".into(),
    ]
}

/// Waits for every host's init to report ready.
pub fn wait_ready(files: &[std::path::PathBuf]) -> Result<()> {
    let start = Instant::now();
    while !files.iter().all(|f| f.exists()) {
        if start.elapsed() > Duration::from_secs(15) {
            let missing: Vec<String> = files
                .iter()
                .filter(|f| !f.exists())
                .map(|f| f.display().to_string())
                .collect();
            return Err(
                Error::timeout(format!("lab hosts did not start: {}", missing.join(", ")))
                    .with_hint("the hosts need tmpfs and overlay mounts (a kernel with overlayfs)"),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// `hound lab init`: pid 1 of a lab host. Says it is ready, then reaps
/// every child (its own and the orphans the kernel hands it) until killed.
pub fn init(ready: &Path) -> Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    // Blocked so that a child exiting between two waits is not lost.
    set.thread_block()
        .map_err(|e| Error::io("lab init: blocking SIGCHLD", e.into()))?;
    std::fs::write(ready, std::process::id().to_string())
        .map_err(|e| Error::io(ready.display(), e))?;
    loop {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = set.wait();
    }
}
