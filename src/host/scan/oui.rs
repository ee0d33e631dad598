//! MAC address → vendor, from the IEEE registries (MA-L, MA-M, MA-S/IAB),
//! shipped as `data/oui.txt` (see `data/gen-scan-data.py`). The file is
//! sorted, so lookups are binary searches over its lines, built once.

use std::sync::OnceLock;

static OUI: &str = include_str!("../../../data/oui.txt");

fn table() -> &'static Vec<(&'static str, &'static str)> {
    static T: OnceLock<Vec<(&str, &str)>> = OnceLock::new();
    T.get_or_init(|| {
        let mut v: Vec<(&str, &str)> = OUI
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    })
}

/// The registered organisation for a MAC (`"bc:24:11:fb:f0:03"`, any of
/// `:`/`-`/`.` separators), trying the most specific block first.
pub fn vendor(mac: &str) -> Option<&'static str> {
    let hex: String = mac
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if hex.len() < 6 {
        return None;
    }
    let t = table();
    for len in [9, 7, 6] {
        if hex.len() < len {
            continue;
        }
        let key = &hex[..len];
        if let Ok(i) = t.binary_search_by(|(k, _)| k.cmp(&key)) {
            return Some(t[i].1);
        }
    }
    None
}

/// Formats six bytes the way `ip link` prints them.
pub fn fmt_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_client_is_proxmox() {
        assert_eq!(
            vendor("BC:24:11:FB:F0:03"),
            Some("Proxmox Server Solutions GmbH")
        );
        assert_eq!(vendor("00:00:00:00:00:00"), Some("Xerox Corp"));
        assert_eq!(vendor("zz"), None);
    }
}
