//! The cluster flags shared by `simulate --cluster` and `sweep --cluster`: timely-dataflow's
//! own `-w -n -p -h` (so `-h` is the hostfile there, and help is `--help`).

use std::path::PathBuf;

/// The `--help` section the cluster flags are listed under.
const HEADING: &str = "Cluster (timely-dataflow; see docs/cluster.md)";

#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Run on a timely-dataflow cluster of -n processes (one per machine, or several on
    /// one) with -w worker threads each. Start the same command in every process, each with
    /// its own -p; process 0 writes the outputs. Results are the local run's, byte for byte.
    #[arg(long, help_heading = HEADING)]
    pub cluster: bool,
    /// Worker threads in each process (timely's -w).
    #[arg(
        short = 'w',
        long = "workers",
        value_name = "W",
        default_value_t = 1,
        requires = "cluster",
        help_heading = HEADING
    )]
    pub workers: usize,
    /// Processes in the run (timely's -n).
    #[arg(
        short = 'n',
        long = "processes",
        value_name = "N",
        default_value_t = 1,
        requires = "cluster",
        help_heading = HEADING
    )]
    pub processes: usize,
    /// This process's index, 0..N (timely's -p).
    #[arg(
        short = 'p',
        long = "process",
        value_name = "P",
        default_value_t = 0,
        requires = "cluster",
        help_heading = HEADING
    )]
    pub process: usize,
    /// Hostfile: one host:port per line, in process order (timely's -h; here -h is not
    /// help). Without it the processes listen on localhost ports 2101, 2102, …
    #[arg(
        short = 'h',
        long = "hostfile",
        value_name = "FILE",
        requires = "cluster",
        help_heading = HEADING
    )]
    pub hostfile: Option<PathBuf>,
    /// Print help (-h is the cluster's hostfile).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

impl ClusterArgs {
    pub fn config(&self) -> anyhow::Result<xinyong_cluster::ClusterConfig> {
        Ok(match &self.hostfile {
            Some(file) => {
                xinyong_cluster::ClusterConfig::from_hostfile(self.workers, self.processes, self.process, file)?
            }
            None => xinyong_cluster::ClusterConfig::localhost(self.workers, self.processes, self.process),
        })
    }
}
