//! JUnit XML for CI: one test suite per run, one test case per SLO, a `<failure>` with the
//! observed value against the bound for each SLO missed (or not measured).

use crate::numbers;
use models::summary::RunSummary;
use std::fmt::Write;

/// The run's SLO verdicts as JUnit XML (the format CI systems read test results from).
pub fn junit_xml(summary: &RunSummary) -> String {
    let tests = summary.slos.len();
    let failures = summary.slos.iter().filter(|s| !s.met).count();
    let suite = format!("twin {} {}", summary.kind.as_str(), summary.scenario);
    let classname = format!("twin.{}.{}", summary.kind.as_str(), summary.scenario);
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"twin\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"0\" time=\"{}\">",
        escape(&suite),
        summary.engine.wall_s
    );
    out.push_str("    <properties>\n");
    let properties = [
        ("kind", summary.kind.as_str().to_string()),
        ("scenario", summary.scenario.clone()),
        ("seed", summary.seed.to_string()),
        ("replications", summary.replications.to_string()),
        ("horizon_s", summary.horizon_s.to_string()),
        ("partial", summary.partial.to_string()),
    ];
    for (name, value) in properties {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            escape(&value)
        );
    }
    out.push_str("    </properties>\n");
    for slo in &summary.slos {
        let head = format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            escape(&classname),
            escape(&slo.name)
        );
        if slo.met {
            let _ = writeln!(out, "{head}/>");
            continue;
        }
        let bound = numbers::slo_bound(&slo.name, slo.bound);
        let message = match slo.observed {
            Some(v) => format!(
                "missed: observed {}, bound {bound}",
                numbers::slo_value(&slo.name, v)
            ),
            None => format!("missed: not measured by this run, bound {bound}"),
        };
        let observed = slo.observed.map_or("null".to_string(), |v| v.to_string());
        let _ = writeln!(out, "{head}>");
        let _ = writeln!(
            out,
            "      <failure type=\"SloMissed\" message=\"{}\">{}\nobserved: {}\nbound: {}</failure>",
            escape(&message),
            escape(&slo.name),
            escape(&observed),
            slo.bound
        );
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Escapes text for XML content and attribute values; drops the control characters XML 1.0
/// cannot hold at all.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::small_run;

    #[test]
    fn one_testcase_per_slo_and_a_failure_for_each_missed() {
        let (summary, _) = small_run("checkout");
        let xml = junit_xml(&summary);
        assert_eq!(xml.matches("<testcase ").count(), summary.slos.len());
        let missed = summary.slos.iter().filter(|s| !s.met).count();
        assert!(missed >= 2, "the fixture misses two SLOs");
        assert_eq!(xml.matches("<failure ").count(), missed);
        assert!(xml.contains(&format!("failures=\"{missed}\"")));
        assert!(xml.contains("name=\"p95(checkout) &lt; 300ms\""));
        assert!(
            xml.contains("message=\"missed: observed 412 ms, bound &lt; 300 ms\""),
            "{xml}"
        );
        assert!(xml.contains("missed: not measured by this run"));
    }

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(escape("a<b>&\"c\"\u{1}"), "a&lt;b&gt;&amp;&quot;c&quot;");
    }
}
