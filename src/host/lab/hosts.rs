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
        if start.elapsed() > Duration::from_secs(30) {
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

/// The child `enter` waits for, for the signal forwarder.
static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let child = CHILD.load(std::sync::atomic::Ordering::SeqCst);
    if child > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe {
            libc::kill(child, sig);
        }
    }
}

/// `hound lab enter --pid FILE -- CMD...`: runs CMD in the PID namespace
/// FILE (a lab host's) and exits with its status. Entering a PID namespace
/// takes a fork, and the parent has to wait; it ignores the terminal's
/// SIGINT and SIGQUIT, which reach CMD by themselves (same process group),
/// so Ctrl-C in an interactive command does not kill the parent and orphan
/// the command. SIGTERM and SIGHUP are passed on; a stopped CMD stops the
/// parent too, so job control keeps working.
pub fn enter(pid_ns: &Path, argv: &[String]) -> Result<i32> {
    use nix::sched::{setns, CloneFlags};
    use nix::unistd::{execvp, fork, ForkResult, Pid};
    use std::ffi::CString;
    use std::os::fd::AsFd;

    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::invalid("lab enter: an argument holds a NUL byte"))?;
    let prog = args
        .first()
        .cloned()
        .ok_or_else(|| Error::invalid("lab enter: nothing to run"))?;
    let f = std::fs::File::open(pid_ns).map_err(|e| Error::io(pid_ns.display(), e))?;
    setns(f.as_fd(), CloneFlags::CLONE_NEWPID)
        .map_err(|e| Error::io(format!("entering {}", pid_ns.display()), e.into()))?;
    // The terminal's SIGINT and SIGQUIT are ignored before the fork: set
    // after it, a Ctrl-C landing while the command already runs but the
    // parent has not yet ignored it killed the parent (seen in CI). The
    // child puts back what it inherited before it execs.
    // SAFETY: plain disposition changes, the old ones kept to restore.
    let (old_int, old_quit) = unsafe {
        (
            libc::signal(libc::SIGINT, libc::SIG_IGN),
            libc::signal(libc::SIGQUIT, libc::SIG_IGN),
        )
    };
    // SAFETY: the child only calls signal and execvp, then _exit (all
    // async-signal-safe); everything it needs was allocated before the fork.
    match unsafe { fork() }.map_err(|e| Error::io("lab enter: fork", e.into()))? {
        ForkResult::Child => {
            // SAFETY: restoring the dispositions this process had.
            unsafe {
                libc::signal(libc::SIGINT, old_int);
                libc::signal(libc::SIGQUIT, old_quit);
            }
            let _ = execvp(&prog, &args);
            // SAFETY: leaving the forked child without running the parent's
            // exit handlers.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => {
            CHILD.store(child.as_raw(), std::sync::atomic::Ordering::SeqCst);
            // SAFETY: plain disposition changes; `forward` only calls kill.
            unsafe {
                libc::signal(libc::SIGTERM, forward as *const () as libc::sighandler_t);
                libc::signal(libc::SIGHUP, forward as *const () as libc::sighandler_t);
            }
            loop {
                match waitpid(child, Some(WaitPidFlag::WUNTRACED)) {
                    Ok(WaitStatus::Stopped(..)) => {
                        let _ = nix::sys::signal::raise(Signal::SIGSTOP);
                        let _ = nix::sys::signal::kill(child, Signal::SIGCONT);
                    }
                    Ok(WaitStatus::Exited(_, code)) => return Ok(code),
                    Ok(WaitStatus::Signaled(_, sig, _)) => {
                        // Die of the same signal, so the shell sees what it
                        // would have seen without the lab in between.
                        // SAFETY: restoring the default disposition.
                        unsafe {
                            libc::signal(sig as libc::c_int, libc::SIG_DFL);
                        }
                        let _ = nix::sys::signal::kill(Pid::this(), sig);
                        return Ok(128 + sig as i32);
                    }
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(Error::io("lab enter: waiting", e.into())),
                }
            }
        }
    }
}
