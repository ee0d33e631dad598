//! TCP connect scans: the unprivileged fallback, and `method: "connect"`.
//!
//! Runs on the context's current-thread tokio runtime, so every socket is
//! created on the calling thread (in its network namespace). The window of
//! connections in flight is sized from RLIMIT_NOFILE (raised to the hard
//! limit first), so a big scan never fails with "too many open files", and
//! a connect that stayed silent is retried, never reported from one try.
//! Results go into a shared collector as they come, so a cancelled scan
//! still hands back what it found.

use super::{PortOpts, PortResult, Progress};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Results shared between a running scan and its caller.
pub type Collector<T> = Arc<Mutex<Vec<T>>>;

/// Connections at once: what the caller asked, bounded by free descriptors.
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
    asked.unwrap_or(1024).clamp(1, free)
}

enum Outcome {
    Open,
    Refused,
    Unreachable,
    Timeout,
    NoFds,
    Other,
}

async fn probe(addr: SocketAddr, to: Duration) -> (Outcome, Duration) {
    let start = Instant::now();
    let r = tokio::time::timeout(to, tokio::net::TcpStream::connect(addr)).await;
    let took = start.elapsed();
    let o = match r {
        Ok(Ok(_s)) => Outcome::Open,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Outcome::Refused,
        Ok(Err(e)) => match e.raw_os_error() {
            Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) => Outcome::Unreachable,
            Some(libc::EMFILE) | Some(libc::ENFILE) => Outcome::NoFds,
            _ => Outcome::Other,
        },
        Err(_) => Outcome::Timeout,
    };
    (o, took)
}

struct Rtt {
    srtt: f64,
    rttvar: f64,
    n: u64,
}

/// Connect-scans `targets` × `ports`, pushing each result into `out`.
pub async fn scan(
    targets: Vec<IpAddr>,
    ports: Vec<u16>,
    o: PortOpts,
    progress: Progress,
    out: Collector<PortResult>,
) -> crate::Result<()> {
    let mut window = fd_window(o.concurrency);
    let mut queue: VecDeque<(IpAddr, u16, u32)> = ports
        .iter()
        .flat_map(|&p| targets.iter().map(move |&ip| (ip, p, 0)))
        .collect();
    let mut rtt = Rtt {
        srtt: 0.0,
        rttvar: 0.0,
        n: 0,
    };
    let min = Duration::from_millis(100).min(o.timeout);
    let mut set = JoinSet::new();
    let mut done = 0u64;
    loop {
        while set.len() < window {
            let Some((ip, port, attempt)) = queue.pop_front() else {
                break;
            };
            let to = if rtt.n == 0 {
                o.timeout
            } else {
                Duration::from_secs_f64(rtt.srtt + 4.0 * rtt.rttvar).clamp(min, o.timeout)
            };
            set.spawn(async move {
                let (r, took) = probe(SocketAddr::new(ip, port), to).await;
                (ip, port, attempt, r, took)
            });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let Ok((ip, port, attempt, r, took)) = joined else {
            continue;
        };
        let (state, reason) = match r {
            Outcome::Open => ("open", "syn-ack"),
            Outcome::Refused => ("closed", "conn-refused"),
            Outcome::Unreachable => ("filtered", "icmp-unreachable"),
            Outcome::NoFds => {
                // Someone else holds descriptors: shrink and try again.
                window = (set.len()).max(16);
                queue.push_back((ip, port, attempt));
                continue;
            }
            Outcome::Timeout | Outcome::Other if attempt < o.retries => {
                queue.push_back((ip, port, attempt + 1));
                continue;
            }
            Outcome::Timeout => ("filtered", "timeout"),
            Outcome::Other => ("filtered", "error"),
        };
        if attempt == 0 && matches!(state, "open" | "closed") {
            let s = took.as_secs_f64();
            if rtt.n == 0 {
                rtt.srtt = s;
                rtt.rttvar = s / 2.0;
            } else {
                rtt.rttvar = 0.75 * rtt.rttvar + 0.25 * (rtt.srtt - s).abs();
                rtt.srtt = 0.875 * rtt.srtt + 0.125 * s;
            }
            rtt.n += 1;
        }
        done += 1;
        progress.set(done);
        if let Ok(mut v) = out.lock() {
            v.push(PortResult {
                ip: ip.to_string(),
                port,
                proto: "tcp",
                state,
                reason,
                rtt_ms: (state != "filtered")
                    .then(|| (took.as_secs_f64() * 100_000.0).round() / 100.0),
                service: None,
                partial: false,
            });
        }
    }
    Ok(())
}
