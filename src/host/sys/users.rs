//! `sys::users` and `sys::authorized_keys`: accounts from `/etc/passwd` and
//! `/etc/shadow`, and the SSH keys that let someone back in.

use super::rel;
use crate::error::{Error, Result};
use crate::text::lossless;
use serde::Serialize;
use sha2::Digest;
use std::path::Path;

/// One account.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
    /// The shell is a real shell (not nologin, false, sync, ...).
    pub can_login: bool,
    /// uid 0: root, or an account with root's powers under another name.
    pub uid0: bool,
    /// `locked`, `none` (empty: no password needed), `set`, or `unknown`
    /// (shadow not readable).
    pub password: &'static str,
    /// Where the password hash lives: `shadow`, `passwd` (a hash right in
    /// /etc/passwd, an old persistence trick) or null.
    pub password_source: Option<&'static str>,
}

const NO_LOGIN_SHELLS: [&str; 6] = ["nologin", "false", "sync", "shutdown", "halt", "true"];

fn password_state(field: &str) -> &'static str {
    if field.is_empty() {
        "none"
    } else if field.starts_with('!') || field.starts_with('*') {
        "locked"
    } else {
        "set"
    }
}

/// `sys::users`: every account in `<root>/etc/passwd`.
pub fn users(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<Vec<User>> {
    let passwd_path = rel(root, "etc/passwd");
    let passwd = std::fs::read(&passwd_path).map_err(|e| Error::io(passwd_path.display(), e))?;
    let shadow_path = rel(root, "etc/shadow");
    let shadow = match std::fs::read(&shadow_path) {
        Ok(b) => Some(lossless(&b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            warn(&format!(
                "{}: {e}; password states are \"unknown\" (run as root to see them)",
                shadow_path.display()
            ));
            None
        }
    };
    let shadow_of = |name: &str| -> Option<String> {
        shadow.as_ref().and_then(|s| {
            s.lines()
                .map(|l| l.split(':'))
                .find_map(|mut f| (f.next() == Some(name)).then(|| f.next().unwrap_or("").into()))
        })
    };
    let mut out = Vec::new();
    for (i, raw) in lossless(&passwd).lines().enumerate() {
        let line = raw.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        let (Some(uid), Some(gid)) = (
            f.get(2).and_then(|s| s.parse::<u32>().ok()),
            f.get(3).and_then(|s| s.parse::<u32>().ok()),
        ) else {
            warn(&format!(
                "{} line {}: not a passwd entry",
                passwd_path.display(),
                i + 1
            ));
            continue;
        };
        let shell = f.get(6).copied().unwrap_or("").to_string();
        let base = shell.rsplit('/').next().unwrap_or("");
        let pw_field = f.get(1).copied().unwrap_or("");
        let (password, source) = match pw_field {
            "x" => match shadow_of(f[0]) {
                Some(s) => (password_state(&s), Some("shadow")),
                None => ("unknown", None),
            },
            other => (password_state(other), Some("passwd")),
        };
        out.push(User {
            name: f[0].to_string(),
            uid,
            gid,
            gecos: f.get(4).copied().unwrap_or("").into(),
            home: f.get(5).copied().unwrap_or("").into(),
            can_login: !shell.is_empty() && !NO_LOGIN_SHELLS.contains(&base),
            shell,
            uid0: uid == 0,
            password,
            password_source: source,
        });
    }
    Ok(out)
}

/// One line of an `authorized_keys` file.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorizedKey {
    pub user: String,
    pub file: String,
    pub line: usize,
    pub key_type: String,
    pub comment: String,
    /// Options before the key (`command="..."`, `from="..."`), or empty.
    pub options: String,
    /// `SHA256:...` as `ssh-keygen -l` prints it, or null when the key does
    /// not decode.
    pub fingerprint: Option<String>,
}

/// Splits the leading options field, which may hold quoted spaces.
fn split_options(line: &str) -> (&str, &str) {
    let looks_like_key = |s: &str| {
        s.starts_with("ssh-")
            || s.starts_with("ecdsa-")
            || s.starts_with("sk-")
            || s.starts_with("rsa-")
    };
    if looks_like_key(line) {
        return ("", line);
    }
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return (&line[..i], line[i..].trim_start()),
            _ => {}
        }
    }
    ("", line)
}

/// Parses an authorized_keys line (without a trailing newline).
pub fn parse_key_line(line: &str) -> Option<(String, String, String, Option<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (options, rest) = split_options(line);
    let mut parts = rest.splitn(3, [' ', '\t']);
    let key_type = parts.next()?.to_string();
    let blob = parts.next().unwrap_or("");
    let comment = parts.next().unwrap_or("").trim().to_string();
    let fingerprint = base64_decode(blob).map(|b| {
        let d = sha2::Sha256::digest(&b);
        format!("SHA256:{}", base64_encode(&d))
    });
    Some((options.to_string(), key_type, comment, fingerprint))
}

/// `sys::authorized_keys`: every key in every account's
/// `~/.ssh/authorized_keys` and `authorized_keys2`.
pub fn authorized_keys(root: &Path, warn: &mut dyn FnMut(&str)) -> Result<Vec<AuthorizedKey>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for u in users(root, warn)? {
        if u.home.is_empty() {
            continue;
        }
        for name in ["authorized_keys", "authorized_keys2"] {
            let shown = format!("{}/.ssh/{name}", u.home.trim_end_matches('/'));
            let p = rel(root, &shown);
            // Accounts sharing a home (/, /nonexistent) would list it twice.
            if !seen.insert(p.clone()) {
                continue;
            }
            let text = match std::fs::read(&p) {
                Ok(b) => lossless(&b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
                Err(e) => {
                    warn(&format!("{}: {e}", p.display()));
                    continue;
                }
            };
            for (i, l) in text.lines().enumerate() {
                if let Some((options, key_type, comment, fingerprint)) = parse_key_line(l) {
                    out.push(AuthorizedKey {
                        user: u.name.clone(),
                        file: shown.clone(),
                        line: i + 1,
                        key_type,
                        comment,
                        options,
                        fingerprint,
                    });
                }
            }
        }
    }
    Ok(out)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 without padding, as OpenSSH prints fingerprints.
fn base64_encode(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() * 4 / 3 + 3);
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |a, (i, &x)| a | (x as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    if s.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for (s, e) in [
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(s.as_bytes()), e);
            assert_eq!(base64_decode(e).unwrap(), s.as_bytes());
        }
        assert!(base64_decode("not base64!").is_none());
    }

    #[test]
    fn key_lines_with_options() {
        let (o, t, c, f) =
            parse_key_line(r#"command="/bin/echo \"hi there\"",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@box"#).unwrap();
        assert_eq!(o, r#"command="/bin/echo \"hi there\"",no-pty"#);
        assert_eq!(t, "ssh-ed25519");
        assert_eq!(c, "me@box");
        assert!(f.unwrap().starts_with("SHA256:"));
        assert!(parse_key_line("# comment").is_none());
    }
}
