//! Response content checks of an `http:` step (`check:`): what the body of an accepted response
//! must hold for the step to count as a success, as k6's `check()` does but counted as an error
//! when it fails (so a 200 carrying `{"status": "degraded"}` is not a success).
//!
//! ```yaml
//! http: {path: /health, check: {jsonpath: "$.status", equals: ok}}
//! http: {path: /chat, check: [{jsonpath: "$.choices[0].text"}, {regex: "^\\{.*\\}$"}]}
//! ```
//!
//! `jsonpath` takes the JSONPath subset that names one value (`$`, `.key`, `['key']`, `[0]`);
//! without `equals` the value must exist (and not be null), with it the value must equal one of
//! the given ones (loosely: `"2"` equals `2`, as `poll.until` does). `regex` must match somewhere
//! in the body text. Both are parsed here once, so a bad one is a located error of `twin
//! validate` and never a failure at request time.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One check as written in the scenario.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    #[serde(default)]
    pub jsonpath: Option<String>,
    /// With `jsonpath`: the value must equal one of these (one value or a list).
    #[serde(default, deserialize_with = "some_one_or_many")]
    pub equals: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub regex: Option<String>,
}

fn some_one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<serde_json::Value>>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Array(v) if v.is_empty() => Err(serde::de::Error::custom(
            "`equals` needs at least one value",
        )),
        serde_json::Value::Array(v) => Ok(Some(v)),
        v => Ok(Some(vec![v])),
    }
}

/// `check:` is one check or a list of them.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Checks {
    One(Check),
    Many(Vec<Check>),
}

impl Checks {
    pub fn as_slice(&self) -> &[Check] {
        match self {
            Checks::One(c) => std::slice::from_ref(c),
            Checks::Many(v) => v,
        }
    }
}

/// A check ready to apply.
#[derive(Clone, Debug)]
pub enum CompiledCheck {
    /// The selector in [`crate::http::select`]'s syntax, the JSONPath as written (for reasons),
    /// and the accepted values (empty: the value must exist).
    Json {
        selector: String,
        written: String,
        equals: Vec<serde_json::Value>,
    },
    Regex(regex::Regex),
}

/// A JSONPath of the subset above as a JSON pointer (`$.a['b'][0]` -> `/a/b/0`); the error
/// says what was expected.
pub fn jsonpath_pointer(path: &str) -> Result<String, String> {
    let expected = "expected a JSONPath naming one value such as `$.status` or `$.items[0]['id']`";
    let Some(mut rest) = path.trim().strip_prefix('$') else {
        return Err(format!("`{path}` does not start with `$`; {expected}"));
    };
    let mut pointer = String::new();
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("['") {
            let end = r
                .find("']")
                .ok_or_else(|| format!("`{path}`: `['` without `']`; {expected}"))?;
            pointer.push('/');
            pointer.push_str(&escape(&r[..end]));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r
                .find(']')
                .ok_or_else(|| format!("`{path}`: `[` without `]`; {expected}"))?;
            let index = &r[..end];
            if index.parse::<usize>().is_err() {
                return Err(format!(
                    "`{path}`: `[{index}]` is not an index (filters and wildcards are not supported); {expected}"
                ));
            }
            pointer.push('/');
            pointer.push_str(index);
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() || key == "*" {
                return Err(format!(
                    "`{path}`: an empty or wildcard key (`..` and `*` are not supported); {expected}"
                ));
            }
            pointer.push('/');
            pointer.push_str(&escape(key));
            rest = &r[end..];
        } else {
            return Err(format!("`{path}`: unexpected `{rest}`; {expected}"));
        }
    }
    Ok(pointer)
}

impl Check {
    /// The check ready to apply, or what is wrong with it.
    pub fn compile(&self) -> Result<CompiledCheck, String> {
        match (&self.jsonpath, &self.regex) {
            (Some(path), None) => Ok(CompiledCheck::Json {
                selector: jsonpath_pointer(path)?,
                written: path.clone(),
                equals: self.equals.clone().unwrap_or_default(),
            }),
            (None, Some(re)) if self.equals.is_none() => regex::Regex::new(re)
                .map(CompiledCheck::Regex)
                .map_err(|e| {
                    // The parser's message draws a caret under the pattern over several
                    // lines; its last line says what is wrong.
                    let text = e.to_string();
                    let why = text
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim_start_matches("error: ");
                    format!("bad regex `{re}`: {why}")
                }),
            (None, Some(_)) => Err("`equals` goes with `jsonpath`, not `regex`".into()),
            (Some(_), Some(_)) => {
                Err("a check has one of `jsonpath` or `regex`, not both (write two checks)".into())
            }
            (None, None) => {
                Err("a check needs `jsonpath` (with `equals` or not) or `regex`".into())
            }
        }
    }
}

impl CompiledCheck {
    /// Whether the body passes; `Err` says why not (the value found, cut short).
    pub fn apply(&self, body: &[u8]) -> Result<(), String> {
        match self {
            CompiledCheck::Json {
                selector, equals, ..
            } => {
                let doc: serde_json::Value =
                    serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_string())?;
                match crate::http::select(&doc, selector) {
                    None | Some(serde_json::Value::Null) => Err("no such value".into()),
                    Some(_) if equals.is_empty() => Ok(()),
                    Some(v) if equals.iter().any(|w| crate::http::loosely_equal(v, w)) => Ok(()),
                    Some(v) => {
                        let mut shown = v.to_string();
                        if shown.len() > 40 {
                            let cut = (0..=40).rev().find(|&i| shown.is_char_boundary(i));
                            shown.truncate(cut.unwrap_or(0));
                            shown.push_str("...");
                        }
                        Err(format!("found {shown}"))
                    }
                }
            }
            CompiledCheck::Regex(re) => {
                let text = String::from_utf8_lossy(body);
                if re.is_match(&text) {
                    Ok(())
                } else {
                    Err("no match".into())
                }
            }
        }
    }
}

/// The check as a reason names it: `$.status equals ok`, `regex ^ok$`.
impl fmt::Display for CompiledCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompiledCheck::Json {
                written, equals, ..
            } if equals.is_empty() => write!(f, "{written} exists"),
            CompiledCheck::Json {
                written, equals, ..
            } => {
                let values: Vec<String> = equals
                    .iter()
                    .map(|v| crate::http::scalar_text(v).unwrap_or_else(|| v.to_string()))
                    .collect();
                write!(f, "{written} equals {}", values.join(" or "))
            }
            CompiledCheck::Regex(re) => write!(f, "regex {}", re.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(path: &str, equals: &[serde_json::Value]) -> CompiledCheck {
        Check {
            jsonpath: Some(path.into()),
            equals: (!equals.is_empty()).then(|| equals.to_vec()),
            regex: None,
        }
        .compile()
        .unwrap()
    }

    #[test]
    fn jsonpaths_become_pointers() {
        assert_eq!(jsonpath_pointer("$").unwrap(), "");
        assert_eq!(jsonpath_pointer("$.status").unwrap(), "/status");
        assert_eq!(
            jsonpath_pointer("$.items[2]['a/b'].id").unwrap(),
            "/items/2/a~1b/id"
        );
        for bad in ["status", "$..a", "$.a[*]", "$.a[?(@.x)]", "$.", "$a"] {
            assert!(jsonpath_pointer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn applies_to_bodies() {
        let body = br#"{"status": "ok", "n": 2, "items": [{"id": null}]}"#;
        let ok = serde_json::json!("ok");
        assert_eq!(
            json("$.status", std::slice::from_ref(&ok)).apply(body),
            Ok(())
        );
        assert_eq!(json("$.n", &[serde_json::json!("2")]).apply(body), Ok(()));
        assert_eq!(
            json("$.n", std::slice::from_ref(&ok)).apply(body),
            Err("found 2".to_string())
        );
        assert_eq!(
            json("$.items[0].id", &[]).apply(body),
            Err("no such value".to_string())
        );
        assert_eq!(
            json("$.status", &[ok]).apply(b"<html>"),
            Err("the body is not JSON".to_string())
        );
        let re = Check {
            jsonpath: None,
            equals: None,
            regex: Some("\"status\": \"o.\"".into()),
        }
        .compile()
        .unwrap();
        assert_eq!(re.apply(body), Ok(()));
        assert_eq!(re.apply(b"{}"), Err("no match".to_string()));
        assert_eq!(re.to_string(), "regex \"status\": \"o.\"");
    }

    #[test]
    fn bad_checks_are_refused() {
        let c = |j: Option<&str>, e: bool, r: Option<&str>| Check {
            jsonpath: j.map(Into::into),
            equals: e.then(|| vec![serde_json::json!(1)]),
            regex: r.map(Into::into),
        };
        assert!(c(None, false, None).compile().is_err());
        assert!(c(Some("$.a"), false, Some("x")).compile().is_err());
        assert!(c(None, true, Some("x")).compile().is_err());
        let e = c(None, false, Some("(")).compile().unwrap_err();
        assert!(e.starts_with("bad regex"), "{e}");
    }
}
