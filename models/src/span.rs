//! Positions in a YAML document: [`SpanIndex`] records where each node starts, by its path
//! in the tree, from yaml-rust2's marked events, so that a serde path becomes
//! `file:line:col`. Used by scenario parsing and by HPA manifests alike.

use crate::path::PathSegment;
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Where each node of a YAML document starts, by its path in the tree.
pub struct SpanIndex {
    spans: HashMap<Vec<PathSegment>, (usize, usize)>,
    /// Where a key first repeats within one mapping (line, column).
    pub duplicate: Option<(usize, usize)>,
}

/// The key segment that stands for a mapping or sequence used as a key (`? [a, b]`).
pub(crate) const COMPLEX_KEY: &str = "?";

enum Frame {
    /// `as_key`: this collection is itself a key of the enclosing mapping.
    Map {
        key: Option<PathSegment>,
        as_key: bool,
    },
    Seq {
        next: usize,
        as_key: bool,
    },
}

struct Builder {
    stack: Vec<Frame>,
    path: Vec<PathSegment>,
    spans: HashMap<Vec<PathSegment>, (usize, usize)>,
    anchors: HashMap<usize, Vec<PathSegment>>,
    duplicate: Option<(usize, usize)>,
}

impl Builder {
    /// Called for every node: returns the node's path, or None if the node is a mapping key.
    fn enter_node(&mut self, mark: Marker, key_text: Option<&str>) -> Option<Vec<PathSegment>> {
        let pos = (mark.line(), mark.col() + 1);
        match self.stack.last_mut() {
            Some(Frame::Map { key, .. }) if key.is_none() => {
                let k = PathSegment::Key(key_text.unwrap_or("").to_string());
                let mut p = self.path.clone();
                p.push(k.clone());
                // A key's own position, for "unknown field" errors. A key path is only ever
                // inserted by the key itself, so finding it already means a repeated key.
                match self.spans.entry(p) {
                    std::collections::hash_map::Entry::Occupied(_) => {
                        self.duplicate.get_or_insert(pos);
                    }
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(pos);
                    }
                }
                *key = Some(k);
                None
            }
            Some(Frame::Map { key, .. }) => {
                let k = key.take()?;
                let mut p = self.path.clone();
                p.push(k);
                // Values start where their key did when the value is a nested block; keep the
                // key's position, which is where a reader looks.
                self.spans.entry(p.clone()).or_insert(pos);
                Some(p)
            }
            Some(Frame::Seq { next, .. }) => {
                let mut p = self.path.clone();
                p.push(PathSegment::Index(*next));
                *next += 1;
                self.spans.entry(p.clone()).or_insert(pos);
                Some(p)
            }
            None => Some(Vec::new()),
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, _, _, _) => {
                self.enter_node(mark, Some(&text));
            }
            Event::Alias(_) => {
                self.enter_node(mark, None);
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                let as_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                let p = if as_key {
                    // A collection as a mapping key: index it under a stand-in segment so
                    // that the mapping's own keys and values keep their places.
                    let mut p = self.path.clone();
                    p.push(PathSegment::Key(COMPLEX_KEY.into()));
                    self.spans
                        .entry(p.clone())
                        .or_insert((mark.line(), mark.col() + 1));
                    p
                } else {
                    self.enter_node(mark, None).unwrap_or_default()
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, p.clone());
                }
                self.path = p;
                self.stack.push(if is_map {
                    Frame::Map { key: None, as_key }
                } else {
                    Frame::Seq { next: 0, as_key }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let as_key = matches!(
                    self.stack.pop(),
                    Some(Frame::Map { as_key: true, .. } | Frame::Seq { as_key: true, .. })
                );
                self.path.pop();
                if as_key {
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some(PathSegment::Key(COMPLEX_KEY.into()));
                    }
                }
            }
            _ => {}
        }
    }
}

impl SpanIndex {
    pub fn build(text: &str) -> SpanIndex {
        let mut b = Builder {
            stack: Vec::new(),
            path: Vec::new(),
            spans: HashMap::new(),
            anchors: HashMap::new(),
            duplicate: None,
        };
        let mut parser = Parser::new_from_str(text);
        // A syntax error was already reported by the value parse; keep what was indexed.
        let _ = parser.load(&mut b, false);
        SpanIndex {
            spans: b.spans,
            duplicate: b.duplicate,
        }
    }

    /// Whether `path` itself (not only a prefix) is indexed.
    pub fn contains(&self, path: &[PathSegment]) -> bool {
        self.spans.contains_key(path)
    }

    /// The line and column of the deepest indexed node on `path` (1-based).
    pub fn locate(&self, path: &[PathSegment]) -> (usize, usize) {
        for n in (0..=path.len()).rev() {
            if let Some(pos) = self.spans.get(&path[..n]) {
                return *pos;
            }
        }
        (1, 1)
    }
}
