//! `xinyong bench`: measurements that print figures (never timed in tests).

pub mod serve;

/// Options of `xinyong bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(clap::Subcommand, Debug)]
pub enum What {
    /// Load a running `xinyong serve` from this separate process over loopback HTTP.
    Serve(serve::Args),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.what {
        What::Serve(a) => serve::run(a),
    }
}
