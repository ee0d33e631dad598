//! passwd, shadow-less accounts, crontabs, cron.d and authorized_keys as a
//! local user could write them, read through the real entry points from a
//! scratch root.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(t) = tempfile::tempdir() else { return };
    let r = t.path();
    let parts: Vec<&[u8]> = data.splitn(3, |b| *b == 0).collect();
    let _ = std::fs::create_dir_all(r.join("etc/cron.d"));
    let _ = std::fs::create_dir_all(r.join("home/u/.ssh"));
    let mut passwd = b"u:x:1000:1000::/home/u:/bin/sh\n".to_vec();
    passwd.extend_from_slice(parts.first().copied().unwrap_or_default());
    let _ = std::fs::write(r.join("etc/passwd"), passwd);
    let _ = std::fs::write(r.join("etc/crontab"), parts.get(1).copied().unwrap_or_default());
    let _ = std::fs::write(r.join("etc/cron.d/x"), parts.get(1).copied().unwrap_or_default());
    let _ = std::fs::write(r.join("home/u/.ssh/authorized_keys"), parts.get(2).copied().unwrap_or_default());
    let mut w = |_: &str| {};
    let _ = hound::host::sys::users::users(r, &mut w);
    let _ = hound::host::sys::persist::crontabs(r, &mut w);
    let _ = hound::host::sys::users::authorized_keys(r, &mut w);
    for l in String::from_utf8_lossy(data).split([':', '\n']) {
        let _ = hound::host::sys::users::glibc_id(l);
    }
});
