//! Helpers for validating JSON by hand: JSON paths, JSON type names, problem collection,
//! case- and space-insensitive enum matching and unknown-field detection with suggestions.

use super::Problem;
use crate::location::{ECHO_CHARS, echo_cut};
use serde_json::{Map, Value};

/// The path of the document itself.
pub(super) const ROOT: &str = "$";

/// Collects every problem found, and warnings: fields accepted but ignored.
#[derive(Debug, Default)]
pub(super) struct Problems {
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Problems {
    pub(super) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    /// A field that is accepted but has no effect here (one warning line at create).
    pub(super) fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    pub(super) fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    pub(super) fn into_vec(self) -> Vec<Problem> {
        self.problems
    }

    pub(super) fn take_warnings(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.warnings)
    }
}

/// `parent.field`, or just `field` under the root.
pub(super) fn join(parent: &str, field: &str) -> String {
    if parent == ROOT {
        field.to_string()
    } else {
        format!("{parent}.{field}")
    }
}

/// The JSON type of a value, as named in messages.
pub(super) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A string quoted as JSON quotes it (a long one cut, with its size).
pub(super) fn quote(s: &str) -> String {
    match echo_cut(s) {
        None => Value::from(s).to_string(),
        Some(start) => format!(
            "{}... ({} bytes)",
            Value::from(start).to_string().trim_end_matches('"'),
            s.len()
        ),
    }
}

/// A field name as shown in a path: a long one cut, an empty one as `""`.
fn shown_key(key: &str) -> std::borrow::Cow<'_, str> {
    if key.is_empty() {
        return "\"\"".into();
    }
    match echo_cut(key) {
        None => key.into(),
        Some(start) => format!("{start}...").into(),
    }
}

/// Unknown fields reported one by one in an object; the rest are counted in one problem.
const UNKNOWN_FIELDS_SHOWN: usize = 20;

/// A value as shown after "found": scalars as JSON (long ones cut), containers by type.
pub(super) fn show(v: &Value) -> String {
    match v {
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
        _ => {
            let s = v.to_string();
            if s.chars().count() > 80 {
                let cut: String = s.chars().take(77).collect();
                format!("{cut}...")
            } else {
                s
            }
        }
    }
}

/// Enum spelling used for comparison: lowercase, without whitespace, '_' and '-'.
pub(super) fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The candidate closest to `input` (case-insensitively), if any is close enough.
pub(super) fn did_you_mean<'c>(
    input: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let input_lower = input.to_lowercase();
    let input_norm = normalize(input);
    let mut best: Option<(f64, &'c str)> = None;
    for cand in candidates {
        let score = if normalize(cand) == input_norm {
            1.0
        } else {
            let cand_lower = cand.to_lowercase();
            let jw = strsim::jaro_winkler(&input_lower, &cand_lower);
            let close_edit = strsim::damerau_levenshtein(&input_lower, &cand_lower) <= 2
                && cand_lower.chars().count() > 4;
            if close_edit { jw.max(0.8) } else { jw }
        };
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// One accepted value of an enum field: its name and, optionally, LetsData's constant spelling.
#[derive(Debug)]
pub(super) struct Choice<T: 'static> {
    pub value: T,
    pub name: &'static str,
    /// Another accepted spelling shown in parentheses (`SINGLEFILEREADER`), or "".
    pub alias: &'static str,
}

/// The accepted values of an enum field.
#[derive(Debug)]
pub(super) struct Choices<T: 'static> {
    /// What a value is, for "is not <what>" (`a reader type`).
    pub what: &'static str,
    pub items: &'static [Choice<T>],
    /// Appended after the accepted values (`only S3 is supported in this version`), or "".
    pub note: &'static str,
}

impl<T: Copy + PartialEq> Choices<T> {
    pub(super) fn find(&self, s: &str) -> Option<T> {
        let n = normalize(s);
        self.items
            .iter()
            .find(|c| normalize(c.name) == n || (!c.alias.is_empty() && normalize(c.alias) == n))
            .map(|c| c.value)
    }

    /// `accepted values: A (ALIAS), B` plus the note.
    pub(super) fn accepted(&self) -> String {
        let values: Vec<String> = self
            .items
            .iter()
            .map(|c| {
                if c.alias.is_empty() {
                    c.name.to_string()
                } else {
                    format!("{} ({})", c.name, c.alias)
                }
            })
            .collect();
        let mut s = format!("accepted values: {}", values.join(", "));
        if !self.note.is_empty() {
            s.push_str(&format!(" ({})", self.note));
        }
        s
    }

    /// The display name of a value.
    pub(super) fn name_of(&self, v: T) -> &'static str {
        self.items
            .iter()
            .find(|c| c.value == v)
            .map_or("?", |c| c.name)
    }
}

/// A JSON object at a path.
#[derive(Debug, Clone, Copy)]
pub(super) struct Obj<'a> {
    pub path: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    pub(super) fn new(path: &'a str, map: &'a Map<String, Value>) -> Self {
        Self { path, map }
    }

    /// The path of one of this object's fields.
    pub(super) fn field_path(&self, field: &str) -> String {
        join(self.path, field)
    }

    /// A field's value; `null` counts as absent.
    pub(super) fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    pub(super) fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    /// A nested object. Reports it missing (when `required` describes it) or not an object.
    pub(super) fn object(
        &self,
        p: &mut Problems,
        field: &str,
        required: Option<&str>,
    ) -> Option<&'a Map<String, Value>> {
        match self.get(field) {
            None => {
                if let Some(what) = required {
                    p.push(self.field_path(field), format!("is required: {what}"));
                }
                None
            }
            Some(Value::Object(m)) => Some(m),
            Some(v) => {
                p.push(
                    self.field_path(field),
                    format!("must be an object, found {}", json_type(v)),
                );
                None
            }
        }
    }

    /// Reports every field that is neither accepted nor otherwise known, suggesting the
    /// closest known field or listing the accepted ones.
    pub(super) fn check_unknown(&self, p: &mut Problems, accepted: &[&str], also_known: &[&str]) {
        let unknown = self
            .map
            .keys()
            .map(String::as_str)
            .filter(|key| !accepted.contains(key) && !also_known.contains(key));
        let mut more = 0usize;
        for (n, key) in unknown.enumerate() {
            if n >= UNKNOWN_FIELDS_SHOWN {
                more += 1;
                continue;
            }
            let candidates = accepted.iter().chain(also_known).copied();
            // A long key is no typo of a field name (and comparing it would take long).
            let suggestion = (key.len() <= ECHO_CHARS)
                .then(|| did_you_mean(key, candidates))
                .flatten();
            let message = match suggestion {
                Some(s) => format!("unknown field {}; did you mean {}?", quote(key), quote(s)),
                None => format!(
                    "unknown field {}; accepted fields: {}",
                    quote(key),
                    accepted.join(", ")
                ),
            };
            p.push(self.field_path(&shown_key(key)), message);
        }
        if more > 0 {
            p.push(
                self.path,
                format!(
                    "{more} more unknown fields (the first {UNKNOWN_FIELDS_SHOWN} are listed); \
                     accepted fields: {}",
                    accepted.join(", ")
                ),
            );
        }
    }

    /// A string field. Reports it missing (when `required` describes it) or not a string.
    pub(super) fn string(
        &self,
        p: &mut Problems,
        field: &str,
        required: Option<&str>,
    ) -> Option<&'a str> {
        match self.get(field) {
            None => {
                if let Some(what) = required {
                    p.push(self.field_path(field), format!("is required: {what}"));
                }
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(v) => {
                p.push(
                    self.field_path(field),
                    format!("must be a string, found {}", json_type(v)),
                );
                None
            }
        }
    }

    /// An optional string field that must not be empty (or only whitespace).
    pub(super) fn non_empty_string(&self, p: &mut Problems, field: &str) -> Option<&'a str> {
        let s = self.string(p, field, None)?;
        if s.trim().is_empty() {
            p.push(self.field_path(field), "must not be empty");
            return None;
        }
        Some(s)
    }

    /// An optional boolean field.
    pub(super) fn boolean(&self, p: &mut Problems, field: &str) -> Option<bool> {
        match self.get(field)? {
            Value::Bool(b) => Some(*b),
            v => {
                p.push(
                    self.field_path(field),
                    format!("must be a boolean (true or false), found {}", show(v)),
                );
                None
            }
        }
    }

    /// An integer field in `min..=max`; `default` when absent and optional.
    pub(super) fn integer(
        &self,
        p: &mut Problems,
        field: &str,
        (min, max): (u32, u32),
        required: Option<&str>,
        default: u32,
    ) -> Option<u32> {
        let Some(v) = self.get(field) else {
            if let Some(what) = required {
                p.push(
                    self.field_path(field),
                    format!("is required: {what} (an integer between {min} and {max})"),
                );
                return None;
            }
            return Some(default);
        };
        match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                p.push(
                    self.field_path(field),
                    format!(
                        "must be an integer between {min} and {max}, found {}",
                        show(v)
                    ),
                );
                None
            }
        }
    }

    /// An optional integer field that must be one of `allowed` (`what` says what they are);
    /// `default` when absent.
    pub(super) fn integer_of(
        &self,
        p: &mut Problems,
        field: &str,
        allowed: &[u32],
        what: &str,
        default: u32,
    ) -> Option<u32> {
        let Some(v) = self.get(field) else {
            return Some(default);
        };
        match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if allowed.contains(&n) => Some(n),
            _ => {
                let allowed: Vec<String> = allowed.iter().map(u32::to_string).collect();
                p.push(
                    self.field_path(field),
                    format!(
                        "must be one of {} ({what}), found {}",
                        allowed.join(", "),
                        show(v)
                    ),
                );
                None
            }
        }
    }

    /// A required enum field. `what` describes the field for the "is required" message.
    pub(super) fn required_choice<T: Copy + PartialEq>(
        &self,
        p: &mut Problems,
        field: &str,
        choices: &Choices<T>,
        what: &str,
    ) -> Option<T> {
        if !self.has(field) {
            p.push(
                self.field_path(field),
                format!("is required: {what}; {}", choices.accepted()),
            );
            return None;
        }
        self.choice(p, field, choices)
    }

    /// An optional enum field: `default` when absent, `None` (reported) when invalid.
    pub(super) fn optional_choice<T: Copy + PartialEq>(
        &self,
        p: &mut Problems,
        field: &str,
        choices: &Choices<T>,
        default: T,
    ) -> Option<T> {
        if !self.has(field) {
            return Some(default);
        }
        self.choice(p, field, choices)
    }

    /// An enum field when present; reports values that are not accepted.
    pub(super) fn choice<T: Copy + PartialEq>(
        &self,
        p: &mut Problems,
        field: &str,
        choices: &Choices<T>,
    ) -> Option<T> {
        let v = self.get(field)?;
        let Value::String(s) = v else {
            p.push(
                self.field_path(field),
                format!(
                    "must be a string, found {}; {}",
                    json_type(v),
                    choices.accepted()
                ),
            );
            return None;
        };
        let found = choices.find(s);
        if found.is_none() {
            p.push(
                self.field_path(field),
                format!(
                    "{} is not {}; {}",
                    quote(s),
                    choices.what,
                    choices.accepted()
                ),
            );
        }
        found
    }
}
