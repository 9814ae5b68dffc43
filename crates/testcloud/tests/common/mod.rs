//! A tiny blocking HTTP/1.1 client (Connection: close) for the tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use serde_json::{json, Value};
use syncer_testcloud::{TestCloud, TestCloudConfig, TestCloudHandle};

pub struct R {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl R {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("bad json ({e}): {}", self.body))
    }
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

pub fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<R> {
    let mut s = TcpStream::connect(addr)?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let b = body.unwrap_or("");
    if body.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{b}", b.len()));
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "no response",
        ));
    };
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Ok(R {
        status,
        headers,
        body: body.to_string(),
    })
}

pub fn password_body(user: &str, pw: &str, project: &str) -> String {
    json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": pw}}},
                    "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}})
    .to_string()
}

pub struct C {
    pub cloud: TestCloudHandle,
    pub token: String,
    pub base: String,
}

impl C {
    pub fn new(cfg: TestCloudConfig) -> C {
        let cloud = TestCloud::start(cfg).unwrap();
        let base = cloud.base_url();
        let mut c = C {
            cloud,
            token: String::new(),
            base,
        };
        c.login();
        c
    }
    pub fn small() -> C {
        C::new(TestCloudConfig {
            size: 50,
            ..Default::default()
        })
    }
    pub fn login(&mut self) {
        let cr = self.cloud.credentials();
        let r = raw(
            self.cloud.addr(),
            "POST",
            "/identity/v3/auth/tokens",
            &[],
            Some(&password_body(&cr.username, &cr.password, &cr.project_name)),
        )
        .unwrap();
        assert_eq!(r.status, 201, "{}", r.body);
        self.token = r.header("x-subject-token").unwrap().to_string();
    }
    /// GET a path or absolute URL on this cloud with the token.
    pub fn get(&self, path: &str) -> R {
        self.get_h(path, &[])
    }
    pub fn get_h(&self, path: &str, extra: &[(&str, &str)]) -> R {
        self.try_get_h(path, extra).unwrap()
    }
    pub fn try_get_h(&self, path: &str, extra: &[(&str, &str)]) -> std::io::Result<R> {
        let p = path.strip_prefix(&self.base).unwrap_or(path);
        let mut h = vec![("X-Auth-Token", self.token.as_str())];
        h.extend_from_slice(extra);
        raw(self.cloud.addr(), "GET", p, &h, None)
    }
    pub fn admin_pid(&self) -> String {
        self.cloud.admin_project_id()
    }
}
