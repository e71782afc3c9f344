//! Streaming extraction of a top-level document id field with serde.
//!
//! [`IdSeed`] drives serde_json over the document once: keys are compared as borrowed
//! strings, values of other fields are skipped with `IgnoredAny`, and the id value is
//! written straight into the caller's `String`. No `serde_json::Value` tree is built and
//! nothing is allocated for documents without escapes in their keys. If the field occurs
//! more than once, the last occurrence wins (as in a JSON object model).

use std::fmt::{self, Write};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// What was found for the id field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdStatus {
    /// The id was written.
    Found,
    /// No such field, or its value is null.
    Missing,
    /// The document is not an object.
    NotObject,
    /// The value is an object or array.
    BadType,
}

/// Deserializes a whole document, writing the value of top-level field `field` to `id`.
pub(crate) struct IdSeed<'a> {
    pub field: &'a str,
    pub id: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for IdSeed<'_> {
    type Value = IdStatus;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<IdStatus, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IdSeed<'_> {
    type Value = IdStatus;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdStatus, A::Error> {
        let mut status = IdStatus::Missing;
        while let Some(is_id) = map.next_key_seed(KeyIs(self.field))? {
            if is_id {
                self.id.clear();
                status = map.next_value_seed(IdValue(&mut *self.id))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(status)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdStatus, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(IdStatus::NotObject)
    }

    fn visit_bool<E>(self, _: bool) -> Result<IdStatus, E> {
        Ok(IdStatus::NotObject)
    }
    fn visit_i64<E>(self, _: i64) -> Result<IdStatus, E> {
        Ok(IdStatus::NotObject)
    }
    fn visit_u64<E>(self, _: u64) -> Result<IdStatus, E> {
        Ok(IdStatus::NotObject)
    }
    fn visit_f64<E>(self, _: f64) -> Result<IdStatus, E> {
        Ok(IdStatus::NotObject)
    }
    fn visit_str<E>(self, _: &str) -> Result<IdStatus, E> {
        Ok(IdStatus::NotObject)
    }
    fn visit_unit<E>(self) -> Result<IdStatus, E> {
        Ok(IdStatus::NotObject)
    }
}

/// Deserializes a map key, answering whether it equals the id field name.
struct KeyIs<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// Deserializes the id value into the string.
struct IdValue<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for IdValue<'_> {
    type Value = IdStatus;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<IdStatus, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IdValue<'_> {
    type Value = IdStatus;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a document id")
    }

    fn visit_str<E>(self, v: &str) -> Result<IdStatus, E> {
        self.0.push_str(v);
        Ok(IdStatus::Found)
    }
    fn visit_bool<E>(self, v: bool) -> Result<IdStatus, E> {
        self.0.push_str(if v { "true" } else { "false" });
        Ok(IdStatus::Found)
    }
    fn visit_i64<E>(self, v: i64) -> Result<IdStatus, E> {
        let _ = write!(self.0, "{v}");
        Ok(IdStatus::Found)
    }
    fn visit_u64<E>(self, v: u64) -> Result<IdStatus, E> {
        let _ = write!(self.0, "{v}");
        Ok(IdStatus::Found)
    }
    fn visit_f64<E>(self, v: f64) -> Result<IdStatus, E> {
        // serde_json's own float formatting (shortest round-trip, e.g. `1.5`, `1000.0`).
        match serde_json::Number::from_f64(v) {
            Some(n) => {
                let _ = write!(self.0, "{n}");
                Ok(IdStatus::Found)
            }
            None => Ok(IdStatus::BadType),
        }
    }
    fn visit_unit<E>(self) -> Result<IdStatus, E> {
        Ok(IdStatus::Missing)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdStatus, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(IdStatus::BadType)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdStatus, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(IdStatus::BadType)
    }
}
