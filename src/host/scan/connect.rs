//! TCP connect scans: the unprivileged fallback, and `method: "connect"`.
//!
//! One worker thread per core, each with its own epoll and its share of the
//! probes, driving nonblocking connects by hand: per port a socket, a
//! connect, one look at SO_ERROR and a close. On a fast path the answer
//! (RST or SYN-ACK) is already in by the time connect returns, because the
//! kernel handles the reply before it gives the socket back, so most ports
//! never reach epoll at all. Workers are spawned by the calling thread and
//! so live in its network namespace; each checks that it does before it
//! opens a socket.
//!
//! The window of connections in flight is sized from RLIMIT_NOFILE (raised
//! to the hard limit first), so a big scan never fails with "too many open
//! files", and a connect that stayed silent is retried, never reported from
//! one try. Results go into a shared collector as they come, so a cancelled
//! scan still hands back what it found.

use super::rtt::Rtt;
use super::{PortOpts, PortResult, Progress};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Results shared between a running scan and its caller.
pub type Collector<T> = Arc<Mutex<Vec<T>>>;

/// Connections at once: what the caller asked, else as many as the free
/// descriptors allow up to 4,096 (past that, more sockets in flight only
/// queue in the kernel); always bounded by the free descriptors.
pub fn fd_window(asked: Option<usize>) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit struct for getrlimit/setrlimit to use.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            1024
        } else {
            if lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: lim.rlim_max.min(1 << 20),
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim.rlim_cur = raised.rlim_cur;
                }
            }
            lim.rlim_cur
        }
    };
    let free = (soft.saturating_sub(128) as usize * 3 / 4).max(16);
    asked.unwrap_or(free.min(4096)).clamp(1, free)
}

#[derive(Clone, Copy)]
struct Probe {
    ip: IpAddr,
    port: u16,
    attempt: u32,
}

/// Sets the stop flag when the scan's future is dropped (cancelled).
struct StopOnDrop(Arc<AtomicBool>);
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What one worker shares with the others and the caller.
#[derive(Clone)]
struct Shared {
    stop: Arc<AtomicBool>,
    finished: Arc<AtomicUsize>,
    out: Collector<PortResult>,
    progress: Progress,
    netns: Option<std::path::PathBuf>,
}

/// This thread's network namespace, as the kernel names it (`net:[4026…]`).
fn netns() -> Option<std::path::PathBuf> {
    std::fs::read_link("/proc/thread-self/ns/net").ok()
}

/// Connect-scans `targets` × `ports`, pushing each result into `out`.
pub async fn scan(
    targets: Vec<IpAddr>,
    ports: Vec<u16>,
    o: PortOpts,
    progress: Progress,
    out: Collector<PortResult>,
) -> crate::Result<()> {
    let window = fd_window(o.concurrency);
    let probes: Vec<Probe> = ports
        .iter()
        .flat_map(|&p| {
            targets.iter().map(move |&ip| Probe {
                ip,
                port: p,
                attempt: 0,
            })
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores.clamp(1, 4).min(probes.len().div_ceil(256)).max(1);
    let stop = Arc::new(AtomicBool::new(false));
    let _guard = StopOnDrop(stop.clone());
    let sh = Shared {
        stop,
        finished: Arc::new(AtomicUsize::new(0)),
        out,
        progress,
        netns: netns(),
    };
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    for k in 0..workers {
        let mine: VecDeque<Probe> = probes.iter().skip(k).step_by(workers).copied().collect();
        let (shw, o, errors) = (sh.clone(), o.clone(), errors.clone());
        let w = (window / workers).max(1);
        // Detached: if the caller is cancelled, the stop flag ends it within
        // a few milliseconds, and the scan's future does not wait on it.
        let spawned = std::thread::Builder::new()
            .name("hound-connect".into())
            .spawn(move || {
                if let Err(e) = worker(mine, w, &o, &shw) {
                    if let Ok(mut v) = errors.lock() {
                        v.push(e);
                    }
                }
                shw.finished.fetch_add(1, Ordering::Release);
            });
        if spawned.is_err() {
            sh.finished.fetch_add(1, Ordering::Release);
        }
    }
    while sh.finished.load(Ordering::Acquire) < workers {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let errs = errors.lock().map(|v| v.clone()).unwrap_or_default();
    match errs.first() {
        Some(e) => Err(crate::Error::io_msg(format!("connect scan: {e}"))),
        None => Ok(()),
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A nonblocking connect to `to`: the socket, and the errno of connect
/// (0 when it connected at once).
fn start(to: SocketAddr) -> Result<(RawFd, i32), i32> {
    let sa = socket2::SockAddr::from(to);
    // SAFETY: plain socket(2); the result is checked.
    let fd = unsafe {
        libc::socket(
            i32::from(sa.family()),
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: sa holds a valid address of sa.len() bytes.
    let r = unsafe { libc::connect(fd, sa.as_ptr().cast(), sa.len()) };
    Ok((fd, if r == 0 { 0 } else { errno() }))
}

/// The socket's pending error (0 = none).
fn so_error(fd: RawFd) -> i32 {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err and len are valid for getsockopt to write.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r != 0 {
        errno()
    } else {
        err
    }
}

fn connected(fd: RawFd) -> bool {
    // SAFETY: an all-zero sockaddr_storage is valid; len says its size.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: ss and len are valid for getpeername to write.
    unsafe {
        libc::getpeername(
            fd,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        ) == 0
    }
}

fn close(fd: RawFd) {
    // SAFETY: fd is a socket this worker opened and still owns.
    unsafe {
        libc::close(fd);
    }
}

/// Closes a connection that got through with a RST (SO_LINGER 0), as nmap's
/// connect scan does: no FIN exchange, and no TIME-WAIT holding one of our
/// local ports for a minute, which a range with many open ports would
/// otherwise run out of.
fn abort(fd: RawFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: fd is open; l is a valid linger struct of the given size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    close(fd);
}

enum Verdict {
    Open,
    Refused,
    Unreachable,
    Other,
}

fn verdict(err: i32) -> Verdict {
    match err {
        0 => Verdict::Open,
        libc::ECONNREFUSED => Verdict::Refused,
        libc::EHOSTUNREACH | libc::ENETUNREACH => Verdict::Unreachable,
        _ => Verdict::Other,
    }
}

fn worker(
    mut queue: VecDeque<Probe>,
    window: usize,
    o: &PortOpts,
    sh: &Shared,
) -> Result<(), String> {
    if netns() != sh.netns {
        return Err("a worker thread is not in the caller's network namespace".into());
    }
    // SAFETY: plain epoll_create1; checked below.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(format!("epoll: {}", std::io::Error::last_os_error()));
    }
    let min = Duration::from_millis(100).min(o.timeout);
    let mut rtt = Rtt::default();
    let mut window = window;
    let mut inflight: HashMap<RawFd, (Probe, Instant, u64)> = HashMap::new();
    let mut deadlines: VecDeque<(Instant, RawFd, u64)> = VecDeque::new();
    let mut gen = 0u64;
    let mut starved = false;
    let mut done: Vec<PortResult> = Vec::new();
    let mut events: Vec<libc::epoll_event> = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let flush = |done: &mut Vec<PortResult>| {
        if done.is_empty() {
            return;
        }
        sh.progress.inc(done.len() as u64);
        if let Ok(mut v) = sh.out.lock() {
            v.append(done);
        }
    };
    // Records a decided probe, or queues it again; feeds the round trip.
    let decide = |p: Probe,
                  started: Instant,
                  v: Verdict,
                  rtt: &mut Rtt,
                  queue: &mut VecDeque<Probe>,
                  done: &mut Vec<PortResult>| {
        let took = started.elapsed();
        let (state, reason) = match v {
            Verdict::Open => ("open", "syn-ack"),
            Verdict::Refused => ("closed", "conn-refused"),
            Verdict::Unreachable => ("filtered", "icmp-unreachable"),
            Verdict::Other if p.attempt < o.retries => {
                queue.push_back(Probe {
                    attempt: p.attempt + 1,
                    ..p
                });
                return;
            }
            Verdict::Other => ("filtered", "error"),
        };
        if p.attempt == 0 && state != "filtered" {
            rtt.update(took);
        }
        done.push(PortResult {
            ip: p.ip.to_string(),
            port: p.port,
            proto: "tcp",
            state,
            reason,
            rtt_ms: (state != "filtered").then(|| (took.as_secs_f64() * 100_000.0).round() / 100.0),
            service: None,
            partial: false,
        });
    };
    let result = loop {
        if sh.stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        // Start what the window allows.
        while inflight.len() < window {
            let Some(p) = queue.pop_front() else { break };
            let started = Instant::now();
            let (fd, err) = match start(SocketAddr::new(p.ip, p.port)) {
                Ok(x) => x,
                Err(libc::EMFILE) | Err(libc::ENFILE) => {
                    // Someone else holds descriptors: shrink and try later.
                    window = inflight.len().max(16).min(window);
                    queue.push_front(p);
                    break;
                }
                Err(e) => {
                    decide(p, started, verdict(e), &mut rtt, &mut queue, &mut done);
                    continue;
                }
            };
            let err = match err {
                libc::EINPROGRESS => so_error(fd),
                e => e,
            };
            if err == 0 && !connected(fd) {
                // Still waiting for the answer: epoll tells when it comes.
                gen += 1;
                let mut ev = libc::epoll_event {
                    events: (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32,
                    u64: fd as u64,
                };
                // SAFETY: ep and fd are open; ev is valid for the call.
                if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
                    close(fd);
                    queue.push_back(p);
                    continue;
                }
                let to = rtt.timeout(o.timeout, min, o.timeout);
                inflight.insert(fd, (p, started, gen));
                deadlines.push_back((started + to, fd, gen));
                continue;
            }
            if err == 0 {
                abort(fd);
            } else {
                close(fd);
            }
            match err {
                libc::EADDRNOTAVAIL | libc::EAGAIN => {
                    // Out of local ports for the moment: retry after others
                    // end, without spinning while none is in flight.
                    queue.push_back(p);
                    starved = true;
                    break;
                }
                e => decide(p, started, verdict(e), &mut rtt, &mut queue, &mut done),
            }
        }
        if inflight.is_empty() && queue.is_empty() {
            break Ok(());
        }
        if done.len() >= 256 {
            flush(&mut done);
        }
        // Wait for answers, at most until the oldest deadline (and 10 ms,
        // so the stop flag is seen).
        let now = Instant::now();
        let wait = deadlines
            .front()
            .map(|(d, _, _)| d.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(10))
            .min(Duration::from_millis(10));
        let wait_ms = if starved {
            starved = false;
            10
        } else if inflight.len() < window && !queue.is_empty() {
            0
        } else {
            wait.as_millis().max(1) as i32
        };
        // Every connect that completed before this instant is in the ready
        // list epoll_wait reads, so silence is known up to here; a stall
        // after the wait (this thread descheduled) must not expire a
        // connect whose answer came in meanwhile.
        let read_up_to = Instant::now();
        // SAFETY: events has room for events.len() entries.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, wait_ms) };
        for ev in events.iter().take(n.max(0) as usize) {
            let fd = ev.u64 as RawFd;
            let Some((p, started, _)) = inflight.remove(&fd) else {
                continue;
            };
            let err = so_error(fd);
            // Closing also leaves the epoll set.
            if err == 0 {
                abort(fd);
            } else {
                close(fd);
            }
            decide(p, started, verdict(err), &mut rtt, &mut queue, &mut done);
        }
        // Silent connects: retry, or report filtered after the last try.
        // A full event buffer may have left answered connects unread: they
        // are read first, on the next round.
        let all_read = (n.max(0) as usize) < events.len();
        while let Some(&(d, fd, g)) = deadlines.front().filter(|_| all_read) {
            if inflight.get(&fd).is_none_or(|x| x.2 != g) {
                deadlines.pop_front();
                continue;
            }
            if d > read_up_to {
                break;
            }
            deadlines.pop_front();
            if let Some((p, _, _)) = inflight.remove(&fd) {
                close(fd);
                if p.attempt < o.retries {
                    queue.push_back(Probe {
                        attempt: p.attempt + 1,
                        ..p
                    });
                } else {
                    done.push(PortResult {
                        ip: p.ip.to_string(),
                        port: p.port,
                        proto: "tcp",
                        state: "filtered",
                        reason: "timeout",
                        rtt_ms: None,
                        service: None,
                        partial: false,
                    });
                }
            }
        }
    };
    for fd in inflight.keys() {
        close(*fd);
    }
    close(ep);
    flush(&mut done);
    result
}
