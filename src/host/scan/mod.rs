//! Host layer for `scan::`: host discovery (ARP, ICMP echo, TCP probes,
//! connect fallback), TCP port scans (raw SYN, connect) and service
//! identification. Plain Rust; the Rhai bindings live in
//! `primitives/scan.rs`. User documentation: `docs/scan.md`.

pub mod connect;
pub mod discover;
pub mod engine;
pub mod oui;
pub mod packet;
pub mod rtt;
pub mod run;
pub mod services;
pub mod sock;
pub mod spec;
pub mod syn;
pub mod tls;

use serde::Serialize;
use std::time::Duration;

/// A progress bar on stderr when the run is interactive; a no-op otherwise.
#[derive(Clone, Default)]
pub struct Progress(Option<indicatif::ProgressBar>, u64);

impl Progress {
    pub fn new(interactive: bool, total: u64, what: &str) -> Self {
        if !interactive {
            return Progress(None, 0);
        }
        // Cleared also when dropped unfinished (an error, Ctrl-C).
        let pb = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr_with_hz(10),
        )
        .with_finish(indicatif::ProgressFinish::AndClear);
        if let Ok(st) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})",
        ) {
            pb.set_style(st.progress_chars("=> "));
        }
        pb.set_message(what.to_string());
        Progress(Some(pb), 0)
    }
    pub fn none() -> Self {
        Progress(None, 0)
    }
    /// The same bar, counting from `base` (for work done in batches).
    pub fn offset(&self, base: u64) -> Self {
        Progress(self.0.clone(), base)
    }
    pub fn set(&self, n: u64) {
        if let Some(pb) = &self.0 {
            pb.set_position(self.1 + n);
        }
    }
    pub fn inc(&self, n: u64) {
        if let Some(pb) = &self.0 {
            pb.inc(n);
        }
    }
    pub fn finish(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn ms(us: u32) -> f64 {
    (f64::from(us) / 10.0).round() / 100.0
}

/// One live host.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostResult {
    pub ip: String,
    /// Link-layer address (ARP, or the local interface), lower case.
    pub mac: Option<String>,
    /// Organisation registered for the MAC's prefix (IEEE).
    pub vendor: Option<String>,
    /// What saw it: `arp`, `icmp-echo`, `tcp`, `tcp-connect`, `local`.
    pub method: String,
    pub rtt_ms: Option<f64>,
    #[serde(skip_serializing_if = "is_false")]
    pub partial: bool,
}

/// One scanned TCP port.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortResult {
    pub ip: String,
    pub port: u16,
    pub proto: &'static str,
    /// `open`, `closed` or `filtered`.
    pub state: &'static str,
    /// `syn-ack`, `rst`, `conn-refused`, `icmp-unreachable`, `timeout`.
    pub reason: &'static str,
    pub rtt_ms: Option<f64>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub service: Option<services::ServiceInfo>,
    #[serde(skip_serializing_if = "is_false")]
    pub partial: bool,
}

/// How ports are probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortMethod {
    /// SYN when raw sockets are allowed, else connect (with a warning).
    Auto,
    Syn,
    Connect,
}

/// Options for port scans (and the port stage of `services`).
#[derive(Debug, Clone)]
pub struct PortOpts {
    pub method: PortMethod,
    /// Upper bound of the adaptive timeout.
    pub timeout: Duration,
    pub retries: u32,
    /// Packets per second for SYN scans (0 = unlimited).
    pub rate: u64,
    /// Probes in flight (SYN) or connections at once (connect); `None` picks.
    pub concurrency: Option<usize>,
    pub source_port: Option<u16>,
}

impl Default for PortOpts {
    fn default() -> Self {
        PortOpts {
            method: PortMethod::Auto,
            timeout: Duration::from_millis(1000),
            retries: 1,
            rate: 0,
            concurrency: None,
            source_port: None,
        }
    }
}
