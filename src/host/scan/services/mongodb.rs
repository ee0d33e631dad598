//! MongoDB over OP_MSG, with just enough BSON to ask and read.

use super::probes::Outcome;
use super::{exchange, lossless, ServiceInfo};
use std::net::SocketAddr;
use std::time::Instant;

/// A BSON document of string, int32 and bool elements.
fn bson(fields: &[(&str, Bson)]) -> Vec<u8> {
    let mut d = Vec::new();
    for (k, v) in fields {
        let (tag, val) = match v {
            Bson::I32(n) => (0x10, n.to_le_bytes().to_vec()),
            Bson::Bool(b) => (0x08, vec![u8::from(*b)]),
            Bson::Str(s) => {
                let mut x = ((s.len() + 1) as u32).to_le_bytes().to_vec();
                x.extend_from_slice(s.as_bytes());
                x.push(0);
                (0x02, x)
            }
        };
        d.push(tag);
        d.extend_from_slice(k.as_bytes());
        d.push(0);
        d.extend_from_slice(&val);
    }
    d.push(0);
    let mut out = ((d.len() + 4) as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&d);
    out
}

enum Bson {
    I32(i32),
    Bool(bool),
    Str(&'static str),
}

/// OP_MSG (opcode 2013) carrying one body section.
fn op_msg(id: i32, doc: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((doc.len() + 21) as i32).to_le_bytes());
    m.extend_from_slice(&id.to_le_bytes());
    m.extend_from_slice(&0i32.to_le_bytes());
    m.extend_from_slice(&2013i32.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.push(0);
    m.extend_from_slice(doc);
    m
}

/// Top-level string and number fields of a BSON document.
fn bson_fields(d: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut p = 4;
    while p < d.len() && d[p] != 0 {
        let tag = d[p];
        let Some(kend) = d[p + 1..].iter().position(|&c| c == 0) else {
            break;
        };
        let key = lossless(&d[p + 1..p + 1 + kend]);
        let v = p + 2 + kend;
        let le32 = |o: usize| -> Option<usize> {
            Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?) as usize)
        };
        let (val, size) = match tag {
            0x01 => (
                d.get(v..v + 8)
                    .and_then(|x| x.try_into().ok())
                    .map(|x| f64::from_le_bytes(x).to_string()),
                8,
            ),
            0x02 => {
                let Some(n) = le32(v) else { break };
                (
                    d.get(v + 4..v + 4 + n.saturating_sub(1)).map(lossless),
                    4 + n,
                )
            }
            0x03 | 0x04 => (None, le32(v).unwrap_or(usize::MAX / 2)),
            0x08 => (d.get(v).map(|b| (*b != 0).to_string()), 1),
            0x10 => (le32(v).map(|n| (n as i32).to_string()), 4),
            0x09 | 0x11 | 0x12 => (None, 8),
            0x07 => (None, 12),
            0x0a => (None, 0),
            _ => break,
        };
        if let Some(val) = val {
            out.push((key, val));
        }
        p = v.saturating_add(size);
    }
    out
}

/// Replies to OP_MSG requests: each reply's body document fields.
fn mongo_replies(b: &[u8]) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut p = 0;
    while p + 21 <= b.len() {
        let len = u32::from_le_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]) as usize;
        let op = u32::from_le_bytes([b[p + 12], b[p + 13], b[p + 14], b[p + 15]]);
        if len < 21 || p + len > b.len() || op != 2013 {
            break;
        }
        if b[p + 20] == 0 {
            out.push(bson_fields(&b[p + 21..p + len]));
        }
        p += len;
    }
    out
}

/// `buildInfo` (allowed without credentials) for the version, then
/// `listDatabases`, which only a server without authorization answers.
pub async fn probe(addr: SocketAddr, deadline: Instant) -> Outcome {
    let mut req = op_msg(
        1,
        &bson(&[("buildInfo", Bson::I32(1)), ("$db", Bson::Str("admin"))]),
    );
    req.extend_from_slice(&op_msg(
        2,
        &bson(&[
            ("listDatabases", Bson::I32(1)),
            ("nameOnly", Bson::Bool(true)),
            ("$db", Bson::Str("admin")),
        ]),
    ));
    let b = exchange(addr, &req, deadline, |b| mongo_replies(b).len() >= 2)
        .await
        .unwrap_or_default();
    match mongo_parse(&b) {
        Some(i) => Outcome::Match(Box::new(i)),
        None => Outcome::Raw(b),
    }
}

pub fn mongo_parse(b: &[u8]) -> Option<ServiceInfo> {
    let replies = mongo_replies(b);
    let first = replies.first()?;
    let get =
        |r: &Vec<(String, String)>, k: &str| r.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    get(first, "ok")?;
    let mut i = ServiceInfo::new("mongodb").product("MongoDB", get(first, "version"));
    if let Some(second) = replies.get(1) {
        i.auth = match get(second, "ok").as_deref() {
            Some("1") => "none",
            _ if get(second, "codeName").as_deref() == Some("Unauthorized") => "required",
            _ => "unknown",
        }
        .into();
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mongodb_replies() {
        let r1 = op_msg(
            0,
            &bson(&[("version", Bson::Str("7.0.2")), ("ok", Bson::I32(1))]),
        );
        // `ok` is a double in real replies.
        let mut doc = vec![];
        doc.push(0x01);
        doc.extend_from_slice(b"ok\0");
        doc.extend_from_slice(&0f64.to_le_bytes());
        doc.extend(bson(&[("codeName", Bson::Str("Unauthorized"))])[4..].iter());
        let mut d2 = ((doc.len() + 4) as u32).to_le_bytes().to_vec();
        d2.extend_from_slice(&doc);
        let mut b = r1;
        b.extend_from_slice(&op_msg(0, &d2));
        let i = mongo_parse(&b).unwrap();
        assert_eq!(
            (i.version.as_deref(), i.auth.as_str()),
            (Some("7.0.2"), "required")
        );
    }
}
