//! Talking to nftables: JSON batches applied through the `nftables` crate
//! (`nft -j -f -`, one batch = one transaction) and JSON read back.

use crate::error::{Error, ErrorKind, Result};
use nftables::helper::{self, NftablesError};
use serde_json::{json, Value};

/// The table hound owns. Tests (and careful operators) may choose another
/// name with HOUND_FW_TABLE; it is always family `inet`.
pub fn table_name() -> String {
    std::env::var("HOUND_FW_TABLE")
        .ok()
        .filter(|t| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
        .unwrap_or_else(|| "hound".to_string())
}

fn map_err(e: NftablesError, doing: &str) -> Error {
    match e {
        NftablesError::NftExecution { inner, .. }
            if inner.kind() == std::io::ErrorKind::NotFound =>
        {
            Error::unsupported(format!("{doing}: the `nft` command is not installed"))
                .with_hint("install nftables (apt-get install nftables)")
        }
        NftablesError::NftExecution { inner, .. } => Error::io(doing, inner),
        NftablesError::NftFailed { stderr, .. } => {
            let msg = stderr.trim().to_string();
            let mut err = Error::io_msg(format!("{doing}: {msg}"));
            if msg.contains("Operation not permitted") {
                err.kind = ErrorKind::PermissionDenied;
                err.hint = Some("changing the firewall needs root (CAP_NET_ADMIN)".into());
            } else if msg.contains("Protocol not supported") || msg.contains("not supported") {
                err.kind = ErrorKind::Unsupported;
                err.hint = Some("this kernel lacks nftables support (nf_tables module)".into());
            } else if msg.contains("No such file or directory") {
                err.kind = ErrorKind::NotFound;
            }
            err
        }
        other => Error::io_msg(format!("{doing}: {other}")),
    }
}

/// Applies a batch of commands atomically: all or nothing.
pub fn apply(commands: &[Value]) -> Result<()> {
    let payload = json!({ "nftables": commands }).to_string();
    helper::apply_ruleset_raw(&payload, helper::DEFAULT_NFT, helper::DEFAULT_ARGS)
        .map(|_| ())
        .map_err(|e| map_err(e, "applying the nftables batch"))
}

fn list(args: &[&str], doing: &str) -> Result<Vec<Value>> {
    let out = helper::get_current_ruleset_raw(helper::DEFAULT_NFT, args)
        .map_err(|e| map_err(e, doing))?;
    let v: Value = serde_json::from_str(&out)
        .map_err(|e| Error::io_msg(format!("{doing}: nft printed invalid JSON: {e}")))?;
    Ok(v["nftables"].as_array().cloned().unwrap_or_default())
}

/// The objects of hound's table, or `None` when it does not exist. Only our
/// table is read: the crate cannot model every rule others may have.
pub fn list_table(table: &str) -> Result<Option<Vec<Value>>> {
    match list(
        &["list", "table", "inet", table],
        "reading hound's nftables table",
    ) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The whole ruleset as nft's JSON objects (read-only, taken as it comes).
pub fn list_ruleset() -> Result<Vec<Value>> {
    list(&["list", "ruleset"], "reading the nftables ruleset")
}

/// The ruleset as nft prints it, for byte-for-byte comparisons.
pub fn ruleset_text() -> Result<String> {
    let out = std::process::Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .map_err(|e| Error::io("running nft", e))?;
    if !out.status.success() {
        return Err(Error::io_msg(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
