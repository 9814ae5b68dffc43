//! Fault injection rules.

use serde::{Deserialize, Serialize};

/// What to do to a matching request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this status (500, 503, 429, ...) and, if given, `Retry-After: S`.
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Let `after` matching requests through; on the next one, expire the token used
    /// (that request and every later request with that token get 401 until re-auth).
    ExpireToken { after: u32 },
    /// Answer normally after a delay.
    Delay { ms: u64 },
    /// Close the TCP connection without a response.
    Reset,
    /// Answer normally, but the next-page link repeats the request's own marker.
    RepeatMarker,
}

impl Fault {
    pub fn internal_error() -> Fault {
        Fault::Status {
            status: 500,
            retry_after: None,
        }
    }
    pub fn unavailable(retry_after: u64) -> Fault {
        Fault::Status {
            status: 503,
            retry_after: Some(retry_after),
        }
    }
    pub fn too_many_requests(retry_after: u64) -> Fault {
        Fault::Status {
            status: 429,
            retry_after: Some(retry_after),
        }
    }
}

/// A fault and the requests it applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// HTTP method (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Path prefix such as `/compute/v2.1/servers/detail`; `*` matches one path segment.
    pub path: String,
    /// Only this page of a paginated listing (1-based; page 1 is the request without marker/offset).
    #[serde(default)]
    pub page: Option<u32>,
    pub fault: Fault,
    /// How many times the rule fires (unlimited when absent). For `ExpireToken`, how many tokens it expires.
    #[serde(default)]
    pub times: Option<u32>,
}

impl FaultRule {
    pub fn new(path: impl Into<String>, fault: Fault) -> FaultRule {
        FaultRule {
            method: None,
            path: path.into(),
            page: None,
            fault,
            times: None,
        }
    }
    pub fn method(mut self, m: &str) -> Self {
        self.method = Some(m.to_ascii_uppercase());
        self
    }
    pub fn page(mut self, n: u32) -> Self {
        self.page = Some(n);
        self
    }
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        if let Some(m) = &self.method {
            if !m.eq_ignore_ascii_case(method) {
                return false;
            }
        }
        if !self.path.contains('*') {
            return path.starts_with(&self.path);
        }
        let mut ps = path.split('/');
        for pat in self.path.split('/') {
            match ps.next() {
                Some(seg) if pat == "*" || pat == seg => {}
                Some(seg) if ps.clone().next().is_none() && seg.starts_with(pat) => return true,
                _ => return false,
            }
        }
        true
    }
}

#[derive(Debug)]
pub(crate) struct RuleState {
    pub rule: FaultRule,
    pub fired: u32,
    pub seen: u32,
}

impl RuleState {
    pub fn exhausted(&self) -> bool {
        self.rule.times.is_some_and(|t| self.fired >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn matching() {
        let r = FaultRule::new("/compute/v2.1/servers", Fault::Reset).method("get");
        assert!(r.matches("GET", "/compute/v2.1/servers/detail"));
        assert!(!r.matches("POST", "/compute/v2.1/servers/detail"));
        let r = FaultRule::new("/volume/v3/*/volumes/detail", Fault::Reset);
        assert!(r.matches("GET", "/volume/v3/abc/volumes/detail"));
        assert!(!r.matches("GET", "/volume/v3/abc/snapshots/detail"));
        let j =
            serde_json::to_string(&FaultRule::new("/x", Fault::unavailable(3)).page(2).times(1))
                .unwrap();
        let back: FaultRule = serde_json::from_str(&j).unwrap();
        assert_eq!(back.page, Some(2));
    }
}
