//! LDAP: an anonymous base search of the root DSE, which every LDAP server
//! answers without a bind, naming its vendor, naming contexts and, for
//! Active Directory, its domain and functional level.

use super::probes::Outcome;
use super::{exchange, lossless, ServiceInfo};
use crate::host::scan::tls::tlv;
use std::net::SocketAddr;
use std::time::Instant;

const ATTRS: &[&str] = &[
    "objectClass",
    "vendorName",
    "vendorVersion",
    "namingContexts",
    "defaultNamingContext",
    "dnsHostName",
    "domainFunctionality",
    "supportedLDAPVersion",
];

fn ber(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(content);
    v
}

fn request() -> Vec<u8> {
    let mut s = ber(0x04, b""); // base: the root DSE
    s.extend_from_slice(&[0x0a, 1, 0, 0x0a, 1, 0, 0x02, 1, 0, 0x02, 1, 5, 0x01, 1, 0]);
    s.extend_from_slice(&ber(0x87, b"objectClass"));
    let attrs: Vec<u8> = ATTRS.iter().flat_map(|a| ber(0x04, a.as_bytes())).collect();
    s.extend_from_slice(&ber(0x30, &attrs));
    let mut m = vec![0x02, 1, 1];
    m.extend_from_slice(&ber(0x63, &s));
    let mut out = ber(0x30, &m);
    out.extend_from_slice(&[0x30, 5, 0x02, 1, 2, 0x42, 0]); // unbind
    out
}

/// Attribute (name, values) of the first SearchResultEntry.
fn entry(b: &[u8]) -> Option<Vec<(String, Vec<String>)>> {
    let (t, msg, _) = tlv(b)?;
    if t != 0x30 {
        return None;
    }
    let (_, _, rest) = tlv(msg)?; // message id
    let (op, body, _) = tlv(rest)?;
    if op == 0x65 {
        // SearchResultDone first: an LDAP server that refused.
        return Some(Vec::new());
    }
    if op != 0x64 {
        return None;
    }
    let (_, _, rest) = tlv(body)?; // object name
    let (_, mut attrs, _) = tlv(rest)?;
    let mut out = Vec::new();
    while let Some((_, a, next)) = tlv(attrs) {
        attrs = next;
        let Some((_, name, r)) = tlv(a) else { continue };
        let Some((_, mut set, _)) = tlv(r) else {
            continue;
        };
        let mut vals = Vec::new();
        while let Some((_, v, n)) = tlv(set) {
            vals.push(lossless(&v[..v.len().min(200)]));
            set = n;
        }
        out.push((lossless(name), vals));
    }
    Some(out)
}

pub fn parse(b: &[u8]) -> Option<ServiceInfo> {
    let attrs = entry(b)?;
    let get = |k: &str| {
        attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut i = ServiceInfo::new("ldap");
    let vendor = get("vendorName").into_iter().next();
    let product = if let Some(v) = vendor {
        v
    } else if !get("domainFunctionality").is_empty() {
        "Microsoft Windows Active Directory".into()
    } else if get("objectClass").iter().any(|c| c == "OpenLDAProotDSE") {
        "OpenLDAP".into()
    } else {
        "LDAP".into()
    };
    i = i.product(&product, get("vendorVersion").into_iter().next());
    let mut extra = Vec::new();
    let ctx = get("defaultNamingContext");
    let ctx = if ctx.is_empty() {
        get("namingContexts")
    } else {
        ctx
    };
    if !ctx.is_empty() {
        extra.push(format!("naming {}", ctx.join("; ")));
    }
    if let Some(h) = get("dnsHostName").first() {
        extra.push(format!("host {h}"));
    }
    i.extra = Some(super::cut(&extra.join(", "), 300).to_string()).filter(|e| !e.is_empty());
    Some(i)
}

/// The answer is complete with its SearchResultDone (or anything that is
/// not LDAP); the unbind also makes the server hang up.
fn done(mut b: &[u8]) -> bool {
    while let Some((t, msg, rest)) = tlv(b) {
        let op = tlv(msg).and_then(|(_, _, r)| r.first().copied());
        if t != 0x30 || op == Some(0x65) {
            return true;
        }
        b = rest;
    }
    false
}

pub async fn probe(addr: SocketAddr, deadline: Instant) -> Outcome {
    let b = exchange(addr, &request(), deadline, done)
        .await
        .unwrap_or_default();
    match parse(&b) {
        Some(i) => Outcome::Match(Box::new(i)),
        None => Outcome::Raw(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_dse() {
        let val = |s: &str| ber(0x04, s.as_bytes());
        let attr = |n: &str, v: &str| ber(0x30, &[val(n), ber(0x31, &val(v))].concat());
        let attrs = [
            attr("objectClass", "OpenLDAProotDSE"),
            attr("namingContexts", "dc=example,dc=org"),
        ]
        .concat();
        let entry = [val(""), ber(0x30, &attrs)].concat();
        let msg = ber(0x30, &[vec![2, 1, 1], ber(0x64, &entry)].concat());
        let i = parse(&msg).unwrap();
        assert_eq!(i.product.as_deref(), Some("OpenLDAP"));
        assert_eq!(i.extra.as_deref(), Some("naming dc=example,dc=org"));
        assert!(parse(b"HTTP/1.1 400").is_none());
        assert!(request().starts_with(&[0x30]));
        assert!(!done(&msg));
        let fin = ber(
            0x30,
            &[vec![2, 1, 1], ber(0x65, &[0x0a, 1, 0, 4, 0, 4, 0])].concat(),
        );
        assert!(done(&[msg.clone(), fin].concat()));
    }
}
