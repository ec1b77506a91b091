//! `xinyong bench serve`: placeholder until the service lands (issue 7).

/// Options of `xinyong bench serve`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("the service benchmark is not built yet (issue 7)")
}
