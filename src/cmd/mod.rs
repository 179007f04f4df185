//! One module per subcommand.

pub mod drill;
pub mod emulate;
pub mod hpa;
pub mod load;
pub mod merge;
pub mod report;
pub mod simulate;
pub mod sweep;
pub mod validate;
