//! The round-trip estimator of the scans (RFC 6298, as nmap's): a smoothed
//! round trip and its variation, and a timeout of srtt + 4·rttvar clamped
//! to the caller's bounds. Karn's rule (sample only probes sent once) is
//! the caller's: only it knows how often a probe went out.

use std::time::Duration;

/// Smoothed round trip and variation, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rtt {
    srtt: f64,
    rttvar: f64,
    samples: u64,
}

impl Rtt {
    /// Feeds one measured round trip. The first sets srtt to it and rttvar
    /// to half of it; later ones move them by 1/8 and 1/4.
    pub fn update(&mut self, sample: Duration) {
        let r = sample.as_secs_f64() * 1e6;
        if self.samples == 0 {
            self.srtt = r;
            self.rttvar = r / 2.0;
        } else {
            self.rttvar = 0.75 * self.rttvar + 0.25 * (self.srtt - r).abs();
            self.srtt = 0.875 * self.srtt + 0.125 * r;
        }
        self.samples += 1;
    }

    pub fn samples(&self) -> u64 {
        self.samples
    }

    pub fn srtt(&self) -> Duration {
        Duration::from_secs_f64(self.srtt / 1e6)
    }

    /// srtt + 4·rttvar within `[min, max]`; `initial` (clamped too) before
    /// any sample.
    pub fn timeout(&self, initial: Duration, min: Duration, max: Duration) -> Duration {
        let t = if self.samples == 0 {
            initial
        } else {
            Duration::from_secs_f64((self.srtt + 4.0 * self.rttvar) / 1e6)
        };
        t.clamp(min, max.max(min))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const MIN: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    #[test]
    fn before_any_sample_the_initial_timeout_holds() {
        let r = Rtt::default();
        assert_eq!(r.samples(), 0);
        assert_eq!(r.timeout(200 * MS, MIN, MAX), 200 * MS);
        assert_eq!(r.timeout(5 * MAX, MIN, MAX), MAX, "initial clamped too");
    }

    #[test]
    fn first_sample_gives_three_times_it() {
        let mut r = Rtt::default();
        r.update(10 * MS);
        // srtt 10 ms, rttvar 5 ms: 10 + 4·5.
        assert_eq!(r.srtt(), 10 * MS);
        assert_eq!(r.timeout(MAX, MIN, MAX), 30 * MS);
    }

    #[test]
    fn steady_samples_converge_on_the_round_trip() {
        let mut r = Rtt::default();
        r.update(100 * MS);
        for _ in 0..200 {
            r.update(2 * MS);
        }
        let srtt = r.srtt().as_secs_f64();
        assert!((srtt - 0.002).abs() < 1e-6, "srtt {srtt}");
        // The variation decays too, down to the floor.
        assert_eq!(r.timeout(MAX, MIN, MAX), MIN);
        assert_eq!(r.samples(), 201);
    }

    #[test]
    fn timeout_is_clamped_both_ways() {
        let mut slow = Rtt::default();
        slow.update(Duration::from_secs(3));
        assert_eq!(slow.timeout(MS, MIN, MAX), MAX);
        let mut fast = Rtt::default();
        fast.update(Duration::from_micros(10));
        assert_eq!(fast.timeout(MS, MIN, MAX), MIN);
    }

    #[test]
    fn a_jitter_widens_the_timeout() {
        let mut steady = Rtt::default();
        let mut jumpy = Rtt::default();
        for i in 0..20u32 {
            steady.update(10 * MS);
            jumpy.update(if i % 2 == 0 { 2 * MS } else { 18 * MS });
        }
        let big = Duration::from_secs(10);
        assert!(jumpy.timeout(MS, MS, big) > steady.timeout(MS, MS, big));
    }
}
