//! A tiny writer for the flat JSON objects the simulator emits.
//!
//! Building a `serde_json::Value` per event costs a map allocation per event; load tests
//! generate millions of them. The simulator's objects are flat (strings, integers and
//! booleans), so it writes them directly, fields in a fixed order, which also makes the
//! output byte-stable.

use std::fmt::Write as _;

/// A JSON object under construction.
#[derive(Debug)]
pub(crate) struct Obj {
    buf: String,
}

/// Append `s` as a JSON string literal (quotes included).
pub(crate) fn push_str_literal(buf: &mut String, s: &str) {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(buf, "\\u{:04x}", u32::from(c));
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

impl Obj {
    /// An object with the common fields `id`, `type`, `ts`.
    pub(crate) fn new(id: &str, ty: &str, ts: &str) -> Self {
        let mut buf = String::with_capacity(160);
        buf.push_str("{\"id\":");
        push_str_literal(&mut buf, id);
        buf.push_str(",\"type\":");
        push_str_literal(&mut buf, ty);
        buf.push_str(",\"ts\":");
        push_str_literal(&mut buf, ts);
        Obj { buf }
    }

    fn key(&mut self, k: &str) {
        self.buf.push(',');
        push_str_literal(&mut self.buf, k);
        self.buf.push(':');
    }

    /// A string field.
    pub(crate) fn str(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        push_str_literal(&mut self.buf, v);
        self
    }

    /// A string field when `v` is `Some`.
    pub(crate) fn opt_str(self, k: &str, v: Option<&str>) -> Self {
        match v {
            Some(v) => self.str(k, v),
            None => self,
        }
    }

    /// An unsigned integer field.
    pub(crate) fn num(mut self, k: &str, v: u64) -> Self {
        self.key(k);
        let _ = write!(self.buf, "{v}");
        self
    }

    /// A boolean field.
    pub(crate) fn bool(mut self, k: &str, v: bool) -> Self {
        self.key(k);
        self.buf.push_str(if v { "true" } else { "false" });
        self
    }

    /// The finished object.
    pub(crate) fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json_with_escapes() {
        let s = Obj::new("x\"1", "login", "2026-03-02T08:20:00.000+08:00")
            .str("agent", "a\\b\n\u{1}é")
            .num("rings", 3)
            .bool("certified", false)
            .opt_str("reason", None)
            .finish();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["id"], "x\"1");
        assert_eq!(v["agent"], "a\\b\n\u{1}é");
        assert_eq!(v["rings"], 3);
        assert_eq!(v["certified"], false);
        assert!(v.get("reason").is_none());
        assert!(s.starts_with(r#"{"id":"x\"1","type":"login","ts":"#), "{s}");
    }
}
