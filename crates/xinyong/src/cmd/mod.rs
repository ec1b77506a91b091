//! One module per subcommand.

pub mod group;
