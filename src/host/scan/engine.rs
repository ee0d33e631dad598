//! The send/receive loop shared by the raw scans (SYN ports, ARP/ICMP/TCP
//! discovery), in the manner of masscan and ZMap: probes go out as fast as
//! the rate and window allow, replies are matched statelessly by the driver
//! (a keyed cookie in the packet, not a per-probe table), and only probes
//! that stayed silent are sent again.
//!
//! Timeouts adapt to measured round trips as nmap's do: srtt and rttvar
//! (RFC 6298), timeout = srtt + 4·rttvar, clamped. Samples come only from
//! probes sent once (Karn's rule), so a late reply to a retransmission
//! cannot shrink the timeout. Round trips are kept per target host (a
//! driver's "group"), falling back to the scan-wide figures for a host that
//! has not answered yet, so a slow routed host is not judged by a fast
//! neighbour's timings.
//!
//! The floor of the timeout can be lower for a try that will be sent again
//! (`retry_min_rto`) than for the last one (`min_rto`): an answer to an
//! earlier try still counts until the item is decided, so resending early
//! costs one packet and loses nothing, while the last try's floor is what
//! bounds how slow an answer may be.
//!
//! Time is counted only while an answer could have been seen: a probe's
//! clock starts once the driver has sent it (not when it was queued), and a
//! probe expires only when a read that began after its deadline found
//! nothing. On a loaded machine a stall (a descheduled sender, or hound
//! itself) then delays the scan instead of turning answers into silence.
//!
//! Everything runs on the calling thread with nonblocking sockets and
//! poll(2): the sockets live in the caller's network namespace, and
//! cancellation is checked every few milliseconds.

use super::rtt::Rtt;
use super::Progress;
use crate::cancel::CancelToken;
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// Knobs for one run.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Packets per second (0 = no limit beyond the window).
    pub rate: u64,
    /// Probes awaiting an answer at once.
    pub window: usize,
    /// Retransmissions of a silent probe.
    pub retries: u32,
    /// Timeout before any round trip was measured.
    pub initial_rto: Duration,
    /// Floor of the last try's timeout.
    pub min_rto: Duration,
    /// Floor of the timeout of a try that will be resent (at most
    /// `min_rto`).
    pub retry_min_rto: Duration,
    pub max_rto: Duration,
}

/// What a protocol plugs into the loop.
pub trait Driver {
    type Outcome: Copy;
    /// Packets sent per item (for the rate limit).
    fn packets_per_item(&self) -> u64 {
        1
    }
    /// Sends the probe(s) for item `i`. `Err(WouldBlock)` means "try later".
    fn send(&mut self, i: usize) -> std::io::Result<()>;
    /// The sockets to wait on.
    fn fds(&self) -> Vec<RawFd>;
    /// Reads everything waiting, reporting `(item, outcome)` per match.
    fn drain(&mut self, out: &mut Vec<(usize, Self::Outcome)>);
    /// Called after each burst of `send`s, for drivers that queue them.
    fn flush(&mut self) {}
    /// Which timing group (target host) item `i` belongs to.
    fn group(&self, _i: usize) -> usize {
        0
    }
    fn group_count(&self) -> usize {
        1
    }
    /// A round trip already measured to group `g` by other means (an ARP
    /// exchange on the link), in microseconds: the first timeout starts
    /// from it instead of the blind initial one.
    fn seed_rtt(&self, _g: usize) -> Option<u32> {
        None
    }
}

const UNSENT: u8 = 0;
const WAITING: u8 = 1;
const REQUEUED: u8 = 2;
const DONE: u8 = 3;

/// Per item: the outcome (None = never answered) and the round trip of the
/// answered probe in microseconds.
pub struct Outcomes<T> {
    pub results: Vec<Option<(T, u32)>>,
    pub partial: bool,
    /// The scan-wide round trips measured (probes answered first time).
    pub rtt: Rtt,
}

/// Runs items `0..n` through `d`, in the order given by `order`.
pub fn run<D: Driver>(
    d: &mut D,
    n: usize,
    t: &Tuning,
    cancel: &CancelToken,
    progress: &Progress,
) -> Outcomes<D::Outcome> {
    let start = Instant::now();
    let us = |i: Instant| i.duration_since(start).as_micros().min(u32::MAX as u128) as u32;
    let mut state = vec![UNSENT; n];
    let mut tries = vec![0u8; n];
    let mut sent_at = vec![0u32; n];
    let mut results: Vec<Option<(D::Outcome, u32)>> = vec![None; n];
    // Probes awaiting an answer in send order, one queue per floor (0: a
    // try that will be resent, 1: the last), so each queue's head is its
    // oldest deadline.
    let mut pending: [VecDeque<(u32, u32)>; 2] = Default::default();
    let mut retry: VecDeque<u32> = VecDeque::new();
    let mut next_fresh = 0usize;
    let mut outstanding = 0usize;
    let mut resolved = 0usize;
    let mut global = Rtt::default();
    let mut rtts: Vec<Rtt> = (0..d.group_count().max(1))
        .map(|g| {
            let mut r = Rtt::default();
            if let Some(us) = d.seed_rtt(g) {
                r.update(Duration::from_micros(u64::from(us)));
            }
            r
        })
        .collect();
    // A host not measured yet is judged by the scan-wide figures.
    let floors = [t.retry_min_rto.min(t.min_rto), t.min_rto];
    let rto = |g: &Rtt, all: &Rtt, last: usize| -> u32 {
        let r = if g.samples() > 0 { g } else { all };
        r.timeout(t.initial_rto, floors[last], t.max_rto)
            .as_micros() as u32
    };
    let group_of = |d: &D, i: usize, n_groups: usize| d.group(i).min(n_groups - 1);
    let ppi = d.packets_per_item().max(1);
    let mut sent_packets: u64 = 0;
    let mut replies = Vec::new();
    let mut burst: Vec<u32> = Vec::with_capacity(256);
    let fds = d.fds();
    let mut partial = false;
    let mut last_check = Instant::now();

    while resolved < n {
        if last_check.elapsed() >= Duration::from_millis(10) {
            last_check = Instant::now();
            if cancel.is_cancelled() {
                partial = true;
                break;
            }
            progress.set(resolved as u64);
        }
        // Send what the window and the rate allow.
        let mut blocked = false;
        let mut rate_limited = false;
        let mut sent_now = 0;
        while outstanding < t.window && sent_now < 256 {
            if t.rate > 0 {
                let allowed = (start.elapsed().as_secs_f64() * t.rate as f64) as u64 + ppi;
                if sent_packets + ppi > allowed {
                    rate_limited = true;
                    break;
                }
            }
            let i = loop {
                match retry.pop_front() {
                    Some(i) if state[i as usize] == REQUEUED => break Some(i as usize),
                    Some(_) => continue,
                    None => {
                        break (next_fresh < n).then(|| {
                            next_fresh += 1;
                            next_fresh - 1
                        })
                    }
                }
            };
            let Some(i) = i else { break };
            match d.send(i) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // The send queue is full: retry this item first, later.
                    if state[i] == UNSENT {
                        next_fresh -= 1;
                    } else {
                        retry.push_front(i as u32);
                    }
                    blocked = true;
                    break;
                }
                Err(_) => {
                    // Unroutable or refused locally: nothing will answer.
                    state[i] = DONE;
                    resolved += 1;
                    continue;
                }
            }
            state[i] = WAITING;
            tries[i] = tries[i].saturating_add(1);
            burst.push(i as u32);
            outstanding += 1;
            sent_packets += ppi;
            sent_now += 1;
        }
        d.flush();
        // The clock of a probe starts once the driver has handed it to the
        // kernel: a driver that queues sends (or a stall while it sends)
        // must not eat into the time its answer has.
        let now = us(Instant::now());
        for i in burst.drain(..) {
            let iu = i as usize;
            sent_at[iu] = now;
            let last = usize::from(u32::from(tries[iu]) > t.retries);
            pending[last].push_back((i, now));
        }
        // Wait for replies: briefly when more can be sent, else until the
        // oldest probe times out.
        let now = us(Instant::now());
        let can_send_more = outstanding < t.window && (next_fresh < n || !retry.is_empty());
        let wait = if blocked {
            Duration::from_micros(200)
        } else if rate_limited {
            Duration::from_millis(1)
        } else if can_send_more {
            Duration::ZERO
        } else {
            let until = (0..2)
                .filter_map(|q| {
                    let &(i, s) = pending[q].front()?;
                    let g = group_of(d, i as usize, rtts.len());
                    Some((s + rto(&rtts[g], &global, q)).saturating_sub(now))
                })
                .min()
                .unwrap_or(1000);
            Duration::from_micros(u64::from(until)).min(Duration::from_millis(10))
        };
        if !wait.is_zero() {
            super::sock::poll_read(&fds, wait.max(Duration::from_millis(1)));
        }
        replies.clear();
        // Everything that arrived before this instant is read by the drain
        // below, so it is the instant up to which silence is known: a stall
        // during or after the drain (hound descheduled) must not expire a
        // probe whose answer came in meanwhile.
        let read_up_to = us(Instant::now());
        d.drain(&mut replies);
        let now = us(Instant::now());
        for &(i, o) in &replies {
            if i >= n || state[i] == DONE {
                continue;
            }
            if state[i] == WAITING {
                outstanding -= 1;
                if tries[i] == 1 {
                    let sample = Duration::from_micros(u64::from(now.saturating_sub(sent_at[i])));
                    let g = group_of(d, i, rtts.len());
                    rtts[g].update(sample);
                    global.update(sample);
                }
            }
            results[i] = Some((o, now.saturating_sub(sent_at[i])));
            state[i] = DONE;
            resolved += 1;
        }
        // Expire silent probes: retransmit or give up.
        for (q, queue) in pending.iter_mut().enumerate() {
            while let Some(&(i, s)) = queue.front() {
                let iu = i as usize;
                if state[iu] != WAITING || sent_at[iu] != s {
                    queue.pop_front();
                    continue;
                }
                let g = group_of(d, iu, rtts.len());
                if read_up_to.saturating_sub(s) < rto(&rtts[g], &global, q) {
                    break;
                }
                queue.pop_front();
                outstanding -= 1;
                if u32::from(tries[iu]) <= t.retries {
                    state[iu] = REQUEUED;
                    retry.push_back(i);
                } else {
                    state[iu] = DONE;
                    resolved += 1;
                }
            }
        }
    }
    progress.set(resolved as u64);
    Outcomes {
        results,
        partial,
        rtt: global,
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
