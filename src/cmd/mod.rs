//! One module per subcommand.

pub mod hpa;
pub mod report;
pub mod simulate;
pub mod validate;
