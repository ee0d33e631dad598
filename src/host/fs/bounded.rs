//! Reads the kernel may never finish. `O_NONBLOCK` keeps a FIFO or a device
//! from hanging `open`, but a file on FUSE (the daemon an intruder runs) or
//! on an NFS hard mount whose server is gone blocks inside `open` or `read`,
//! and no flag or signal hound can send gets it out. So the blocking part
//! runs on a worker thread, and the caller waits for it with the run's
//! cancel token and a per-source time limit. When either fires, the caller
//! gets an error for that one source (a warning, the hunt goes on) and the
//! worker is abandoned.
//!
//! Abandoning is the only option: a thread cannot be killed, and the read
//! it is stuck in holds no lock of ours and writes only to memory nobody
//! waits on any more. It costs one parked thread and one descriptor until
//! the file system answers (a stuck FUSE read also ends when its daemon
//! dies, NFS when the server is back) or hound exits, which ends it like
//! any thread. At most [`MAX_STUCK`] reads may be stuck at once; past that
//! reads fail at once rather than pile up threads.
//!
//! A thread is not enough on FUSE: once the daemon has taken a request, the
//! kernel waits for its answer uninterruptibly, even through SIGKILL, and a
//! process cannot finish exiting while one of its threads waits. Hound
//! would print its results and then hang the responder's shell. So a path
//! on FUSE or a network file system (from the mount table, found without
//! touching that file system) is read by a forked child process instead:
//! a stuck child is killed and left to finish in its own time, and hound
//! exits.

use crate::cancel::CancelToken;
use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

mod child;

/// A mountinfo field with its `\ooo` escapes undone (the quarantine guard
/// reads mount points the same way).
pub(crate) use child::{mount_table, unescape_octal as unescape_mountinfo};
pub use child::{on_remote_fs, read_in_child, ChildRead};

/// How long one source may take. Far above any local read of a capped
/// system file (16 MiB in well under a second); a source slower than this
/// is stuck, not slow.
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(20);

/// Reads abandoned and not yet finished, at most.
pub const MAX_STUCK: usize = 16;

static STUCK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The cancel token of the run whose primitive this thread is running
    /// (set by `primitives::ctx`), so host code deep below needs no extra
    /// parameter to honour Ctrl-C.
    static CANCEL: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
    /// This thread's idle worker: made by this thread, so it reads in this
    /// thread's mount namespace and with its credentials.
    static IDLE: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

/// Makes `token` the one reads on this thread honour.
pub fn set_cancel(token: &CancelToken) {
    CANCEL.with(|c| *c.borrow_mut() = Some(token.clone()));
}

/// The token reads on this thread honour, if a run set one.
pub fn current_cancel() -> Option<CancelToken> {
    CANCEL.with(|c| c.borrow().clone())
}

type Job = Box<dyn FnOnce() + Send>;

struct Worker {
    jobs: Sender<Job>,
    /// The mount and network namespaces the worker was made in; a thread
    /// that entered others since needs a new worker.
    ns: (Option<std::path::PathBuf>, Option<std::path::PathBuf>),
}

fn namespaces() -> (Option<std::path::PathBuf>, Option<std::path::PathBuf>) {
    (
        std::fs::read_link("/proc/thread-self/ns/mnt").ok(),
        std::fs::read_link("/proc/thread-self/ns/net").ok(),
    )
}

enum Slot<T> {
    Waiting,
    Done(io::Result<T>),
    Abandoned,
}

/// Runs `f` (an `open` and `read` of `what`) on a worker thread and waits at
/// most `timeout` for it, or until `cancel` (default: this thread's run)
/// fires. Errors: `TimedOut` or `Interrupted` naming the reason; `f`'s own.
pub fn run<T, F>(cancel: Option<&CancelToken>, timeout: Duration, f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let ambient = if cancel.is_none() {
        current_cancel()
    } else {
        None
    };
    let cancel = cancel.or(ambient.as_ref());
    let cancelled = || io::Error::new(io::ErrorKind::Interrupted, "cancelled; not read");
    if cancel.is_some_and(CancelToken::is_cancelled) {
        return Err(cancelled());
    }
    let stuck = STUCK.load(Ordering::SeqCst);
    if stuck >= MAX_STUCK {
        return Err(io::Error::other(format!(
            "not read: {stuck} earlier reads are still stuck in the file system"
        )));
    }
    let slot = Arc::new((Mutex::new(Slot::Waiting), Condvar::new()));
    let theirs = slot.clone();
    let job: Job = Box::new(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .unwrap_or_else(|_| Err(io::Error::other("the reader panicked")));
        let (m, cv) = &*theirs;
        let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*g, Slot::Abandoned) {
            STUCK.fetch_sub(1, Ordering::SeqCst);
        } else {
            *g = Slot::Done(r);
            cv.notify_all();
        }
    });
    let worker = dispatch(job)?;
    let start = Instant::now();
    let (m, cv) = &*slot;
    let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        match std::mem::replace(&mut *g, Slot::Waiting) {
            Slot::Done(r) => {
                drop(g);
                IDLE.with(|i| *i.borrow_mut() = Some(worker));
                return r;
            }
            Slot::Waiting | Slot::Abandoned => {}
        }
        let out = if cancel.is_some_and(CancelToken::is_cancelled) {
            Some(cancelled())
        } else if start.elapsed() >= timeout {
            Some(timed_out(timeout))
        } else {
            None
        };
        if let Some(e) = out {
            // The worker is dropped with its sender: when its read ends it
            // sees `Abandoned`, and then its closed queue, and exits.
            *g = Slot::Abandoned;
            STUCK.fetch_add(1, Ordering::SeqCst);
            return Err(e);
        }
        let step = Duration::from_millis(25).min(timeout.saturating_sub(start.elapsed()));
        g = cv
            .wait_timeout(g, step.max(Duration::from_millis(1)))
            .map(|(g, _)| g)
            .unwrap_or_else(|p| p.into_inner().0);
    }
}

/// Gives `job` to this thread's idle worker, or to a new one.
fn dispatch(job: Job) -> io::Result<Worker> {
    let ns = namespaces();
    let mut job = job;
    if let Some(w) = IDLE.with(|i| i.borrow_mut().take()) {
        if w.ns == ns {
            match w.jobs.send(job) {
                Ok(()) => return Ok(w),
                Err(back) => job = back.0,
            }
        }
    }
    let (tx, rx) = channel::<Job>();
    // Cannot fail: the receiver is alive until the thread below drops it.
    tx.send(job)
        .map_err(|_| io::Error::other("reader queue closed"))?;
    std::thread::Builder::new()
        .name("hound-read".into())
        .spawn(move || {
            for job in rx {
                job();
            }
        })
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start a reader thread: {e}")))?;
    Ok(Worker { jobs: tx, ns })
}

/// Reads abandoned and still stuck (for tests and diagnostics).
pub fn stuck() -> usize {
    STUCK.load(Ordering::SeqCst)
}

/// The token a read honours: the one given, else this thread's run's.
pub fn token(cancel: Option<&CancelToken>) -> Option<CancelToken> {
    cancel.cloned().or_else(current_cancel)
}

fn timed_out(timeout: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "no answer from the file system in {} s (a FUSE or network mount that blocks?); \
             not read",
            timeout.as_secs_f64()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_reuses_the_worker() {
        let a = run(None, SOURCE_TIMEOUT, || Ok(std::thread::current().id())).unwrap();
        let b = run(None, SOURCE_TIMEOUT, || Ok(std::thread::current().id())).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, std::thread::current().id());
        let e = run::<(), _>(None, SOURCE_TIMEOUT, || Err(io::Error::other("x"))).unwrap_err();
        assert_eq!(e.to_string(), "x");
    }

    #[test]
    fn a_stuck_job_is_abandoned_on_cancel_and_timeout() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = CancelToken::new();
        let t2 = t.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            t2.cancel();
        });
        let e = run(Some(&t), Duration::from_secs(600), move || {
            let _ = rx.recv();
            Ok(())
        })
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
        let e = run(None, Duration::from_millis(30), || {
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        })
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        // The next read gets a fresh worker and an answer.
        assert_eq!(run(None, SOURCE_TIMEOUT, || Ok(7)).unwrap(), 7);
        drop(tx);
    }
}
