//! One module per subcommand.

pub mod emulate;
pub mod hpa;
pub mod load;
pub mod report;
pub mod simulate;
pub mod validate;
