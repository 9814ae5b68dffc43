//! A TOML document as a tree in which every key and value keeps its position.
//!
//! serde's derive stops at the first problem; an operator fixing a config wants all of
//! them at once. So the file is first read into this tree, and [`crate::read`] walks it
//! by hand, collecting every problem with the key and line it concerns.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// A TOML value whose nested keys and values keep their spans.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    String(String),
    Integer(Option<i64>),
    Float(Option<f64>),
    Boolean(bool),
    Datetime,
    Array(Vec<Spanned<Node>>),
    Table(Table),
}

/// One key of a table: where the key stands, and its value.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key_at: usize,
    pub value: Spanned<Node>,
}

/// A table, keys in name order.
pub(crate) type Table = BTreeMap<String, Entry>;

/// Parses a whole document; the error is toml's own, with its span.
pub(crate) fn parse(text: &str) -> Result<Table, toml::de::Error> {
    let root = DeTable::parse(text)?;
    Ok(table(root.get_ref()))
}

fn table(de: &DeTable<'_>) -> Table {
    de.iter()
        .map(|(key, value)| {
            let entry = Entry {
                key_at: key.span().start,
                value: node(value),
            };
            (key.get_ref().to_string(), entry)
        })
        .collect()
}

fn node(value: &Spanned<DeValue<'_>>) -> Spanned<Node> {
    let node = match value.get_ref() {
        DeValue::String(s) => Node::String(s.to_string()),
        DeValue::Integer(i) => Node::Integer(i64::from_str_radix(i.as_str(), i.radix()).ok()),
        DeValue::Float(f) => Node::Float(f.as_str().parse().ok()),
        DeValue::Boolean(b) => Node::Boolean(*b),
        DeValue::Datetime(_) => Node::Datetime,
        DeValue::Array(items) => Node::Array(items.iter().map(node).collect()),
        DeValue::Table(t) => Node::Table(table(t)),
    };
    Spanned::new(value.span(), node)
}

impl Node {
    /// The TOML type name, for "expected X, found Y" messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Node::String(_) => "a string",
            Node::Integer(_) => "an integer",
            Node::Float(_) => "a float",
            Node::Boolean(_) => "a boolean",
            Node::Datetime => "a datetime",
            Node::Array(_) => "an array",
            Node::Table(_) => "a table",
        }
    }
}
