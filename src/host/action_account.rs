//! Locking an account the way `usermod -L -e 1` does (the password hash
//! prefixed with `!`, the account expired), by editing the shadow file
//! under the password-file lock, so undo can put the exact line back.

use crate::error::{Error, Result};
use crate::host::action_file::replace_content;
use serde::{Deserialize, Serialize};
use std::path::Path;

extern "C" {
    // glibc's password-file lock (shadow.h); the libc crate does not bind it.
    fn lckpwdf() -> libc::c_int;
    fn ulckpwdf() -> libc::c_int;
}

/// Holds /etc/.pwd.lock while the shadow file is rewritten, as useradd and
/// passwd do, when the real /etc is edited.
struct PwLock(bool);

impl PwLock {
    fn take(root: &Path) -> Result<PwLock> {
        if root != Path::new("/") {
            return Ok(PwLock(false));
        }
        // SAFETY: lckpwdf takes no arguments and only creates and locks
        // /etc/.pwd.lock; it returns -1 on failure, checked here.
        if unsafe { lckpwdf() } != 0 {
            return Err(Error::io_msg(
                "/etc/.pwd.lock: cannot lock the password files (another tool is editing them?)",
            ));
        }
        Ok(PwLock(true))
    }
}

impl Drop for PwLock {
    fn drop(&mut self) {
        if self.0 {
            // SAFETY: releases the lock taken by lckpwdf in `take`.
            unsafe {
                ulckpwdf();
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccountLocked {
    pub user: String,
    pub shadow: String,
    /// The user's shadow line before and after (hashes included: they are
    /// what undo writes back; the journal lives in the root-only case).
    pub line_before: String,
    pub line_after: String,
    pub already_locked: bool,
}

fn shadow_path(root: &Path) -> std::path::PathBuf {
    root.join("etc/shadow")
}

/// Whether `user` has a shadow entry under `root`.
pub fn exists(user: &str, root: &Path) -> Result<bool> {
    let p = shadow_path(root);
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(p.display(), e))?;
    Ok(text.lines().any(|l| l.split(':').next() == Some(user)))
}

/// Whether `user` is locked as [`lock`] locks: password disabled (`!`) and
/// the account expired on day 1.
pub fn is_locked(user: &str, root: &Path) -> Result<bool> {
    let p = shadow_path(root);
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(p.display(), e))?;
    Ok(text.lines().any(|l| {
        let f: Vec<&str> = l.split(':').collect();
        f.first() == Some(&user) && f.len() >= 8 && f[1].starts_with('!') && f[7] == "1"
    }))
}

/// Locks `user`'s password and expires the account (day 1 of 1970).
pub fn lock(user: &str, root: &Path) -> Result<AccountLocked> {
    if user.is_empty() || user.contains(':') || user.contains('\n') {
        return Err(Error::invalid(format!(
            "user {user:?}: not an account name"
        )));
    }
    if user == "root" {
        return Err(Error::invalid(
            "user \"root\": refusing to lock root (the responder needs it)",
        ));
    }
    let _lock = PwLock::take(root)?;
    let p = shadow_path(root);
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(p.display(), e))?;
    let mut found = None;
    let mut out = String::with_capacity(text.len() + 2);
    for line in text.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        let mut f: Vec<&str> = body.split(':').collect();
        if f.first() == Some(&user) && found.is_none() && f.len() >= 8 {
            let pw = if f[1].starts_with('!') {
                f[1].to_string()
            } else {
                format!("!{}", f[1])
            };
            let already = f[1].starts_with('!') && f[7] == "1";
            f[1] = &pw;
            f[7] = "1";
            let after = f.join(":");
            out.push_str(&after);
            out.push_str(&line[body.len()..]);
            found = Some((body.to_string(), after, already));
        } else {
            out.push_str(line);
        }
    }
    let (before, after, already) = found
        .ok_or_else(|| Error::not_found(format!("user {user:?}: no entry in {}", p.display())))?;
    if !already {
        replace_content(&p, out.as_bytes())?;
    }
    Ok(AccountLocked {
        user: user.to_string(),
        shadow: p.display().to_string(),
        line_before: before,
        line_after: after,
        already_locked: already,
    })
}

/// Undoes [`lock`]: the line before goes back, when the line is still the
/// one the lock wrote.
pub fn unlock(r: &AccountLocked, root: &Path) -> Result<()> {
    if r.already_locked {
        return Ok(());
    }
    let _lock = PwLock::take(root)?;
    let p = shadow_path(root);
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(p.display(), e))?;
    let mut done = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        if !done && body == r.line_after {
            out.push_str(&r.line_before);
            out.push_str(&line[body.len()..]);
            done = true;
        } else {
            out.push_str(line);
        }
    }
    if !done {
        return Err(Error::invalid(format!(
            "user {:?}: the shadow entry changed since it was locked; unlock by hand (usermod -U)",
            r.user
        )));
    }
    replace_content(&p, out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_and_unlock_round_trip() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        let body = "root:$6$r:19000:0:99999:7:::\nsvc:$6$abc:19000:0:99999:7:::\nbob:*:19000:0:99999:7:::\n";
        std::fs::write(d.path().join("etc/shadow"), body).unwrap();
        assert!(!is_locked("svc", d.path()).unwrap());
        let r = lock("svc", d.path()).unwrap();
        let now = std::fs::read_to_string(d.path().join("etc/shadow")).unwrap();
        assert!(now.contains("svc:!$6$abc:19000:0:99999:7::1:\n"), "{now}");
        // The plan's test for a second lock item: locked as lock locks.
        assert!(is_locked("svc", d.path()).unwrap());
        assert!(!is_locked("bob", d.path()).unwrap(), "'*' alone is no lock");
        assert!(now.starts_with("root:$6$r:"));
        unlock(&r, d.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("etc/shadow")).unwrap(),
            body
        );
        assert!(lock("root", d.path()).is_err());
        assert_eq!(
            lock("nobody", d.path()).unwrap_err().kind,
            crate::ErrorKind::NotFound
        );
    }
}
