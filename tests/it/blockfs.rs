//! A real FUSE file system whose file never answers a read, as an intruder's
//! daemon (or an NFS hard mount whose server is gone) would serve it: the
//! reader sits in the kernel and no flag helps. Spoken straight over
//! `/dev/fuse` (no libfuse, no package), mounted in a private mount
//! namespace of the test's own thread, so nothing outlives the test even
//! if it is killed; dropping it aborts the connection, which frees every
//! reader still stuck.

use crate::common::{hound_path, script, test_case_base};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// `etc/` with `hostname` (answers) and `crontab` (never answers).
const TREE: &[(u64, u64, &str, Option<&[u8]>)] = &[
    // (node, parent, name, content: None = a folder)
    (2, 1, "etc", None),
    (3, 2, "hostname", Some(b"box\n")),
    (4, 2, "crontab", Some(b"")),
];
const BLOCKING: u64 = 4;

pub struct BlockFs {
    pub mnt: PathBuf,
    stop: Arc<AtomicBool>,
    server: Option<std::thread::JoinHandle<()>>,
    /// One message per read request the blocking file got.
    reads: std::sync::Mutex<Receiver<()>>,
    _dir: tempfile::TempDir,
}

/// Runs `f` on a new thread in a private mount namespace (mounts made there
/// vanish with it), passing on its panic.
pub fn in_private_mounts<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    use nix::mount::{mount, MsFlags};
    let h = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("unshare mount ns");
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .expect("make mounts private");
        f()
    });
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

impl BlockFs {
    /// Mounts in the calling thread's mount namespace; `None` (with the
    /// reason printed) where FUSE is not available.
    pub fn mount() -> Option<BlockFs> {
        let dev = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags_nonblock()
            .open("/dev/fuse")
        {
            Ok(f) => OwnedFd::from(f),
            Err(e) => {
                eprintln!("SKIP: no FUSE here (/dev/fuse: {e})");
                return None;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let opts = format!("fd={},rootmode=40000,user_id=0,group_id=0", dev.as_raw_fd());
        if let Err(e) = nix::mount::mount(
            Some("hound-blockfs"),
            &mnt,
            Some("fuse"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            Some(opts.as_str()),
        ) {
            eprintln!("SKIP: cannot mount FUSE here: {e}");
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, reads) = channel();
        let s = stop.clone();
        let server = std::thread::spawn(move || serve(dev, &s, &tx));
        Some(BlockFs {
            mnt,
            stop,
            server: Some(server),
            reads: std::sync::Mutex::new(reads),
            _dir: dir,
        })
    }

    /// Waits (up to a minute) for the blocking file to get a read.
    pub fn wait_read(&self) {
        self.reads
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(60))
            .expect("the blocking file was never read");
    }
}

impl Drop for BlockFs {
    fn drop(&mut self) {
        // Closing the last descriptor of the connection aborts it: readers
        // still stuck get an error and their threads end.
        self.stop.store(true, Ordering::SeqCst);
        if let Some(s) = self.server.take() {
            let _ = s.join();
        }
        let _ = nix::mount::umount2(&self.mnt, nix::mount::MntFlags::MNT_DETACH);
    }
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}
impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// `fuse_attr` of a node.
fn attr(node: u64) -> Vec<u8> {
    let (mode, nlink, size) = match TREE.iter().find(|n| n.0 == node) {
        None | Some((_, _, _, None)) => (0o040755u32, 2u32, 0u64),
        Some((n, _, _, Some(c))) if *n == BLOCKING => (0o100644, 1, 4096.max(c.len() as u64)),
        Some((_, _, _, Some(c))) => (0o100644, 1, c.len() as u64),
    };
    let mut a = Vec::with_capacity(88);
    for v in [node, size, size.div_ceil(512), 0, 0, 0] {
        a.extend_from_slice(&v.to_le_bytes());
    }
    for v in [0u32, 0, 0, mode, nlink, 0, 0, 0, 4096, 0] {
        a.extend_from_slice(&v.to_le_bytes());
    }
    a
}

fn serve(dev: OwnedFd, stop: &AtomicBool, reads: &Sender<()>) {
    let fd = dev.as_raw_fd();
    let mut buf = vec![0u8; 1 << 20];
    let reply = |unique: u64, err: i32, body: &[u8]| {
        let mut out = Vec::with_capacity(16 + body.len());
        out.extend_from_slice(&((16 + body.len()) as u32).to_le_bytes());
        out.extend_from_slice(&(-err).to_le_bytes());
        out.extend_from_slice(&unique.to_le_bytes());
        out.extend_from_slice(body);
        // SAFETY: writes our own buffer to our own descriptor.
        unsafe { libc::write(fd, out.as_ptr().cast(), out.len()) };
    };
    while !stop.load(Ordering::SeqCst) {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, 100) } <= 0 {
            continue;
        }
        // SAFETY: reads into our own buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) | Some(libc::ENOENT) => continue,
                _ => return, // ENODEV: unmounted
            }
        }
        let req = &buf[..n as usize];
        if req.len() < 40 {
            continue;
        }
        let (op, unique, node) = (le32(req, 4), le64(req, 8), le64(req, 16));
        let body = &req[40..];
        match op {
            26 => {
                // INIT: protocol 7.31 is enough and every kernel since 5.4 speaks it.
                let mut o = Vec::new();
                for v in [7u32, 31, le32(body, 8), 0] {
                    o.extend_from_slice(&v.to_le_bytes());
                }
                o.extend_from_slice(&16u16.to_le_bytes());
                o.extend_from_slice(&12u16.to_le_bytes());
                o.extend_from_slice(&65536u32.to_le_bytes());
                o.extend_from_slice(&1u32.to_le_bytes());
                o.resize(64, 0);
                reply(unique, 0, &o);
            }
            1 => {
                // LOOKUP
                let name = body.split(|&c| c == 0).next().unwrap_or_default();
                match TREE.iter().find(|n| n.1 == node && n.2.as_bytes() == name) {
                    Some(n) => {
                        let mut o = Vec::new();
                        for v in [n.0, 0, 1, 1] {
                            o.extend_from_slice(&v.to_le_bytes());
                        }
                        o.extend_from_slice(&[0; 8]);
                        o.extend_from_slice(&attr(n.0));
                        reply(unique, 0, &o);
                    }
                    None => reply(unique, libc::ENOENT, &[]),
                }
            }
            3 => {
                // GETATTR
                let mut o = 1u64.to_le_bytes().to_vec();
                o.extend_from_slice(&[0; 8]);
                o.extend_from_slice(&attr(node));
                reply(unique, 0, &o);
            }
            14 | 27 => {
                // OPEN, OPENDIR: no page cache, so every read reaches us.
                let mut o = 0u64.to_le_bytes().to_vec();
                o.extend_from_slice(&1u32.to_le_bytes()); // FOPEN_DIRECT_IO
                o.extend_from_slice(&[0; 4]);
                reply(unique, 0, &o);
            }
            15 => {
                // READ: the blocking file never answers.
                if node == BLOCKING {
                    let _ = reads.send(());
                    continue;
                }
                let off = le64(body, 8) as usize;
                let size = le32(body, 16) as usize;
                let c = TREE
                    .iter()
                    .find(|n| n.0 == node)
                    .and_then(|n| n.3)
                    .unwrap_or_default();
                let from = off.min(c.len());
                reply(unique, 0, &c[from..(from + size).min(c.len())]);
            }
            28 | 18 | 25 | 29 => reply(unique, 0, &[]), // READDIR (empty), RELEASE, FLUSH, RELEASEDIR
            17 => reply(unique, 0, &[0; 80]),           // STATFS
            2 | 36 | 42 => {} // FORGET, INTERRUPT (ignored, as a hostile daemon would), BATCH_FORGET
            _ => reply(unique, libc::ENOSYS, &[]),
        }
    }
}

fn fuse_test(f: impl FnOnce(&BlockFs) + Send + 'static) {
    in_private_mounts(move || {
        let Some(fs) = BlockFs::mount() else { return };
        f(&fs);
    });
}

#[test]
fn reads_from_a_file_system_that_blocks_are_bounded() {
    crate::require_root!();
    fuse_test(|fs| {
        use hound::host::fs::read::{read_system, read_system_within};
        let etc = fs.mnt.join("etc");
        // The file system works: a file that answers is read.
        let ok = read_system(&etc.join("hostname"), 1 << 20, &mut |_| {}).unwrap();
        assert_eq!(ok, b"box\n");
        // One that does not: the read reached the daemon, and the time
        // limit gave up on it.
        let e = read_system_within(
            &etc.join("crontab"),
            1 << 20,
            None,
            Duration::from_millis(300),
            &mut |_| {},
        )
        .unwrap_err();
        fs.wait_read();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
        assert!(e.to_string().contains("no answer"), "{e}");

        // Cancelling the run (Ctrl-C) frees a hunt stuck on it: the source
        // is a warning, the rest is read.
        let t = hound::runtime::CancelToken::new();
        hound::host::fs::bounded::set_cancel(&t);
        let t2 = t.clone();
        let reads = std::thread::scope(|s| {
            s.spawn(|| {
                fs.wait_read();
                t2.cancel();
            });
            let mut warnings = Vec::new();
            let jobs =
                hound::host::sys::persist::crontabs(&fs.mnt, &mut |w| warnings.push(w.to_string()));
            (jobs.map(|j| j.len()), warnings)
        });
        let (jobs, warnings) = reads;
        assert_eq!(jobs.unwrap(), 0);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("crontab") && w.contains("cancelled")),
            "{warnings:?}"
        );
        // Once cancelled, nothing else starts.
        let e = read_system(&etc.join("hostname"), 64, &mut |_| {}).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted);
    });
}

fn hunt_on(fs: &BlockFs) -> (tempfile::TempDir, PathBuf) {
    script(
        "blocked",
        &format!(
            "let jobs = sys::crontabs(#{{ root: {:?} }});\nprint(`after: ${{jobs.len()}}`);\n",
            fs.mnt.display().to_string()
        ),
    )
}

fn spawn(path: &Path) -> std::process::Child {
    std::process::Command::new(hound_path())
        .env("NO_COLOR", "1")
        .env_remove("HOUND_CASE")
        .env("HOUND_CASES", test_case_base())
        .env_remove("HOUND_PATH")
        .arg("run")
        .arg(path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child`, killing it (and failing) if it hangs for minutes.
fn finish(mut child: std::process::Child) -> std::process::Output {
    for _ in 0..1200 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Not waited for: a process with a thread stuck in FUSE cannot finish
    // exiting until the file system is gone, which dropping it does.
    let _ = child.kill();
    panic!("hound hung on a blocked read (or could not exit)");
}

#[test]
fn ctrl_c_frees_a_hunt_stuck_in_the_kernel() {
    crate::require_root!();
    fuse_test(|fs| {
        let (_d, path) = hunt_on(fs);
        let child = spawn(&path);
        fs.wait_read();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
        let out = finish(child);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{err}");
        assert!(err.contains("cancelled"), "{err}");
    });
}

#[test]
fn a_blocked_source_is_a_warning_and_the_hunt_goes_on() {
    crate::require_root!();
    fuse_test(|fs| {
        let (_d, path) = hunt_on(fs);
        // Takes the per-source limit (20 s): the price of telling a stuck
        // file system from a slow one.
        let out = finish(spawn(&path));
        let (o, err) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains("crontab") && err.contains("no answer"),
            "{err}"
        );
        assert!(
            o.contains("after: 0") || err.contains("after: 0"),
            "{o}{err}"
        );
    });
}
