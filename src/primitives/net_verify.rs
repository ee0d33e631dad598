//! `net::probe`: did containment work, and do the services still answer?

use crate::host::fw;
use crate::primitives::{args, ctx, to_dyn, IntoRhai, RhaiResult};
use rhai::plugin::*;
use rhai::Dynamic;
use std::time::Duration;

fn probe_impl(
    nc: &NativeCallContext,
    ip: &str,
    port: i64,
    timeout: Duration,
) -> RhaiResult<Dynamic> {
    const P: &str = "net::probe";
    let c = ctx(nc, P)?;
    let addr: std::net::IpAddr = ip
        .trim()
        .parse()
        .map_err(|_| args::bad(P, format!("ip: {ip:?} is not an IP address")))?;
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| args::bad(P, format!("port: {port} is out of range 1..=65535")))?;
    let r = c
        .block_on(async { Ok(fw::probe::verify(addr, port, timeout).await) })
        .rhai(P)?;
    to_dyn(&r)
}

#[export_module]
pub mod net_verify_fns {
    use super::*;

    /// One TCP connect to `ip:port` (timeout 2 s): `#{ip, port, state,
    /// reason, rtt_ms}` with `state` one of `open`, `closed` (the host
    /// answered RST), `filtered` (silence or unreachable) or `blocked`
    /// (refused by a local firewall rule, or dropped by a hound block, whose
    /// counter is named in `reason`).
    ///
    /// ```rhai
    /// // no_run
    /// net::probe("10.0.0.196", 80).state == "blocked"
    /// ```
    ///
    /// Returns: map
    #[rhai_fn(name = "probe", return_raw)]
    pub fn probe(nc: NativeCallContext, ip: &str, port: i64) -> RhaiResult<Dynamic> {
        probe_impl(&nc, ip, port, Duration::from_secs(2))
    }

    /// `net::probe(ip, port, timeout)`: timeout in seconds or `"500ms"`.
    ///
    /// ```rhai
    /// // no_run
    /// net::probe("172.20.0.10", 22, "500ms")
    /// ```
    ///
    /// Params: timeout: int|float|string
    #[rhai_fn(name = "probe", return_raw)]
    pub fn probe_timeout(
        nc: NativeCallContext,
        ip: &str,
        port: i64,
        timeout: Dynamic,
    ) -> RhaiResult<Dynamic> {
        let t = args::duration("net::probe", "timeout", &timeout)?;
        probe_impl(&nc, ip, port, t)
    }
}
