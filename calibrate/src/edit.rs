//! Edits a scenario's YAML text in place: a key's value replaced, or a key added to a block
//! mapping, at the positions the scenario's [`SpanIndex`] gives, with a comment beside it.
//! Everything else (structure, order, comments, blank lines) is left byte for byte.

use models::path::PathSegment;
use models::span::SpanIndex;

/// Pending edits of one text; [`Editor::finish`] applies them.
pub struct Editor<'a> {
    lines: Vec<&'a str>,
    index: SpanIndex,
    /// (first line, end line exclusive, replacement lines, order of request), 0-based.
    edits: Vec<(usize, usize, Vec<String>, usize)>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_filler(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

impl<'a> Editor<'a> {
    pub fn new(text: &'a str) -> Editor<'a> {
        Editor {
            lines: text.lines().collect(),
            index: SpanIndex::build(text),
            edits: Vec::new(),
        }
    }

    /// Whether `path` is written in the text.
    pub fn has(&self, path: &[PathSegment]) -> bool {
        self.index.contains(path)
    }

    /// The end (exclusive, 0-based) of the block that starts at `first` and holds lines
    /// indented at least `min_indent`; trailing blank and comment lines belong to what follows.
    fn block_end(&self, first: usize, min_indent: usize) -> usize {
        let mut end = first + 1;
        let mut last = first + 1;
        while end < self.lines.len() {
            let l = self.lines[end];
            if is_filler(l) {
                end += 1;
                continue;
            }
            if indent(l) < min_indent {
                break;
            }
            end += 1;
            last = end;
        }
        last
    }

    /// Sets `mapping.key` to `value` (flow YAML text) with `# comment` after it: the key's
    /// value and its continuation lines are replaced when the key is written; otherwise the
    /// key is added as the mapping's last entry, indented as `sibling` (a key it has).
    pub fn set(
        &mut self,
        mapping: &[PathSegment],
        key: &str,
        sibling: &str,
        value: &str,
        comment: &str,
    ) -> Result<(), String> {
        let mut path = mapping.to_vec();
        path.push(PathSegment::Key(key.into()));
        let order = self.edits.len();
        if self.index.contains(&path) {
            let (line, col) = self.index.locate(&path);
            let at = line - 1;
            let text = self.lines.get(at).ok_or("position past the end")?;
            let before = text.get(..col - 1).ok_or("position inside a character")?;
            if !before.trim_start_matches([' ', '-']).is_empty() {
                return Err(format!(
                    "line {line}: `{key}` is inside a flow mapping; write it in block style to calibrate it"
                ));
            }
            let end = self.block_end(at, col);
            let new = format!("{before}{key}: {value}  # {comment}");
            self.edits.push((at, end, vec![new], order));
            return Ok(());
        }
        let mut sib = mapping.to_vec();
        sib.push(PathSegment::Key(sibling.into()));
        if !self.index.contains(&sib) {
            return Err(format!("no `{sibling}` to place `{key}` beside"));
        }
        let (line, col) = self.index.locate(&sib);
        let text = self.lines.get(line - 1).ok_or("position past the end")?;
        let before = text.get(..col - 1).ok_or("position inside a character")?;
        if !before.trim_start_matches([' ', '-']).is_empty() {
            return Err(format!(
                "line {line}: the mapping is in flow style; write it in block style to calibrate it"
            ));
        }
        let end = self.block_end(line - 1, col - 1);
        let new = format!("{}{key}: {value}  # {comment}", " ".repeat(col - 1));
        self.edits.push((end, end, vec![new], order));
        Ok(())
    }

    /// The edited text (a final newline kept as the original had it).
    pub fn finish(mut self, original: &str) -> String {
        self.edits.sort_by_key(|e| (e.0, e.3));
        let mut lines: Vec<String> = self.lines.iter().map(|l| l.to_string()).collect();
        for (start, end, new, _) in self.edits.into_iter().rev() {
            lines.splice(start..end, new);
        }
        let mut out = lines.join("\n");
        if original.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Vec<PathSegment> {
        s.iter().map(|k| PathSegment::Key(k.to_string())).collect()
    }

    #[test]
    fn replaces_a_value_and_adds_a_key_keeping_comments() {
        let text = "# top\nservices:\n  api:\n    concurrency: 4   # workers\n    service_time:\n      exponential: {mean: 5ms}\n    # a note on api\n  db:\n    concurrency: 1\n";
        let mut e = Editor::new(text);
        e.set(
            &p(&["services", "api"]),
            "service_time",
            "concurrency",
            "{constant: 7ms}",
            "fitted",
        )
        .unwrap();
        e.set(
            &p(&["services", "db"]),
            "cpu",
            "concurrency",
            "{constant: 1ms}",
            "fitted too",
        )
        .unwrap();
        assert_eq!(
            e.finish(text),
            "# top\nservices:\n  api:\n    concurrency: 4   # workers\n    service_time: {constant: 7ms}  # fitted\n    # a note on api\n  db:\n    concurrency: 1\n    cpu: {constant: 1ms}  # fitted too\n"
        );
    }

    #[test]
    fn adds_a_key_to_a_step_in_a_sequence() {
        let text = "steps:\n  - service: api\n    http: {method: GET, path: /}\n  - service: db\n";
        let mut e = Editor::new(text);
        let mut step = p(&["steps"]);
        step.push(PathSegment::Index(0));
        e.set(&step, "cpu", "service", "{constant: 2ms}", "c")
            .unwrap();
        assert_eq!(
            e.finish(text),
            "steps:\n  - service: api\n    http: {method: GET, path: /}\n    cpu: {constant: 2ms}  # c\n  - service: db\n"
        );
    }

    #[test]
    fn a_flow_mapping_is_refused_not_corrupted() {
        let text = "steps:\n  - {service: api, cpu: {constant: 1ms}}\n";
        let mut e = Editor::new(text);
        let mut step = p(&["steps"]);
        step.push(PathSegment::Index(0));
        assert!(e
            .set(&step, "cpu", "service", "{constant: 2ms}", "c")
            .is_err());
    }
}
