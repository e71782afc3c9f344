//! DynamoDB `AttributeValue`s to and from JSON.
//!
//! Two forms, for two purposes:
//!
//! **Plain JSON** (documents: items read by a scan or a stream, items written by the writer).
//! The rule, both ways:
//!
//! | DynamoDB | JSON |
//! |---|---|
//! | `S` | string |
//! | `N` | number: exact when the value is an integer within `i64`/`u64`, otherwise the nearest `f64` (DynamoDB keeps 38 significant digits, an `f64` 15–17, so longer decimals are rounded; every DynamoDB number is within `f64` range) |
//! | `BOOL` | `true` / `false` |
//! | `NULL` | `null` |
//! | `M` | object (keys sorted, so the output does not depend on hash order) |
//! | `L` | array |
//! | `SS` / `NS` | array of strings / numbers |
//! | `B` | string, standard base64 with padding |
//! | `BS` | array of base64 strings |
//!
//! From JSON: string → `S`, number → `N` (its JSON text), `true`/`false` → `BOOL`,
//! `null` → `NULL`, object → `M`, array → `L`. Sets and binaries are never produced from plain
//! JSON (JSON cannot tell them apart), except for key attributes declared binary, which the
//! DynamoDB writer decodes from base64. So JSON → DynamoDB → JSON is the identity, and
//! DynamoDB → JSON → DynamoDB keeps every value except `B`/sets (which come back as
//! `S`/`L`) and numbers past `f64` precision. DynamoDB normalizes numbers (`1.0` is stored as
//! `1`), so an integral float written as `1.0` reads back as the JSON integer `1`.
//!
//! **Typed JSON** ("DynamoDB JSON", `{"id":{"S":"a"},"n":{"N":"1.50"}}`): lossless both ways,
//! used for checkpoints such as a scan's `LastEvaluatedKey`.

use crate::{ConnectorError, FailureKind};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// A JSON object: one document or item.
pub type JsonObject = Map<String, Value>;

/// A DynamoDB item or key, as the SDK holds it.
pub type Item = HashMap<String, AttributeValue>;

fn invalid(message: impl Into<String>) -> ConnectorError {
    super::aws_error("invalid DynamoDB value", message, FailureKind::User)
}

/// Converts one value to plain JSON (see the module docs for the rule).
pub fn to_json(value: &AttributeValue) -> Result<Value, ConnectorError> {
    Ok(match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => Value::Number(number_to_json(n)?),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(m) => Value::Object(item_to_json(m)?),
        AttributeValue::L(l) => Value::Array(l.iter().map(to_json).collect::<Result<_, _>>()?),
        AttributeValue::Ss(ss) => Value::Array(ss.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(ns) => Value::Array(
            ns.iter()
                .map(|n| number_to_json(n).map(Value::Number))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::B(b) => Value::String(BASE64.encode(b.as_ref())),
        AttributeValue::Bs(bs) => Value::Array(
            bs.iter()
                .map(|b| Value::String(BASE64.encode(b.as_ref())))
                .collect(),
        ),
        other => return Err(invalid(format!("unsupported attribute value {other:?}"))),
    })
}

/// Converts an item (or key) to a plain JSON object, keys sorted.
pub fn item_to_json(item: &Item) -> Result<JsonObject, ConnectorError> {
    let mut names: Vec<&String> = item.keys().collect();
    names.sort();
    let mut out = Map::with_capacity(item.len());
    for name in names {
        out.insert(name.clone(), to_json(&item[name])?);
    }
    Ok(out)
}

/// Converts plain JSON to a value (see the module docs for the rule).
pub fn from_json(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(from_json).collect()),
        Value::Object(o) => AttributeValue::M(item_from_json(o)),
    }
}

/// Converts a plain JSON object to an item.
pub fn item_from_json(object: &JsonObject) -> Item {
    object
        .iter()
        .map(|(k, v)| (k.clone(), from_json(v)))
        .collect()
}

/// A DynamoDB number as a JSON number: exact integers within `i64`/`u64`, otherwise the
/// nearest `f64`.
fn number_to_json(n: &str) -> Result<Number, ConnectorError> {
    let t = n.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Ok(Number::from(i));
    }
    if let Ok(u) = t.parse::<u64>() {
        return Ok(Number::from(u));
    }
    t.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| invalid(format!("{n:?} is not a number")))
}

/// Converts one value to typed JSON (`{"S": "a"}`), losslessly.
pub fn to_typed_json(value: &AttributeValue) -> Result<Value, ConnectorError> {
    let strings = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
    let (tag, inner) = match value {
        AttributeValue::S(s) => ("S", Value::String(s.clone())),
        AttributeValue::N(n) => ("N", Value::String(n.clone())),
        AttributeValue::Bool(b) => ("BOOL", Value::Bool(*b)),
        AttributeValue::Null(b) => ("NULL", Value::Bool(*b)),
        AttributeValue::B(b) => ("B", Value::String(BASE64.encode(b.as_ref()))),
        AttributeValue::Ss(v) => ("SS", strings(v)),
        AttributeValue::Ns(v) => ("NS", strings(v)),
        AttributeValue::Bs(v) => (
            "BS",
            Value::Array(
                v.iter()
                    .map(|b| Value::String(BASE64.encode(b.as_ref())))
                    .collect(),
            ),
        ),
        AttributeValue::L(l) => (
            "L",
            Value::Array(l.iter().map(to_typed_json).collect::<Result<_, _>>()?),
        ),
        AttributeValue::M(m) => ("M", Value::Object(item_to_typed_json(m)?)),
        other => return Err(invalid(format!("unsupported attribute value {other:?}"))),
    };
    let mut o = Map::with_capacity(1);
    o.insert(tag.to_string(), inner);
    Ok(Value::Object(o))
}

/// Converts an item (or key) to typed JSON, keys sorted.
pub fn item_to_typed_json(item: &Item) -> Result<JsonObject, ConnectorError> {
    let mut names: Vec<&String> = item.keys().collect();
    names.sort();
    let mut out = Map::with_capacity(item.len());
    for name in names {
        out.insert(name.clone(), to_typed_json(&item[name])?);
    }
    Ok(out)
}

/// Parses typed JSON (`{"S": "a"}`) back into a value.
pub fn from_typed_json(value: &Value) -> Result<AttributeValue, ConnectorError> {
    let o = match value.as_object() {
        Some(o) if o.len() == 1 => o,
        _ => {
            return Err(invalid(format!(
                "expected {{\"<type>\": value}}, got {value}"
            )));
        }
    };
    let (tag, inner) = o.iter().next().expect("one entry checked above");
    let string = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| invalid(format!("{tag}: expected a string, got {v}")))
    };
    let strings = |v: &Value| -> Result<Vec<String>, ConnectorError> {
        v.as_array()
            .ok_or_else(|| invalid(format!("{tag}: expected an array, got {v}")))?
            .iter()
            .map(string)
            .collect()
    };
    let blob = |v: &Value| -> Result<Blob, ConnectorError> {
        let s = string(v)?;
        BASE64
            .decode(s.as_bytes())
            .map(Blob::new)
            .map_err(|e| invalid(format!("{tag}: invalid base64: {e}")))
    };
    let boolean = |v: &Value| {
        v.as_bool()
            .ok_or_else(|| invalid(format!("{tag}: expected a boolean, got {v}")))
    };
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(string(inner)?),
        "N" => AttributeValue::N(string(inner)?),
        "BOOL" => AttributeValue::Bool(boolean(inner)?),
        "NULL" => AttributeValue::Null(boolean(inner)?),
        "B" => AttributeValue::B(blob(inner)?),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "BS" => AttributeValue::Bs(
            inner
                .as_array()
                .ok_or_else(|| invalid(format!("BS: expected an array, got {inner}")))?
                .iter()
                .map(blob)
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or_else(|| invalid(format!("L: expected an array, got {inner}")))?
                .iter()
                .map(from_typed_json)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(item_from_typed_json(
            inner
                .as_object()
                .ok_or_else(|| invalid(format!("M: expected an object, got {inner}")))?,
        )?),
        other => return Err(invalid(format!("unknown DynamoDB type tag {other:?}"))),
    })
}

/// Parses a typed JSON object back into an item.
pub fn item_from_typed_json(object: &JsonObject) -> Result<Item, ConnectorError> {
    object
        .iter()
        .map(|(k, v)| Ok((k.clone(), from_typed_json(v)?)))
        .collect()
}

/// Approximate stored size of a value in bytes, by DynamoDB's published rules (names and
/// strings by UTF-8 length, numbers about one byte per two significant digits plus one,
/// 3 bytes of overhead per list or map plus one per element). Used to reject items over the
/// 400 KB limit before sending them.
pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// Approximate stored size of an item: attribute names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn number_size(n: &str) -> usize {
    let digits = n.bytes().filter(u8::is_ascii_digit).count();
    digits.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_json_round_trips_through_attribute_values() {
        let doc = json!({
            "id": "a", "n": 42, "neg": -7, "big": 18446744073709551615u64, "f": 1.5,
            "t": true, "nil": null, "list": [1, "x", [false]], "map": {"z": 1, "a": {"b": "c"}},
            "empty": ""
        });
        let obj = doc.as_object().expect("object");
        let item = item_from_json(obj);
        assert_eq!(item["n"], AttributeValue::N("42".into()));
        assert_eq!(item["nil"], AttributeValue::Null(true));
        let back = item_to_json(&item).expect("to json");
        assert_eq!(Value::Object(back), doc);
    }

    #[test]
    fn numbers_become_json_numbers() {
        let v = |n: &str| to_json(&AttributeValue::N(n.into())).expect("number");
        assert_eq!(v("12"), json!(12));
        assert_eq!(v("-12"), json!(-12));
        assert_eq!(v("1.25"), json!(1.25));
        assert_eq!(v("1E+2"), json!(100.0));
        // Past f64 precision: the nearest f64, not a string.
        assert!(v("123456789012345678901234567890.5").is_f64());
        assert!(to_json(&AttributeValue::N("abc".into())).is_err());
    }

    #[test]
    fn binaries_and_sets_become_arrays_and_base64() {
        let item: Item = [
            (
                "b".to_string(),
                AttributeValue::B(Blob::new(b"hi".to_vec())),
            ),
            (
                "ss".to_string(),
                AttributeValue::Ss(vec!["x".into(), "y".into()]),
            ),
            (
                "ns".to_string(),
                AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
            ),
            (
                "bs".to_string(),
                AttributeValue::Bs(vec![Blob::new(b"\x00".to_vec())]),
            ),
        ]
        .into_iter()
        .collect();
        let j = item_to_json(&item).expect("json");
        assert_eq!(
            Value::Object(j),
            json!({"b": "aGk=", "bs": ["AA=="], "ns": [1, 2.5], "ss": ["x", "y"]})
        );
    }

    #[test]
    fn typed_json_is_lossless() {
        let item: Item = [
            ("s".to_string(), AttributeValue::S("1".into())),
            ("n".to_string(), AttributeValue::N("1.50".into())),
            ("b".to_string(), AttributeValue::B(Blob::new(vec![0, 255]))),
            ("ns".to_string(), AttributeValue::Ns(vec!["1".into()])),
            (
                "m".to_string(),
                AttributeValue::M(
                    [(
                        "l".to_string(),
                        AttributeValue::L(vec![AttributeValue::Null(true)]),
                    )]
                    .into_iter()
                    .collect(),
                ),
            ),
        ]
        .into_iter()
        .collect();
        let typed = item_to_typed_json(&item).expect("typed");
        let text = serde_json::to_string(&typed).expect("text");
        let parsed: JsonObject = serde_json::from_str(&text).expect("parse");
        assert_eq!(item_from_typed_json(&parsed).expect("back"), item);
        assert!(from_typed_json(&json!({"X": 1})).is_err());
        assert!(from_typed_json(&json!({"S": 1})).is_err());
    }

    #[test]
    fn sizes_count_names_and_values() {
        let item = item_from_json(json!({"id": "abc", "n": 12345}).as_object().expect("obj"));
        assert_eq!(item_size(&item), 2 + 3 + 1 + 4);
    }
}
