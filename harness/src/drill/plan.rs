//! A drill before it runs: finding it in the scenario, checking that the target is one of the
//! hosts it may touch, the environment variables it needs, and the plan printed for the SRE
//! (load, steps on the timeline with their timeouts, rollback, audit, targets), secrets shown
//! as `${ENV}` only.

use super::steps::env_refs;
use models::drill::DrillSpec;
use models::rollout::{RolloutDrill, RolloutSpec};
use models::Scenario;
use std::fmt::Write;

/// The drill called `name`, or a message listing the drills there are.
pub fn find<'a>(scenario: &'a Scenario, name: &str) -> Result<&'a DrillSpec, String> {
    scenario
        .drills
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| {
            let names = scenario.drills.iter().map(|d| d.name.as_str());
            not_found(scenario, "drill", "drills", name, names)
        })
}

/// The rollout called `name` and its reality hooks (`rollouts[].drill`), or why it cannot
/// be drilled.
pub fn find_rollout<'a>(
    scenario: &'a Scenario,
    name: &str,
) -> Result<(&'a RolloutSpec, &'a RolloutDrill), String> {
    let spec = scenario
        .rollouts
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| {
            let names = scenario.rollouts.iter().map(|r| r.name.as_str());
            not_found(scenario, "rollout", "rollouts", name, names)
        })?;
    let hooks = spec.drill.as_ref().ok_or_else(|| {
        format!(
            "rollout `{name}` has no `drill:` (its deploy, set_weight, promote and rollback commands), so it cannot be drilled"
        )
    })?;
    Ok((spec, hooks))
}

/// No `what` called `name`: the message lists those of the scenario's `section` there are.
fn not_found<'a>(
    scenario: &Scenario,
    what: &str,
    section: &str,
    name: &str,
    names: impl Iterator<Item = &'a str>,
) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        format!("the scenario `{}` has no `{section}:`", scenario.name)
    } else {
        format!(
            "no {what} `{name}` in the scenario `{}` ({section}: {})",
            scenario.name,
            names.join(", ")
        )
    }
}

/// The host (and port) of `target`, if it is one the scenario or the drill allows: an entry
/// matches the host (`db.staging.internal`), the host and port (`127.0.0.1:8080`), or a
/// domain suffix (`*.staging.internal`).
pub fn check_target(
    target: &str,
    scenario: &Scenario,
    drill: &DrillSpec,
) -> Result<String, String> {
    let url = url::Url::parse(target).map_err(|e| {
        format!("--target `{target}` is not a URL such as http://10.0.0.5:8080: {e}")
    })?;
    let host = url
        .host_str()
        .ok_or_else(|| format!("--target `{target}` has no host"))?
        .to_ascii_lowercase();
    let port = url.port_or_known_default();
    allowed_host(host, port, scenario, drill, "target")
}

/// The host of the audit's `database_url` (its `${ENV}` values substituted) must pass
/// `allowed_targets` too: the read-back is traffic to a system like any other. Errors name the
/// host only, never the connection string.
pub fn check_database(scenario: &Scenario, drill: &DrillSpec) -> Result<(), String> {
    let Some(url) = drill.audit.as_ref().and_then(|a| a.database_url.as_deref()) else {
        return Ok(());
    };
    let url = super::steps::expand(url)?;
    let config: tokio_postgres::Config = url.parse().map_err(|_| {
        "the audit's database_url is not a PostgreSQL connection string".to_string()
    })?;
    let ports = config.get_ports();
    for (i, h) in config.get_hosts().iter().enumerate() {
        let host = match h {
            tokio_postgres::config::Host::Tcp(h) => h.to_ascii_lowercase(),
            // A Unix socket is on this machine.
            #[allow(unreachable_patterns)]
            _ => "localhost".to_string(),
        };
        let port = ports.get(i).or(ports.first()).copied().or(Some(5432));
        allowed_host(host, port, scenario, drill, "audit's database_url")?;
    }
    Ok(())
}

fn allowed_host(
    host: String,
    port: Option<u16>,
    scenario: &Scenario,
    drill: &DrillSpec,
    what: &str,
) -> Result<String, String> {
    let allowed: Vec<&String> = scenario
        .allowed_targets
        .iter()
        .chain(&drill.allowed_targets)
        .collect();
    let matches = |entry: &str| {
        let e = entry.trim().to_ascii_lowercase();
        if let Some(suffix) = e.strip_prefix("*.") {
            return host.ends_with(&format!(".{suffix}"));
        }
        if e == host {
            return true;
        }
        match (e.rsplit_once(':'), port) {
            (Some((h, p)), Some(port)) => h == host && p.parse::<u16>().ok() == Some(port),
            _ => false,
        }
    };
    if allowed.iter().any(|e| matches(e)) {
        Ok(host)
    } else if allowed.is_empty() {
        Err(format!(
            "the {what} host `{host}` is not allowed: the scenario lists no `allowed_targets`, so drill `{}` may touch nothing",
            drill.name
        ))
    } else {
        Err(format!(
            "the {what} host `{host}` is not in `allowed_targets` ({}): drill `{}` refuses to run against it",
            allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            drill.name
        ))
    }
}

/// Every environment variable the drill's commands and audit name.
pub fn env_vars(drill: &DrillSpec) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let texts = drill
        .steps
        .iter()
        .chain(&drill.rollback)
        .map(|s| s.run.as_str())
        .chain(drill.audit.iter().filter_map(|a| a.database_url.as_deref()));
    for t in texts {
        for n in env_refs(t) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// The texts whose `${ENV}` values must be redacted from output.
pub fn secret_texts(drill: &DrillSpec) -> Vec<&str> {
    drill
        .steps
        .iter()
        .chain(&drill.rollback)
        .map(|s| s.run.as_str())
        .chain(drill.audit.iter().filter_map(|a| a.database_url.as_deref()))
        .collect()
}

/// The plan, as printed before (or instead of) running it.
pub fn render(scenario: &Scenario, drill: &DrillSpec, target: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "drill `{}` of scenario `{}` against {target}",
        drill.name, scenario.name
    );
    if let Some(d) = &drill.description {
        let _ = writeln!(o, "  {d}");
    }
    let journeys = if drill.load.journeys.is_empty() {
        "every journey with http: steps".to_string()
    } else {
        drill.load.journeys.join(", ")
    };
    let _ = writeln!(
        o,
        "load: {journeys} at {}/s for {}{}",
        drill.load.rate.0,
        drill.load.duration,
        drill.load.retry.as_ref().map_or(String::new(), |r| format!(
            ", {} attempts per write {} apart",
            r.attempts, r.backoff
        ))
    );
    let mut steps: Vec<_> = drill.steps.iter().collect();
    steps.sort_by_key(|s| s.at);
    let _ = writeln!(o, "steps:");
    for s in steps {
        let _ = writeln!(
            o,
            "  at {:>8}  {:<9} {}{}  (timeout {})",
            s.at.to_string(),
            s.kind.as_str(),
            if s.shell { "sh -c " } else { "" },
            s.run,
            s.timeout
        );
    }
    if drill.rollback.is_empty() {
        let _ = writeln!(o, "rollback: none declared");
    } else {
        let _ = writeln!(o, "rollback (on a failed step or Ctrl-C):");
        for s in &drill.rollback {
            let _ = writeln!(
                o,
                "  {}{}  (timeout {})",
                if s.shell { "sh -c " } else { "" },
                s.run,
                s.timeout
            );
        }
    }
    match &drill.audit {
        None => {
            let _ = writeln!(o, "audit: none (lost writes are not measured)");
        }
        Some(a) => {
            let how = match (&a.read, &a.sql, &a.database_url) {
                (Some(r), _, _) => format!("read back with GET {r}"),
                (None, Some(q), Some(db)) => format!("read back with `{q}` on {db}"),
                _ => "acknowledgements only (no read-back)".to_string(),
            };
            let _ = writeln!(o, "audit: journey `{}`, {how}", a.journey);
        }
    }
    if !drill.targets.is_empty() {
        let t: Vec<&str> = drill.targets.iter().map(|t| t.text.as_str()).collect();
        let _ = writeln!(o, "targets: {}", t.join(", "));
    }
    if let Some(p) = &drill.predict {
        let _ = writeln!(
            o,
            "prediction: the twin simulates {:?} of `{}` at {}",
            p.kind,
            p.target,
            match (p.at, p.mtbf) {
                (Some(at), _) => at.to_string(),
                (None, Some(mtbf)) => format!("random times, MTBF {mtbf}"),
                (None, None) => "no time".to_string(),
            }
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(allowed: &str) -> Scenario {
        let text = format!(
            r#"
name: t
horizon: 10s
services: {{api: {{service_time: {{constant: 1ms}}}}}}
workload:
  arrivals: {{poisson: {{rate: 10/s}}}}
  journeys:
    - name: write
      steps: [{{service: api, http: {{method: POST, path: /writes, body: '{{"key": "{{key}}"}}'}}}}]
allowed_targets: [{allowed}]
drills:
  - name: d
    load: {{rate: 10/s, duration: 2s}}
    steps: [{{at: 1s, run: "kill -9 ${{PID_OF_API}}"}}]
"#
        );
        models::parse_scenario(&text, "t.yaml", &[])
            .expect("scenario")
            .0
    }

    #[test]
    fn targets_must_be_allowed() {
        let s = scenario("127.0.0.1, '*.staging.internal', 'db:5432'");
        let d = find(&s, "d").expect("drill");
        assert!(check_target("http://127.0.0.1:9000", &s, d).is_ok());
        assert!(check_target("http://api.staging.internal", &s, d).is_ok());
        assert!(check_target("http://db:5432", &s, d).is_ok());
        assert!(check_target("http://db:5433", &s, d).is_err());
        assert!(check_target("http://prod.example.com", &s, d).is_err());
        assert!(find(&s, "nope").is_err());
        assert_eq!(env_vars(d), vec!["PID_OF_API"]);
        let plan = render(&s, d, "http://127.0.0.1:9000");
        assert!(plan.contains("kill -9 ${PID_OF_API}"), "{plan}");
    }
}
