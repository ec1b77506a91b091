//! One module per subcommand.

pub mod bench;
pub mod cluster;
pub mod compare;
pub mod group;
pub mod report;
pub mod scenarios;
pub mod serve;
pub mod simulate;
pub mod sweep;
