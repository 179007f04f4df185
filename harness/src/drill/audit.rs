//! The write audit, as pure functions: the audit journey writes records under unique keys in
//! sending order, each attempt remembered with whether it was acknowledged (2xx) and when;
//! after recovery the keys are read back (API, list or SQL) into a count per key. Lost =
//! acknowledged but absent; duplicates = keys stored more than once; unacknowledged = keys
//! stored although the client never got an acknowledgement (ambiguous commits it must
//! dedupe). RPO = the span from the oldest lost acknowledged write to the fault (0 if none).

use std::collections::HashMap;

/// One audited write (all of its attempts: retries reuse the key).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    pub seq: u64,
    pub key: String,
    /// Scheduled start, seconds from the start of the load.
    pub start_s: f64,
    /// When the acknowledgement arrived, or when the client gave up.
    pub end_s: f64,
    pub acked: bool,
    pub attempts: u32,
    /// Last HTTP status seen (0: no answer).
    pub status: u16,
}

/// What the read-back found for one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// Stored this many times (0 = absent).
    Stored(u32),
    /// The read-back itself failed for this key.
    Unknown,
}

/// The audit's verdict.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditResult {
    pub writes: u64,
    pub acknowledged: u64,
    /// Never acknowledged, whatever the retries did.
    pub failed: u64,
    /// Acknowledged but absent, in key order.
    pub lost: Vec<String>,
    /// Keys stored more than once (extra copies counted).
    pub duplicates: u64,
    /// Stored though never acknowledged.
    pub unacknowledged: u64,
    /// Keys the read-back could not decide.
    pub unknown: u64,
    /// Acknowledgement time of the oldest lost write.
    pub oldest_lost_ack_s: Option<f64>,
    /// Fault time minus the oldest lost acknowledgement, at least 0; 0 when nothing was lost.
    pub rpo_s: f64,
}

/// Reconciles the acknowledgement log with what the read-back found.
pub fn reconcile(
    records: &[AuditRecord],
    found: &HashMap<String, Presence>,
    fault_s: Option<f64>,
) -> AuditResult {
    let mut r = AuditResult {
        writes: records.len() as u64,
        ..AuditResult::default()
    };
    let mut lost: Vec<&AuditRecord> = Vec::new();
    for rec in records {
        let presence = found.get(&rec.key).copied().unwrap_or(Presence::Stored(0));
        if rec.acked {
            r.acknowledged += 1;
        } else {
            r.failed += 1;
        }
        match presence {
            Presence::Unknown => r.unknown += 1,
            Presence::Stored(n) => {
                if n > 1 {
                    r.duplicates += u64::from(n - 1);
                }
                if n == 0 && rec.acked {
                    lost.push(rec);
                }
                if n > 0 && !rec.acked {
                    r.unacknowledged += 1;
                }
            }
        }
    }
    lost.sort_by(|a, b| a.key.cmp(&b.key));
    r.oldest_lost_ack_s = lost.iter().map(|l| l.end_s).min_by(f64::total_cmp);
    r.rpo_s = match (r.oldest_lost_ack_s, fault_s) {
        (Some(ack), Some(fault)) => (fault - ack).max(0.0),
        _ => 0.0,
    };
    r.lost = lost.into_iter().map(|l| l.key.clone()).collect();
    r
}

/// Counts of stored keys from a list (a list endpoint or an SQL query), restricted to the
/// drill's keys: each audited key maps to how often it was stored.
pub fn presence_from_list(records: &[AuditRecord], stored: &[String]) -> HashMap<String, Presence> {
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for k in stored {
        *counts.entry(k.as_str()).or_default() += 1;
    }
    records
        .iter()
        .map(|r| {
            (
                r.key.clone(),
                Presence::Stored(counts.get(r.key.as_str()).copied().unwrap_or(0)),
            )
        })
        .collect()
}

/// The presence assumed when nothing is read back (an audit of acknowledgements only): what
/// was acknowledged is taken as stored, so only writes never acknowledged count (`failed`).
pub fn acknowledged_only(records: &[AuditRecord]) -> HashMap<String, Presence> {
    records
        .iter()
        .map(|r| (r.key.clone(), Presence::Stored(u32::from(r.acked))))
        .collect()
}

/// Cumulative lost writes by acknowledgement time (a step series for the timeline).
pub fn lost_series(records: &[AuditRecord], lost: &[String]) -> Vec<(f64, f64)> {
    let lost: std::collections::HashSet<&str> = lost.iter().map(String::as_str).collect();
    let mut times: Vec<f64> = records
        .iter()
        .filter(|r| lost.contains(r.key.as_str()))
        .map(|r| r.end_s)
        .collect();
    times.sort_by(f64::total_cmp);
    let mut out = vec![(0.0, 0.0)];
    for (i, t) in times.into_iter().enumerate() {
        out.push((t, (i + 1) as f64));
    }
    out
}

/// The audit key of write `seq` of run `run`: unique across runs, sorting in sending order.
pub fn key(run: &str, seq: u64) -> String {
    format!("{run}-{seq:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64, end_s: f64, acked: bool) -> AuditRecord {
        AuditRecord {
            seq,
            key: key("d1", seq),
            start_s: end_s - 0.01,
            end_s,
            acked,
            attempts: 1,
            status: if acked { 201 } else { 503 },
        }
    }

    #[test]
    fn lost_is_acknowledged_but_absent() {
        let records: Vec<AuditRecord> = (0..10)
            .map(|i| rec(i, f64::from(i as u32) * 0.1, i != 7))
            .collect();
        // Stored: 0..=3, 5 twice, 7 (never acknowledged), 9.
        let stored: Vec<String> = [0, 1, 2, 3, 5, 5, 7, 9]
            .iter()
            .map(|&i| key("d1", i))
            .collect();
        let found = presence_from_list(&records, &stored);
        let r = reconcile(&records, &found, Some(0.75));
        assert_eq!(r.lost, vec![key("d1", 4), key("d1", 6), key("d1", 8)]);
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.unacknowledged, 1);
        assert_eq!(r.acknowledged, 9);
        assert_eq!(r.failed, 1);
        assert_eq!(r.oldest_lost_ack_s, Some(0.4));
        assert!((r.rpo_s - 0.35).abs() < 1e-9);
        let series = lost_series(&records, &r.lost);
        assert_eq!(series.last(), Some(&(0.8, 3.0)));
    }

    #[test]
    fn nothing_lost_is_rpo_zero_and_unknown_is_not_lost() {
        let records = vec![rec(0, 0.1, true), rec(1, 0.2, true)];
        let mut found = HashMap::new();
        found.insert(key("d1", 0), Presence::Stored(1));
        found.insert(key("d1", 1), Presence::Unknown);
        let r = reconcile(&records, &found, Some(0.15));
        assert!(r.lost.is_empty());
        assert_eq!(r.unknown, 1);
        assert_eq!(r.rpo_s, 0.0);
        // An acknowledgement that raced the crash: lost, but RPO does not go negative.
        found.insert(key("d1", 1), Presence::Stored(0));
        let r = reconcile(&records, &found, Some(0.15));
        assert_eq!(r.lost.len(), 1);
        assert_eq!(r.rpo_s, 0.0);
    }

    #[test]
    fn keys_sort_in_sending_order() {
        assert!(key("r", 9) < key("r", 10));
    }
}
