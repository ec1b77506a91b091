//! `xinyong serve`: placeholder until the service lands (issue 7).

/// Options of `xinyong serve`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("the live service is not built yet (issue 7)")
}
