//! A whole `HorizontalPodAutoscaler` manifest as `kubectl get hpa -o yaml` prints it: YAML
//! read with located errors ([`parse_yaml`]) and the object checked and resolved
//! ([`parse_manifest`]) the way `twin hpa replay --hpa` and a scenario's `hpa: {file}` read it.

use super::spec::{key, HpaSpec, ResolvedHpa, SpecError};
use crate::path::PathSegment;
use crate::span::SpanIndex;
use crate::units::Duration;
use serde::{de, Deserialize};

/// A whole `HorizontalPodAutoscaler` object. `metadata` and `status` are accepted and not
/// used: `kubectl get -o yaml` prints them, the twin needs the spec.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaManifest {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    pub spec: HpaSpec,
    #[serde(default)]
    pub status: Option<serde_json::Value>,
}

impl HpaManifest {
    /// The object's `metadata.name`, if any.
    pub fn name(&self) -> Option<&str> {
        self.metadata.as_ref()?.get("name")?.as_str()
    }
}

fn strip_location(msg: &str) -> String {
    msg.split(" at line ").next().unwrap_or(msg).to_string()
}

/// Parses YAML text into `T`, pointing an error at its field path and line:column.
pub fn parse_yaml<T: de::DeserializeOwned>(text: &str) -> Result<T, SpecError> {
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        SpecError {
            path: Vec::new(),
            message: format!("invalid YAML: {}", strip_location(&e.to_string())),
            line,
            col,
        }
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        use serde_path_to_error::Segment;
        let mut path: Vec<PathSegment> = e
            .path()
            .iter()
            .filter_map(|s| match s {
                Segment::Map { key } => Some(PathSegment::Key(key.clone())),
                Segment::Seq { index } => Some(PathSegment::Index(*index)),
                Segment::Enum { variant } => Some(PathSegment::Key(variant.clone())),
                Segment::Unknown => None,
            })
            .collect();
        let inner = e.into_inner().to_string();
        // An unknown key is best pointed at where the key itself stands.
        if let Some(k) = inner
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            if path.last() != Some(&PathSegment::Key(k.to_string())) {
                path.push(PathSegment::Key(k.to_string()));
            }
        }
        let (line, col) = SpanIndex::build(text).locate(&path);
        SpecError {
            path,
            message: strip_location(&inner),
            line,
            col,
        }
    })
}

/// Parses an autoscaling/v2 HorizontalPodAutoscaler manifest (as `kubectl get hpa -o yaml`
/// prints it) and resolves its spec. Errors name the field and its line:column.
pub fn parse_manifest(
    text: &str,
    downscale_stabilization: Duration,
) -> Result<(HpaManifest, ResolvedHpa), Vec<SpecError>> {
    let manifest: HpaManifest = parse_yaml(text).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    if manifest.spec.file.is_some() {
        errors.push(SpecError::at(
            vec![key("spec"), key("file")],
            "unknown field `file`: not an autoscaling/v2 HorizontalPodAutoscaler field",
        ));
    }
    if manifest.kind != "HorizontalPodAutoscaler" {
        errors.push(SpecError::at(
            vec![key("kind")],
            format!("expected HorizontalPodAutoscaler, got {}", manifest.kind),
        ));
    }
    if manifest.api_version != "autoscaling/v2" {
        errors.push(SpecError::at(
            vec![key("apiVersion")],
            format!(
                "expected autoscaling/v2, got {} (`kubectl get hpa NAME -o yaml` prints v2)",
                manifest.api_version
            ),
        ));
    }
    match manifest
        .spec
        .resolve(None, downscale_stabilization, &[key("spec")])
    {
        Ok(resolved) if errors.is_empty() => return Ok((manifest, resolved)),
        Ok(_) => {}
        Err(list) => errors.extend(list),
    }
    let spans = SpanIndex::build(text);
    for e in &mut errors {
        (e.line, e.col) = spans.locate(&e.path);
    }
    Err(errors)
}
