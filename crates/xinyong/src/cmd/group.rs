//! `xinyong group`: placeholder until the grouping crate lands (issue 5).

/// Options of `xinyong group`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("grouping is not built yet (issue 5)")
}
