//! `fs::read`, `head`, `tail`, `grep`, `hash`: reading file contents with
//! bounded memory. Logs on a compromised host can be huge (or made huge on
//! purpose), so nothing here loads a whole file unless asked for its bytes.

use super::find::{find, Filter};
use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::text::lossless;
use serde::Serialize;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Block size for reading backwards and for streaming hashes.
const BLOCK: usize = 64 * 1024;

/// `tail` gives up growing its window past this (a file whose last line is
/// gigabytes long) and returns what it has, with a warning.
const TAIL_MAX_BYTES: u64 = 64 << 20;

fn shown(p: &Path) -> String {
    lossless(p.as_os_str().as_bytes())
}

/// Lines longer than this are cut (the rest of the line is skipped), so a
/// multi-gigabyte file without newlines cannot exhaust memory.
pub const MAX_LINE: usize = 1 << 20;

/// Opens a regular file for reading. Without `O_NONBLOCK` a fifo planted
/// where a log should be would hang the hunt in `open`; the type is checked
/// on the opened descriptor, so swapping the file in between does not help.
/// `allow_devices` lets bounded reads (`fs::read`) take character devices.
pub fn open_regular(path: &Path, allow_devices: bool) -> Result<File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| Error::io(shown(path), e))?;
    let ft = f
        .metadata()
        .map_err(|e| Error::io(shown(path), e))?
        .file_type();
    if ft.is_file() || (allow_devices && ft.is_char_device()) {
        return Ok(f);
    }
    Err(Error::invalid(format!(
        "{} is a {}, not a regular file",
        shown(path),
        super::type_name(ft)
    )))
}

fn open(path: &Path) -> Result<File> {
    open_regular(path, false)
}

/// `read_until(b'\n')` that keeps at most `cap` bytes of a line (the rest
/// is consumed and dropped). Returns the bytes consumed; 0 at the end.
pub fn read_line_capped<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(total);
        }
        let (n, done) = match avail.iter().position(|&c| c == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(&avail[..n.min(room)]);
        r.consume(n);
        total += n;
        if done {
            return Ok(total);
        }
    }
}

/// A line without its `\n` (or `\r\n`), kept losslessly.
fn line_text(mut b: &[u8]) -> String {
    if let Some(x) = b.strip_suffix(b"\n") {
        b = x;
    }
    if let Some(x) = b.strip_suffix(b"\r") {
        b = x;
    }
    lossless(b)
}

/// The most `fs::read` returns: 8 MiB. Escaping invalid bytes can grow the
/// text fourfold, and the result must stay under the engine's string limit,
/// whose error scripts cannot catch.
pub const READ_MAX: u64 = 8 << 20;

/// Cap for configuration-like system files (crontabs, units, key files,
/// passwd): far above any real one, small enough to hold in memory.
pub const SYSTEM_FILE_MAX: u64 = 16 << 20;

/// Reads a system file an attacker may have planted: opened non-blocking and
/// refused unless the opened descriptor is a regular file (a fifo hung the
/// hunt, a link to `/dev/zero` read forever), then at most `max` bytes, with
/// a warning naming the file when it was cut. The open and read run on a
/// worker ([`super::bounded`]): a FUSE or NFS file that blocks in the
/// kernel is given up after [`super::bounded::SOURCE_TIMEOUT`] or when the
/// run is cancelled. Errors keep their io kind so callers can skip
/// `NotFound` quietly.
pub fn read_system(path: &Path, max: u64, warn: &mut dyn FnMut(&str)) -> std::io::Result<Vec<u8>> {
    read_system_within(path, max, None, super::bounded::SOURCE_TIMEOUT, warn)
}

/// [`read_system`] with an explicit cancel token (default: the run's) and
/// time limit.
pub fn read_system_within(
    path: &Path,
    max: u64,
    cancel: Option<&CancelToken>,
    timeout: std::time::Duration,
    warn: &mut dyn FnMut(&str),
) -> std::io::Result<Vec<u8>> {
    let owned = path.to_path_buf();
    let mut buf = if super::bounded::on_remote_fs(path) {
        super::bounded::read_in_child(path, max.saturating_add(1), 0, cancel, timeout)?.bytes
    } else {
        super::bounded::run(cancel, timeout, move || {
            let f = open_system(&owned)?;
            let mut buf = Vec::new();
            f.take(max.saturating_add(1)).read_to_end(&mut buf)?;
            Ok(buf)
        })?
    };
    if buf.len() as u64 > max {
        buf.truncate(max as usize);
        warn(&format!(
            "{}: larger than {max} bytes; only the first {max} were read",
            shown(path)
        ));
    }
    Ok(buf)
}

/// Opens for [`read_system`]: non-blocking, and only a regular file.
fn open_system(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let ft = f.metadata()?.file_type();
    if !ft.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "is a {}, not a regular file (not read)",
                super::type_name(ft)
            ),
        ));
    }
    Ok(f)
}

/// [`read_system`] for append-only record files (wtmp, btmp): when the file
/// is over `max`, the newest records are the ones that matter, so the last
/// `max` bytes are read, starting on a multiple of `record` bytes.
pub fn read_system_tail(
    path: &Path,
    max: u64,
    record: u64,
    warn: &mut dyn FnMut(&str),
) -> std::io::Result<Vec<u8>> {
    let owned = path.to_path_buf();
    let record = record.max(1);
    let timeout = super::bounded::SOURCE_TIMEOUT;
    let (buf, cut) = if super::bounded::on_remote_fs(path) {
        let r = super::bounded::read_in_child(path, max, record, None, timeout)?;
        (
            r.bytes,
            (r.size > max).then_some((r.size, r.size - r.start)),
        )
    } else {
        super::bounded::run(None, timeout, move || {
            let mut f = open_system(&owned)?;
            let size = f.metadata()?.len();
            let mut cut = None;
            if size > max {
                let start = (size - max).div_ceil(record) * record;
                f.seek(SeekFrom::Start(start))?;
                cut = Some((size, size - start));
            }
            let mut buf = Vec::new();
            f.take(max).read_to_end(&mut buf)?;
            Ok((buf, cut))
        })?
    };
    if let Some((size, kept)) = cut {
        warn(&format!(
            "{}: {size} bytes; only the last {kept} were read (older records skipped)",
            shown(path)
        ));
    }
    Ok(buf)
}

/// `fs::read`: at most `max_bytes` (up to [`READ_MAX`]) of a file as a string.
pub fn read(path: &Path, max_bytes: u64, warn: &mut dyn FnMut(&str)) -> Result<String> {
    if max_bytes > READ_MAX {
        return Err(Error::invalid(format!(
            "max_bytes: {max_bytes} is more than fs::read returns (at most {READ_MAX})"
        ))
        .with_hint(
            "use fs::head, fs::tail or fs::grep for big files, fs::hash for their content",
        ));
    }
    let f = open_regular(path, true)?;
    let mut buf = Vec::new();
    let mut r = f.take(max_bytes.saturating_add(1));
    r.read_to_end(&mut buf)
        .map_err(|e| Error::io(shown(path), e))?;
    if buf.len() as u64 > max_bytes {
        buf.truncate(max_bytes as usize);
        warn(&format!("{}: truncated at {max_bytes} bytes", shown(path)));
    }
    Ok(lossless(&buf))
}

/// `fs::head`: the first `n` lines.
pub fn head(path: &Path, n: usize) -> Result<Vec<String>> {
    let mut r = BufReader::with_capacity(BLOCK, open(path)?);
    let mut out = Vec::new();
    let mut line = Vec::new();
    while out.len() < n {
        line.clear();
        let got =
            read_line_capped(&mut r, &mut line, MAX_LINE).map_err(|e| Error::io(shown(path), e))?;
        if got == 0 {
            break;
        }
        out.push(line_text(&line));
    }
    Ok(out)
}

/// How much `tail` read, so tests can check it did not read the whole file.
#[derive(Debug, Clone, Copy, Default)]
pub struct TailStats {
    pub bytes_read: u64,
    pub file_size: u64,
}

/// `fs::tail`: the last `n` lines.
pub fn tail(path: &Path, n: usize, warn: &mut dyn FnMut(&str)) -> Result<Vec<String>> {
    tail_stats(path, n, warn).map(|(v, _)| v)
}

/// [`tail`], also saying how many bytes it read.
pub fn tail_stats(
    path: &Path,
    n: usize,
    warn: &mut dyn FnMut(&str),
) -> Result<(Vec<String>, TailStats)> {
    let mut f = open(path)?;
    let md = f.metadata().map_err(|e| Error::io(shown(path), e))?;
    let size = md.len();
    if n == 0 {
        return Ok((Vec::new(), TailStats::default()));
    }
    // Pipes and /proc files report size 0 and cannot seek: stream them,
    // keeping only the last n lines.
    if !md.is_file() || size == 0 {
        let mut r = BufReader::new(f);
        let mut last: VecDeque<String> = VecDeque::with_capacity(n + 1);
        let mut line = Vec::new();
        let mut read = 0u64;
        loop {
            line.clear();
            let got = read_line_capped(&mut r, &mut line, MAX_LINE)
                .map_err(|e| Error::io(shown(path), e))?;
            if got == 0 {
                break;
            }
            read += got as u64;
            if last.len() == n {
                last.pop_front();
            }
            last.push_back(line_text(&line));
        }
        let stats = TailStats {
            bytes_read: read,
            file_size: size,
        };
        return Ok((last.into(), stats));
    }
    // Read blocks backwards until the window holds n complete lines (n line
    // ends before the last line, ignoring a final newline) or the start.
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut pos = size;
    let mut newlines = 0usize;
    let mut first = true;
    while pos > 0 && newlines < n + 1 {
        if size - pos >= TAIL_MAX_BYTES {
            warn(&format!(
                "{}: stopped reading back after {} bytes without finding {n} lines",
                shown(path),
                size - pos
            ));
            break;
        }
        let len = (BLOCK as u64).min(pos);
        pos -= len;
        f.seek(SeekFrom::Start(pos))
            .map_err(|e| Error::io(shown(path), e))?;
        let mut b = vec![0u8; len as usize];
        f.read_exact(&mut b)
            .map_err(|e| Error::io(shown(path), e))?;
        let mut count = bytecount(&b);
        if first && b.last() == Some(&b'\n') {
            count -= 1;
        }
        first = false;
        newlines += count;
        blocks.push(b);
    }
    let bytes_read = size - pos;
    let mut buf = Vec::with_capacity(bytes_read as usize);
    for b in blocks.iter().rev() {
        buf.extend_from_slice(b);
    }
    let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
    let mut lines: Vec<&[u8]> = body.split(|&c| c == b'\n').collect();
    // The first piece is a partial line unless we reached the start.
    if pos > 0 && lines.len() > n {
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(n);
    let out = lines[skip..].iter().map(|l| line_text(l)).collect();
    Ok((
        out,
        TailStats {
            bytes_read,
            file_size: size,
        },
    ))
}

fn bytecount(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// One `fs::grep` hit.
#[derive(Debug, Clone, Serialize)]
pub struct GrepMatch {
    pub path: String,
    pub line_no: u64,
    pub line: String,
}

#[derive(Debug, Clone)]
pub struct GrepOpts {
    pub ignore_case: bool,
    /// Stop after this many matches in all.
    pub limit: Option<usize>,
    /// Search files that look binary (a NUL in the first block).
    pub binary: bool,
    /// Keep lines that do not match (`grep -v`).
    pub invert: bool,
    /// Depth when the target is a directory.
    pub max_depth: usize,
}

impl Default for GrepOpts {
    fn default() -> Self {
        GrepOpts {
            ignore_case: false,
            limit: None,
            binary: false,
            invert: false,
            max_depth: super::find::DEFAULT_DEPTH,
        }
    }
}

/// Compiles a grep regex, reporting the regex error as an invalid argument.
pub fn regex(re: &str, ignore_case: bool) -> Result<regex::bytes::Regex> {
    regex::bytes::RegexBuilder::new(re)
        .case_insensitive(ignore_case)
        .build()
        .map_err(|e| Error::invalid(format!("regex {re:?} is not valid: {e}")))
}

/// The files a grep target names: a glob, a directory (walked), or one file.
fn targets(
    target: &str,
    depth: usize,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<(Vec<PathBuf>, bool)> {
    let literal = super::script_path(target);
    let exists = std::fs::symlink_metadata(&literal).is_ok();
    if !exists && target.contains(['*', '?', '[']) {
        let v = super::find::glob(target, cancel, warn)?;
        let files = v
            .into_iter()
            .filter(|e| e.kind == "file")
            .map(|e| super::script_path(&e.path))
            .collect();
        return Ok((files, false));
    }
    let p = literal.as_path();
    let md = std::fs::metadata(p).map_err(|e| Error::io(target, e))?;
    if md.is_dir() {
        let f = Filter {
            types: vec!["file"],
            max_depth: depth,
            ..Filter::default()
        };
        let v = find(p, &f, cancel, warn)?;
        return Ok((
            v.into_iter().map(|e| super::script_path(&e.path)).collect(),
            false,
        ));
    }
    Ok((vec![p.to_path_buf()], true))
}

/// A matching line longer than this is cut in the result (the match was
/// found on the whole line).
pub const GREP_LINE_MAX: usize = 16 << 10;

/// The text all matches of one call may hold: past the engine's string
/// limit the whole hunt would end with an error scripts cannot catch.
pub const GREP_TEXT_MAX: usize = 32 << 20;

/// `fs::grep`: matching lines of a file, of the files a glob matches, or of
/// the files below a directory, streamed line by line.
pub fn grep(
    target: &str,
    re: &str,
    opts: &GrepOpts,
    cancel: &CancelToken,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<GrepMatch>> {
    let rx = regex(re, opts.ignore_case)?;
    let (files, single) = targets(target, opts.max_depth, cancel, warn)?;
    let limit = opts.limit.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut text = 0usize;
    for path in files {
        if out.len() >= limit {
            warn(&format!("stopped at the limit of {limit} matches"));
            break;
        }
        if text > GREP_TEXT_MAX {
            break;
        }
        match grep_file(&path, &rx, opts, limit, cancel, &mut out, &mut text) {
            Ok(true) => {}
            Ok(false) if single => warn(&format!(
                "{}: binary file skipped (pass #{{binary: true}} to search it)",
                shown(&path)
            )),
            Ok(false) => {}
            Err(e) if e.is_cancelled() => return Err(e),
            Err(e) if single => return Err(e),
            Err(e) => warn(&e.to_string()),
        }
    }
    if text > GREP_TEXT_MAX {
        warn(&format!(
            "stopped after {} matches holding {GREP_TEXT_MAX} bytes of text, the most one call \
             returns (narrow the pattern or the files, or set limit)",
            out.len()
        ));
    }
    Ok(out)
}

/// Greps one file; `Ok(false)` when it was skipped as binary.
fn grep_file(
    path: &Path,
    rx: &regex::bytes::Regex,
    opts: &GrepOpts,
    limit: usize,
    cancel: &CancelToken,
    out: &mut Vec<GrepMatch>,
    text: &mut usize,
) -> Result<bool> {
    let mut r = BufReader::with_capacity(BLOCK, open(path)?);
    if !opts.binary {
        let head = r.fill_buf().map_err(|e| Error::io(shown(path), e))?;
        if head.contains(&0) {
            return Ok(false);
        }
    }
    let name = shown(path);
    let mut line = Vec::new();
    let mut no = 0u64;
    loop {
        line.clear();
        let got = read_line_capped(&mut r, &mut line, MAX_LINE).map_err(|e| Error::io(&name, e))?;
        if got == 0 {
            break;
        }
        no += 1;
        if no % 4096 == 0 {
            cancel.check()?;
        }
        if rx.is_match(&line) != opts.invert {
            let mut shown_line = line_text(&line);
            if shown_line.len() > GREP_LINE_MAX {
                let mut at = GREP_LINE_MAX;
                while !shown_line.is_char_boundary(at) {
                    at -= 1;
                }
                let more = shown_line.len() - at;
                shown_line.truncate(at);
                shown_line.push_str(&format!("…[{more} more bytes]"));
            }
            *text += shown_line.len() + name.len();
            out.push(GrepMatch {
                path: name.clone(),
                line_no: no,
                line: shown_line,
            });
            if out.len() >= limit || *text > GREP_TEXT_MAX {
                break;
            }
        }
    }
    Ok(true)
}

fn digest<D: sha2::Digest>(mut f: File, path: &Path, cancel: &CancelToken) -> Result<String> {
    let mut h = D::new();
    let mut buf = vec![0u8; BLOCK];
    let mut i = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(shown(path), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        i += 1;
        if i % 256 == 0 {
            cancel.check()?;
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// `fs::hash`: the hex digest of a file, streamed. `algo` is `sha256`,
/// `sha1` or `md5`.
pub fn hash(path: &Path, algo: &str, cancel: &CancelToken) -> Result<String> {
    let algo_l = algo.to_ascii_lowercase();
    if !matches!(algo_l.as_str(), "sha256" | "sha1" | "md5") {
        return Err(
            Error::invalid(format!("algorithm {algo:?} is not supported"))
                .with_hint("use \"sha256\" (the default), \"sha1\" or \"md5\""),
        );
    }
    let f = open(path)?;
    match algo_l.as_str() {
        "sha1" => digest::<sha1::Sha1>(f, path, cancel),
        "md5" => digest::<md5::Md5>(f, path, cancel),
        _ => digest::<sha2::Sha256>(f, path, cancel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(body: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, body).unwrap();
        (d, p)
    }

    #[test]
    fn grep_results_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.log");
        let line = format!("hit {}\n", "x".repeat(100_000));
        std::fs::write(&p, line.repeat(400)).unwrap();
        let opts = GrepOpts {
            ignore_case: false,
            invert: false,
            binary: false,
            max_depth: 1,
            limit: None,
        };
        let mut warnings = Vec::new();
        let m = grep(
            p.to_str().unwrap(),
            "hit",
            &opts,
            &CancelToken::new(),
            &mut |w| warnings.push(w.to_string()),
        )
        .unwrap();
        assert_eq!(m.len(), 400);
        assert!(m[0].line.len() < GREP_LINE_MAX + 32 && m[0].line.ends_with("more bytes]"));
    }

    #[test]
    fn tail_handles_edges() {
        let (_d, p) = file(b"a\nb\nc\n");
        let t = |n| tail(&p, n, &mut |_| {}).unwrap();
        assert_eq!(t(2), ["b", "c"]);
        assert_eq!(t(5), ["a", "b", "c"]);
        assert!(t(0).is_empty());
        let (_d2, p2) = file(b"x\ny");
        assert_eq!(tail(&p2, 1, &mut |_| {}).unwrap(), ["y"]);
        let (_d3, p3) = file(b"");
        assert!(tail(&p3, 3, &mut |_| {}).unwrap().is_empty());
    }

    #[test]
    fn tail_across_blocks_matches_a_full_read() {
        let body: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        let (_d, p) = file(body.as_bytes());
        let (v, s) = tail_stats(&p, 3, &mut |_| {}).unwrap();
        assert_eq!(v, ["line 49997", "line 49998", "line 49999"]);
        assert!(s.bytes_read <= BLOCK as u64);
        let all: Vec<String> = body.lines().map(String::from).collect();
        let (v, _) = tail_stats(&p, 20_000, &mut |_| {}).unwrap();
        assert_eq!(v, all[30_000..]);
    }

    #[test]
    fn fifos_are_refused_not_waited_on() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fifo");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = head(&p, 1).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidArgument);
        assert!(e.message.contains("is a fifo"), "{e}");
        assert!(read(&p, 10, &mut |_| {}).is_err());
        assert!(hash(&p, "sha256", &CancelToken::new()).is_err());
    }

    #[test]
    fn long_lines_are_capped() {
        let mut body = vec![b'a'; MAX_LINE + 100];
        body.extend_from_slice(b"\nnext\n");
        let (_d, p) = file(&body);
        let h = head(&p, 2).unwrap();
        assert_eq!(h[0].len(), MAX_LINE);
        assert_eq!(h[1], "next");
    }

    #[test]
    fn grep_and_hash() {
        let (_d, p) = file(b"one\nTwo\xff\nthree\n");
        let ps = p.to_str().unwrap();
        let c = CancelToken::new();
        let m = grep(ps, "t", &GrepOpts::default(), &c, &mut |_| {}).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].line_no, 3);
        let o = GrepOpts {
            ignore_case: true,
            ..GrepOpts::default()
        };
        let m = grep(ps, "^t", &o, &c, &mut |_| {}).unwrap();
        assert_eq!(m[0].line, "Two\\xff");
        let e = grep(ps, "(", &o, &c, &mut |_| {}).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidArgument);
        let (_d2, p2) = file(b"abc");
        assert_eq!(
            hash(&p2, "md5", &c).unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert!(hash(&p2, "crc", &c).is_err());
    }
}
