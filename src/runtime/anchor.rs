//! Anchors for the case journal. A hash chain that root on the same machine
//! can recompute proves little, so each new head is also
//! - printed to stderr, so it lands in the responder's terminal log;
//! - signed with an ed25519 key kept outside the case (`--sign-key FILE`,
//!   `HOUND_SIGN_KEY`), checked with `hound case verify DIR --pubkey FILE`;
//! - optionally sent to a remote syslog over UDP (`--syslog HOST:PORT`,
//!   `HOUND_SYSLOG`).
//!
//! Key files hold 32 bytes, raw or as 64 hex digits (a secret seed for
//! signing, a public key for verifying).

use crate::error::{Error, Result};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Mutex;

struct Config {
    key: Option<SigningKey>,
    syslog: Option<std::net::SocketAddr>,
    print: bool,
}

static CONFIG: Mutex<Config> = Mutex::new(Config {
    key: None,
    syslog: None,
    print: true,
});

fn read_32(path: &Path, what: &str) -> Result<[u8; 32]> {
    let raw = crate::host::fs::read::read_system(path, 4096, &mut |_| {})
        .map_err(|e| Error::io(path.display(), e))?;
    let text = String::from_utf8_lossy(&raw);
    let bytes = match hex::decode(text.trim()) {
        Ok(b) => b,
        Err(_) => raw,
    };
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        Error::invalid(format!(
            "{}: not an ed25519 {what} (32 bytes, raw or as 64 hex digits)",
            path.display()
        ))
        .with_hint(
            "make a signing key with: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > key",
        )
    })
}

/// Sets the anchors of this process's journals. `sign_key`: a secret seed
/// file; `syslog`: `HOST:PORT` of a UDP syslog receiver.
pub fn configure(sign_key: Option<&Path>, syslog: Option<&str>) -> Result<()> {
    let key = sign_key
        .map(|p| read_32(p, "signing key").map(|s| SigningKey::from_bytes(&s)))
        .transpose()?;
    let syslog = syslog
        .map(|a| {
            use std::net::ToSocketAddrs;
            a.to_socket_addrs()
                .ok()
                .and_then(|mut it| it.next())
                .ok_or_else(|| Error::invalid(format!("--syslog {a:?}: expected HOST:PORT")))
        })
        .transpose()?;
    if let Some(k) = &key {
        eprintln!(
            "hound: signing journal heads with ed25519 public key {} (keep it outside the case to verify)",
            hex::encode(k.verifying_key().as_bytes())
        );
    }
    if let Ok(mut c) = CONFIG.lock() {
        c.key = key;
        c.syslog = syslog;
    }
    Ok(())
}

/// Whether heads are printed to stderr (on unless a caller turns it off).
pub fn set_print(on: bool) {
    if let Ok(mut c) = CONFIG.lock() {
        c.print = on;
    }
}

/// The public key of a signing key file, as hex (`hound case pubkey`).
pub fn public_key_of(sign_key: &Path) -> Result<String> {
    let s = read_32(sign_key, "signing key")?;
    Ok(hex::encode(
        SigningKey::from_bytes(&s).verifying_key().as_bytes(),
    ))
}

/// What a signature covers: seq, hash and pending hash, one per line.
fn signed_text(head: &Value) -> String {
    format!(
        "hound-journal-head\n{}\n{}\n{}\n",
        head["seq"],
        head["hash"].as_str().unwrap_or_default(),
        head["pending"].as_str().unwrap_or_default()
    )
}

/// Adds the signature to a head about to be written and announces it
/// (stderr, syslog). `pending` heads (written just before an append) are
/// signed but not announced.
pub fn seal(dir: &Path, head: &mut Value) {
    let Ok(c) = CONFIG.lock() else {
        return;
    };
    if let Some(k) = &c.key {
        let sig = k.sign(signed_text(head).as_bytes());
        head["sig"] = json!(hex::encode(sig.to_bytes()));
        head["pubkey"] = json!(hex::encode(k.verifying_key().as_bytes()));
    }
    if !head["pending"].is_null() || head["seq"].is_null() {
        return;
    }
    let line = format!(
        "journal head {} {} {}",
        head["seq"],
        head["hash"].as_str().unwrap_or_default(),
        crate::output::escape(&dir.display().to_string())
    );
    if c.print {
        eprintln!("hound: {line}");
    }
    if let Some(addr) = c.syslog {
        // RFC 5424, facility local0, severity info.
        let msg = format!(
            "<134>1 {} {} hound {} - - {line}",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            crate::runtime::case::hostname(),
            std::process::id()
        );
        let bind = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        if let Ok(s) = std::net::UdpSocket::bind(bind) {
            let _ = s.send_to(msg.as_bytes(), addr);
        }
    }
}

/// Checks a head's signature against `pubkey` (a file). Returns a sentence
/// for the verify report.
pub fn check(head: &Value, pubkey: Option<&Path>) -> Result<String> {
    let sig = head["sig"].as_str();
    let Some(pk_path) = pubkey else {
        return Ok(match sig {
            Some(_) => format!(
                "the head is signed by key {} (not checked: pass --pubkey FILE with the key you kept)",
                head["pubkey"].as_str().unwrap_or("?")
            ),
            None => "no signature (unanchored: compare the head with the last `journal head` line in your terminal log or syslog)".into(),
        });
    };
    let pk = VerifyingKey::from_bytes(&read_32(pk_path, "public key")?)
        .map_err(|_| Error::invalid(format!("{}: not an ed25519 public key", pk_path.display())))?;
    let sig = sig.ok_or_else(|| {
        Error::invalid("the head is not signed, but a public key was given: it was replaced or the run had no --sign-key")
    })?;
    let sig = hex::decode(sig)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| Error::invalid("the head's signature is malformed"))?;
    pk.verify(signed_text(head).as_bytes(), &sig).map_err(|_| {
        Error::invalid(format!(
            "the head's signature does not verify with {} (the head or journal was rewritten)",
            pk_path.display()
        ))
    })?;
    Ok(format!(
        "the head's ed25519 signature verifies with {}",
        pk_path.display()
    ))
}
