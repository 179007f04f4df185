//! A journey's HTTP session: the cookies its responses set, sent back by its later steps and
//! never by another journey (each arrival is a new visitor, as k6's per-VU-iteration jar).
//! Auth tokens are the other half of a session and need nothing here: a step captures the
//! token and a later step's header sends it (`Authorization: Bearer {token}`).
//!
//! The jar lives in the journey's values map, under keys that cannot be placeholder names
//! (they hold a space), because that map already has the scope a session needs: one per
//! journey instance, copied into each `parallel:` branch and joined after it. The load talks
//! to one target, so a cookie's `Domain` and `Path` are not matched; `Max-Age=0` (or less)
//! deletes it, other attributes (`Expires`, `Secure`, `HttpOnly`) are not interpreted.

use std::collections::HashMap;

/// The prefix of a cookie's key in the values map (a space: never a placeholder name).
const PREFIX: &str = "cookie ";

/// Keeps the cookies of `Set-Cookie` header values.
pub fn keep(vars: &mut HashMap<String, String>, set_cookies: &[String]) {
    for header in set_cookies {
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let expired = parts.any(|attr| {
            attr.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("max-age")
                    && v.trim().parse::<i64>().is_ok_and(|s| s <= 0)
            })
        });
        let key = format!("{PREFIX}{name}");
        if expired {
            vars.remove(&key);
        } else {
            vars.insert(key, value.trim().to_string());
        }
    }
}

/// The `Cookie` header for the journey's next request (names in order), or `None` when the
/// jar is empty.
pub fn cookie_header(vars: &HashMap<String, String>) -> Option<String> {
    let mut pairs: Vec<(&str, &str)> = vars
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(PREFIX)?, v.as_str())))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    pairs.sort_unstable();
    let parts: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Some(parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_replaces_and_expires() {
        let mut vars = HashMap::new();
        vars.insert("key".to_string(), "k-1".to_string());
        assert_eq!(cookie_header(&vars), None);
        keep(
            &mut vars,
            &[
                "sid=abc; Path=/; HttpOnly".into(),
                "theme=dark".into(),
                "junk".into(),
            ],
        );
        assert_eq!(cookie_header(&vars).as_deref(), Some("sid=abc; theme=dark"));
        keep(&mut vars, &["sid=def; Max-Age=60".into()]);
        keep(&mut vars, &["theme=; max-age=0".into()]);
        assert_eq!(cookie_header(&vars).as_deref(), Some("sid=def"));
        assert_eq!(vars["key"], "k-1", "other values untouched");
    }
}
