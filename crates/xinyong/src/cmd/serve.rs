//! `xinyong serve`: the live platform (thin glue over `xinyong_service`).

use crate::cmd::{scenarios, simulate::parse_sets};
use anyhow::Context;
use std::net::SocketAddr;
use std::time::Duration;
use xinyong_service::{CommitMode, ServeConfig, Server};

/// The long help (`--help`): what it does, with examples.
const ABOUT: &str = r#"Serves the live platform: the same engine as `xinyong simulate`, driven by people over an
HTTP JSON API. Every accepted command is written to an append-only log (an SQLite file by
default, or PostgreSQL) and acknowledged only once it is durable; on start the state is
replayed from the log (from the newest snapshot). The API is described at /openapi.json.

On a new log the server creates the operator account and prints its token once (or
takes XINYONG_OPERATOR_TOKEN, 64 hex characters). The operator then creates the other
accounts: citizens (POST /v1/citizens), KOLs, brands, reporters (the camera network).

Examples:
  xinyong serve
      ./xinyong.db, http://127.0.0.1:8080, the article's rules; the operator closes days
  xinyong serve --db class.db --scenario rongcheng --day-length 10m
      a classroom game: Rongcheng's rules, a day every ten minutes
  xinyong serve --scenario default --set policy.groups.min_size=5 --set policy.groups.max_size=8
      small groups for a room of 30 people
  xinyong serve --db class.db --scenario classroom --synthetic 2000
      a mixed world: 2,000 simulated citizens (generated as `simulate` would, from the
      scenario's seed) around the class, in groups of the article's size; the simulated
      citizens act at each close, real people register and are placed among them
  XINYONG_OPERATOR_TOKEN=$(openssl rand -hex 32) xinyong serve --listen 0.0.0.0:8080
  xinyong serve --db postgres://postgres@127.0.0.1:55432/postgres

Then, with the printed token:
  curl -H "Authorization: Bearer $TOKEN" -d '{"count": 3}' http://127.0.0.1:8080/v1/citizens"#;

/// Options of `xinyong serve`; `--help` shows [`ABOUT`] after them.
#[derive(clap::Args, Debug)]
#[command(long_about = None, after_long_help = ABOUT)]
pub struct Args {
    /// The log: an SQLite file (created if absent), `:memory:` (not durable), or
    /// postgres://USER@HOST:PORT/DB.
    #[arg(long, env = "XINYONG_DB", default_value = "xinyong.db")]
    pub db: String,
    /// Address to listen on (port 0: any free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Rules of a new log: a scenario file or preset (default, rongcheng, sesame, ...). Only
    /// its [policy] is used; an existing log keeps the rules it was started with.
    #[arg(long, short = 's')]
    pub scenario: Option<String>,
    /// Override a scenario key, e.g. --set policy.sanction.keep_penalty=0 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Close the day automatically every DURATION (e.g. 10m, 90s, 1h) — a game's clock.
    /// Without it the operator closes days (POST /v1/days/close).
    #[arg(long, value_parser = parse_duration)]
    pub day_length: Option<Duration>,
    /// Save a snapshot every N log records (0: only at clean shutdown).
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_every: u64,
    /// Ignore snapshots at start and replay the whole log (to check a replay from scratch).
    #[arg(long)]
    pub no_snapshots: bool,
    /// `group`: one transaction for everything queued during the previous fsync (default).
    /// `naive`: one transaction per command, one row per order — for comparison only.
    #[arg(long, default_value = "group", value_parser = ["group", "naive"])]
    pub commit: String,
    /// Let anyone create a citizen account (POST /v1/register, no token).
    #[arg(long)]
    pub self_registration: bool,
    /// A mixed world: generate N simulated citizens (with the scenario's KOLs, products,
    /// seed and behaviour models) around the real participants of a new log. They act at
    /// each day's close through the same engine commands as people, logged like anyone's.
    #[arg(long, value_name = "N")]
    pub synthetic: Option<u32>,
    /// The operator's token (64 hex characters). Prefer the environment variable.
    #[arg(long, env = "XINYONG_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
}

/// Parses `500ms`, `90s`, `10m`, `1h`, `2d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?}: expected e.g. 10m, 90s, 1h, 500ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s, m, h, d)")),
    };
    if !(seconds.is_finite() && (0.05..=365.0 * 86_400.0).contains(&seconds)) {
        return Err(format!("{text:?}: a day lasts between 50ms and 365d"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut config = ServeConfig::new(args.db.clone());
    config.listen = args.listen;
    let mut scenario_day = None;
    if args.scenario.is_some() || !args.sets.is_empty() || args.synthetic.is_some() {
        let mut scenario = scenarios::load(args.scenario.as_deref().unwrap_or("default"), &parse_sets(&args.sets)?)?;
        scenario.policy.validate().context("invalid policy")?;
        if let Some(text) = &scenario.run.day_length {
            scenario_day = Some(parse_duration(text).map_err(|e| anyhow::anyhow!("scenario: run.day_length: {e}"))?);
        }
        config.scenario = Some(scenario.run.name.clone());
        config.policy = Some(scenario.policy.clone());
        if let Some(n) = args.synthetic {
            anyhow::ensure!(
                (1..=xinyong_service::SYNTHETIC_CITIZENS_MAX).contains(&n),
                "--synthetic: 1 to {} simulated citizens (the live engine holds every one in memory)",
                xinyong_service::SYNTHETIC_CITIZENS_MAX
            );
            scenario.run.citizens = n;
            config.synthetic = Some(scenario);
        }
    }
    config.day_length = args.day_length.or(scenario_day);
    config.snapshot_every = args.snapshot_every;
    config.use_snapshots = !args.no_snapshots;
    config.commit = if args.commit == "naive" { CommitMode::Naive } else { CommitMode::Group };
    config.self_registration = args.self_registration;
    config.operator_token = args.operator_token;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    runtime.block_on(async move {
        let server = Server::start(config).await.with_context(|| format!("cannot serve the log at {}", args.db))?;
        let started = server.started();
        if started.synthetic_ignored {
            eprintln!("warning: the log already holds its world; --synthetic is ignored (the log is the truth)");
        }
        if started.mixed {
            println!("xinyong serve: a mixed world: real people among simulated citizens (no snapshots; restarts replay the log)");
        }
        if started.policy_ignored {
            eprintln!("warning: the log already holds its rules; --scenario/--set are ignored (the log is the truth)");
        }
        if let Some(token) = server.bootstrap_token() {
            println!("xinyong serve: operator token (shown once, keep it): {token}");
        }
        println!(
            "xinyong serve: replayed {} records (snapshot at {}) in {} ms; log at seq {}",
            started.replayed, started.snapshot_seq, started.replay_ms, started.last_seq
        );
        println!("xinyong serve: listening on {}", server.url());
        use std::io::Write;
        let _ = std::io::stdout().flush();
        server.run_until_signal().await.context("the server stopped with an error")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
