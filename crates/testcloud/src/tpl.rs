//! Response templates made from the upstream sample bodies.
//!
//! A template is a sample element serialised once with some values replaced by
//! markers; rendering writes the literal pieces and, for each marker, the value the
//! generator provides (or the sample's own value when none is provided).

use serde_json::Value;

use crate::util::push_json_str;

#[derive(Debug)]
enum Seg {
    Lit(String),
    Var(usize),
}

/// A compiled template.
#[derive(Debug)]
pub struct Tpl {
    segs: Vec<Seg>,
    vars: Vec<&'static str>,
    originals: Vec<String>,
}

/// Values for one render, written into one scratch buffer.
#[derive(Default)]
pub struct Vals {
    buf: String,
    ranges: Vec<Option<(usize, usize)>>,
}

impl Tpl {
    /// `sample`: the JSON text; `pointer`: JSON pointer to the element; `vars`: keys
    /// (slash-separated for nested keys) that the renderer may set. Keys absent from
    /// the sample are ignored (so one renderer serves several microversion shapes).
    pub fn new(sample: &str, pointer: &str, vars: &[&'static str]) -> Tpl {
        Self::with_extra(sample, pointer, vars, &[])
    }

    /// Like `new`, and first adds the top-level keys `extra` (as null) when the sample lacks them.
    pub fn with_extra(
        sample: &str,
        pointer: &str,
        vars: &[&'static str],
        extra: &[&'static str],
    ) -> Tpl {
        let root: Value = serde_json::from_str(sample).expect("sample parses");
        let mut elem = root.pointer(pointer).cloned().expect("sample pointer");
        if let Value::Object(m) = &mut elem {
            for k in extra {
                m.entry(k.to_string()).or_insert(Value::Null);
            }
        }
        let mut kept = Vec::new();
        let mut originals = Vec::new();
        for &v in vars {
            let ptr = format!("/{}", v);
            if let Some(slot) = elem.pointer_mut(&ptr) {
                originals.push(serde_json::to_string(slot).unwrap());
                *slot = Value::String(format!("\u{1}{}\u{1}", kept.len()));
                kept.push(v);
            }
        }
        let text = serde_json::to_string(&elem).unwrap();
        let mut segs = Vec::new();
        let mut rest = text.as_str();
        while let Some(pos) = rest.find("\"\\u0001") {
            segs.push(Seg::Lit(rest[..pos].to_string()));
            let after = &rest[pos + 7..];
            let end = after.find("\\u0001\"").expect("marker end");
            let idx: usize = after[..end].parse().expect("marker index");
            segs.push(Seg::Var(idx));
            rest = &after[end + 7..];
        }
        segs.push(Seg::Lit(rest.to_string()));
        Tpl {
            segs,
            vars: kept,
            originals,
        }
    }

    pub fn has(&self, var: &str) -> bool {
        self.vars.contains(&var)
    }

    pub fn vals(&self) -> Vals {
        Vals {
            buf: String::with_capacity(1024),
            ranges: vec![None; self.vars.len()],
        }
    }

    /// Write the element with the given values.
    pub fn render(&self, v: &Vals, out: &mut String) {
        for s in &self.segs {
            match s {
                Seg::Lit(l) => out.push_str(l),
                Seg::Var(i) => match v.ranges.get(*i).copied().flatten() {
                    Some((a, b)) => out.push_str(&v.buf[a..b]),
                    None => out.push_str(&self.originals[*i]),
                },
            }
        }
    }

    fn slot(&self, var: &str) -> Option<usize> {
        self.vars.iter().position(|v| *v == var)
    }
}

/// Setter bound to one template.
pub struct Set<'a> {
    pub tpl: &'a Tpl,
    pub v: &'a mut Vals,
}

impl<'a> Set<'a> {
    pub fn new(tpl: &'a Tpl, v: &'a mut Vals) -> Self {
        v.buf.clear();
        v.ranges.clear();
        v.ranges.resize(tpl.vars.len(), None);
        Set { tpl, v }
    }
    /// Set a raw JSON value produced by `f`.
    pub fn with(&mut self, var: &str, f: impl FnOnce(&mut String)) {
        if let Some(i) = self.tpl.slot(var) {
            let a = self.v.buf.len();
            f(&mut self.v.buf);
            let b = self.v.buf.len();
            self.v.ranges[i] = Some((a, b));
        }
    }
    pub fn raw(&mut self, var: &str, json: &str) {
        self.with(var, |b| b.push_str(json));
    }
    pub fn s(&mut self, var: &str, s: &str) {
        self.with(var, |b| push_json_str(b, s));
    }
    pub fn os(&mut self, var: &str, s: Option<&str>) {
        match s {
            Some(s) => self.s(var, s),
            None => self.raw(var, "null"),
        }
    }
    pub fn n(&mut self, var: &str, n: i64) {
        self.with(var, |b| {
            use std::fmt::Write;
            let _ = write!(b, "{n}");
        });
    }
    pub fn b(&mut self, var: &str, x: bool) {
        self.raw(var, if x { "true" } else { "false" });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn render_replaces_and_keeps() {
        let t = Tpl::new(
            r#"{"x": [{"id": "a", "name": "n", "o": {"k": 1}, "z": null}]}"#,
            "/x/0",
            &["id", "o/k", "missing", "z"],
        );
        let mut v = t.vals();
        let mut s = Set::new(&t, &mut v);
        s.s("id", "q\"q");
        s.n("o/k", 5);
        s.s("missing", "ignored");
        let mut out = String::new();
        t.render(&v, &mut out);
        let back: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["id"], "q\"q");
        assert_eq!(back["o"]["k"], 5);
        assert_eq!(back["name"], "n");
        assert!(back["z"].is_null());
        assert!(back.get("missing").is_none());
    }
}
