//! Refuses blocks that would lock the responder out: inbound from the
//! host's own addresses, from everywhere (`0.0.0.0/0`, `::/0`), or any
//! block covering the SSH client this session comes from. `force: true`
//! overrides (`fw::isolate` is the tool for cutting a host off).

use super::target::{Block, Direction};
use crate::error::{Error, Result};
use std::net::IpAddr;

fn own_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|a| {
            let s = a.address?;
            if let Some(v4) = s.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

/// Checks every block; the error names the first that would lock out.
pub fn check(blocks: &[Block], force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    let ssh = super::isolate::ssh_session().map(|(ip, _, _)| ip);
    let own = own_addresses();
    for b in blocks {
        let inbound = b.direction == Direction::In;
        let why = if b.net.prefix_len() == 0 && b.proto_port.is_none() {
            Some("blocks every address (use fw::isolate to cut the host off while keeping your path)".to_string())
        } else if let Some(ip) = ssh.filter(|ip| b.net.contains(ip)) {
            Some(format!(
                "covers {ip}, the address your SSH session comes from (SSH_CONNECTION)"
            ))
        } else {
            own.iter()
                .find(|ip| inbound && b.net.contains(*ip))
                .map(|ip| format!("covers {ip}, an address of this host, inbound"))
        };
        if let Some(why) = why {
            return Err(Error::invalid(format!(
                "target {} ({}): {why}; refusing to lock you out",
                b.net,
                b.direction.as_str()
            ))
            .with_hint("pass #{ force: true } if that is really meant"));
        }
    }
    Ok(())
}

/// A comment nft stores and prints back so that the saved ruleset still
/// loads: no quotes, backslashes or control and bidi characters, and at most
/// 120 bytes (nft's limit is 128 with the terminator), cut at a character.
pub fn comment(c: &str) -> String {
    let clean: String = c
        .chars()
        .map(|ch| {
            if ch == '"'
                || ch == '\\'
                || ch == ';'
                || crate::output::escape(&ch.to_string()) != ch.to_string()
            {
                '_'
            } else {
                ch
            }
        })
        .collect();
    let mut end = clean.len().min(120);
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    clean[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_stay_loadable() {
        assert_eq!(comment("bot C2"), "bot C2");
        assert_eq!(comment("x\"; flush ruleset;"), "x__ flush ruleset_");
        let long = comment(&"é".repeat(120));
        assert!(long.len() <= 120 && long.chars().all(|c| c == 'é'));
        assert_eq!(comment("a\x1b[31m\u{202e}b"), "a_[31m_b");
    }

    #[test]
    fn lockouts_are_refused_unless_forced() {
        let b = |s: &str, d| Block {
            net: super::super::target::parse_net(s).unwrap(),
            direction: d,
            proto_port: None,
        };
        assert!(check(&[b("0.0.0.0/0", Direction::In)], false).is_err());
        assert!(check(&[b("127.0.0.1", Direction::In)], false)
            .unwrap_err()
            .message
            .contains("an address of this host"));
        assert!(check(&[b("127.0.0.1", Direction::Out)], false).is_ok());
        assert!(check(&[b("0.0.0.0/0", Direction::In)], true).is_ok());
        assert!(check(&[b("192.0.2.7", Direction::In)], false).is_ok());
    }
}
