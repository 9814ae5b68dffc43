//! Keystone v3: token issue (password, application credential), projects.

use serde_json::{json, Value};

use crate::model::Kind;
use crate::server::{
    keystone_err, keystone_projects, resp_header, resp_json, rq_parts, rq_set_route, timestamp,
    Act, Resp, Rq,
};
use crate::util;

const TOKEN_SAMPLE: &str = include_str!("../samples/keystone/project-scoped-password.json");

pub(crate) fn route(rq: &mut Rq, segs: &[&str]) -> Result<Resp, Act> {
    let (sh, method, body) = rq_parts(rq);
    let base = sh.base.clone();
    let v3 = json!({"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/identity/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]});
    match segs {
        [] => {
            rq_set_route(rq, "/identity/");
            Ok(resp_json(
                300,
                json!({"versions": {"values": [v3]}}).to_string(),
            ))
        }
        ["v3"] => {
            rq_set_route(rq, "/identity/v3/");
            Ok(resp_json(200, json!({"version": v3}).to_string()))
        }
        ["v3", "auth", "tokens"] if method == "POST" => {
            let body = body.to_vec();
            rq_set_route(rq, "/identity/v3/auth/tokens");
            Ok(issue(rq, &body))
        }
        ["v3", "projects", rest @ ..] => keystone_projects(rq, rest),
        _ => Ok(keystone_err(404, "The resource could not be found.")),
    }
}

fn s<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

fn domain_ok(v: &Value, p: &str) -> bool {
    match v.pointer(p) {
        None => true,
        Some(d) => {
            s(d, "/id").is_some_and(|x| x == "default")
                || s(d, "/name").is_some_and(|x| x.eq_ignore_ascii_case("default"))
        }
    }
}

fn issue(rq: &mut Rq, body: &[u8]) -> Resp {
    let (sh, _, _) = rq_parts(rq);
    let cfg = &sh.cfg;
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return keystone_err(400, "Expecting to find auth in request body.");
    };
    let methods: Vec<&str> = req
        .pointer("/auth/identity/methods")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let st = sh.store.read().unwrap();
    let admin_uid = st.admin_user_id.clone();
    let admin_pid = st.project_id(0).to_string();
    let (method, project): (&str, Option<u32>) = if methods.contains(&"password") {
        let u = req
            .pointer("/auth/identity/password/user")
            .cloned()
            .unwrap_or(Value::Null);
        let user_ok = (s(&u, "/name") == Some(cfg.admin_user.as_str()) && domain_ok(&u, "/domain"))
            || s(&u, "/id") == Some(admin_uid.as_str());
        if !user_ok || s(&u, "/password") != Some(cfg.admin_password.as_str()) {
            return keystone_err(401, "The request you have made requires authentication.");
        }
        // Project scope (default: the admin project).
        let sc = req.pointer("/auth/scope/project");
        let p = match sc {
            None => Some(0),
            Some(sc) => {
                if let Some(id) = s(sc, "/id") {
                    st.table(Kind::Project).get(id).map(|x| x.0)
                } else if let Some(n) = s(sc, "/name") {
                    if !domain_ok(sc, "/domain") {
                        None
                    } else {
                        st.table(Kind::Project)
                            .live()
                            .find(|(_, it)| it.name == n)
                            .map(|x| x.0)
                    }
                } else {
                    None
                }
            }
        };
        if p.is_none() {
            return keystone_err(401, "The request you have made requires authentication.");
        }
        ("password", p)
    } else if methods.contains(&"application_credential") {
        let ac = req
            .pointer("/auth/identity/application_credential")
            .cloned()
            .unwrap_or(Value::Null);
        let id_ok = s(&ac, "/id") == Some(cfg.app_cred_id.as_str())
            || (s(&ac, "/name") == Some(cfg.app_cred_name.as_str())
                && (s(&ac, "/user/name") == Some(cfg.admin_user.as_str())
                    || s(&ac, "/user/id") == Some(admin_uid.as_str())));
        if !id_ok || s(&ac, "/secret") != Some(cfg.app_cred_secret.as_str()) {
            return keystone_err(401, "The request you have made requires authentication.");
        }
        ("application_credential", Some(0))
    } else {
        return keystone_err(401, "The request you have made requires authentication.");
    };
    let p = project.unwrap_or(0);
    let pid = st.project_id(p).to_string();
    let pname = st.item(Kind::Project, p).name.clone();
    drop(st);
    let (token, tk) = sh.issue_token(p);
    let base = &sh.base;
    let mut v: Value = serde_json::from_str(TOKEN_SAMPLE).expect("token sample");
    let t = &mut v["token"];
    let svc = |ty: &str, name: &str, url: String, n: u64| {
        let eps: Vec<Value> = ["public", "internal"]
            .iter()
            .enumerate()
            .map(|(j, iface)| {
                json!({"id": util::hex32(cfg.seed, 400 + n, j as u64), "interface": iface, "region": "RegionOne",
                       "region_id": "RegionOne", "url": url})
            })
            .collect();
        json!({"endpoints": eps, "type": ty, "id": util::hex32(cfg.seed, 500, n), "name": name})
    };
    let mut catalog = vec![
        svc("identity", "keystone", format!("{base}/identity/v3"), 0),
        svc("compute", "nova", format!("{base}/compute/v2.1"), 1),
        svc("image", "glance", format!("{base}/image"), 2),
        svc("network", "neutron", format!("{base}/network"), 3),
    ];
    for (n, ty) in cfg.cinder_catalog_types.iter().enumerate() {
        let name = if *ty == "volumev3" {
            "cinderv3"
        } else {
            "cinder"
        };
        catalog.push(svc(
            ty,
            name,
            format!("{base}/volume/v3/{pid}"),
            4 + n as u64,
        ));
    }
    catalog.push(svc(
        "orchestration",
        "heat",
        format!("{base}/heat/v1/{pid}"),
        6,
    ));
    t["catalog"] = json!(catalog);
    t["expires_at"] = json!(timestamp(tk.expires_at));
    t["issued_at"] = json!(timestamp(util::now_secs()));
    t["methods"] = json!([method]);
    t["audit_ids"] = json!([&token[8..30]]);
    t["project"] =
        json!({"domain": {"id": "default", "name": "Default"}, "id": pid, "name": pname});
    t["roles"] = json!([{"id": util::hex32(cfg.seed, 600, 0), "name": "admin"},
                        {"id": util::hex32(cfg.seed, 600, 1), "name": "member"},
                        {"id": util::hex32(cfg.seed, 600, 2), "name": "reader"}]);
    t["user"] = json!({"domain": {"id": "default", "name": "Default"}, "id": admin_uid, "name": cfg.admin_user, "password_expires_at": null});
    if method == "application_credential" {
        t["application_credential"] =
            json!({"id": cfg.app_cred_id, "name": cfg.app_cred_name, "restricted": true});
    }
    let _ = admin_pid;
    resp_header(resp_json(201, v.to_string()), "x-subject-token", token)
}
