//! The canonical content hash: equal content gives an equal hash whatever the key order.

use serde_json::Value;
use xxhash_rust::xxh3::Xxh3;

/// Hash of everything the engine writes from a listing: name, project, source id and
/// `cloud_meta` with object keys sorted at every level. XXH3-128: stable across
/// versions and fast enough to hash every resource of every run; it detects change, it
/// does not defend against an adversary.
pub fn content_hash(
    name: &Option<String>,
    project_id: &Option<String>,
    source_id: &Option<String>,
    cloud_meta: &Value,
) -> String {
    let mut hasher = Xxh3::new();
    for field in [name, project_id, source_id] {
        match field {
            Some(s) => {
                hasher.update(b"s");
                hasher.update(&(s.len() as u64).to_le_bytes());
                hasher.update(s.as_bytes());
            }
            None => hasher.update(b"n"),
        }
    }
    feed(&mut hasher, cloud_meta);
    format!("{:032x}", hasher.digest128())
}

/// Feeds a value in a canonical, unambiguous encoding (type tag, lengths, sorted keys).
fn feed(hasher: &mut Xxh3, value: &Value) {
    match value {
        Value::Null => hasher.update(b"N"),
        Value::Bool(b) => hasher.update(if *b { b"T" } else { b"F" }),
        Value::Number(n) => {
            let text = n.to_string();
            hasher.update(b"#");
            hasher.update(&(text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        }
        Value::String(s) => {
            hasher.update(b"\"");
            hasher.update(&(s.len() as u64).to_le_bytes());
            hasher.update(s.as_bytes());
        }
        Value::Array(items) => {
            hasher.update(b"[");
            hasher.update(&(items.len() as u64).to_le_bytes());
            for item in items {
                feed(hasher, item);
            }
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            hasher.update(b"{");
            hasher.update(&(entries.len() as u64).to_le_bytes());
            for (key, child) in entries {
                hasher.update(&(key.len() as u64).to_le_bytes());
                hasher.update(key.as_bytes());
                feed(hasher, child);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(v: Value) -> String {
        content_hash(&Some("n".into()), &None, &None, &v)
    }

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"x":[1,2],"y":null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":{"y":null,"x":[1,2]},"a":1}"#).unwrap();
        assert_eq!(h(a), h(b));
    }

    #[test]
    fn content_and_envelope_changes_do() {
        let base = json!({"a": 1, "b": "x"});
        assert_ne!(h(base.clone()), h(json!({"a": 2, "b": "x"})));
        assert_ne!(h(json!({"a": "1"})), h(json!({"a": 1})));
        assert_ne!(h(json!({"ab": "c"})), h(json!({"a": "bc"})));
        assert_ne!(h(json!([[1], 2])), h(json!([1, [2]])));
        assert_ne!(
            content_hash(&Some("n".into()), &None, &None, &base),
            content_hash(&Some("n".into()), &None, &Some("stack-1".into()), &base)
        );
    }
}
