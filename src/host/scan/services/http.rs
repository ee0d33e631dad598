//! HTTP: `GET /`, then, when the answer looks like an API rather than a web
//! page, the JSON endpoints that name what is behind it (Elasticsearch and
//! OpenSearch at `/`, Docker Engine, Kubernetes and etcd at `/version`, the
//! kubelet's `/pods`, Prometheus exporters' `/metrics`).

use super::probes::Outcome;
use super::{cut, exchange, lossless, ServiceInfo};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Instant;

pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn json(&self) -> Option<Value> {
        serde_json::from_str(self.body.trim()).ok()
    }
}

pub fn parse(b: &[u8]) -> Option<Resp> {
    if !b.starts_with(b"HTTP/") {
        return None;
    }
    let text = lossless(&b[..b.len().min(131_072)]);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(Resp {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

fn request(addr: SocketAddr, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.0\r\nHost: {}\r\nUser-Agent: hound\r\nAccept: */*\r\n\r\n",
        addr
    )
    .into_bytes()
}

async fn get(addr: SocketAddr, path: &str, deadline: Instant) -> Option<Resp> {
    let b = exchange(addr, &request(addr, path), deadline, super::never).await?;
    parse(&b)
}

/// The page title, cut at a character boundary.
pub fn title(body: &str) -> Option<String> {
    let low = body.to_ascii_lowercase();
    // ASCII lowercasing keeps byte offsets, so `s` indexes `body` too.
    let s = low.find("<title>")? + 7;
    let rest = &body[s..];
    let e = rest.to_ascii_lowercase().find("</title>").unwrap_or(200);
    let t = cut(rest, e)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Some(t.chars().take(200).collect())
}

/// What `GET /` says: server header, title.
pub fn basic(r: &Resp) -> ServiceInfo {
    let mut i = ServiceInfo::new("http");
    if let Some(server) = r.header("server") {
        let word = server.split_whitespace().next().unwrap_or("");
        let (p, v) = word.split_once('/').unwrap_or((word, ""));
        if !p.is_empty() {
            i = i.product(p, Some(v.to_string()));
        }
        i.banner = Some(server.chars().take(200).collect());
    }
    i.title = title(&r.body);
    i
}

fn s(v: &Value, path: &[&str]) -> Option<String> {
    let mut x = v;
    for k in path {
        x = x.get(k)?;
    }
    x.as_str().map(|s| s.chars().take(100).collect())
}

/// Elasticsearch/OpenSearch root document.
pub fn search_engine(r: &Resp, i: &mut ServiceInfo) -> bool {
    let Some(j) = r.json() else {
        if r.status == 401
            && r.header("www-authenticate")
                .is_some_and(|w| w.contains("security"))
        {
            *i = ServiceInfo::new("http").product("Elasticsearch", None);
            i.auth = "required".into();
            return true;
        }
        return false;
    };
    if j.get("cluster_name").is_none() || j.get("version").is_none() {
        return false;
    }
    let product = match s(&j, &["version", "distribution"]).as_deref() {
        Some("opensearch") => "OpenSearch",
        _ => "Elasticsearch",
    };
    *i = ServiceInfo::new("http").product(product, s(&j, &["version", "number"]));
    i.auth = "none".into();
    i.extra = s(&j, &["cluster_name"]).map(|c| format!("cluster {c}"));
    true
}

/// `/version` of Docker Engine, Kubernetes or etcd.
pub fn version_doc(r: &Resp, i: &mut ServiceInfo) -> bool {
    let Some(j) = r.json().filter(|_| r.status == 200) else {
        return false;
    };
    if j.get("ApiVersion").is_some() {
        *i = ServiceInfo::new("http").product("Docker Engine API", s(&j, &["Version"]));
        i.auth = "none".into();
        i.extra = Some(format!(
            "api {}, {}/{}",
            s(&j, &["ApiVersion"]).unwrap_or_default(),
            s(&j, &["Os"]).unwrap_or_default(),
            s(&j, &["Arch"]).unwrap_or_default()
        ));
    } else if j.get("gitVersion").is_some() && j.get("major").is_some() {
        let v = s(&j, &["gitVersion"]).map(|v| v.trim_start_matches('v').to_string());
        *i = ServiceInfo::new("http").product("Kubernetes API", v);
        i.auth = "none".into();
        i.extra = s(&j, &["platform"]);
    } else if j.get("etcdserver").is_some() {
        *i = ServiceInfo::new("http").product("etcd", s(&j, &["etcdserver"]));
        i.extra = s(&j, &["etcdcluster"]).map(|c| format!("cluster {c}"));
    } else {
        return false;
    }
    true
}

/// The kubelet's `/pods`: a PodList means anonymous access.
pub fn kubelet(r: &Resp, i: &mut ServiceInfo) -> bool {
    let Some(j) = r.json().filter(|_| r.status == 200) else {
        return false;
    };
    if s(&j, &["kind"]).as_deref() != Some("PodList") {
        return false;
    }
    let n = j
        .get("items")
        .and_then(|x| x.as_array())
        .map_or(0, |a| a.len());
    *i = ServiceInfo::new("http").product("kubelet", None);
    i.auth = "none".into();
    i.extra = Some(format!("{n} pods listed anonymously"));
    true
}

/// Prometheus text exposition: `X_build_info{…version="…"…}` names the
/// exporter and its version.
pub fn metrics(r: &Resp, i: &mut ServiceInfo) -> bool {
    if r.status != 200 || !r.body.starts_with("# HELP ") && !r.body.starts_with("# TYPE ") {
        return false;
    }
    let build = r
        .body
        .lines()
        .find(|l| !l.starts_with('#') && l.contains("_build_info{"));
    let (product, version) = match build {
        Some(l) => {
            let name = l.split("_build_info{").next().unwrap_or("");
            // The `version` label itself, not `goversion`.
            let v = l
                .split([',', '{'])
                .find_map(|kv| kv.trim().strip_prefix("version=\""))
                .and_then(|x| x.split('"').next())
                .map(String::from);
            let p = match name {
                "prometheus" => "Prometheus".to_string(),
                n => format!("Prometheus {}", n.replace('_', " ")),
            };
            (p, v)
        }
        None => ("Prometheus exporter".to_string(), None),
    };
    let keep_title = i.title.take();
    *i = ServiceInfo::new("http").product(&product, version);
    i.title = keep_title;
    i.auth = "none".into();
    true
}

/// A web page is what it is; anything else (an error, a redirect, JSON,
/// plain text) may be an API worth asking more.
fn looks_like_api(r: &Resp, port: u16) -> bool {
    let ct = r
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    r.status != 200
        || ct.contains("json")
        || !ct.contains("html")
        || matches!(port, 2375 | 2379 | 4194 | 9090 | 9100 | 10255)
}

pub async fn probe(addr: SocketAddr, deadline: Instant) -> Outcome {
    let raw = exchange(addr, &request(addr, "/"), deadline, super::never)
        .await
        .unwrap_or_default();
    let Some(root) = parse(&raw) else {
        return Outcome::Raw(raw);
    };
    let mut i = basic(&root);
    if search_engine(&root, &mut i) || !looks_like_api(&root, addr.port()) {
        return Outcome::Match(Box::new(i));
    }
    let (v, p, m) = tokio::join!(
        get(addr, "/version", deadline),
        get(addr, "/pods", deadline),
        get(addr, "/metrics", deadline)
    );
    let banner = i.banner.clone();
    let _ = v.is_some_and(|r| version_doc(&r, &mut i))
        || p.is_some_and(|r| kubelet(&r, &mut i))
        || m.is_some_and(|r| metrics(&r, &mut i));
    if i.banner.is_none() {
        i.banner = banner;
    }
    Outcome::Match(Box::new(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, ct: &str, body: &str) -> Resp {
        Resp {
            status,
            head: format!("HTTP/1.1 {status} X\r\nContent-Type: {ct}"),
            body: body.into(),
        }
    }

    #[test]
    fn titles_cut_at_character_boundaries() {
        let r = parse(b"HTTP/1.1 200 OK\r\nServer: Apache/2.4.62 (Debian)\r\n\r\n<html><title>It works</title>").unwrap();
        let i = basic(&r);
        assert_eq!(
            (
                i.product.as_deref(),
                i.version.as_deref(),
                i.title.as_deref()
            ),
            (Some("Apache"), Some("2.4.62"), Some("It works"))
        );
        // No closing tag and a multi-byte character across byte 200.
        let body = format!("<title>{}", "é".repeat(150));
        let t = title(&body).unwrap();
        assert_eq!(t, "é".repeat(100));
        assert_eq!(title("<TITLE>日本語</Title>").as_deref(), Some("日本語"));
    }

    #[test]
    fn api_fingerprints() {
        let mut i = ServiceInfo::new("http");
        let es = r#"{"name":"n1","cluster_name":"prod","version":{"number":"8.11.1"},"tagline":"You Know, for Search"}"#;
        assert!(search_engine(&resp(200, "application/json", es), &mut i));
        assert_eq!(
            (i.product.as_deref(), i.version.as_deref(), i.auth.as_str()),
            (Some("Elasticsearch"), Some("8.11.1"), "none")
        );
        let docker = r#"{"Version":"24.0.7","ApiVersion":"1.43","Os":"linux","Arch":"amd64"}"#;
        assert!(version_doc(&resp(200, "application/json", docker), &mut i));
        assert_eq!(i.product.as_deref(), Some("Docker Engine API"));
        assert_eq!(i.extra.as_deref(), Some("api 1.43, linux/amd64"));
        let k8s = r#"{"major":"1","minor":"28","gitVersion":"v1.28.2","platform":"linux/amd64"}"#;
        assert!(version_doc(&resp(200, "application/json", k8s), &mut i));
        assert_eq!(i.version.as_deref(), Some("1.28.2"));
        let etcd = r#"{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}"#;
        assert!(version_doc(&resp(200, "application/json", etcd), &mut i));
        assert_eq!(i.product.as_deref(), Some("etcd"));
        let pods = r#"{"kind":"PodList","apiVersion":"v1","items":[{},{}]}"#;
        assert!(kubelet(&resp(200, "application/json", pods), &mut i));
        assert_eq!(i.extra.as_deref(), Some("2 pods listed anonymously"));
        let m = "# HELP node_exporter_build_info x\n# TYPE node_exporter_build_info gauge\nnode_exporter_build_info{branch=\"\",goversion=\"go1.19\",revision=\"\",version=\"1.5.0\"} 1\n";
        assert!(metrics(&resp(200, "text/plain", m), &mut i));
        assert_eq!(
            (i.product.as_deref(), i.version.as_deref()),
            (Some("Prometheus node exporter"), Some("1.5.0"))
        );
        assert!(!version_doc(
            &resp(404, "text/plain", "404 page not found"),
            &mut i
        ));
    }
}
