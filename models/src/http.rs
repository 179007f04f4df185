//! How a journey step is called over HTTP (`http:` of a step): method, path and body templates,
//! headers whose secrets are named as `${ENV_VAR}`, the statuses that count as success, values
//! captured from a JSON response for later steps, and polling until a field says done.
//!
//! Templates are parsed here, once, so a bad one is a located error of `twin validate` (and
//! exit 2 of `twin load` before any traffic). Rendering takes the values and the environment
//! from the caller: this module reads no environment variable itself and never stores a secret.
//!
//! Template syntax: `{name}` is replaced by a value captured by an earlier step of the journey,
//! or by a built-in ([`BUILTINS`]); `{{` is a literal `{`; any other `{` (a JSON body's braces)
//! is literal text. In header values `${NAME}` is replaced by the environment variable `NAME` at
//! request time. Secrets are allowed in headers only, so they never appear in a path or a body.

use crate::units::Duration;
use indexmap::IndexMap;
use serde::{de, Deserialize, Deserializer, Serialize};
use std::fmt;

/// Values every journey can use without capturing them: `seq` (the arrival's sequence number
/// in this load worker, from 0), `key` (a key unique across shards and runs of the same second:
/// `<run>-<shard>-<seq>`, zero-padded so keys sort in arrival order), `shard` (`I` of `--shard
/// I/N`, from 0), `journey` (the journey's name).
pub const BUILTINS: [&str; 4] = ["seq", "key", "shard", "journey"];

/// An HTTP call (core keys of SPEC.md plus templates, captures and polling).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCall {
    #[serde(default = "get")]
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub body: Option<String>,
    /// Header values may name secrets as `${ENV_VAR}`; they are substituted at request time only.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Statuses that count as success; empty means any 2xx.
    #[serde(default)]
    pub expect: Vec<u16>,
    /// Values taken from the JSON response for later steps: `{feature_id: id}` or
    /// `{feature_id: /data/id}` (a JSON pointer) or `data.items[0].id` (a dotted path).
    #[serde(default)]
    pub capture: IndexMap<String, String>,
    /// Repeat this request until a field of its JSON response says done.
    #[serde(default)]
    pub poll: Option<Poll>,
    /// How long one request may take before it counts as a timeout (default 30 s).
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// What an accepted response's body must hold ([`crate::check`]); a failed check is an error.
    #[serde(default)]
    pub check: Option<crate::check::Checks>,
    /// `sse`: the answer is a server-sent-event stream, read event by event (time to first
    /// event, gaps between events, events received).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<Stream>,
}

/// How a step's answer is read when it is not one whole body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// `text/event-stream` (the WHATWG server-sent events format).
    Sse,
}

fn get() -> String {
    "GET".into()
}

/// Polling: the request is repeated every `interval` until `until` holds, or fails as a
/// `poll_timeout` after `timeout`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    pub until: Until,
    #[serde(default = "default_interval")]
    pub interval: Duration,
    #[serde(default = "default_poll_timeout")]
    pub timeout: Duration,
}

fn default_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_poll_timeout() -> Duration {
    Duration::from_secs(60)
}

/// The condition polling waits for: the field (same syntax as a capture) equals one of the
/// given values (`equals: done` or `equals: [done, ready]`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Until {
    pub field: String,
    #[serde(deserialize_with = "one_or_many")]
    pub equals: Vec<serde_json::Value>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<serde_json::Value>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Array(v) if v.is_empty() => {
            Err(de::Error::custom("`equals` needs at least one value"))
        }
        serde_json::Value::Array(v) => Ok(v),
        v => Ok(vec![v]),
    }
}

impl Until {
    /// Whether the response body says done.
    pub fn holds(&self, body: &serde_json::Value) -> bool {
        match select(body, &self.field) {
            Some(v) => self.equals.iter().any(|want| loosely_equal(v, want)),
            None => false,
        }
    }
}

/// `"2" == 2` and `"done" == done`: scenario files are YAML, where quoting is optional.
pub(crate) fn loosely_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    a == b || scalar_text(a).is_some_and(|x| scalar_text(b).is_some_and(|y| x == y))
}

/// A scalar as text (strings without quotes); `None` for arrays, objects and null.
pub fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The value at `field` of a JSON document: a JSON pointer (`/data/id`) or a dotted path with
/// indices (`data.items[0].id`).
pub fn select<'a>(doc: &'a serde_json::Value, field: &str) -> Option<&'a serde_json::Value> {
    if field.starts_with('/') {
        return doc.pointer(field);
    }
    let mut cur = doc;
    for part in field.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            cur = cur.get(r[..end].parse::<usize>().ok()?)?;
            rest = &r[end + 1..];
        }
    }
    Some(cur)
}

/// Checks the syntax of a field selector (captures, `until.field`).
pub fn check_selector(field: &str) -> Result<(), String> {
    if field.is_empty() {
        return Err("an empty field; expected `id`, `data.items[0].id` or `/data/id`".into());
    }
    if field.starts_with('/') {
        return Ok(());
    }
    for part in field.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && rest.is_empty() {
            return Err(format!(
                "`{field}` has an empty part; expected `data.items[0].id`"
            ));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r
                .find(']')
                .ok_or_else(|| format!("`{field}`: `[` without `]`"))?;
            r[..end]
                .parse::<usize>()
                .map_err(|_| format!("`{field}`: `[{}]` is not an index", &r[..end]))?;
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return Err(format!("`{field}`: unexpected `{rest}`"));
        }
    }
    Ok(())
}

/// One piece of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// `{name}`: a captured value or a built-in.
    Var(String),
    /// `${NAME}`: an environment variable (headers only).
    Env(String),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub pieces: Vec<Piece>,
}

/// A template problem with the character offset (0-based) where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

/// Where a template stands, which decides what it may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A URL path: every `{` must open a placeholder; no secrets.
    Path,
    /// A body: a `{` that opens no placeholder is literal (JSON); no secrets.
    Body,
    /// A header value: placeholders and `${ENV}` secrets.
    Header,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}
fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Template {
    pub fn parse(text: &str, place: Place) -> Result<Template, TemplateError> {
        let chars: Vec<char> = text.chars().collect();
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        let err = |offset: usize, message: String| TemplateError { offset, message };
        while i < chars.len() {
            let c = chars[i];
            if c == '$' && chars.get(i + 1) == Some(&'{') {
                if place != Place::Header {
                    return Err(err(
                        i,
                        "secrets (`${NAME}`) are allowed in header values only, never in a path or a body"
                            .into(),
                    ));
                }
                let close = chars[i + 2..]
                    .iter()
                    .position(|&c| c == '}')
                    .map(|p| p + i + 2);
                let Some(close) = close else {
                    return Err(err(i, "`${` without a closing `}`".into()));
                };
                let name: String = chars[i + 2..close].iter().collect();
                let valid =
                    name.chars().next().is_some_and(is_ident_start) && name.chars().all(is_ident);
                if !valid {
                    return Err(err(
                        i,
                        format!("`${{{name}}}` is not an environment variable name such as `${{API_TOKEN}}`"),
                    ));
                }
                if !lit.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Env(name));
                i = close + 1;
                continue;
            }
            if c == '{' {
                if chars.get(i + 1) == Some(&'{') {
                    lit.push('{');
                    i += 2;
                    continue;
                }
                let mut j = i + 1;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                let starts_ident = chars.get(i + 1).is_some_and(|&c| is_ident_start(c));
                if starts_ident && chars.get(j) == Some(&'}') {
                    if !lit.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Var(chars[i + 1..j].iter().collect()));
                    i = j + 1;
                    continue;
                }
                if place == Place::Body {
                    lit.push('{');
                    i += 1;
                    continue;
                }
                let shown: String = chars[i..j.min(chars.len())].iter().collect();
                return Err(err(
                    i,
                    if starts_ident && j >= chars.len() {
                        format!("`{shown}` is not closed; expected `{shown}}}`")
                    } else {
                        format!("`{{` must open a placeholder such as `{{feature_id}}` (write `{{{{` for a literal brace), found `{shown}`")
                    },
                ));
            }
            if place != Place::Body && c == '}' {
                return Err(err(i, "a `}` closes no placeholder".into()));
            }
            if place == Place::Path && c.is_whitespace() {
                return Err(err(i, "a path cannot contain white space".into()));
            }
            lit.push(c);
            i += 1;
        }
        if !lit.is_empty() {
            pieces.push(Piece::Text(lit));
        }
        if place == Place::Path && !text.starts_with('/') {
            return Err(err(0, format!("a path starts with `/`, found `{text}`")));
        }
        Ok(Template { pieces })
    }

    /// The `{name}` placeholders, in order.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(v) => Some(v.as_str()),
            _ => None,
        })
    }

    /// The `${NAME}` environment variables, in order.
    pub fn env_vars(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Env(v) => Some(v.as_str()),
            _ => None,
        })
    }

    /// Fills the template. `var` gives captured and built-in values, `env` environment
    /// variables; a missing one is an error naming it (never its value).
    pub fn render(
        &self,
        var: impl Fn(&str) -> Option<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => {
                    out.push_str(&var(v).ok_or_else(|| format!("no value for `{{{v}}}`"))?)
                }
                Piece::Env(v) => out.push_str(
                    &env(v).ok_or_else(|| format!("the environment variable `{v}` is not set"))?,
                ),
            }
        }
        Ok(out)
    }

    /// The template with every placeholder standing for one path segment, for route matching:
    /// `/features/{id}` gives `["features", None]`.
    pub fn segments(&self) -> Vec<Option<String>> {
        let mut text = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => text.push_str(&t.replace('\u{0}', "")),
                Piece::Var(_) | Piece::Env(_) => text.push('\u{0}'),
            }
        }
        let text = text.split('?').next().unwrap_or("");
        text.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.contains('\u{0}') {
                    None
                } else {
                    Some(s.to_string())
                }
            })
            .collect()
    }
}

/// HTTP methods a step may use.
pub const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// A step's call with its templates parsed.
#[derive(Clone, Debug)]
pub struct CompiledCall {
    pub method: String,
    pub path: Template,
    pub body: Option<Template>,
    pub headers: Vec<(String, Template)>,
    /// The `check:` of the step, in order.
    pub checks: Vec<crate::check::CompiledCheck>,
}

/// A problem in an `http:` block: the key under `http` it concerns (`path`, `headers.X` ...),
/// and the message.
pub type CallProblem = (Vec<String>, String);

impl HttpCall {
    /// Parses the templates, checking every placeholder against `known` (captures of earlier
    /// steps and [`BUILTINS`]).
    pub fn compile(&self, known: &[String]) -> Result<CompiledCall, Vec<CallProblem>> {
        let mut problems: Vec<CallProblem> = Vec::new();
        let method = self.method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            problems.push((
                vec!["method".into()],
                format!(
                    "`{}` is not a method; expected one of {}",
                    self.method,
                    METHODS.join(", ")
                ),
            ));
        }
        if self.stream.is_some() {
            for (key, present) in [
                ("capture", !self.capture.is_empty()),
                ("poll", self.poll.is_some()),
            ] {
                if present {
                    problems.push((
                        vec![key.into()],
                        format!("`{key}` reads a JSON answer, but `stream: sse` reads events"),
                    ));
                }
            }
        }
        let check_vars = |t: &Template, key: Vec<String>, problems: &mut Vec<CallProblem>| {
            for v in t.vars() {
                if !BUILTINS.contains(&v) && !known.iter().any(|k| k == v) {
                    let mut avail: Vec<String> = known.to_vec();
                    avail.extend(BUILTINS.iter().map(|s| s.to_string()));
                    problems.push((
                        key.clone(),
                        format!(
                            "`{{{v}}}` is not captured by an earlier step of this journey; expected one of: {}",
                            avail.join(", ")
                        ),
                    ));
                }
            }
        };
        let path = match Template::parse(&self.path, Place::Path) {
            Ok(t) => {
                check_vars(&t, vec!["path".into()], &mut problems);
                Some(t)
            }
            Err(e) => {
                problems.push((vec!["path".into()], format!("bad path template: {e}")));
                None
            }
        };
        let body = match self
            .body
            .as_deref()
            .map(|b| Template::parse(b, Place::Body))
        {
            None => None,
            Some(Ok(t)) => {
                check_vars(&t, vec!["body".into()], &mut problems);
                Some(t)
            }
            Some(Err(e)) => {
                problems.push((vec!["body".into()], format!("bad body template: {e}")));
                None
            }
        };
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let key = vec!["headers".to_string(), name.clone()];
            let token = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
            if !token {
                problems.push((key.clone(), format!("`{name}` is not a header name")));
            }
            match Template::parse(value, Place::Header) {
                Ok(t) => {
                    check_vars(&t, key, &mut problems);
                    headers.push((name.clone(), t));
                }
                Err(e) => problems.push((key, format!("bad header template: {e}"))),
            }
        }
        for s in &self.expect {
            if !(100..=599).contains(s) {
                problems.push((vec!["expect".into()], format!("{s} is not an HTTP status")));
            }
        }
        for (name, field) in &self.capture {
            let valid =
                name.chars().next().is_some_and(is_ident_start) && name.chars().all(is_ident);
            if !valid {
                problems.push((
                    vec!["capture".into(), name.clone()],
                    format!("`{name}` cannot be a placeholder name; use letters, digits and `_`"),
                ));
            }
            if BUILTINS.contains(&name.as_str()) {
                problems.push((
                    vec!["capture".into(), name.clone()],
                    format!("`{name}` is a built-in value and cannot be captured"),
                ));
            }
            if let Err(e) = check_selector(field) {
                problems.push((vec!["capture".into(), name.clone()], e));
            }
        }
        if let Some(p) = &self.poll {
            if let Err(e) = check_selector(&p.until.field) {
                problems.push((vec!["poll".into(), "until".into(), "field".into()], e));
            }
            if p.interval.0 == 0 {
                problems.push((
                    vec!["poll".into(), "interval".into()],
                    "interval must be > 0".into(),
                ));
            }
            if p.timeout < p.interval {
                problems.push((
                    vec!["poll".into(), "timeout".into()],
                    "the poll timeout must be at least one interval".into(),
                ));
            }
        }
        let mut checks = Vec::new();
        for (i, c) in self.check.iter().flat_map(|c| c.as_slice()).enumerate() {
            match c.compile() {
                Ok(c) => checks.push(c),
                Err(e) => {
                    let mut key = vec!["check".to_string()];
                    if matches!(self.check, Some(crate::check::Checks::Many(_))) {
                        key.push(i.to_string());
                    }
                    problems.push((key, e));
                }
            }
        }
        if self.timeout.is_some_and(|t| t.0 == 0) {
            problems.push((vec!["timeout".into()], "timeout must be > 0".into()));
        }
        match (problems.is_empty(), path) {
            (true, Some(path)) => Ok(CompiledCall {
                method,
                path,
                body,
                headers,
                checks,
            }),
            _ => Err(problems),
        }
    }

    /// Whether a status counts as success.
    pub fn accepts(&self, status: u16) -> bool {
        if self.expect.is_empty() {
            (200..300).contains(&status)
        } else {
            self.expect.contains(&status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(path: &str) -> HttpCall {
        HttpCall {
            method: "GET".into(),
            path: path.into(),
            body: None,
            headers: IndexMap::new(),
            expect: vec![],
            capture: IndexMap::new(),
            poll: None,
            timeout: None,
            stream: None,
            check: None,
        }
    }

    #[test]
    fn parses_placeholders_and_literal_json() {
        let t = Template::parse("/features/{feature_id}/x", Place::Path).unwrap();
        assert_eq!(t.vars().collect::<Vec<_>>(), ["feature_id"]);
        assert_eq!(
            t.segments(),
            vec![Some("features".into()), None, Some("x".into())]
        );
        let b = Template::parse(r#"{"key": "{key}", "a": {"b": 1}}"#, Place::Body).unwrap();
        let out = b
            .render(|v| (v == "key").then(|| "k-1".into()), |_| None)
            .unwrap();
        assert_eq!(out, r#"{"key": "k-1", "a": {"b": 1}}"#);
        let e = Template::parse("/a/{{b}", Place::Path);
        assert!(e.is_err());
    }

    #[test]
    fn secrets_only_in_headers() {
        let h = Template::parse("Bearer ${API_TOKEN}", Place::Header).unwrap();
        assert_eq!(h.env_vars().collect::<Vec<_>>(), ["API_TOKEN"]);
        let out = h
            .render(|_| None, |n| (n == "API_TOKEN").then(|| "s3cret".into()))
            .unwrap();
        assert_eq!(out, "Bearer s3cret");
        let missing = h.render(|_| None, |_| None).unwrap_err();
        assert!(missing.contains("API_TOKEN") && !missing.contains("s3cret"));
        assert!(Template::parse("/x/${TOKEN}", Place::Path).is_err());
        assert!(Template::parse(r#"{"t": "${TOKEN}"}"#, Place::Body).is_err());
    }

    #[test]
    fn unknown_placeholders_and_unclosed_braces_are_reported() {
        let e = call("/features/{feature_id}").compile(&[]).unwrap_err();
        assert!(e[0].1.contains("feature_id"), "{e:?}");
        let ok = call("/features/{feature_id}").compile(&["feature_id".into()]);
        assert!(ok.is_ok());
        let e = call("/features/{feature_id")
            .compile(&["feature_id".into()])
            .unwrap_err();
        assert!(e[0].1.contains("not closed"), "{e:?}");
        assert!(call("/x/{seq}").compile(&[]).is_ok());
    }

    #[test]
    fn selects_fields() {
        let doc: serde_json::Value =
            serde_json::json!({"id": 7, "data": {"items": [{"id": "a"}]}, "status": "done"});
        assert_eq!(select(&doc, "id").and_then(scalar_text), Some("7".into()));
        assert_eq!(
            select(&doc, "data.items[0].id").and_then(scalar_text),
            Some("a".into())
        );
        assert_eq!(
            select(&doc, "/data/items/0/id").and_then(scalar_text),
            Some("a".into())
        );
        let until = Until {
            field: "status".into(),
            equals: vec![serde_json::json!("done")],
        };
        assert!(until.holds(&doc));
        assert!(check_selector("a[x]").is_err());
    }
}
