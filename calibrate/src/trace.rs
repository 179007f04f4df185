//! Trace files to spans: OTLP JSON (one document, or JSON lines as the OpenTelemetry
//! collector's file exporter writes them; ids in hex as the OTLP/JSON spec says, or base64 as
//! protobuf's JSON mapping writes them), Jaeger's JSON (the query API and UI export), and
//! Zipkin v2 JSON. Every format becomes the same [`Span`]; ids become lowercase hex.

use serde_json::Value;

/// One span, in the terms the call graph needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent_id: Option<String>,
    pub service: String,
    pub name: String,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Producer and consumer spans (messaging) are asynchronous by declaration.
    pub messaging: bool,
    /// For a client span, the service it calls as the span names it (`peer.service`, else the
    /// database's `db.system`; Zipkin's `remoteEndpoint.serviceName`): how a call to a
    /// service that writes no spans of its own (PostgreSQL, Redis, a SaaS API) is seen.
    pub peer: Option<String>,
}

/// A trace file that could not be read, with the line (JSON lines) and column where known.
#[derive(Debug, PartialEq)]
pub struct TraceError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

fn err(line: usize, column: usize, message: impl Into<String>) -> TraceError {
    TraceError {
        line,
        column,
        message: message.into(),
    }
}

/// Reads any of the supported formats, telling them apart by their top-level shape.
pub fn parse(text: &str) -> Result<Vec<Span>, TraceError> {
    let whole = match serde_json::from_str::<Value>(text) {
        Ok(doc) => return from_document(&doc, 1),
        Err(e) => err(e.line(), e.column(), format!("not JSON: {e}")),
    };
    // Several documents, one a line: the collector's file exporter. A first line that is not
    // a document of its own means one broken document: report the whole parse's error.
    let mut spans = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let doc: Value = match serde_json::from_str(line) {
            Ok(doc) => doc,
            Err(_) if spans.is_empty() && i == 0 => return Err(whole),
            Err(e) => return Err(err(i + 1, e.column(), format!("not JSON: {e}"))),
        };
        spans.extend(from_document(&doc, i + 1)?);
    }
    Ok(spans)
}

fn from_document(doc: &Value, line: usize) -> Result<Vec<Span>, TraceError> {
    if doc.get("resourceSpans").is_some() {
        otlp(doc, line)
    } else if let Some(data) = doc.get("data").and_then(Value::as_array) {
        jaeger(data, line)
    } else if let Some(list) = doc.as_array() {
        zipkin(list, line)
    } else {
        Err(err(
            line,
            1,
            "not a trace document: expected OTLP `resourceSpans`, Jaeger `data` or a Zipkin v2 list",
        ))
    }
}

fn str_of<'a>(v: &'a Value, key: &str, line: usize, what: &str) -> Result<&'a str, TraceError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| err(line, 1, format!("{what}: `{key}` missing or not a string")))
}

/// A number given as JSON number or as a decimal string (OTLP writes 64-bit ints as strings).
fn u64_of(v: &Value, key: &str, line: usize, what: &str) -> Result<u64, TraceError> {
    match v.get(key) {
        Some(Value::String(s)) => s.parse().ok(),
        Some(Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        _ => None,
    }
    .ok_or_else(|| err(line, 1, format!("{what}: `{key}` missing or not a number")))
}

/// An id in hex (16 or 32 digits) or base64 (of 8 or 16 bytes), as lowercase hex.
pub fn normalize_id(id: &str) -> Option<String> {
    let hex = id.len().is_multiple_of(2) && id.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && (id.len() == 16 || id.len() == 32) {
        return Some(id.to_ascii_lowercase());
    }
    let bytes = base64(id)?;
    if bytes.len() == 8 || bytes.len() == 16 {
        Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
    } else if hex {
        // Zipkin allows shorter hex ids (64-bit trace ids without leading zeros).
        Some(id.to_ascii_lowercase())
    } else {
        None
    }
}

/// Standard base64 with padding (protobuf's JSON mapping), or URL-safe, or unpadded.
fn base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for b in s.trim_end_matches('=').bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn id_of(v: &Value, key: &str, line: usize, what: &str) -> Result<String, TraceError> {
    let raw = str_of(v, key, line, what)?;
    normalize_id(raw).ok_or_else(|| {
        err(
            line,
            1,
            format!("{what}: `{key}` `{raw}` is neither hex nor base64 of 8 or 16 bytes"),
        )
    })
}

/// An optional parent id; empty or all-zero means none.
fn parent_of(v: &Value, key: &str, line: usize, what: &str) -> Result<Option<String>, TraceError> {
    match v.get(key).and_then(Value::as_str) {
        None | Some("") => Ok(None),
        Some(_) => {
            let id = id_of(v, key, line, what)?;
            Ok((!id.bytes().all(|b| b == b'0')).then_some(id))
        }
    }
}

/// The service a client span calls, from its attributes: `peer.service` (OpenTracing's and
/// OpenTelemetry's name for it), else the database system (`db.system`, or `db.system.name`
/// as semantic conventions 1.26 renamed it).
fn peer_of<'a>(attribute: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
    ["peer.service", "db.system", "db.system.name"]
        .into_iter()
        .find_map(&attribute)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

fn otlp(doc: &Value, line: usize) -> Result<Vec<Span>, TraceError> {
    let mut out = Vec::new();
    for rs in doc["resourceSpans"].as_array().into_iter().flatten() {
        let service = rs["resource"]["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["key"] == "service.name")
            .and_then(|a| a["value"]["stringValue"].as_str())
            .ok_or_else(|| err(line, 1, "OTLP resource without `service.name`"))?;
        // `instrumentationLibrarySpans` is the name before OTLP 0.15.
        let scopes = rs
            .get("scopeSpans")
            .or_else(|| rs.get("instrumentationLibrarySpans"));
        for ss in scopes.and_then(Value::as_array).into_iter().flatten() {
            for s in ss["spans"].as_array().into_iter().flatten() {
                let what = "OTLP span";
                // SPAN_KIND_PRODUCER = 4, SPAN_KIND_CONSUMER = 5 (numbers or enum names).
                let kind = &s["kind"];
                let messaging = kind == 4
                    || kind == 5
                    || kind == "SPAN_KIND_PRODUCER"
                    || kind == "SPAN_KIND_CONSUMER";
                let client = kind == 3 || kind == "SPAN_KIND_CLIENT";
                let attribute = |key: &str| {
                    s["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|a| a["key"] == key)
                        .and_then(|a| a["value"]["stringValue"].as_str())
                };
                out.push(Span {
                    trace_id: id_of(s, "traceId", line, what)?,
                    span_id: id_of(s, "spanId", line, what)?,
                    parent_id: parent_of(s, "parentSpanId", line, what)?,
                    service: service.to_string(),
                    name: str_of(s, "name", line, what)?.to_string(),
                    start_ns: u64_of(s, "startTimeUnixNano", line, what)?,
                    end_ns: u64_of(s, "endTimeUnixNano", line, what)?,
                    messaging,
                    peer: client.then(|| peer_of(attribute)).flatten(),
                });
            }
        }
    }
    Ok(out)
}

fn jaeger(data: &[Value], line: usize) -> Result<Vec<Span>, TraceError> {
    let mut out = Vec::new();
    for trace in data {
        let processes = &trace["processes"];
        for s in trace["spans"].as_array().into_iter().flatten() {
            let what = "Jaeger span";
            let pid = str_of(s, "processID", line, what)?;
            let service = processes[pid]["serviceName"].as_str().ok_or_else(|| {
                err(
                    line,
                    1,
                    format!("{what}: process `{pid}` has no serviceName"),
                )
            })?;
            let parent = s["references"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["refType"] == "CHILD_OF" || r["refType"] == "FOLLOWS_FROM");
            let follows = parent.is_some_and(|r| r["refType"] == "FOLLOWS_FROM");
            let parent_id = match parent {
                Some(r) => Some(id_of(r, "spanID", line, what)?),
                None => None,
            };
            let start_us = u64_of(s, "startTime", line, what)?;
            let tags = s["tags"].as_array();
            let tag = |key: &str| {
                tags.into_iter()
                    .flatten()
                    .find(|t| t["key"] == key)
                    .and_then(|t| t["value"].as_str())
            };
            let span_kind = tag("span.kind");
            out.push(Span {
                trace_id: id_of(s, "traceID", line, what)?,
                span_id: id_of(s, "spanID", line, what)?,
                parent_id,
                service: service.to_string(),
                name: str_of(s, "operationName", line, what)?.to_string(),
                start_ns: start_us * 1000,
                end_ns: (start_us + u64_of(s, "duration", line, what)?) * 1000,
                messaging: follows || matches!(span_kind, Some("producer" | "consumer")),
                peer: (span_kind == Some("client"))
                    .then(|| peer_of(tag))
                    .flatten(),
            });
        }
    }
    Ok(out)
}

fn zipkin(list: &[Value], line: usize) -> Result<Vec<Span>, TraceError> {
    let mut out = Vec::new();
    for s in list {
        let what = "Zipkin span";
        let service = s["localEndpoint"]["serviceName"]
            .as_str()
            .ok_or_else(|| err(line, 1, format!("{what}: no localEndpoint.serviceName")))?;
        let start_us = u64_of(s, "timestamp", line, what)?;
        let kind = s["kind"].as_str();
        out.push(Span {
            trace_id: id_of(s, "traceId", line, what)?,
            span_id: id_of(s, "id", line, what)?,
            parent_id: parent_of(s, "parentId", line, what)?,
            service: service.to_string(),
            name: s["name"].as_str().unwrap_or("").to_string(),
            start_ns: start_us * 1000,
            end_ns: (start_us + u64_of(s, "duration", line, what)?) * 1000,
            messaging: matches!(kind, Some("PRODUCER" | "CONSUMER")),
            peer: (kind == Some("CLIENT"))
                .then(|| {
                    s["remoteEndpoint"]["serviceName"]
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| peer_of(|key| s["tags"][key].as_str()))
                })
                .flatten(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_hex_and_base64_are_the_same_id() {
        // 16 bytes 0x00..0x0f: hex and standard base64 of the same bytes.
        assert_eq!(
            normalize_id("AAECAwQFBgcICQoLDA0ODw==").as_deref(),
            Some("000102030405060708090a0b0c0d0e0f")
        );
        assert_eq!(
            normalize_id("000102030405060708090A0B0C0D0E0F").as_deref(),
            Some("000102030405060708090a0b0c0d0e0f")
        );
        // 8 bytes: a span id.
        assert_eq!(
            normalize_id("AQIDBAUGBwg=").as_deref(),
            Some("0102030405060708")
        );
        assert_eq!(normalize_id("not an id!"), None);
    }

    #[test]
    fn a_document_of_another_kind_is_refused_with_its_place() {
        let e = parse(r#"{"spans": []}"#).unwrap_err();
        assert!(e.message.contains("not a trace document"), "{e:?}");
        let e = parse("{\"resourceSpans\": [\n  oops").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
    }
}
