//! One module per subcommand.

pub mod group;
pub mod report;
pub mod scenarios;
pub mod simulate;
