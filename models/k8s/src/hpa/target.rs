//! The scale target as the HPA sees it: the Deployment's `spec.replicas` and the per-pod
//! requests of its pod template (`calculateRequests`: the named container, or the pod-level
//! requests when set, or the sum over containers and restartable init containers).

use super::spec::{parse_yaml, Quantity, SpecError};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentManifest {
    pub api_version: String,
    pub kind: String,
    pub spec: DeploymentSpec,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    #[serde(default)]
    pub replicas: Option<i32>,
    pub template: PodTemplate,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PodTemplate {
    pub spec: PodSpec,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub containers: Vec<Container>,
    #[serde(default)]
    pub init_containers: Vec<Container>,
    /// Pod-level resources (KEP-2837).
    #[serde(default)]
    pub resources: Option<Resources>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(default)]
    pub resources: Option<Resources>,
    #[serde(default)]
    pub restart_policy: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Resources {
    #[serde(default)]
    pub requests: BTreeMap<String, Quantity>,
}

impl PodSpec {
    /// The request of `resource` in milli-units for one pod of this template, as
    /// `calculateRequests` computes it. A counted container without the request is an error,
    /// which fails the metric.
    pub fn request_milli(&self, resource: &str, container: Option<&str>) -> Result<i64, String> {
        if container.is_none() {
            if let Some(r) = self.resources.as_ref().filter(|r| !r.requests.is_empty()) {
                return r
                    .requests
                    .get(resource)
                    .map(Quantity::milli_value)
                    .ok_or_else(|| format!("missing pod-level request for {resource}"));
            }
        }
        let sidecars = self
            .init_containers
            .iter()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        let mut total = 0i64;
        for c in self.containers.iter().chain(sidecars) {
            if container.is_none_or(|name| name == c.name) {
                let q = c
                    .resources
                    .as_ref()
                    .and_then(|r| r.requests.get(resource))
                    .ok_or_else(|| {
                        format!("missing request for {resource} in container {}", c.name)
                    })?;
                total = total.saturating_add(q.milli_value());
                if container.is_some() {
                    return Ok(total);
                }
            }
        }
        match container {
            Some(name) => Err(format!("container {name} not found in the pod template")),
            None => Ok(total),
        }
    }
}

/// Parses an apps/v1 Deployment (or any object with `spec.replicas` and `spec.template`).
pub fn parse_deployment(text: &str) -> Result<DeploymentManifest, SpecError> {
    parse_yaml(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_sum_containers_and_sidecars() {
        let text = "apiVersion: apps/v1
kind: Deployment
spec:
  replicas: 3
  template:
    spec:
      initContainers:
      - name: proxy
        restartPolicy: Always
        resources: {requests: {cpu: 100m}}
      - name: migrate
      containers:
      - name: app
        resources: {requests: {cpu: 500m, memory: 256Mi}}
";
        let d = parse_deployment(text).expect("valid");
        assert_eq!(d.spec.replicas, Some(3));
        let pod = &d.spec.template.spec;
        assert_eq!(pod.request_milli("cpu", None), Ok(600));
        assert_eq!(pod.request_milli("cpu", Some("app")), Ok(500));
        assert!(
            pod.request_milli("memory", None).is_err(),
            "the sidecar has no memory request"
        );
        assert_eq!(
            pod.request_milli("memory", Some("app")),
            Ok(256 * 1024 * 1024 * 1000)
        );
    }
}
