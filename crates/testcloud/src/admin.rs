//! `/_testcloud/...`: the admin endpoint for driving the cloud from another process.

use crate::faults::FaultRule;
use crate::server::{resp_json, Resp, Shared};
use crate::Mutation;

pub(crate) fn admin(sh: &Shared, method: &str, path: &str, body: &[u8]) -> Resp {
    let bad = |m: String| resp_json(400, serde_json::json!({"error": m}).to_string());
    match (method, path.trim_end_matches('/')) {
        ("POST", "/_testcloud/faults") => {
            let rules: Vec<FaultRule> = match serde_json::from_slice::<FaultRule>(body) {
                Ok(r) => vec![r],
                Err(_) => match serde_json::from_slice::<Vec<FaultRule>>(body) {
                    Ok(v) => v,
                    Err(e) => return bad(format!("invalid fault rule: {e}")),
                },
            };
            let n = rules.len();
            for r in rules {
                sh.add_fault(r);
            }
            resp_json(200, serde_json::json!({"added": n}).to_string())
        }
        ("DELETE", "/_testcloud/faults") => {
            sh.clear_faults();
            resp_json(200, "{}".into())
        }
        ("GET", "/_testcloud/stats") => {
            let s = sh.stats.lock().unwrap().clone();
            resp_json(200, serde_json::to_string(&s).unwrap())
        }
        ("DELETE", "/_testcloud/stats") | ("POST", "/_testcloud/stats/reset") => {
            *sh.stats.lock().unwrap() = Default::default();
            resp_json(200, "{}".into())
        }
        ("POST", "/_testcloud/tokens/expire") => {
            sh.expire_all_tokens();
            resp_json(200, "{}".into())
        }
        ("POST", "/_testcloud/mutate") => match serde_json::from_slice::<Mutation>(body) {
            Ok(m) => match sh.mutate(m) {
                Ok(id) => resp_json(200, serde_json::json!({"id": id}).to_string()),
                Err(e) => resp_json(404, serde_json::json!({"error": e.to_string()}).to_string()),
            },
            Err(e) => bad(format!("invalid mutation: {e}")),
        },
        ("GET", p) if p.starts_with("/_testcloud/ids/") => {
            // The live ids of one kind, e.g. `/_testcloud/ids/server` (for churn in benchmarks).
            let name = &p["/_testcloud/ids/".len()..];
            match serde_json::from_value::<crate::Kind>(serde_json::Value::String(name.to_owned()))
            {
                Ok(kind) => {
                    let st = sh.store.read().unwrap();
                    let ids: Vec<&str> = st
                        .table(kind)
                        .live()
                        .map(|(_, it)| it.id.as_str())
                        .collect();
                    resp_json(200, serde_json::to_string(&ids).unwrap())
                }
                Err(e) => bad(format!("unknown kind `{name}`: {e}")),
            }
        }
        _ => resp_json(404, "{\"error\":\"unknown admin route\"}".into()),
    }
}
