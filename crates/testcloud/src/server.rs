//! The HTTP side: routing, auth, pagination, microversions, faults, observability.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::faults::{Fault, FaultRule, RuleState};
use crate::model::{Data, Item, Kind, Phys, Store};
use crate::render::{tpls, Cx, Shape};
use crate::tpl::Vals;
use crate::util::{self, json_str, pct_decode, pct_encode, push_json_str, ts, Ts};
use crate::TestCloudConfig;

pub const NOVA_MIN: (u32, u32) = (2, 1);
pub const NOVA_MAX: (u32, u32) = (2, 100);
pub const CINDER_MIN: (u32, u32) = (3, 0);
pub const CINDER_MAX: (u32, u32) = (3, 71);

/// One request as seen by the test cloud.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query as received.
    pub path: String,
    /// Route template, e.g. `GET /compute/v2.1/servers/{id}`.
    pub route: String,
    /// `X-Auth-Token` value, if any.
    pub token: Option<String>,
    /// Status answered (0 for a connection reset).
    pub status: u16,
}

/// Observability for tests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests per route template.
    pub requests_by_route: BTreeMap<String, u64>,
    /// Response body bytes served.
    pub bytes_served: u64,
    pub requests: Vec<RequestRecord>,
}

impl Stats {
    pub fn count(&self, route: &str) -> u64 {
        self.requests_by_route.get(route).copied().unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub project: u32,
    pub expires_at: i64,
    pub expired: bool,
}

pub(crate) struct Shared {
    pub cfg: TestCloudConfig,
    pub base: String,
    pub store: RwLock<Store>,
    pub tokens: Mutex<HashMap<String, Token>>,
    pub token_seq: AtomicU64,
    pub faults: Mutex<Vec<RuleState>>,
    pub page_faults: AtomicBool,
    pub stats: Mutex<Stats>,
}

pub(crate) struct Resp {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Resp {
    fn json(status: u16, body: String) -> Resp {
        Resp {
            status,
            headers: vec![],
            body,
        }
    }
    fn header(mut self, k: &'static str, v: impl Into<String>) -> Resp {
        self.headers.push((k, v.into()));
        self
    }
}

#[derive(Clone, Copy)]
enum Svc {
    Keystone,
    Nova,
    Glance,
    Neutron,
    Cinder,
    Heat,
}

fn err(svc: Svc, status: u16, msg: &str) -> Resp {
    let m = json_str(msg);
    let body = match (svc, status) {
        (_, 401) => "{\"error\":{\"code\":401,\"title\":\"Unauthorized\",\"message\":\"The request you have made requires authentication.\"}}".to_string(),
        (Svc::Keystone, _) => format!("{{\"error\":{{\"code\":{status},\"title\":\"Error\",\"message\":{m}}}}}"),
        (Svc::Nova | Svc::Cinder, 404) => format!("{{\"itemNotFound\":{{\"code\":404,\"message\":{m}}}}}"),
        (Svc::Nova | Svc::Cinder, 400) => format!("{{\"badRequest\":{{\"code\":400,\"message\":{m}}}}}"),
        (Svc::Nova | Svc::Cinder, 406) => format!("{{\"notAcceptable\":{{\"code\":406,\"message\":{m}}}}}"),
        (Svc::Nova | Svc::Cinder, _) => format!("{{\"computeFault\":{{\"code\":{status},\"message\":{m}}}}}"),
        (Svc::Neutron, _) => format!("{{\"NeutronError\":{{\"type\":\"HTTP{status}\",\"message\":{m},\"detail\":\"\"}}}}"),
        (Svc::Glance, _) => format!("{{\"code\":{status},\"title\":\"Error\",\"message\":{m}}}"),
        (Svc::Heat, _) => format!(
            "{{\"code\":{status},\"error\":{{\"message\":{m},\"traceback\":null,\"type\":\"Error\"}},\"explanation\":{m},\"title\":\"Error\"}}"
        ),
    };
    Resp::json(status, body)
}

/// Result of a handler: an answer or a fault to apply instead.
pub(crate) enum Act {
    Status(u16, Option<u64>),
    Reset,
}

pub(crate) struct Rq<'a> {
    sh: &'a Shared,
    method: &'a str,
    path: &'a str,
    q: Vec<(String, String)>,
    headers: &'a HeaderMap,
    body: Bytes,
    token: Option<(String, Token)>,
    route: String,
    repeat: bool,
    delay: Option<Duration>,
    /// Routing only (for naming a faulted request): no page faults.
    dry: bool,
}

impl Rq<'_> {
    fn param(&self, k: &str) -> Option<&str> {
        self.q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    fn flag(&self, k: &str) -> bool {
        matches!(
            self.param(k).map(|v| v.to_ascii_lowercase()),
            Some(v) if v == "1" || v == "true" || v == "yes"
        )
    }
    fn token_project(&self) -> u32 {
        self.token.as_ref().map(|t| t.1.project).unwrap_or(0)
    }
    fn set_route(&mut self, r: &str) {
        self.route = format!("{} {r}", self.method);
    }
}

impl Shared {
    /// First applicable fault for a request (page None: rules without a page; Some(n): rules for page n).
    fn take_fault(
        &self,
        method: &str,
        path: &str,
        page: Option<u32>,
        token: Option<&str>,
    ) -> Option<Fault> {
        let mut rules = self.faults.lock().unwrap();
        for st in rules.iter_mut() {
            if st.exhausted() || st.rule.page != page || !st.rule.matches(method, path) {
                continue;
            }
            if let Fault::ExpireToken { after } = st.rule.fault {
                let Some(tok) = token else { continue };
                if !self.tokens.lock().unwrap().contains_key(tok) {
                    continue;
                }
                st.seen += 1;
                if st.seen <= after {
                    continue;
                }
                st.seen = 0;
            }
            st.fired += 1;
            return Some(st.rule.fault.clone());
        }
        None
    }

    pub fn add_fault(&self, rule: FaultRule) {
        if rule.page.is_some() {
            self.page_faults.store(true, Ordering::SeqCst);
        }
        self.faults.lock().unwrap().push(RuleState {
            rule,
            fired: 0,
            seen: 0,
        });
    }

    pub fn clear_faults(&self) {
        self.faults.lock().unwrap().clear();
        self.page_faults.store(false, Ordering::SeqCst);
    }

    pub fn issue_token(&self, project: u32) -> (String, Token) {
        let n = self.token_seq.fetch_add(1, Ordering::SeqCst);
        let id = format!("gAAAAAB{}", util::hexn(self.cfg.seed, 300, n, 120));
        let tok = Token {
            project,
            expires_at: util::now_secs() + self.cfg.token_ttl.as_secs() as i64,
            expired: false,
        };
        self.tokens.lock().unwrap().insert(id.clone(), tok.clone());
        (id, tok)
    }
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (pct_decode(k), pct_decode(v)),
            None => (pct_decode(kv), String::new()),
        })
        .collect()
}

fn is_public(method: &str, path: &str) -> bool {
    if path.starts_with("/_testcloud") {
        return true;
    }
    if method == "POST" && path.trim_end_matches('/') == "/identity/v3/auth/tokens" {
        return true;
    }
    method == "GET"
        && matches!(
            path.trim_end_matches('/'),
            "" | "/identity"
                | "/identity/v3"
                | "/compute"
                | "/compute/v2.1"
                | "/image"
                | "/network"
                | "/volume"
                | "/volume/v3"
                | "/heat"
        )
}

/// Error type that makes hyper drop the connection without answering.
#[derive(Debug)]
pub(crate) struct ConnReset;
impl std::fmt::Display for ConnReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}
impl std::error::Error for ConnReset {}

pub(crate) async fn handle(
    sh: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ConnReset> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let full_path = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let token_hdr = parts
        .headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut rq = Rq {
        sh: &sh,
        method: &method,
        path: &path,
        q: parse_query(&query),
        headers: &parts.headers,
        body,
        token: None,
        route: format!("{method} {path}"),
        repeat: false,
        delay: None,
        dry: false,
    };
    let res = process(&mut rq, token_hdr.as_deref());
    let delay = rq.delay;
    let route = rq.route.clone();
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let record = |status: u16, bytes: usize| {
        let mut s = sh.stats.lock().unwrap();
        *s.requests_by_route.entry(route.clone()).or_default() += 1;
        s.bytes_served += bytes as u64;
        s.requests.push(RequestRecord {
            method: method.clone(),
            path: full_path.clone(),
            route: route.clone(),
            token: token_hdr.clone(),
            status,
        });
    };
    let resp = match res {
        Ok(r) => r,
        Err(Act::Reset) => {
            record(0, 0);
            return Err(ConnReset);
        }
        Err(Act::Status(code, retry)) => {
            let svc = service_of(&path);
            let mut r = err(svc, code, "injected fault");
            if let Some(s) = retry {
                r = r.header("retry-after", s.to_string());
            }
            r
        }
    };
    record(resp.status, resp.body.len());
    let mut b = Response::builder()
        .status(StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .header(
            "x-openstack-request-id",
            format!(
                "req-{}",
                util::uuid(sh.cfg.seed, 301, sh.token_seq.load(Ordering::Relaxed))
            ),
        );
    for (k, v) in resp.headers {
        b = b.header(k, v);
    }
    Ok(b.body(Full::new(Bytes::from(resp.body))).unwrap())
}

fn service_of(path: &str) -> Svc {
    match path.split('/').nth(1).unwrap_or("") {
        "compute" => Svc::Nova,
        "image" => Svc::Glance,
        "network" => Svc::Neutron,
        "volume" => Svc::Cinder,
        "heat" => Svc::Heat,
        _ => Svc::Keystone,
    }
}

fn process(rq: &mut Rq, token: Option<&str>) -> Result<Resp, Act> {
    let sh = rq.sh;
    if rq.path.starts_with("/_testcloud") {
        rq.set_route("/_testcloud");
        return Ok(crate::admin::admin(sh, rq.method, rq.path, &rq.body));
    }
    match sh.take_fault(rq.method, rq.path, None, token) {
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            name_route(rq);
            return Err(Act::Status(status, retry_after));
        }
        Some(Fault::Reset) => {
            name_route(rq);
            return Err(Act::Reset);
        }
        Some(Fault::Delay { ms }) => rq.delay = Some(Duration::from_millis(ms)),
        Some(Fault::RepeatMarker) => rq.repeat = true,
        Some(Fault::ExpireToken { .. }) => {
            if let Some(t) = token {
                if let Some(tk) = sh.tokens.lock().unwrap().get_mut(t) {
                    tk.expired = true;
                }
            }
        }
        None => {}
    }
    if !is_public(rq.method, rq.path) {
        let found = token.and_then(|t| {
            sh.tokens
                .lock()
                .unwrap()
                .get(t)
                .cloned()
                .map(|k| (t.to_string(), k))
        });
        match found {
            Some((id, tk)) if !tk.expired && tk.expires_at > util::now_secs() => {
                rq.token = Some((id, tk))
            }
            _ => {
                set_route_template(rq);
                return Ok(err(service_of(rq.path), 401, "unauthorized"));
            }
        }
    }
    dispatch(rq)
}

/// Name the route of a request answered by a fault: route it without side effects.
fn name_route(rq: &mut Rq) {
    rq.dry = true;
    if rq.method == "POST" && rq.path.trim_end_matches('/') == "/identity/v3/auth/tokens" {
        rq.set_route("/identity/v3/auth/tokens");
        return;
    }
    let _ = dispatch(rq);
    if rq.route == format!("{} {}", rq.method, rq.path) {
        set_route_template(rq);
    }
}

fn dispatch(rq: &mut Rq) -> Result<Resp, Act> {
    let sh = rq.sh;
    let segs: Vec<String> = rq
        .path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(pct_decode)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let r = match segs.first().copied() {
        None => {
            rq.set_route("/");
            Ok(Resp::json(300, versions_root(&sh.base)))
        }
        Some("identity") => crate::keystone::route(rq, &segs[1..]),
        Some("compute") => nova(rq, &segs[1..]),
        Some("image") => glance(rq, &segs[1..]),
        Some("network") => neutron(rq, &segs[1..]),
        Some("volume") => cinder(rq, &segs[1..]),
        Some("heat") => heat(rq, &segs[1..]),
        _ => Ok(err(Svc::Keystone, 404, "not found")),
    };
    if rq.route == format!("{} {}", rq.method, rq.path) {
        set_route_template(rq);
    }
    r
}

/// Route template for stats when a handler did not name one: ids replaced by `{id}`.
fn set_route_template(rq: &mut Rq) {
    let t: Vec<String> = rq
        .path
        .split('/')
        .map(|s| {
            let looks_id = (s.len() >= 32 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
                || (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()));
            if looks_id {
                "{id}".to_string()
            } else {
                s.to_string()
            }
        })
        .collect();
    rq.route = format!("{} {}", rq.method, t.join("/"));
}

fn versions_root(base: &str) -> String {
    json!({"versions": {"values": [{"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": format!("{base}/identity/v3/")}]}]}}).to_string()
}

// ---------------------------------------------------------------- pagination

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// nova/cinder/keystone/glance: next whenever the page is full.
    FullPage,
    /// neutron: next only when more items exist.
    Neutron,
    /// heat: no links.
    NoLinks,
}

struct Page {
    items: Vec<u32>,
    limit: usize,
    /// Whether a next pointer goes into the body.
    next: bool,
    /// Marker for the next pointer.
    next_marker: Option<String>,
}

/// List `kind` with limit/marker; `pos_of` resolves a marker to an index.
#[allow(clippy::too_many_arguments)]
fn paginate(
    rq: &mut Rq,
    st: &Store,
    kind: Kind,
    style: Style,
    default_limit: Option<usize>,
    filter: &dyn Fn(&Item) -> bool,
    pos_of: &dyn Fn(&str) -> Option<u32>,
    svc: Svc,
) -> Result<Result<Page, Resp>, Act> {
    let max = rq.sh.cfg.max_limit.max(1);
    let limit = match rq.param("limit") {
        Some(l) => match l.parse::<usize>() {
            Ok(0) if style == Style::Neutron => usize::MAX,
            Ok(n) if style == Style::NoLinks => n.max(1),
            Ok(n) => n.clamp(1, max),
            Err(_) => return Ok(Err(err(svc, 400, "limit must be an integer"))),
        },
        None => default_limit.unwrap_or(usize::MAX),
    };
    let t = st.table(kind);
    let start = match rq.param("marker") {
        Some(m) => match pos_of(m) {
            Some(p) => p as usize + 1,
            None => return Ok(Err(err(svc, 400, &format!("marker [{m}] not found")))),
        },
        None => 0,
    };
    let visible = |it: &Item| !it.deleted && filter(it);
    if rq.sh.page_faults.load(Ordering::Relaxed) && limit != usize::MAX && !rq.dry {
        let before = t.items[..start.min(t.items.len())]
            .iter()
            .filter(|i| visible(i))
            .count();
        let page = (before / limit) as u32 + 1;
        if let Some(f) = rq.sh.take_fault(rq.method, rq.path, Some(page), None) {
            match f {
                Fault::Status {
                    status,
                    retry_after,
                } => return Err(Act::Status(status, retry_after)),
                Fault::Reset => return Err(Act::Reset),
                Fault::Delay { ms } => rq.delay = Some(Duration::from_millis(ms)),
                Fault::RepeatMarker => rq.repeat = true,
                Fault::ExpireToken { .. } => {}
            }
        }
    }
    let mut items = Vec::new();
    let mut more = false;
    for (i, it) in t.items.iter().enumerate().skip(start) {
        if visible(it) {
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(i as u32);
        }
    }
    let next = match style {
        Style::FullPage => limit != usize::MAX && items.len() == limit,
        Style::Neutron => limit != usize::MAX && more,
        Style::NoLinks => false,
    };
    let next_marker = if rq.repeat {
        rq.param("marker").map(str::to_string)
    } else {
        items.last().map(|&i| t.items[i as usize].id.clone())
    };
    Ok(Ok(Page {
        items,
        limit,
        next,
        next_marker,
    }))
}

/// `prefix?<original params minus limit/marker>&limit=N&marker=M`
fn next_href(prefix: &str, rq: &Rq, limit: usize, marker: Option<&str>) -> String {
    let mut s = String::from(prefix);
    let mut sep = '?';
    for (k, v) in &rq.q {
        if k == "limit" || k == "marker" {
            continue;
        }
        s.push(sep);
        sep = '&';
        s.push_str(&pct_encode(k));
        s.push('=');
        s.push_str(&pct_encode(v));
    }
    s.push(sep);
    s.push_str(&format!("limit={limit}"));
    if let Some(m) = marker {
        s.push_str("&marker=");
        s.push_str(&pct_encode(m));
    }
    s
}

/// Render a list body: `{"<key>":[...]<tail>}` where tail has the links.
fn render_list(cx: &Cx, kind: Kind, items: &[u32], key: &str, est: usize) -> String {
    let mut out = String::with_capacity(items.len() * est + 64);
    out.push_str("{\"");
    out.push_str(key);
    out.push_str("\":[");
    let mut vals = Vals::default();
    for (n, &i) in items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        cx.render(kind, i, Shape::List, &mut vals, &mut out);
    }
    out.push(']');
    out
}

fn links_tail(out: &mut String, key: &str, href: Option<&str>) {
    if let Some(h) = href {
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":[{\"href\":");
        push_json_str(out, h);
        out.push_str(",\"rel\":\"next\"}]");
    }
}

/// One object by id (a service's show call), or the service's 404 in its own words.
fn show_or_404(
    cx: &Cx,
    svc: Svc,
    kind: Kind,
    id: &str,
    key: Option<&str>,
    not_found: &str,
) -> Result<Resp, Act> {
    Ok(match cx.st.table(kind).get(id) {
        Some((i, _)) => Resp::json(200, show(cx, kind, i, key)),
        None => err(svc, 404, not_found),
    })
}

fn show(cx: &Cx, kind: Kind, i: u32, key: Option<&str>) -> String {
    let mut out = String::with_capacity(4096);
    let mut vals = Vals::default();
    if let Some(k) = key {
        out.push_str("{\"");
        out.push_str(k);
        out.push_str("\":");
    }
    cx.render(kind, i, Shape::Show, &mut vals, &mut out);
    if key.is_some() {
        out.push('}');
    }
    out
}

macro_rules! page_or {
    ($e:expr) => {
        match $e? {
            Ok(p) => p,
            Err(resp) => return Ok(resp),
        }
    };
}

// ---------------------------------------------------------------- microversions

fn negotiate(
    headers: &HeaderMap,
    service: &str,
    legacy: Option<&str>,
    min: (u32, u32),
    max: (u32, u32),
    svc: Svc,
) -> Result<(u32, u32), Resp> {
    let mut asked: Option<String> = None;
    for v in headers.get_all("openstack-api-version") {
        for part in v.to_str().unwrap_or("").split(',') {
            let mut w = part.split_whitespace();
            if w.next().is_some_and(|s| s.eq_ignore_ascii_case(service)) {
                asked = w.next().map(str::to_string);
            }
        }
    }
    if asked.is_none() {
        if let Some(l) = legacy {
            asked = headers
                .get(l)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string());
        }
    }
    let Some(a) = asked else { return Ok(min) };
    if a.eq_ignore_ascii_case("latest") {
        return Ok(max);
    }
    let parsed = a
        .split_once('.')
        .and_then(|(x, y)| Some((x.parse::<u32>().ok()?, y.parse::<u32>().ok()?)));
    match parsed {
        None => Err(err(
            svc,
            400,
            &format!("Invalid API version request string {a}"),
        )),
        Some(v) if v < min || v > max => Err(err(
            svc,
            406,
            &format!(
                "Version {a} is not supported by the API. Minimum is {}.{} and maximum is {}.{}.",
                min.0, min.1, max.0, max.1
            ),
        )),
        Some(v) => Ok(v),
    }
}

fn with_version(r: Resp, service: &str, v: (u32, u32), legacy: Option<&'static str>) -> Resp {
    let mut r = r
        .header(
            "openstack-api-version",
            format!("{service} {}.{}", v.0, v.1),
        )
        .header("vary", "OpenStack-API-Version");
    if let Some(l) = legacy {
        r = r.header(l, format!("{}.{}", v.0, v.1));
    }
    r
}

// ---------------------------------------------------------------- nova

fn nova(rq: &mut Rq, segs: &[&str]) -> Result<Resp, Act> {
    let base = rq.sh.base.clone();
    if segs.is_empty() {
        rq.set_route("/compute/");
        return Ok(Resp::json(
            200,
            json!({"versions": [
                {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z",
                 "links": [{"rel": "self", "href": format!("{base}/compute/v2/")}]},
                nova_version(&base)]})
            .to_string(),
        ));
    }
    if segs[0] != "v2.1" {
        return Ok(err(Svc::Nova, 404, "not found"));
    }
    let segs = &segs[1..];
    if segs.is_empty() {
        rq.set_route("/compute/v2.1/");
        return Ok(Resp::json(
            200,
            json!({"version": nova_version(&base)}).to_string(),
        ));
    }
    let v = match negotiate(
        rq.headers,
        "compute",
        Some("x-openstack-nova-api-version"),
        NOVA_MIN,
        NOVA_MAX,
        Svc::Nova,
    ) {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let r = nova_inner(rq, segs, v)?;
    Ok(with_version(
        r,
        "compute",
        v,
        Some("x-openstack-nova-api-version"),
    ))
}

fn nova_version(base: &str) -> Value {
    json!({"id": "v2.1", "status": "CURRENT", "version": format!("{}.{}", NOVA_MAX.0, NOVA_MAX.1),
           "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
           "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/")}],
           "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]})
}

fn nova_inner(rq: &mut Rq, segs: &[&str], v: (u32, u32)) -> Result<Resp, Act> {
    let sh = rq.sh;
    let st = sh.store.read().unwrap();
    let cx = Cx {
        st: &st,
        base: &sh.base,
        nova: v,
        cinder: CINDER_MIN,
    };
    let url = format!("{}/compute/v2.1/", sh.base);
    let stt: &Store = &st;
    let by_id = |k: Kind| move |m: &str| stt.table(k).by_id.get(m).copied();
    match segs {
        ["servers", "detail"] | ["servers"] => {
            let detail = segs.len() == 2;
            rq.set_route(if detail {
                "/compute/v2.1/servers/detail"
            } else {
                "/compute/v2.1/servers"
            });
            let all = rq.flag("all_tenants");
            let tp = rq.token_project();
            let want = rq
                .param("project_id")
                .or(rq.param("tenant_id"))
                .map(str::to_string);
            let wp = want
                .as_deref()
                .and_then(|p| st.table(Kind::Project).by_id.get(p).copied());
            if want.is_some() && wp.is_none() {
                return Ok(Resp::json(200, "{\"servers\":[]}".into()));
            }
            let filter = move |it: &Item| match (all, wp) {
                (true, Some(p)) => it.project == p,
                (true, None) => true,
                (false, _) => it.project == tp,
            };
            let p = page_or!(paginate(
                rq,
                &st,
                Kind::Server,
                Style::FullPage,
                Some(sh.cfg.max_limit),
                &filter,
                &by_id(Kind::Server),
                Svc::Nova
            ));
            let mut out = if detail {
                render_list(&cx, Kind::Server, &p.items, "servers", 3000)
            } else {
                let mut o = String::from("{\"servers\":[");
                for (n, &i) in p.items.iter().enumerate() {
                    let it = st.item(Kind::Server, i);
                    if n > 0 {
                        o.push(',');
                    }
                    o.push_str(&format!(
                        "{{\"id\":\"{id}\",\"links\":[{{\"href\":\"{b}/compute/v2.1/servers/{id}\",\"rel\":\"self\"}},{{\"href\":\"{b}/compute/servers/{id}\",\"rel\":\"bookmark\"}}],\"name\":{}}}",
                        json_str(&it.name),
                        id = it.id,
                        b = sh.base
                    ));
                }
                o.push(']');
                o
            };
            let path = if detail { "servers/detail" } else { "servers" };
            let href = p.next.then(|| {
                next_href(
                    &format!("{url}{path}"),
                    rq,
                    p.limit,
                    p.next_marker.as_deref(),
                )
            });
            links_tail(&mut out, "servers_links", href.as_deref());
            out.push('}');
            Ok(Resp::json(200, out))
        }
        ["servers", id] => {
            rq.set_route("/compute/v2.1/servers/{id}");
            show_or_404(
                &cx,
                Svc::Nova,
                Kind::Server,
                id,
                Some("server"),
                &format!("Instance {id} could not be found."),
            )
        }
        ["flavors", "detail"] => {
            rq.set_route("/compute/v2.1/flavors/detail");
            let p = page_or!(paginate(
                rq,
                &st,
                Kind::Flavor,
                Style::FullPage,
                Some(sh.cfg.max_limit),
                &|_| true,
                &by_id(Kind::Flavor),
                Svc::Nova
            ));
            let mut out = render_list(&cx, Kind::Flavor, &p.items, "flavors", 600);
            let href = p.next.then(|| {
                next_href(
                    &format!("{url}flavors/detail"),
                    rq,
                    p.limit,
                    p.next_marker.as_deref(),
                )
            });
            links_tail(&mut out, "flavors_links", href.as_deref());
            out.push('}');
            Ok(Resp::json(200, out))
        }
        ["flavors", id] => {
            rq.set_route("/compute/v2.1/flavors/{id}");
            show_or_404(
                &cx,
                Svc::Nova,
                Kind::Flavor,
                id,
                Some("flavor"),
                &format!("Flavor {id} could not be found."),
            )
        }
        ["os-keypairs"] => {
            rq.set_route("/compute/v2.1/os-keypairs");
            let paged = v >= (2, 35);
            if !paged {
                rq.q.retain(|(k, _)| k != "limit" && k != "marker");
            }
            let p = page_or!(paginate(
                rq,
                &st,
                Kind::Keypair,
                if paged {
                    Style::FullPage
                } else {
                    Style::NoLinks
                },
                if paged { Some(sh.cfg.max_limit) } else { None },
                &|_| true,
                &by_id(Kind::Keypair),
                Svc::Nova
            ));
            let mut out = String::from("{\"keypairs\":[");
            let mut vals = Vals::default();
            for (n, &i) in p.items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str("{\"keypair\":");
                cx.render(Kind::Keypair, i, Shape::List, &mut vals, &mut out);
                out.push('}');
            }
            out.push(']');
            let href = p.next.then(|| {
                next_href(
                    &format!("{url}os-keypairs"),
                    rq,
                    p.limit,
                    p.next_marker.as_deref(),
                )
            });
            links_tail(&mut out, "keypairs_links", href.as_deref());
            out.push('}');
            Ok(Resp::json(200, out))
        }
        ["os-keypairs", name] => {
            rq.set_route("/compute/v2.1/os-keypairs/{name}");
            match st.table(Kind::Keypair).get(name) {
                Some((i, _)) => Ok(Resp::json(
                    200,
                    show(&cx, Kind::Keypair, i, Some("keypair")),
                )),
                None => Ok(err(
                    Svc::Nova,
                    404,
                    &format!("Keypair {name} not found for user"),
                )),
            }
        }
        ["os-server-groups"] => {
            rq.set_route("/compute/v2.1/os-server-groups");
            let all = rq.flag("all_projects");
            let tp = rq.token_project();
            let limit = rq
                .param("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(sh.cfg.max_limit)
                .clamp(1, sh.cfg.max_limit);
            let offset = rq
                .param("offset")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(0);
            if sh.page_faults.load(Ordering::Relaxed) && !rq.dry {
                match sh.take_fault(rq.method, rq.path, Some((offset / limit) as u32 + 1), None) {
                    Some(Fault::Status {
                        status,
                        retry_after,
                    }) => return Err(Act::Status(status, retry_after)),
                    Some(Fault::Reset) => return Err(Act::Reset),
                    Some(Fault::Delay { ms }) => rq.delay = Some(Duration::from_millis(ms)),
                    _ => {}
                }
            }
            let items: Vec<u32> = st
                .table(Kind::ServerGroup)
                .live()
                .filter(|(_, it)| all || it.project == tp)
                .skip(offset)
                .take(limit)
                .map(|(i, _)| i)
                .collect();
            let mut out = render_list(&cx, Kind::ServerGroup, &items, "server_groups", 300);
            out.push('}');
            Ok(Resp::json(200, out))
        }
        ["os-server-groups", id] => {
            rq.set_route("/compute/v2.1/os-server-groups/{id}");
            show_or_404(
                &cx,
                Svc::Nova,
                Kind::ServerGroup,
                id,
                Some("server_group"),
                &format!("Server group {id} could not be found."),
            )
        }
        ["os-hypervisors", "detail"] => {
            rq.set_route("/compute/v2.1/os-hypervisors/detail");
            let paged = v >= (2, 33);
            if !paged {
                rq.q.retain(|(k, _)| k != "limit" && k != "marker");
            }
            let uuid_ids = v >= (2, 53);
            let t = st.table(Kind::Hypervisor);
            let pos = |m: &str| {
                if uuid_ids {
                    t.by_id.get(m).copied()
                } else {
                    m.parse::<u32>()
                        .ok()
                        .filter(|&n| n >= 1 && (n as usize) <= t.items.len())
                        .map(|n| n - 1)
                }
            };
            let mut p = page_or!(paginate(
                rq,
                &st,
                Kind::Hypervisor,
                if paged {
                    Style::FullPage
                } else {
                    Style::NoLinks
                },
                paged.then_some(sh.cfg.max_limit),
                &|_| true,
                &pos,
                Svc::Nova
            ));
            if !uuid_ids && !rq.repeat {
                p.next_marker = p.items.last().map(|i| (i + 1).to_string());
            }
            let mut out = render_list(&cx, Kind::Hypervisor, &p.items, "hypervisors", 800);
            let href = p.next.then(|| {
                next_href(
                    &format!("{url}os-hypervisors/detail"),
                    rq,
                    p.limit,
                    p.next_marker.as_deref(),
                )
            });
            links_tail(&mut out, "hypervisors_links", href.as_deref());
            out.push('}');
            Ok(Resp::json(200, out))
        }
        ["os-hypervisors", id] => {
            rq.set_route("/compute/v2.1/os-hypervisors/{id}");
            let t = st.table(Kind::Hypervisor);
            let found = if v >= (2, 53) {
                t.get(id).map(|x| x.0)
            } else {
                id.parse::<u32>()
                    .ok()
                    .filter(|&n| {
                        n >= 1 && (n as usize) <= t.items.len() && !t.items[n as usize - 1].deleted
                    })
                    .map(|n| n - 1)
            };
            match found {
                Some(i) => Ok(Resp::json(
                    200,
                    show(&cx, Kind::Hypervisor, i, Some("hypervisor")),
                )),
                None => Ok(err(
                    Svc::Nova,
                    404,
                    &format!("Hypervisor with ID {id} could not be found."),
                )),
            }
        }
        _ => Ok(err(Svc::Nova, 404, "The resource could not be found.")),
    }
}

// ---------------------------------------------------------------- glance

fn glance(rq: &mut Rq, segs: &[&str]) -> Result<Resp, Act> {
    let sh = rq.sh;
    let base = &sh.base;
    match segs {
        [] => {
            rq.set_route("/image/");
            let vs: Vec<Value> = ["2.17", "2.16", "2.15", "2.9", "2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0"]
                .iter()
                .enumerate()
                .map(|(i, v)| json!({"id": format!("v{v}"), "status": if i == 0 { "CURRENT" } else { "SUPPORTED" },
                                     "links": [{"rel": "self", "href": format!("{base}/image/v2/")}]}))
                .collect();
            Ok(Resp::json(300, json!({"versions": vs}).to_string()))
        }
        ["v2", "images"] => {
            rq.set_route("/image/v2/images");
            let st = sh.store.read().unwrap();
            let cx = Cx {
                st: &st,
                base,
                nova: NOVA_MIN,
                cinder: CINDER_MIN,
            };
            let by_id = |m: &str| st.table(Kind::Image).by_id.get(m).copied();
            let p = page_or!(paginate(
                rq,
                &st,
                Kind::Image,
                Style::FullPage,
                Some(25),
                &|_| true,
                &by_id,
                Svc::Glance
            ));
            let mut out = render_list(&cx, Kind::Image, &p.items, "images", 900);
            out.push_str(",\"schema\":\"/v2/schemas/images\",\"first\":");
            let first = next_href("/v2/images", rq, p.limit, None);
            let first = first
                .replace(&format!("limit={}", p.limit), "")
                .trim_end_matches(['?', '&'])
                .to_string();
            push_json_str(&mut out, &first);
            if p.next {
                out.push_str(",\"next\":");
                push_json_str(
                    &mut out,
                    &next_href("/v2/images", rq, p.limit, p.next_marker.as_deref()),
                );
            }
            out.push('}');
            Ok(Resp::json(200, out))
        }
        ["v2", "images", id] => {
            rq.set_route("/image/v2/images/{id}");
            let st = sh.store.read().unwrap();
            let cx = Cx {
                st: &st,
                base,
                nova: NOVA_MIN,
                cinder: CINDER_MIN,
            };
            show_or_404(
                &cx,
                Svc::Glance,
                Kind::Image,
                id,
                None,
                &format!("No image found with ID {id}"),
            )
        }
        _ => Ok(err(Svc::Glance, 404, "not found")),
    }
}

// ---------------------------------------------------------------- neutron

const NEUTRON: [(&str, &str, Kind, usize); 7] = [
    ("networks", "network", Kind::Network, 900),
    ("subnets", "subnet", Kind::Subnet, 700),
    ("ports", "port", Kind::Port, 1100),
    ("routers", "router", Kind::Router, 800),
    ("floatingips", "floatingip", Kind::FloatingIp, 900),
    (
        "security-groups",
        "security_group",
        Kind::SecurityGroup,
        2500,
    ),
    (
        "security-group-rules",
        "security_group_rule",
        Kind::SecurityGroupRule,
        550,
    ),
];

fn neutron(rq: &mut Rq, segs: &[&str]) -> Result<Resp, Act> {
    let sh = rq.sh;
    let base = &sh.base;
    if segs.is_empty() {
        rq.set_route("/network/");
        return Ok(Resp::json(
            200,
            json!({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": format!("{base}/network/v2.0/")}]}]}).to_string(),
        ));
    }
    if segs[0] != "v2.0" || segs.len() < 2 {
        return Ok(err(Svc::Neutron, 404, "not found"));
    }
    let coll = segs[1].trim_end_matches(".json");
    let Some(&(plural, singular, kind, est)) = NEUTRON.iter().find(|c| c.0 == coll) else {
        return Ok(err(Svc::Neutron, 404, "The resource could not be found."));
    };
    let st = sh.store.read().unwrap();
    let cx = Cx {
        st: &st,
        base,
        nova: NOVA_MIN,
        cinder: CINDER_MIN,
    };
    match &segs[2..] {
        [] => {
            rq.set_route(&format!("/network/v2.0/{plural}"));
            let want = rq
                .param("project_id")
                .or(rq.param("tenant_id"))
                .map(str::to_string);
            let wp = want.as_deref().map(|p| {
                st.table(Kind::Project)
                    .by_id
                    .get(p)
                    .copied()
                    .unwrap_or(u32::MAX)
            });
            let filter = move |it: &Item| wp.is_none_or(|p| it.project == p);
            let by_id = |m: &str| st.table(kind).by_id.get(m).copied();
            let p = page_or!(paginate(
                rq,
                &st,
                kind,
                Style::Neutron,
                None,
                &filter,
                &by_id,
                Svc::Neutron
            ));
            let key = plural.replace('-', "_");
            let mut out = render_list(&cx, kind, &p.items, &key, est);
            if rq.param("limit").is_some() {
                let prefix = format!("{base}/network/v2.0/{plural}");
                let mut links: Vec<String> = Vec::new();
                if p.next {
                    links.push(format!(
                        "{{\"href\":{},\"rel\":\"next\"}}",
                        json_str(&next_href(&prefix, rq, p.limit, p.next_marker.as_deref()))
                    ));
                }
                if rq.param("marker").is_some() {
                    if let Some(&f) = p.items.first() {
                        let mut h = next_href(&prefix, rq, p.limit, Some(&st.item(kind, f).id));
                        h.push_str("&page_reverse=True");
                        links.push(format!(
                            "{{\"href\":{},\"rel\":\"previous\"}}",
                            json_str(&h)
                        ));
                    }
                }
                out.push_str(&format!(",\"{key}_links\":[{}]", links.join(",")));
            }
            out.push('}');
            Ok(Resp::json(200, out))
        }
        [id] => {
            rq.set_route(&format!("/network/v2.0/{plural}/{{id}}"));
            show_or_404(
                &cx,
                Svc::Neutron,
                kind,
                id,
                Some(singular),
                &format!("{singular} {id} could not be found."),
            )
        }
        _ => Ok(err(Svc::Neutron, 404, "The resource could not be found.")),
    }
}

// ---------------------------------------------------------------- cinder

fn cinder(rq: &mut Rq, segs: &[&str]) -> Result<Resp, Act> {
    let sh = rq.sh;
    let base = sh.base.clone();
    let version = |base: &str| {
        json!({"id": "v3.0", "status": "CURRENT", "version": format!("{}.{}", CINDER_MAX.0, CINDER_MAX.1), "min_version": "3.0",
               "updated": "2023-08-31T00:00:00Z", "links": [{"rel": "self", "href": format!("{base}/volume/v3/")}],
               "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}]})
    };
    match segs {
        [] => {
            rq.set_route("/volume/");
            return Ok(Resp::json(
                300,
                json!({"versions": [version(&base)]}).to_string(),
            ));
        }
        ["v3"] => {
            rq.set_route("/volume/v3/");
            return Ok(Resp::json(
                200,
                json!({"versions": [version(&base)]}).to_string(),
            ));
        }
        _ => {}
    }
    if segs[0] != "v3" || segs.len() < 3 {
        return Ok(err(Svc::Cinder, 404, "not found"));
    }
    let v = match negotiate(
        rq.headers,
        "volume",
        None,
        CINDER_MIN,
        CINDER_MAX,
        Svc::Cinder,
    ) {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let r = cinder_inner(rq, &segs[1..], v)?;
    Ok(with_version(r, "volume", v, None))
}

fn cinder_inner(rq: &mut Rq, segs: &[&str], v: (u32, u32)) -> Result<Resp, Act> {
    let sh = rq.sh;
    let st = sh.store.read().unwrap();
    let cx = Cx {
        st: &st,
        base: &sh.base,
        nova: NOVA_MIN,
        cinder: v,
    };
    // From 3.67 the project segment is optional: `/v3/volumes/detail` means the
    // token's project.
    let with_project: Vec<&str>;
    let segs: &[&str] = if matches!(segs.first(), Some(&"volumes") | Some(&"snapshots")) {
        if v < (3, 67) {
            return Ok(err(Svc::Cinder, 404, "The resource could not be found."));
        }
        let project = st.table(Kind::Project).items[rq.token_project() as usize]
            .id
            .as_str();
        with_project = std::iter::once(project)
            .chain(segs.iter().copied())
            .collect();
        &with_project
    } else {
        segs
    };
    let pid = segs[0];
    let Some(&up) = st.table(Kind::Project).by_id.get(pid) else {
        return Ok(err(Svc::Cinder, 404, &format!("project {pid} not found")));
    };
    let (kind, plural, singular, est) = match segs[1] {
        "volumes" => (Kind::Volume, "volumes", "volume", 1500),
        "snapshots" => (Kind::Snapshot, "snapshots", "snapshot", 500),
        _ => return Ok(err(Svc::Cinder, 404, "The resource could not be found.")),
    };
    match &segs[2..] {
        ["detail"] => {
            rq.set_route(&format!("/volume/v3/{{project_id}}/{plural}/detail"));
            let all = rq.flag("all_tenants");
            let want = rq.param("project_id").map(str::to_string);
            let wp = want.as_deref().map(|p| {
                st.table(Kind::Project)
                    .by_id
                    .get(p)
                    .copied()
                    .unwrap_or(u32::MAX)
            });
            let filter = move |it: &Item| match (all, wp) {
                (true, Some(p)) => it.project == p,
                (true, None) => true,
                (false, _) => it.project == up,
            };
            let by_id = |m: &str| st.table(kind).by_id.get(m).copied();
            let p = page_or!(paginate(
                rq,
                &st,
                kind,
                Style::FullPage,
                Some(sh.cfg.max_limit),
                &filter,
                &by_id,
                Svc::Cinder
            ));
            let mut out = render_list(&cx, kind, &p.items, plural, est);
            let href = p.next.then(|| {
                next_href(
                    &format!("{}/volume/v3/{pid}/{plural}/detail", sh.base),
                    rq,
                    p.limit,
                    p.next_marker.as_deref(),
                )
            });
            links_tail(&mut out, &format!("{plural}_links"), href.as_deref());
            out.push('}');
            Ok(Resp::json(200, out))
        }
        [id] => {
            rq.set_route(&format!("/volume/v3/{{project_id}}/{plural}/{{id}}"));
            show_or_404(
                &cx,
                Svc::Cinder,
                kind,
                id,
                Some(singular),
                &format!("{singular} {id} could not be found."),
            )
        }
        _ => Ok(err(Svc::Cinder, 404, "The resource could not be found.")),
    }
}

// ---------------------------------------------------------------- heat

fn heat(rq: &mut Rq, segs: &[&str]) -> Result<Resp, Act> {
    let sh = rq.sh;
    let base = &sh.base;
    if segs.is_empty() {
        rq.set_route("/heat/");
        return Ok(Resp::json(
            300,
            json!({"versions": [{"id": "v1.0", "status": "CURRENT", "links": [{"rel": "self", "href": format!("{base}/heat/v1/")}]}]}).to_string(),
        ));
    }
    if segs[0] != "v1" || segs.len() < 3 || segs[2] != "stacks" {
        return Ok(err(Svc::Heat, 404, "The resource could not be found."));
    }
    let pid = segs[1];
    let st = sh.store.read().unwrap();
    let cx = Cx {
        st: &st,
        base,
        nova: NOVA_MIN,
        cinder: CINDER_MIN,
    };
    let Some(&up) = st.table(Kind::Project).by_id.get(pid) else {
        return Ok(err(Svc::Heat, 404, &format!("project {pid} not found")));
    };
    let t = st.table(Kind::Stack);
    let lookup = |x: &str| -> Option<u32> {
        t.get(x)
            .map(|(i, _)| i)
            .or_else(|| t.live().find(|(_, it)| it.name == x).map(|(i, _)| i))
    };
    let canonical = |i: u32| cx.stack_url(st.item(Kind::Stack, i));
    let rest = &segs[3..];
    match rest {
        [] => {
            rq.set_route("/heat/v1/{project_id}/stacks");
            let global = rq.flag("global_tenant");
            let show_nested = rq.flag("show_nested");
            let filter = move |it: &Item| {
                let nested = matches!(
                    &it.d,
                    Data::Stack {
                        parent: Some(_),
                        ..
                    }
                );
                (global || it.project == up) && (show_nested || !nested)
            };
            let by_id = |m: &str| t.by_id.get(m).copied();
            let p = page_or!(paginate(
                rq,
                &st,
                Kind::Stack,
                Style::NoLinks,
                None,
                &filter,
                &by_id,
                Svc::Heat
            ));
            let mut out = render_list(&cx, Kind::Stack, &p.items, "stacks", 700);
            out.push('}');
            Ok(Resp::json(200, out))
        }
        [x] => {
            rq.set_route("/heat/v1/{project_id}/stacks/{stack}");
            match lookup(x) {
                Some(i) => Ok(found(canonical(i))),
                None => Ok(err(
                    Svc::Heat,
                    404,
                    &format!("The Stack ({x}) could not be found."),
                )),
            }
        }
        [x, "resources", more @ ..] if t.get("resources").is_none_or(|(_, it)| it.name != *x) => {
            rq.set_route("/heat/v1/{project_id}/stacks/{stack}/resources");
            match lookup(x) {
                Some(i) => {
                    let mut loc = format!("{}/resources", canonical(i));
                    for m in more.iter() {
                        loc.push('/');
                        loc.push_str(m);
                    }
                    if !rq.q.is_empty() {
                        loc = next_href(&loc, rq, 0, None)
                            .replace("&limit=0", "")
                            .replace("?limit=0", "");
                    }
                    Ok(found(loc))
                }
                None => Ok(err(
                    Svc::Heat,
                    404,
                    &format!("The Stack ({x}) could not be found."),
                )),
            }
        }
        [name, id, tail @ ..] => {
            let Some((si, stack)) = t.get(id).filter(|(_, it)| it.name == *name) else {
                set_route_stack(rq, tail);
                return Ok(err(
                    Svc::Heat,
                    404,
                    &format!("The Stack ({name}) could not be found."),
                ));
            };
            let Data::Stack { resources, .. } = &stack.d else {
                unreachable!()
            };
            match tail {
                [] => {
                    rq.set_route("/heat/v1/{project_id}/stacks/{name}/{id}");
                    Ok(Resp::json(200, show(&cx, Kind::Stack, si, Some("stack"))))
                }
                ["resources"] => {
                    rq.set_route("/heat/v1/{project_id}/stacks/{name}/{id}/resources");
                    let depth = rq
                        .param("nested_depth")
                        .and_then(|d| d.parse::<u32>().ok())
                        .unwrap_or(0);
                    let mut out = String::from("{\"resources\":[");
                    let mut vals = Vals::default();
                    let mut first = true;
                    heat_resources(&cx, si, depth, None, &mut vals, &mut out, &mut first);
                    out.push_str("]}");
                    Ok(Resp::json(200, out))
                }
                ["resources", rname] => {
                    rq.set_route("/heat/v1/{project_id}/stacks/{name}/{id}/resources/{resource}");
                    match resources.iter().find(|r| r.name == *rname) {
                        Some(r) => {
                            let mut out = String::from("{\"resource\":");
                            cx.render_resource(
                                stack,
                                r,
                                None,
                                Shape::Show,
                                &mut tpls_vals(),
                                &mut out,
                            );
                            out.push('}');
                            Ok(Resp::json(200, out))
                        }
                        None => Ok(err(
                            Svc::Heat,
                            404,
                            &format!("The Resource ({rname}) could not be found."),
                        )),
                    }
                }
                _ => Ok(err(Svc::Heat, 404, "The resource could not be found.")),
            }
        }
    }
}

fn tpls_vals() -> Vals {
    let _ = tpls();
    Vals::default()
}

fn set_route_stack(rq: &mut Rq, tail: &[&str]) {
    let r = match tail {
        [] => "/heat/v1/{project_id}/stacks/{name}/{id}",
        ["resources"] => "/heat/v1/{project_id}/stacks/{name}/{id}/resources",
        _ => "/heat/v1/{project_id}/stacks/{name}/{id}/resources/{resource}",
    };
    rq.set_route(r);
}

fn found(loc: String) -> Resp {
    let body = format!("{{\"location\":{}}}", json_str(&loc));
    Resp::json(302, body).header("location", loc)
}

fn heat_resources(
    cx: &Cx,
    si: u32,
    depth: u32,
    parent: Option<&str>,
    vals: &mut Vals,
    out: &mut String,
    first: &mut bool,
) {
    let stack = cx.st.item(Kind::Stack, si);
    let Data::Stack { resources, .. } = &stack.d else {
        return;
    };
    for r in resources {
        if !*first {
            out.push(',');
        }
        *first = false;
        cx.render_resource(stack, r, parent, Shape::List, vals, out);
        if depth > 0 {
            if let Phys::Ref(Kind::Stack, c) = r.phys {
                if !cx.st.item(Kind::Stack, c).deleted {
                    heat_resources(cx, c, depth - 1, Some(&r.name), vals, out, first);
                }
            }
        }
    }
}

// ---------------------------------------------------------------- keystone helpers used by keystone.rs

pub(crate) fn keystone_projects(rq: &mut Rq, rest: &[&str]) -> Result<Resp, Act> {
    let sh = rq.sh;
    let st = sh.store.read().unwrap();
    let cx = Cx {
        st: &st,
        base: &sh.base,
        nova: NOVA_MIN,
        cinder: CINDER_MIN,
    };
    match rest {
        [] => {
            rq.set_route("/identity/v3/projects");
            let by_id = |m: &str| st.table(Kind::Project).by_id.get(m).copied();
            let p = page_or!(paginate(
                rq,
                &st,
                Kind::Project,
                Style::FullPage,
                None,
                &|_| true,
                &by_id,
                Svc::Keystone
            ));
            let mut out = String::from("{\"links\":{\"self\":");
            push_json_str(&mut out, &format!("{}/identity/v3/projects", sh.base));
            out.push_str(",\"previous\":null,\"next\":");
            if p.next {
                push_json_str(
                    &mut out,
                    &next_href(
                        &format!("{}/identity/v3/projects", sh.base),
                        rq,
                        p.limit,
                        p.next_marker.as_deref(),
                    ),
                );
            } else {
                out.push_str("null");
            }
            out.push_str("},");
            let list = render_list(&cx, Kind::Project, &p.items, "projects", 400);
            out.push_str(&list[1..]);
            out.push('}');
            Ok(Resp::json(200, out))
        }
        [id] => {
            rq.set_route("/identity/v3/projects/{id}");
            show_or_404(
                &cx,
                Svc::Keystone,
                Kind::Project,
                id,
                Some("project"),
                &format!("Could not find project: {id}."),
            )
        }
        _ => Ok(err(Svc::Keystone, 404, "not found")),
    }
}

pub(crate) fn keystone_err(status: u16, msg: &str) -> Resp {
    err(Svc::Keystone, status, msg)
}

pub(crate) fn resp_json(status: u16, body: String) -> Resp {
    Resp::json(status, body)
}

pub(crate) fn resp_header(r: Resp, k: &'static str, v: String) -> Resp {
    r.header(k, v)
}

pub(crate) fn rq_parts<'a>(rq: &'a Rq) -> (&'a Shared, &'a str, &'a [u8]) {
    (rq.sh, rq.method, &rq.body)
}

pub(crate) fn rq_set_route(rq: &mut Rq, r: &str) {
    rq.set_route(r)
}

pub(crate) fn timestamp(secs: i64) -> String {
    ts(secs, Ts::MicroZ)
}
