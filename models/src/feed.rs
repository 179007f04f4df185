//! Data feeders of a journey (`feed:`): a CSV or JSON-lines file of values (prompts, ids) whose
//! columns the journey's templates use as `{column}`, one row per journey, taken in file order
//! (`sequential`, wrapping around) or drawn (`random`), so a cache is not flattered by one
//! identical prompt.
//!
//! ```yaml
//! journeys:
//!   - name: chat
//!     feed: {file: prompts.csv, order: random}   # relative to the scenario file
//!     steps:
//!       - {service: api, http: {method: POST, path: /chat, body: '{"prompt": "{prompt}"}'}}
//! ```
//!
//! The binary reads the file (this crate does no I/O) and hands its text to [`Feed::fill`]:
//! a CSV's header row names the columns (quoted fields, `#` comments, a ragged row an error
//! naming its line); a `.jsonl` file has one JSON object of scalars a line, its keys the columns
//! (every line the same keys). Values are inserted into templates as they are (a body that
//! needs JSON escaping must hold escaped values).

use serde::{Deserialize, Serialize};

/// How rows are taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedOrder {
    /// Row `seq mod rows` for the load worker's arrival `seq` (in file order, wrapping).
    #[default]
    Sequential,
    /// A row drawn uniformly for each journey from a stream derived from the seed.
    Random,
}

/// A journey's `feed:`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Feed {
    /// CSV (`.csv`, header row) or JSON lines (`.jsonl`), relative to the scenario file.
    pub file: String,
    #[serde(default)]
    pub order: FeedOrder,
    /// Filled from the file by the caller ([`Feed::fill`]).
    #[serde(skip)]
    pub columns: Vec<String>,
    #[serde(skip)]
    pub rows: Vec<Vec<String>>,
}

impl Feed {
    /// Whether the file is JSON lines (by its name), else CSV.
    pub fn is_jsonl(&self) -> bool {
        let f = self.file.to_ascii_lowercase();
        f.ends_with(".jsonl") || f.ends_with(".ndjson")
    }

    /// Fills columns and rows from the file's text; an error names its line (1-based).
    pub fn fill(&mut self, text: &str) -> Result<(), (usize, String)> {
        self.columns.clear();
        self.rows.clear();
        if self.is_jsonl() {
            self.fill_jsonl(text)?;
        } else {
            self.fill_csv(text)?;
        }
        for c in &self.columns {
            let ident = c
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && c.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ident {
                return Err((
                    1,
                    format!("the column `{c}` cannot be a placeholder name; use letters, digits and `_`"),
                ));
            }
            if crate::http::BUILTINS.contains(&c.as_str()) {
                return Err((
                    1,
                    format!("the column `{c}` is a built-in value; rename it"),
                ));
            }
        }
        if self.rows.is_empty() {
            return Err((1, "the feed has no rows".into()));
        }
        Ok(())
    }

    fn fill_csv(&mut self, text: &str) -> Result<(), (usize, String)> {
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| crate::scenario::csv_error(&e))?;
        self.columns = headers.iter().map(|h| h.trim().to_string()).collect();
        for record in reader.records() {
            let record = record.map_err(|e| crate::scenario::csv_error(&e))?;
            self.rows.push(record.iter().map(str::to_string).collect());
        }
        Ok(())
    }

    fn fill_jsonl(&mut self, text: &str) -> Result<(), (usize, String)> {
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            if line.trim().is_empty() {
                continue;
            }
            let doc: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line)
                .map_err(|e| (line_no, format!("not a JSON object: {e}")))?;
            if self.columns.is_empty() && self.rows.is_empty() {
                self.columns = doc.keys().cloned().collect();
            }
            let mut row = Vec::with_capacity(self.columns.len());
            for c in &self.columns {
                let v = doc
                    .get(c)
                    .ok_or_else(|| (line_no, format!("no `{c}` where the first line has it")))?;
                let text = crate::http::scalar_text(v).ok_or_else(|| {
                    (line_no, format!("`{c}` is not a string, number or boolean"))
                })?;
                row.push(text);
            }
            if doc.len() != self.columns.len() {
                return Err((
                    line_no,
                    format!(
                        "{} key(s) where the first line has {}",
                        doc.len(),
                        self.columns.len()
                    ),
                ));
            }
            self.rows.push(row);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(file: &str) -> Feed {
        Feed {
            file: file.into(),
            order: FeedOrder::Sequential,
            columns: Vec::new(),
            rows: Vec::new(),
        }
    }

    #[test]
    fn csv_with_awkward_values() {
        let mut f = feed("p.csv");
        f.fill("id,prompt\n# skipped\n1,\"a,b\"\n2,\"say \"\"hi\"\"\"\n")
            .unwrap();
        assert_eq!(f.columns, ["id", "prompt"]);
        assert_eq!(
            f.rows,
            vec![vec!["1", "a,b"], vec!["2", "say \"hi\""]]
                .into_iter()
                .map(|r| r.into_iter().map(String::from).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn errors_name_their_line() {
        assert_eq!(feed("p.csv").fill("id,p\n1,a\n2\n").unwrap_err().0, 3);
        assert_eq!(feed("p.csv").fill("id\n").unwrap_err().0, 1);
        assert!(feed("p.csv").fill("seq\n1\n").is_err());
        assert!(feed("p.csv").fill("a b\n1\n").is_err());
        let mut j = feed("p.jsonl");
        j.fill("{\"id\": 1, \"p\": \"x\"}\n\n{\"id\": 2, \"p\": true}\n")
            .unwrap();
        assert_eq!(j.rows[1], ["2", "true"]);
        assert_eq!(
            feed("p.jsonl")
                .fill("{\"id\": 1}\n{\"id\": [1]}\n")
                .unwrap_err()
                .0,
            2
        );
        assert_eq!(
            feed("p.jsonl")
                .fill("{\"id\": 1}\n{\"id\": 2, \"x\": 3}\n")
                .unwrap_err()
                .0,
            2
        );
        assert_eq!(
            feed("p.jsonl").fill("{\"id\": 1}\nnope\n").unwrap_err().0,
            2
        );
    }
}
