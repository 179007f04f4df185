//! Where a value sits in a scenario's YAML tree ([`PathSegment`]s, built with the `path!`
//! macro), and a problem found there ([`Finding`]): what every check reports and what
//! [`crate::load`] turns into `file:line:col`. The lowest module of the crate: it uses none.

/// A problem found after parsing, with the path of the offending value in the YAML tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub path: Vec<PathSegment>,
    pub message: String,
    pub severity: Severity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A step in a path into the YAML tree: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

impl From<&str> for PathSegment {
    fn from(s: &str) -> Self {
        PathSegment::Key(s.to_string())
    }
}
impl From<&String> for PathSegment {
    fn from(s: &String) -> Self {
        PathSegment::Key(s.clone())
    }
}
impl From<usize> for PathSegment {
    fn from(i: usize) -> Self {
        PathSegment::Index(i)
    }
}
