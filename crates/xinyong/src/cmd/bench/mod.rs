//! `xinyong bench`: measurements that print figures (never timed in tests).

pub mod bandwidth;
pub mod serve;
pub mod sim;

/// Options of `xinyong bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(clap::Subcommand, Debug)]
pub enum What {
    /// Run the simulator and print throughput, memory and the ratio to the memory floor.
    Sim(sim::Args),
    /// Measure the machine's memory bandwidth.
    Bandwidth(bandwidth::Args),
    /// Load a running `xinyong serve` from this separate process over loopback HTTP.
    Serve(serve::Args),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.what {
        What::Sim(a) => sim::run(a),
        What::Bandwidth(a) => bandwidth::run(a),
        What::Serve(a) => serve::run(a),
    }
}
