//! The manifest-to-scenario mapping of `twin import`: Kubernetes objects in, the text of a
//! scenario skeleton out (YAML written as text, since its comments are half its value). Pure:
//! the caller reads the files and splits them into documents; nothing here does I/O.

use models::hpa::manifest::{parse_manifest, HpaManifest};
use models::hpa::spec::HpaSpec;
use models::machines::{MachineFamily, MachineType};
use models::platform::{parse_cpu_milli, parse_memory_bytes};
use models::Duration;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// GKE's node-pool label, as a pod's `nodeSelector` names it.
pub const NODE_POOL_LABEL: &str = "cloud.google.com/gke-nodepool";
/// The node pool of pods that select none.
const DEFAULT_POOL: &str = "default";

/// One YAML document of a manifests file.
pub struct Document {
    /// The file as the user named it.
    pub file: String,
    /// The 1-based line the document starts on in its file.
    pub first_line: usize,
    /// The document's own text (its lines only).
    pub text: String,
    pub value: Value,
}

/// A problem in the input, at `file:line:col`.
#[derive(Debug)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// What an import made: the scenario's text and the objects it did not model.
pub struct Imported {
    pub text: String,
    /// `Kind/name (why)`, one per object left out.
    pub skipped: Vec<String>,
    pub services: usize,
}

/// One Kubernetes object with where it came from.
struct Object<'a> {
    doc: &'a Document,
    /// Its index in a `kind: List`, if it is an item of one.
    item: Option<usize>,
    value: &'a Value,
}

impl Object<'_> {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.value["metadata"]["name"]
            .as_str()
            .unwrap_or("(unnamed)")
    }
    fn label(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }
    fn problem(&self, line: usize, col: usize, message: String) -> Problem {
        Problem {
            file: self.doc.file.clone(),
            line: self.doc.first_line + line.saturating_sub(1),
            col,
            message,
        }
    }
}

/// A Deployment or StatefulSet, becoming a service.
struct Workload {
    name: String,
    source: String,
    replicas: Option<i64>,
    /// `template.metadata.labels`, for Services and PodDisruptionBudgets to select.
    labels: BTreeMap<String, String>,
    node_pool: Option<String>,
    cpu: Option<String>,
    memory: Option<String>,
    cpu_milli: u64,
    memory_bytes: u64,
    limits: Vec<String>,
    gpus: u64,
    hpa: Option<(String, HpaSpec)>,
    notes: Vec<String>,
}

/// Maps the objects of `docs` (in order; `kind: List` items in place) to a scenario skeleton
/// named `name`.
pub fn import(name: &str, docs: &[Document]) -> Result<Imported, Vec<Problem>> {
    let mut objects = Vec::new();
    let mut skipped = Vec::new();
    for doc in docs {
        match &doc.value {
            Value::Null => {}
            Value::Mapping(_) => {
                let kind = doc.value["kind"].as_str().unwrap_or("");
                if kind == "List" || (kind.ends_with("List") && doc.value["items"].is_sequence()) {
                    if let Some(items) = doc.value["items"].as_sequence() {
                        for (i, v) in items.iter().enumerate() {
                            objects.push(Object {
                                doc,
                                item: Some(i),
                                value: v,
                            });
                        }
                    }
                } else if kind.is_empty() {
                    skipped.push(format!(
                        "{}:{}: a document with no `kind` (not a Kubernetes object)",
                        doc.file, doc.first_line
                    ));
                } else {
                    objects.push(Object {
                        doc,
                        item: None,
                        value: &doc.value,
                    });
                }
            }
            _ => skipped.push(format!(
                "{}:{}: a document that is not a mapping (not a Kubernetes object)",
                doc.file, doc.first_line
            )),
        }
    }

    let mut problems = Vec::new();
    let mut workloads: Vec<Workload> = Vec::new();
    for o in objects
        .iter()
        .filter(|o| matches!(o.kind(), "Deployment" | "StatefulSet"))
    {
        match workload(o) {
            Ok(mut w) => {
                if workloads.iter().any(|x| x.name == w.name) {
                    w.name = format!("{}-{}", w.name, o.kind().to_lowercase());
                }
                workloads.push(w);
            }
            Err(p) => problems.push(p),
        }
    }
    for o in &objects {
        match o.kind() {
            "Deployment" | "StatefulSet" => {}
            "HorizontalPodAutoscaler" => match hpa(o) {
                Ok(Some((kind, target, spec))) => {
                    let source = format!("{} ({})", o.label(), where_from(o));
                    match workloads
                        .iter_mut()
                        .find(|w| w.name == target && w.source.starts_with(&format!("{kind}/")))
                    {
                        Some(w) if w.hpa.is_none() => w.hpa = Some((source, spec)),
                        Some(w) => skipped.push(format!(
                            "{} (a second autoscaler of {}; the first is kept)",
                            o.label(),
                            w.source
                        )),
                        None => skipped.push(format!(
                            "{} (its target {kind}/{target} is not among the manifests)",
                            o.label()
                        )),
                    }
                }
                Ok(None) => skipped.push(format!(
                    "{} ({}: only autoscaling/v2 is read; `kubectl get hpa.v2.autoscaling {} -o yaml` prints it)",
                    o.label(),
                    o.value["apiVersion"].as_str().unwrap_or("no apiVersion"),
                    o.name()
                )),
                Err(mut p) => problems.append(&mut p),
            },
            "Service" => {
                let note = service_note(o);
                let selector = string_map(&o.value["spec"]["selector"]);
                match workloads
                    .iter_mut()
                    .find(|w| !selector.is_empty() && selects(&selector, &w.labels))
                {
                    Some(w) => w.notes.push(note),
                    None => skipped.push(format!(
                        "{} (selects no Deployment or StatefulSet of the manifests; {note})",
                        o.label()
                    )),
                }
            }
            "PodDisruptionBudget" => {
                let note = pdb_note(o);
                let selector = string_map(&o.value["spec"]["selector"]["matchLabels"]);
                match workloads
                    .iter_mut()
                    .find(|w| !selector.is_empty() && selects(&selector, &w.labels))
                {
                    Some(w) => w.notes.push(note),
                    None => skipped.push(format!(
                        "{} (selects no Deployment or StatefulSet of the manifests)",
                        o.label()
                    )),
                }
            }
            _ => skipped.push(format!("{} (not modelled)", o.label())),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if workloads.is_empty() {
        let file = docs.first().map_or(String::new(), |d| d.file.clone());
        return Err(vec![Problem {
            file,
            line: 1,
            col: 1,
            message: "no Deployment or StatefulSet in the manifests: a scenario needs at least one service".into(),
        }]);
    }
    let files: Vec<&str> = {
        let mut f: Vec<&str> = docs.iter().map(|d| d.file.as_str()).collect();
        f.dedup();
        f
    };
    Ok(Imported {
        text: render(name, &files, &workloads),
        skipped,
        services: workloads.len(),
    })
}

fn where_from(o: &Object) -> String {
    match o.item {
        Some(i) => format!("{}:{} items[{i}]", o.doc.file, o.doc.first_line),
        None => format!("{}:{}", o.doc.file, o.doc.first_line),
    }
}

/// A YAML scalar as text: strings as they are, numbers as written.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn workload(o: &Object) -> Result<Workload, Problem> {
    let spec = &o.value["spec"];
    let pod = &spec["template"]["spec"];
    let bad = |what: String| o.problem(1, 1, format!("{} ({}): {what}", o.label(), where_from(o)));
    let mut cpu = Quantities::default();
    let mut memory = Quantities::default();
    let mut limits = Vec::new();
    let mut gpus = 0u64;
    let containers = pod["containers"].as_sequence().cloned().unwrap_or_default();
    for c in &containers {
        let cname = c["name"].as_str().unwrap_or("?");
        let req = &c["resources"]["requests"];
        let lim = &c["resources"]["limits"];
        // Kubernetes takes a missing request from the limit.
        for (res, acc) in [("cpu", &mut cpu), ("memory", &mut memory)] {
            if let Some(q) = scalar(&req[res]).or_else(|| scalar(&lim[res])) {
                acc.add(res, &q).map_err(bad)?;
            }
        }
        let l: Vec<String> = ["cpu", "memory"]
            .iter()
            .filter_map(|r| Some(format!("{r} {}", scalar(&lim[*r])?)))
            .collect();
        if !l.is_empty() {
            limits.push(format!("{cname}: {}", l.join(", ")));
        }
        if let Some(g) = scalar(&lim["nvidia.com/gpu"]).or_else(|| scalar(&req["nvidia.com/gpu"])) {
            gpus += g.parse::<u64>().map_err(|_| {
                bad(format!(
                    "bad nvidia.com/gpu quantity `{g}` in container {cname}"
                ))
            })?;
        }
    }
    let replicas = match &spec["replicas"] {
        Value::Null => None,
        v => Some(
            v.as_i64()
                .ok_or_else(|| bad("spec.replicas is not a whole number".into()))?,
        ),
    };
    let node_pool = scalar(&pod["nodeSelector"][NODE_POOL_LABEL]);
    Ok(Workload {
        name: o.name().to_string(),
        source: format!("{} ({})", o.label(), where_from(o)),
        replicas,
        labels: string_map(&spec["template"]["metadata"]["labels"]),
        node_pool,
        cpu_milli: cpu.total,
        memory_bytes: memory.total,
        cpu: cpu.text(format_cpu),
        memory: memory.text(format_memory),
        limits,
        gpus,
        hpa: None,
        notes: Vec::new(),
    })
}

/// A pod's requests of one resource over its containers.
#[derive(Default)]
struct Quantities {
    texts: Vec<String>,
    total: u64,
}

impl Quantities {
    fn add(&mut self, resource: &str, q: &str) -> Result<(), String> {
        self.total += if resource == "cpu" {
            parse_cpu_milli(q)?
        } else {
            parse_memory_bytes(q)?
        };
        self.texts.push(q.to_string());
        Ok(())
    }
    /// One container's quantity as written; several summed.
    fn text(&self, format: fn(u64) -> String) -> Option<String> {
        match self.texts.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            _ => Some(format(self.total)),
        }
    }
}

fn format_cpu(milli: u64) -> String {
    if milli.is_multiple_of(1000) {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

fn format_memory(bytes: u64) -> String {
    const GI: u64 = 1 << 30;
    const MI: u64 = 1 << 20;
    if bytes.is_multiple_of(GI) {
        format!("{}Gi", bytes / GI)
    } else if bytes.is_multiple_of(MI) {
        format!("{}Mi", bytes / MI)
    } else {
        bytes.to_string()
    }
}

/// An autoscaling/v2 HPA's target (kind, name) and spec; `None` for another API version.
#[allow(clippy::type_complexity)]
fn hpa(o: &Object) -> Result<Option<(String, String, HpaSpec)>, Vec<Problem>> {
    if o.value["apiVersion"].as_str() != Some("autoscaling/v2") {
        return Ok(None);
    }
    let label = o.label();
    let spec = match o.item {
        // A whole document: the manifest reader locates its errors in the document.
        None => match parse_manifest(&o.doc.text, Duration::from_secs(300)) {
            Ok((m, _)) => m.spec,
            Err(list) => {
                return Err(list
                    .into_iter()
                    .map(|e| {
                        o.problem(
                            e.line.max(1),
                            e.col.max(1),
                            format!("{label}: {}", e.message),
                        )
                    })
                    .collect())
            }
        },
        // An item of a List: checked the same way, located at the List.
        Some(i) => {
            let m: HpaManifest = serde_yaml_ng::from_value(o.value.clone())
                .map_err(|e| vec![o.problem(1, 1, format!("items[{i}] {label}: {e}"))])?;
            if let Err(list) = m.spec.resolve(None, Duration::from_secs(300), &[]) {
                return Err(list
                    .into_iter()
                    .map(|e| o.problem(1, 1, format!("items[{i}] {label}: spec.{}", e.message)))
                    .collect());
            }
            m.spec
        }
    };
    let target = spec.scale_target_ref.as_ref();
    let kind = target.map_or("Deployment".to_string(), |t| t.kind.clone());
    let name = target.map_or(o.name().to_string(), |t| t.name.clone());
    Ok(Some((kind, name, spec)))
}

fn service_note(o: &Object) -> String {
    let ports: Vec<String> = o.value["spec"]["ports"]
        .as_sequence()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let mut s = scalar(&p["port"]).unwrap_or_else(|| "?".into());
                    if let Some(t) = scalar(&p["targetPort"]) {
                        s = format!("{s}->{t}");
                    }
                    s.push('/');
                    s.push_str(p["protocol"].as_str().unwrap_or("TCP"));
                    if let Some(n) = p["name"].as_str() {
                        s = format!("{n} {s}");
                    }
                    s
                })
                .collect()
        })
        .unwrap_or_default();
    let kind = o.value["spec"]["type"].as_str().unwrap_or("ClusterIP");
    format!(
        "{} ({kind}): ports {}",
        o.label(),
        if ports.is_empty() {
            "none".to_string()
        } else {
            ports.join(", ")
        }
    )
}

fn pdb_note(o: &Object) -> String {
    let spec = &o.value["spec"];
    let rule = match (
        scalar(&spec["minAvailable"]),
        scalar(&spec["maxUnavailable"]),
    ) {
        (Some(m), _) => format!("minAvailable {m}"),
        (None, Some(m)) => format!("maxUnavailable {m}"),
        (None, None) => "no minAvailable or maxUnavailable".into(),
    };
    format!(
        "{}: {rule} (voluntary disruptions only; the twin's drills do not read it)",
        o.label()
    )
}

/// A YAML key or plain string, quoted unless it is plainly a name.
fn key(s: &str) -> String {
    let plain = s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !matches!(
            s,
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        quoted(s)
    }
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The smallest n1-standard machine of at least 4 vCPUs (the seeds' general pool) whose
/// allocatable share holds the pod.
fn machine_for(cpu_milli: u64, memory_bytes: u64) -> &'static str {
    MachineType::all()
        .iter()
        .filter(|m| {
            m.family == MachineFamily::N1 && m.vcpus >= 4 && m.name.starts_with("n1-standard-")
        })
        .find(|m| {
            f64::from(m.vcpus) * 900.0 >= cpu_milli as f64
                && m.memory_gib * 0.9 * f64::from(1u32 << 30) >= memory_bytes as f64
        })
        .map_or("n1-standard-4", |m| m.name)
}

fn render(name: &str, files: &[&str], workloads: &[Workload]) -> String {
    let mut t = String::new();
    let w = &mut t;
    let _ = writeln!(w, "# Imported by `twin import` from {}.", files.join(", "));
    let _ = writeln!(
        w,
        "# A skeleton: replicas, pods, node pools and autoscalers come from the manifests; every"
    );
    let _ = writeln!(
        w,
        "# `# TODO` is a placeholder (demands, machine types, the workload) to replace, by hand"
    );
    let _ = writeln!(
        w,
        "# or with `twin calibrate`, before the predictions mean anything."
    );
    let _ = writeln!(w, "name: {}", key(name));
    let _ = writeln!(w, "horizon: 10m      # TODO: how long to simulate");
    let _ = writeln!(w, "warmup: 1m");

    // Node pools, in the order the services first name them.
    let pods: Vec<&Workload> = workloads
        .iter()
        .filter(|x| x.cpu.is_some() || x.memory.is_some())
        .collect();
    let mut pools: Vec<(String, Vec<&Workload>)> = Vec::new();
    for x in &pods {
        let p = x
            .node_pool
            .clone()
            .unwrap_or_else(|| DEFAULT_POOL.to_string());
        match pools.iter_mut().find(|(n, _)| *n == p) {
            Some((_, v)) => v.push(x),
            None => pools.push((p, vec![x])),
        }
    }
    if !pools.is_empty() {
        let _ = writeln!(w);
        let _ = writeln!(w, "node_pools:");
    }
    for (pool, members) in &pools {
        let big_cpu = members.iter().map(|x| x.cpu_milli).max().unwrap_or(0);
        let big_mem = members.iter().map(|x| x.memory_bytes).max().unwrap_or(0);
        let machine = machine_for(big_cpu, big_mem);
        let vcpus = MachineType::lookup(machine).map_or(4, |m| m.vcpus);
        let peak_milli: u64 = members
            .iter()
            .map(|x| x.cpu_milli * max_replicas(x) as u64)
            .sum();
        let nodes = (peak_milli as f64 / (f64::from(vcpus) * 900.0))
            .ceil()
            .max(1.0) as u64;
        let gpus = members.iter().map(|x| x.gpus).max().unwrap_or(0);
        let _ = writeln!(w, "  {}:", key(pool));
        if pool == DEFAULT_POOL && members.iter().all(|x| x.node_pool.is_none()) {
            let _ = writeln!(
                w,
                "    # TODO: these pods select no node pool (no nodeSelector {NODE_POOL_LABEL})"
            );
        }
        let _ = writeln!(
            w,
            "    machine: {machine}   # TODO: machine type unknown (the manifests do not say); the smallest n1-standard that holds the largest pod"
        );
        let _ = writeln!(
            w,
            "    min: 1                   # TODO: the pool's autoscaling bounds"
        );
        let _ = writeln!(
            w,
            "    max: {nodes:<19} # TODO: enough for every pod at its max replicas by CPU request"
        );
        if gpus > 0 {
            let _ = writeln!(
                w,
                "    gpus_per_node: {gpus}         # from nvidia.com/gpu limits; TODO: the accelerator (gpu_type, default nvidia-tesla-t4)"
            );
        }
    }

    let _ = writeln!(w);
    let _ = writeln!(w, "services:");
    for x in workloads {
        let _ = writeln!(w, "  # {}", x.source);
        for n in &x.notes {
            let _ = writeln!(w, "  # {n}");
        }
        let _ = writeln!(w, "  {}:", key(&x.name));
        match (&x.hpa, x.replicas) {
            (Some((_, spec)), manifest) => {
                let min = spec.min_replicas.unwrap_or(1).max(1);
                let max = spec.max_replicas.unwrap_or(min).max(min);
                let said = manifest.map_or("none".to_string(), |r| r.to_string());
                let _ = writeln!(
                    w,
                    "    replicas: {{min: {min}, max: {max}}}   # from the HPA (the manifest's replicas: {said})"
                );
            }
            (None, Some(r)) if r >= 1 => {
                let _ = writeln!(w, "    replicas: {r}");
            }
            (None, Some(r)) => {
                let _ = writeln!(
                    w,
                    "    replicas: 1   # TODO: the manifest says {r} (scaled to zero); the twin needs one"
                );
            }
            (None, None) => {
                let _ = writeln!(
                    w,
                    "    replicas: 1   # the manifest gives none: Kubernetes' default"
                );
            }
        }
        let _ = writeln!(
            w,
            "    concurrency: 1   # TODO: requests one pod serves at once (workers, threads)"
        );
        let _ = writeln!(
            w,
            "    service_time: {{exponential: {{mean: 50ms}}}}   # TODO twin calibrate: a placeholder, not a measurement"
        );
        if x.cpu.is_some() || x.memory.is_some() {
            let pool = x.node_pool.as_deref().unwrap_or(DEFAULT_POOL);
            let _ = writeln!(w, "    pod:");
            let _ = writeln!(w, "      node_pool: {}", key(pool));
            match &x.cpu {
                Some(c) => {
                    let _ = writeln!(w, "      cpu: {}", quoted(c));
                }
                None => {
                    let _ = writeln!(
                        w,
                        "      cpu: \"100m\"   # TODO: the manifest requests no CPU"
                    );
                }
            }
            match &x.memory {
                Some(m) => {
                    let _ = writeln!(w, "      memory: {}", quoted(m));
                }
                None => {
                    let _ = writeln!(
                        w,
                        "      memory: \"128Mi\"   # TODO: the manifest requests no memory"
                    );
                }
            }
            if x.gpus > 0 {
                let _ = writeln!(w, "      gpus: {}   # nvidia.com/gpu", x.gpus);
            }
            let _ = writeln!(w, "      startup: 20s   # TODO: scheduling to ready");
        } else {
            let _ = writeln!(
                w,
                "    # no pod: the manifest requests no CPU or memory (the twin places pods by requests)"
            );
        }
        if !x.limits.is_empty() {
            let _ = writeln!(
                w,
                "    # limits: {} (the twin places pods by requests)",
                x.limits.join("; ")
            );
        }
        if let Some((source, spec)) = &x.hpa {
            let _ = writeln!(w, "    # {source}");
            let _ = writeln!(w, "    hpa:");
            let body = serde_yaml_ng::to_string(spec).unwrap_or_default();
            for line in body.lines() {
                let _ = writeln!(w, "      {line}");
            }
        }
    }

    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# TODO: a placeholder workload: one journey per service, each one step, the arrivals"
    );
    let _ = writeln!(
        w,
        "# shared equally. Replace with the platform's real journeys (a request through the"
    );
    let _ = writeln!(w, "# services it visits, in order) and its measured rate.");
    let _ = writeln!(w, "workload:");
    let _ = writeln!(w, "  arrivals: {{poisson: {{rate: 10/s}}}}   # TODO");
    let _ = writeln!(w, "  journeys:");
    for x in workloads {
        let _ = writeln!(
            w,
            "    - {{name: {n}, steps: [{{service: {n}}}]}}   # TODO placeholder",
            n = key(&x.name)
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# No SLOs yet: the seeds' targets, to enable once the journeys are real:"
    );
    let _ = writeln!(w, "# slos:");
    if let Some(first) = workloads.first() {
        let _ = writeln!(w, "#   - p50({}) < 100ms", first.name);
        let _ = writeln!(w, "#   - p95({}) < 300ms", first.name);
        let _ = writeln!(w, "#   - p99({}) < 800ms", first.name);
        let _ = writeln!(w, "#   - error_rate({}) < 0.1%", first.name);
    }
    t
}

fn max_replicas(x: &Workload) -> i64 {
    match &x.hpa {
        Some((_, spec)) => i64::from(spec.max_replicas.or(spec.min_replicas).unwrap_or(1)),
        None => x.replicas.unwrap_or(1).max(1),
    }
}
