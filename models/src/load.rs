//! YAML text to a [`Scenario`], with every problem located at `file:line:col`.
//!
//! Parsing goes text -> YAML value tree -> `--set` overrides -> typed scenario. Serde reports
//! *where in the tree* a value failed (through `serde_path_to_error`); a second, event-level
//! pass over the text ([`SpanIndex`]) turns that tree path into a line and column.

use crate::scenario::{PathSegment, Scenario, Severity};
pub use crate::span::SpanIndex;
use crate::span::COMPLEX_KEY;
use serde_yaml_ng::Value;
use std::fmt;

/// A located problem in a scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the problem has no place in the file (e.g. a `--set` override).
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub severity: Severity,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {level}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// A `--set PATH=VALUE` override: `services.api.replicas=4`, `workload.journeys[0].weight=2`.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub path: Vec<PathSegment>,
    pub value: String,
    pub text: String,
}

impl Override {
    pub fn parse(text: &str) -> Result<Override, String> {
        let (p, v) = text.split_once('=').ok_or_else(|| {
            format!("`--set {text}`: expected PATH=VALUE, e.g. services.api.replicas=4")
        })?;
        let path = parse_path(p.trim())
            .ok_or_else(|| format!("`--set {text}`: `{p}` is not a path such as services.api.replicas or workload.journeys[0].weight"))?;
        Ok(Override {
            path,
            value: v.trim().to_string(),
            text: text.to_string(),
        })
    }
}

/// Parses `a.b[0].c` (or `a.b.0.c`) into segments.
pub fn parse_path(p: &str) -> Option<Vec<PathSegment>> {
    let mut out = Vec::new();
    for part in p.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            match key.parse::<usize>() {
                Ok(i) if !out.is_empty() => out.push(PathSegment::Index(i)),
                _ => out.push(PathSegment::Key(key.to_string())),
            }
        } else if rest.is_empty() {
            return None;
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(PathSegment::Index(r[..end].parse().ok()?));
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn path_to_string(path: &[PathSegment]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            PathSegment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            PathSegment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Parses a scenario. `file` names the source in messages. Errors come back all at once where
/// they can (every reference problem), warnings beside a successful parse.
pub fn parse_scenario(
    text: &str,
    file: &str,
    overrides: &[Override],
) -> Result<(Scenario, Vec<Diagnostic>), Vec<Diagnostic>> {
    parse_with(text, file, overrides, |s| s.validate())
}

/// Parses, then lets `check` inspect the typed scenario (validation, file resolution).
pub fn parse_with(
    text: &str,
    file: &str,
    overrides: &[Override],
    check: impl FnOnce(&mut Scenario) -> Vec<crate::scenario::Finding>,
) -> Result<(Scenario, Vec<Diagnostic>), Vec<Diagnostic>> {
    parse_layers(&[Layer { text, file }], overrides, check)
}

/// One file of a scenario that `extends:` another: its text and its name for messages.
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    pub text: &'a str,
    pub file: &'a str,
}

/// The deepest `extends:` chain a scenario may have (a drill scenario extending a variant of
/// production is two).
pub const MAX_EXTENDS: usize = 8;

/// The file a scenario's top-level `extends:` names, with its line and column, or `None`
/// when it extends nothing. A text that is not YAML, or an `extends` that is not a string, is
/// left for the parse to report (`extends` must be a string: a located error).
pub fn extends_of(text: &str) -> Option<(String, usize, usize)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value = serde_yaml_ng::from_str(text).ok()?;
    let name = value.as_mapping()?.get("extends")?.as_str()?.to_string();
    let (line, col) = SpanIndex::build(text).locate(&[PathSegment::Key("extends".into())]);
    Some((name, line, col))
}

/// Lays `over` on `base`: a mapping merges key by key (recursively), a key whose value is
/// `null` removes the base's key, a key written `KEY+` with a list appends that list to the
/// base's `KEY` (a drill adds its targets to the base's `slos`), anything else (a list, a
/// scalar) replaces the base's value whole. `at` is the path of `base`; each append is
/// recorded in `appended` (the merged list's path, the key as written, the base's length) so
/// that a problem in an appended item is located in the file that wrote it.
fn merge(base: &mut Value, over: Value, at: &mut Vec<PathSegment>, appended: &mut Vec<Appended>) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                let append = k
                    .as_str()
                    .and_then(|s| s.strip_suffix('+'))
                    .filter(|_| v.is_sequence())
                    .map(str::to_string);
                if let Some(key) = append {
                    let written = k.as_str().unwrap_or_default().to_string();
                    let slot = b
                        .entry(Value::String(key.clone()))
                        .or_insert_with(|| Value::Sequence(Vec::new()));
                    let mut path = at.clone();
                    path.push(PathSegment::Key(key));
                    match (slot, v) {
                        (Value::Sequence(items), Value::Sequence(more)) => {
                            appended.push(Appended {
                                merged: path,
                                written,
                                offset: items.len(),
                            });
                            items.extend(more);
                        }
                        (slot, v) => *slot = v,
                    }
                } else if v.is_null() {
                    b.remove(&k);
                } else if let Some(slot) = b.get_mut(&k) {
                    at.push(PathSegment::Key(key_string(k.clone())));
                    merge(slot, v, at, appended);
                    at.pop();
                } else {
                    b.insert(k, v);
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// A list a layer appended to (`KEY+:`): where it is in the merged tree, the key as the
/// layer wrote it, and how many items came before from the layers below.
#[derive(Clone, Debug)]
struct Appended {
    merged: Vec<PathSegment>,
    written: String,
    offset: usize,
}

impl Appended {
    /// `path` in the merged tree as the appending layer wrote it, if it falls in the items
    /// that layer appended.
    fn written_path(&self, path: &[PathSegment]) -> Option<Vec<PathSegment>> {
        let n = self.merged.len();
        if path.len() <= n || path[..n] != self.merged[..] {
            return None;
        }
        let PathSegment::Index(i) = path[n] else {
            return None;
        };
        let i = i.checked_sub(self.offset)?;
        let mut out = self.merged[..n - 1].to_vec();
        out.push(PathSegment::Key(self.written.clone()));
        out.push(PathSegment::Index(i));
        out.extend_from_slice(&path[n + 1..]);
        Some(out)
    }
}

/// Parses a scenario given as layers: `layers[0]` is the file asked for, `layers[1]` the file
/// its `extends:` names, and so on down the chain. Each layer's keys are laid over the one
/// below ([`merge`]) before the `--set` overrides, and a problem is located in the layer that
/// wrote the value (the top-most layer holding the longest part of the problem's path), at
/// that file's own line and column.
pub fn parse_layers(
    layers: &[Layer<'_>],
    overrides: &[Override],
    check: impl FnOnce(&mut Scenario) -> Vec<crate::scenario::Finding>,
) -> Result<(Scenario, Vec<Diagnostic>), Vec<Diagnostic>> {
    let Some(top) = layers.first() else {
        return Err(vec![Diagnostic {
            file: String::new(),
            line: 0,
            col: 0,
            message: "no scenario text".into(),
            severity: Severity::Error,
        }]);
    };
    let mut value = Value::Null;
    let mut indexed = Vec::with_capacity(layers.len());
    for (depth, layer) in layers.iter().enumerate().rev() {
        let (mut v, text) = parse_value(layer.text, layer.file)?;
        if let Some(m) = v.as_mapping_mut() {
            // Resolved by the caller (the layer below is the file it names); a non-string is
            // a located error here, since the caller could not follow it.
            let problem = match m.get("extends") {
                Some(e) if !e.is_string() => Some("extends: expected the path of the scenario file this one extends, e.g. `extends: ../production-gcp.yaml`".to_string()),
                Some(_) if depth + 1 == layers.len() => Some(format!(
                    "extends: the file was not read: the chain of extended scenarios loops back on itself or is deeper than {MAX_EXTENDS} files"
                )),
                _ => None,
            };
            if let Some(message) = problem {
                let (line, col) =
                    SpanIndex::build(text).locate(&[PathSegment::Key("extends".into())]);
                return Err(vec![error_at(layer.file, line, col, message)]);
            }
            m.remove("extends");
        }
        let mut appended = Vec::new();
        if depth + 1 == layers.len() {
            value = v;
        } else {
            merge(&mut value, v, &mut Vec::new(), &mut appended);
        }
        indexed.push(Indexed {
            file: layer.file,
            spans: SpanIndex::build(text),
            appended,
        });
    }
    // Top layer first, as the search for the layer that wrote a value goes.
    indexed.reverse();
    finish(value, &indexed, top.file, overrides, check)
}

/// An error at `file:line:col`.
fn error_at(file: &str, line: usize, col: usize, message: String) -> Diagnostic {
    Diagnostic {
        file: file.to_string(),
        line,
        col,
        message,
        severity: Severity::Error,
    }
}

/// One layer's text into its YAML value tree (the text without a byte-order mark beside it),
/// or the located syntax error.
fn parse_value<'t>(text: &'t str, file: &str) -> Result<(Value, &'t str), Vec<Diagnostic>> {
    let at = |line: usize, col: usize, message: String| error_at(file, line, col, message);
    // A UTF-8 byte-order mark (editors on Windows write one) is not content; left in, the YAML
    // parser reads the file as two documents.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let message = e.to_string();
        let (line, col) = if message.contains("duplicate entry with key") {
            // serde_yaml_ng places this at the mapping; the second occurrence is what to fix.
            SpanIndex::build(text).duplicate.unwrap_or((1, 1))
        } else {
            match e.location() {
                Some(l) => (l.line(), l.column()),
                None => second_document(text).unwrap_or((1, 1)),
            }
        };
        vec![at(
            line,
            col,
            format!("invalid YAML: {}", strip_location(&message)),
        )]
    })?;
    if !value.is_mapping() {
        return Err(vec![at(
            1,
            1,
            "expected a mapping with name, horizon, services, workload and slos".into(),
        )]);
    }
    Ok((value, text))
}

/// One layer as problems are located in it.
struct Indexed<'a> {
    file: &'a str,
    spans: SpanIndex,
    appended: Vec<Appended>,
}

impl Indexed<'_> {
    /// `path` of the merged tree as this layer wrote it (an appended item's own index).
    fn written(&self, path: &[PathSegment]) -> Vec<PathSegment> {
        self.appended
            .iter()
            .find_map(|a| a.written_path(path))
            .unwrap_or_else(|| path.to_vec())
    }

    /// How much of `path` this layer wrote (the longest prefix it holds), if any.
    fn depth(&self, path: &[PathSegment]) -> Option<usize> {
        let path = self.written(path);
        (0..=path.len())
            .rev()
            .find(|n| self.spans.contains(&path[..*n]))
    }

    fn locate(&self, path: &[PathSegment]) -> (usize, usize) {
        self.spans.locate(&self.written(path))
    }
}

/// The merged value tree to a checked scenario; `layers` (top first) locate each problem.
fn finish(
    mut value: Value,
    layers: &[Indexed<'_>],
    file: &str,
    overrides: &[Override],
    check: impl FnOnce(&mut Scenario) -> Vec<crate::scenario::Finding>,
) -> Result<(Scenario, Vec<Diagnostic>), Vec<Diagnostic>> {
    let at = |line: usize, col: usize, message: String| error_at(file, line, col, message);
    // The layer that wrote the deepest part of `path` (the top-most among equals).
    let layer_of = |path: &[PathSegment]| -> &Indexed<'_> {
        let mut best = &layers[0];
        let mut best_depth = best.depth(path);
        for layer in &layers[1..] {
            let d = layer.depth(path);
            if d > best_depth {
                best = layer;
                best_depth = d;
            }
        }
        best
    };
    let mut overridden = Vec::new();
    for o in overrides {
        let v: Value = serde_yaml_ng::from_str(&o.value)
            .map_err(|e| vec![at(0, 0, format!("--set {}: {e}", o.text))])?;
        set_path(&mut value, &o.path, v)
            .map_err(|e| vec![at(0, 0, format!("--set {}: {e}", o.text))])?;
        overridden.push(o.path.clone());
    }
    let locate = |path: &[PathSegment], message: String, severity: Severity| {
        if let Some(o) = overridden.iter().find(|p| path.starts_with(p)) {
            return Diagnostic {
                file: file.to_string(),
                line: 0,
                col: 0,
                message: format!("(from --set {}) {message}", path_to_string(o)),
                severity,
            };
        }
        let layer = layer_of(path);
        let (line, col) = layer.locate(path);
        Diagnostic {
            file: layer.file.to_string(),
            line,
            col,
            message,
            severity,
        }
    };
    let mut scenario: Scenario = serde_path_to_error::deserialize(to_json(value)).map_err(|e| {
        let mut path = tree_path(e.path());
        // A key that is itself a collection (`? [a, b]`) prints over several lines.
        let inner = e.into_inner().to_string().replace('\n', " ");
        let mut at_path = None;
        // An unknown key is best pointed at where the key itself stands.
        if let Some(key) = inner
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            // serde_path_to_error usually has the key on the path already.
            if let Some(PathSegment::Key(k)) = path.last() {
                if k.replace('\n', " ") == key {
                    path.pop();
                }
            }
            let mut p = path.clone();
            p.push(PathSegment::Key(COMPLEX_KEY.into()));
            path.push(PathSegment::Key(key.to_string()));
            let layer = layer_of(&p);
            if !layer.spans.contains(&layer.written(&path))
                && layer.spans.contains(&layer.written(&p))
            {
                at_path = Some(p);
            }
        }
        let shown = path_to_string(&path);
        let message = if shown.is_empty() {
            inner
        } else {
            format!("{shown}: {inner}")
        };
        vec![locate(
            at_path.as_ref().unwrap_or(&path),
            message,
            Severity::Error,
        )]
    })?;
    let findings = check(&mut scenario);
    let diags: Vec<Diagnostic> = findings
        .into_iter()
        .map(|f| {
            let shown = path_to_string(&f.path);
            locate(&f.path, format!("{shown}: {}", f.message), f.severity)
        })
        .collect();
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(diags);
    }
    Ok((scenario, diags))
}

/// The typed parse goes through JSON's value tree, whose deserializer reads externally tagged
/// enums from one-key maps (`{exponential: {mean: 1s}}`), as scenario files write them. YAML
/// tags (`!exponential {mean: 1s}`) become the same one-key maps; non-string keys become strings.
pub fn to_json(v: Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                J::from(u)
            } else if let Some(i) = n.as_i64() {
                J::from(i)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(J::Null, J::Number)
            }
        }
        Value::String(s) => J::String(s),
        Value::Sequence(seq) => J::Array(seq.into_iter().map(to_json).collect()),
        Value::Mapping(m) => J::Object(
            m.into_iter()
                .map(|(k, v)| (key_string(k), to_json(v)))
                .collect(),
        ),
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!').to_string();
            let mut obj = serde_json::Map::new();
            obj.insert(name, to_json(t.value));
            J::Object(obj)
        }
    }
}

fn key_string(k: Value) -> String {
    match k {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => serde_yaml_ng::to_string(&other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Drops the first ` at line L column C` (shown as `file:line:col` already) and keeps the
/// context after it (`, while parsing a flow mapping at line 5 column 19`).
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => {
            let rest = &msg[i + " at line ".len()..];
            let context = rest.find(", ").map_or("", |j| &rest[j..]);
            format!("{}{context}", &msg[..i])
        }
        None => msg.to_string(),
    }
}

/// Where a second YAML document starts (`---` at the start of a line after content), for the
/// "more than one document" error, which serde_yaml_ng does not locate.
fn second_document(text: &str) -> Option<(usize, usize)> {
    let mut content = false;
    for (n, line) in text.lines().enumerate() {
        let starts_doc = line == "---" || line.starts_with("--- ") || line == "...";
        if starts_doc && content {
            return Some((n + 1, 1));
        }
        let t = line.trim_start();
        if !starts_doc && !t.is_empty() && !t.starts_with('#') && !t.starts_with('%') {
            content = true;
        }
    }
    None
}

fn tree_path(p: &serde_path_to_error::Path) -> Vec<PathSegment> {
    use serde_path_to_error::Segment;
    p.iter()
        .filter_map(|s| match s {
            Segment::Map { key } => Some(PathSegment::Key(key.clone())),
            Segment::Seq { index } => Some(PathSegment::Index(*index)),
            Segment::Enum { variant } => Some(PathSegment::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

fn set_path(root: &mut Value, path: &[PathSegment], v: Value) -> Result<(), String> {
    let mut cur = root;
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        cur = match seg {
            PathSegment::Key(k) => {
                let map = cur
                    .as_mapping_mut()
                    .ok_or_else(|| format!("`{}` is not a mapping", path_to_string(&path[..i])))?;
                let key = Value::String(k.clone());
                if last {
                    map.insert(key, v);
                    return Ok(());
                }
                if !map.contains_key(&key) {
                    return Err(format!("no key `{}`", path_to_string(&path[..=i])));
                }
                map.get_mut(&key).ok_or("unreachable")?
            }
            PathSegment::Index(n) => {
                let seq = cur
                    .as_sequence_mut()
                    .ok_or_else(|| format!("`{}` is not a list", path_to_string(&path[..i])))?;
                let len = seq.len();
                let slot = seq.get_mut(*n).ok_or_else(|| {
                    format!("index {n} is out of range (the list has {len} items)")
                })?;
                if last {
                    *slot = v;
                    return Ok(());
                }
                slot
            }
        };
    }
    Ok(())
}
