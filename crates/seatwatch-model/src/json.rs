//! A parsed JSON value that borrows its strings from the frame's text.
//!
//! Validation reads a handful of short fields from each event and copies the few it
//! keeps into inline ids. Parsing a frame into [`serde_json::Value`] first allocated a
//! `String` for every key and every string value and a B-tree for every object, about a
//! dozen heap blocks per event, only to drop them a microsecond later. [`Json`] is the
//! same tree with its strings borrowed from the text (a string with escapes is the only
//! one copied) and each object's fields kept in one vector, in the order sent.
//!
//! The parser is still `serde_json` (its grammar, its recursion limit, its error
//! messages): only the tree it builds differs. A key sent twice reads as its last value,
//! as `serde_json::Value` would have it.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;

/// A JSON value whose strings borrow from the text it was parsed from.
#[derive(Clone, Debug, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` reads it.
    Number(Number),
    /// A string: borrowed unless it held escapes.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object.
    Object(Object<'a>),
}

/// A JSON object: its fields in the order sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object<'a> {
    fields: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Object<'a> {
    /// The value of `key` (the last one when the key was sent twice).
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Every field, in the order sent (a key sent twice appears twice).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.fields.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// How many fields were sent.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the object has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The object as a `serde_json` map (keys sorted; the last of a repeated key wins).
    pub fn to_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        for (k, v) in &self.fields {
            map.insert(k.as_ref().to_owned(), v.to_value());
        }
        map
    }
}

impl<'a> FromIterator<(Cow<'a, str>, Json<'a>)> for Object<'a> {
    fn from_iter<I: IntoIterator<Item = (Cow<'a, str>, Json<'a>)>>(iter: I) -> Self {
        Object { fields: iter.into_iter().collect() }
    }
}

impl<'a> Json<'a> {
    /// What kind of value this is, for messages: "null", "a number", "an object", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The value as an owned `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.as_ref().to_owned()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(o) => Value::Object(o.to_map()),
        }
    }

    /// Borrow a `serde_json::Value` as a `Json` (for callers that already hold one).
    pub fn from_value(v: &'a Value) -> Json<'a> {
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(Cow::Borrowed(s)),
            Value::Array(items) => Json::Array(items.iter().map(Json::from_value).collect()),
            Value::Object(m) => {
                Json::Object(m.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Json::from_value(v))).collect())
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        // As `serde_json::Value`: a float JSON cannot hold (never produced by the
        // parser itself) becomes null.
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        // An event has about eight fields: one allocation for most objects.
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
        // A key reaches the same visitor as a string value (borrowed unless escaped).
        while let Some(key) = map.next_key()? {
            let Json::String(k) = key else { return Err(de::Error::custom("an object key must be a string")) };
            fields.push((k, map.next_value()?));
        }
        Ok(Json::Object(Object { fields }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Json<'_> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let j = parse(r#"{"id":"e-1","to":"a\"b","caf\u00e9":"x"}"#);
        let Json::Object(o) = &j else { panic!("{j:?}") };
        assert!(matches!(o.get("id"), Some(Json::String(Cow::Borrowed("e-1")))));
        assert!(matches!(o.get("to"), Some(Json::String(Cow::Owned(s))) if s == "a\"b"));
        assert!(matches!(o.get("café"), Some(Json::String(_))));
    }

    #[test]
    fn the_same_tree_as_serde_json_value() {
        let text = r#"[{"b":1,"a":[true,null,-2,2.5,"x"],"c":{"d":{}},"b":18446744073709551615},7,"s",null]"#;
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(parse(text).to_value(), v);
        assert_eq!(Json::from_value(&v).to_value(), v);
    }

    #[test]
    fn a_repeated_key_reads_as_its_last_value() {
        let j = parse(r#"{"k":1,"k":2}"#);
        let Json::Object(o) = &j else { panic!("{j:?}") };
        assert_eq!(o.get("k"), Some(&Json::Number(2.into())));
        assert_eq!(o.len(), 2);
        assert_eq!(o.to_map().len(), 1);
    }

    #[test]
    fn bad_text_is_an_error_not_a_panic() {
        for bad in ["", "{", "[1,", r#"{"a":}"#, r#"{1:2}"#, "nul", "[1] x", "\"\\ud800\""] {
            assert!(serde_json::from_str::<Json<'_>>(bad).is_err(), "{bad:?}");
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(serde_json::from_str::<Json<'_>>(&deep).is_err());
    }
}
