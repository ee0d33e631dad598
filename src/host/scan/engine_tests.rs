//! The send/receive loop against a fake driver: no sockets, every answer
//! scripted, so retransmission, timeouts, duplicate and late replies,
//! Karn's rule and cancellation are checked deterministically. Timeouts
//! are a few milliseconds, so each run takes well under a second.

use super::*;

/// How the fake network treats one item.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Net {
    /// Answers every probe at once.
    Answer,
    /// Never answers.
    Drop,
    /// Drops the first probe, answers the retransmission.
    DropFirst,
    /// Answers the first probe only after the delay, and answers the
    /// retransmission at once: the late reply arrives after it was sent.
    Late(Duration),
    /// Answers every probe twice.
    Twice,
    /// The send fails for good (unroutable).
    SendFails,
    /// The first send finds the queue full.
    BlockOnce,
}

struct Fake {
    net: Vec<Net>,
    sends: Vec<u32>,
    first_sent: Vec<Option<Instant>>,
    /// Answers due, with the time they become visible.
    due: Vec<(Instant, usize)>,
    /// Replies for items that do not exist.
    stray: bool,
    blocked: Vec<bool>,
    /// Cancels `token` once this many probes went out.
    cancel_after: Option<(u32, CancelToken)>,
    total_sends: u32,
    /// Sends only queue; `flush` sends them after this stall (a sender
    /// thread that was descheduled).
    flush_stall: Option<Duration>,
    queued: Vec<usize>,
    /// The first drain is descheduled this long after it read.
    drain_stall: Option<Duration>,
}

impl Fake {
    fn new(net: Vec<Net>) -> Self {
        let n = net.len();
        Fake {
            net,
            sends: vec![0; n],
            first_sent: vec![None; n],
            due: Vec::new(),
            stray: false,
            blocked: vec![false; n],
            cancel_after: None,
            total_sends: 0,
            flush_stall: None,
            queued: Vec::new(),
            drain_stall: None,
        }
    }

    /// Puts probe `i` on the fake wire now.
    fn put(&mut self, i: usize) -> std::io::Result<()> {
        let now = Instant::now();
        match self.net[i] {
            Net::SendFails => {
                self.sends[i] += 1;
                return Err(std::io::Error::other("unroutable"));
            }
            Net::BlockOnce if !self.blocked[i] => {
                self.blocked[i] = true;
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            _ => {}
        }
        self.sends[i] += 1;
        self.total_sends += 1;
        let first = self.sends[i] == 1;
        if first {
            self.first_sent[i] = Some(now);
        }
        match self.net[i] {
            Net::Answer | Net::BlockOnce => self.due.push((now, i)),
            Net::Twice => {
                self.due.push((now, i));
                self.due.push((now, i));
            }
            Net::DropFirst if !first => self.due.push((now, i)),
            Net::Late(d) if first => self.due.push((now + d, i)),
            Net::Late(_) => self.due.push((now, i)),
            _ => {}
        }
        if let Some((k, tok)) = &self.cancel_after {
            if self.total_sends >= *k {
                tok.cancel();
            }
        }
        Ok(())
    }
}

impl Driver for Fake {
    type Outcome = u8;

    fn send(&mut self, i: usize) -> std::io::Result<()> {
        if self.flush_stall.is_some() {
            self.queued.push(i);
            return Ok(());
        }
        self.put(i)
    }

    fn flush(&mut self) {
        if let Some(stall) = self.flush_stall {
            if !self.queued.is_empty() {
                std::thread::sleep(stall);
            }
            for i in std::mem::take(&mut self.queued) {
                let _ = self.put(i);
            }
        }
    }

    fn fds(&self) -> Vec<RawFd> {
        Vec::new()
    }

    fn drain(&mut self, out: &mut Vec<(usize, u8)>) {
        let now = Instant::now();
        self.due.retain(|&(at, i)| {
            if at <= now {
                out.push((i, i as u8));
                false
            } else {
                true
            }
        });
        if self.stray {
            out.push((usize::MAX, 0));
            out.push((self.net.len(), 0));
        }
        if let Some(stall) = self.drain_stall.take() {
            std::thread::sleep(stall);
        }
    }
}

fn tuning(retries: u32, window: usize) -> Tuning {
    Tuning {
        rate: 0,
        window,
        retries,
        initial_rto: Duration::from_millis(20),
        min_rto: Duration::from_millis(5),
        retry_min_rto: Duration::from_millis(5),
        max_rto: Duration::from_millis(40),
    }
}

fn go(d: &mut Fake, t: &Tuning) -> Outcomes<u8> {
    let n = d.net.len();
    run(d, n, t, &CancelToken::new(), &Progress::none())
}

#[test]
fn answered_items_resolve_once_and_silent_ones_are_retried_then_dropped() {
    let mut net = vec![Net::Answer; 50];
    net[7] = Net::Drop;
    net[30] = Net::Drop;
    let mut d = Fake::new(net);
    let o = go(&mut d, &tuning(2, 16));
    assert!(!o.partial);
    for (i, r) in o.results.iter().enumerate() {
        if i == 7 || i == 30 {
            assert!(r.is_none(), "item {i}");
            assert_eq!(d.sends[i], 3, "item {i}: first try and 2 retries");
        } else {
            assert_eq!(r.map(|x| x.0), Some(i as u8), "item {i}");
            assert_eq!(d.sends[i], 1, "item {i} answered: never resent");
        }
    }
    assert_eq!(o.rtt.samples(), 48);
}

#[test]
fn no_retries_means_one_probe() {
    let mut d = Fake::new(vec![Net::Drop; 5]);
    let o = go(&mut d, &tuning(0, 16));
    assert!(o.results.iter().all(Option::is_none));
    assert_eq!(d.sends, [1; 5]);
}

#[test]
fn a_retransmission_can_be_answered_but_is_never_sampled() {
    let mut d = Fake::new(vec![Net::DropFirst; 10]);
    let o = go(&mut d, &tuning(1, 4));
    assert!(o.results.iter().all(Option::is_some));
    assert_eq!(d.sends, [2; 10]);
    // Karn's rule: an answer to a resent probe is ambiguous.
    assert_eq!(o.rtt.samples(), 0);
}

#[test]
fn a_late_reply_after_the_retransmission_counts_once() {
    // Far beyond the 40 ms ceiling, so a busy machine cannot reorder it.
    let late = Net::Late(Duration::from_millis(300));
    let mut d = Fake::new(vec![late, Net::Answer, late, Net::Answer]);
    let o = go(&mut d, &tuning(1, 16));
    assert!(o.results.iter().all(Option::is_some));
    // The late items were resent (their timeout is at most 40 ms) and
    // answered by the retransmission; the first reply, arriving later, is
    // a duplicate and ignored.
    assert_eq!(d.sends, [2, 1, 2, 1]);
    assert_eq!(o.rtt.samples(), 2);
}

#[test]
fn duplicate_and_stray_replies_are_ignored() {
    let mut d = Fake::new(vec![Net::Twice; 20]);
    d.stray = true;
    let o = go(&mut d, &tuning(1, 3));
    assert!(o
        .results
        .iter()
        .enumerate()
        .all(|(i, r)| r.map(|x| x.0) == Some(i as u8)));
    assert_eq!(d.sends, [1; 20]);
    assert_eq!(o.rtt.samples(), 20);
}

#[test]
fn failed_and_blocked_sends() {
    let mut d = Fake::new(vec![Net::SendFails, Net::BlockOnce, Net::Answer]);
    let o = go(&mut d, &tuning(3, 16));
    assert!(o.results[0].is_none());
    assert_eq!(d.sends[0], 1, "a local failure is final");
    assert!(o.results[1].is_some(), "a full queue is tried again");
    assert!(o.results[2].is_some());
}

#[test]
fn the_window_bounds_probes_in_flight() {
    // Everything silent, window 4: no probe can time out before the blind
    // 20 ms, so at most 4 go out in that time; all go out eventually.
    let mut d = Fake::new(vec![Net::Drop; 12]);
    let o = go(&mut d, &tuning(0, 4));
    assert!(o.results.iter().all(Option::is_none));
    assert_eq!(d.sends, [1; 12]);
    let times: Vec<Instant> = d.first_sent.iter().flatten().copied().collect();
    let t0 = times.iter().min().copied();
    let early = times
        .iter()
        .filter(|t| t0.is_some_and(|t0| t.duration_since(t0) < Duration::from_millis(20)))
        .count();
    assert!(early <= 4, "{early} probes in flight at once");
}

#[test]
fn cancellation_stops_the_run_with_partial_results() {
    // 10,000 silent items with a window of 8 would take minutes; the run is
    // cancelled after 20 probes and must stop within a few timeouts.
    let tok = CancelToken::new();
    let mut d = Fake::new(vec![Net::Drop; 10_000]);
    d.cancel_after = Some((20, tok.clone()));
    let started = Instant::now();
    let o = run(&mut d, 10_000, &tuning(1, 8), &tok, &Progress::none());
    assert!(o.partial);
    assert!(d.total_sends < 200, "{} probes after cancel", d.total_sends);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_seeded_group_starts_from_its_measured_round_trip() {
    struct Seeded(Fake);
    impl Driver for Seeded {
        type Outcome = u8;
        fn send(&mut self, i: usize) -> std::io::Result<()> {
            self.0.send(i)
        }
        fn fds(&self) -> Vec<RawFd> {
            Vec::new()
        }
        fn drain(&mut self, out: &mut Vec<(usize, u8)>) {
            self.0.drain(out)
        }
        fn seed_rtt(&self, _g: usize) -> Option<u32> {
            Some(1)
        }
    }
    // Seeded with 1 µs, the first timeout is the 5 ms floor, not the blind
    // 2 s: a reply after 300 ms comes after the retransmission.
    let t = Tuning {
        initial_rto: Duration::from_secs(2),
        max_rto: Duration::from_secs(2),
        ..tuning(1, 1)
    };
    let mut d = Seeded(Fake::new(vec![Net::Late(Duration::from_millis(300))]));
    let o = run(&mut d, 1, &t, &CancelToken::new(), &Progress::none());
    assert!(o.results[0].is_some());
    assert_eq!(d.0.sends, [2]);
}

#[test]
fn only_the_last_try_waits_the_full_floor() {
    // Blind timeout 5 ms for a try that will be resent, 1 s floor for the
    // last: an answer after 300 ms comes after the early retransmission
    // (and answers it), and within the last try's wait when there is none.
    let t = |retries| Tuning {
        initial_rto: Duration::from_millis(5),
        min_rto: Duration::from_secs(1),
        retry_min_rto: Duration::from_millis(5),
        max_rto: Duration::from_secs(1),
        ..tuning(retries, 4)
    };
    let late = Net::Late(Duration::from_millis(300));
    let mut d = Fake::new(vec![late]);
    assert!(go(&mut d, &t(1)).results[0].is_some());
    assert_eq!(d.sends, [2]);
    let mut d = Fake::new(vec![late]);
    assert!(go(&mut d, &t(0)).results[0].is_some());
    assert_eq!(d.sends, [1]);
}

/// One try, its timeout fixed at `rto`.
fn one_try(rto: Duration) -> Tuning {
    Tuning {
        initial_rto: rto,
        min_rto: rto,
        retry_min_rto: rto,
        max_rto: rto,
        ..tuning(0, 16)
    }
}

#[test]
fn a_probe_is_timed_from_when_it_went_out_not_when_it_was_queued() {
    // The driver sends a burst 100 ms after it was queued (its sender
    // thread descheduled, on a loaded machine); each answer comes 5 ms
    // after the send. Timed from the queueing, the 20 ms timeout had
    // passed before the probes left, and every answer was lost.
    let mut d = Fake::new(vec![Net::Late(Duration::from_millis(5)); 4]);
    d.flush_stall = Some(Duration::from_millis(100));
    let o = go(&mut d, &one_try(Duration::from_millis(20)));
    assert!(o.results.iter().all(Option::is_some), "{:?}", d.sends);
    assert_eq!(d.sends, [1; 4]);
}

#[test]
fn a_stall_after_reading_does_not_expire_a_probe_answered_meanwhile() {
    // The answer comes 30 ms after the send, within the 60 ms timeout,
    // while hound sits descheduled for 200 ms right after a read that
    // found nothing: silence is known only up to that read, so the next
    // one finds the answer.
    let mut d = Fake::new(vec![Net::Late(Duration::from_millis(30))]);
    d.drain_stall = Some(Duration::from_millis(200));
    let o = go(&mut d, &one_try(Duration::from_millis(60)));
    assert!(o.results[0].is_some());
    assert_eq!(d.sends, [1]);
}
