//! Starting and stopping a server: open the log, replay, spawn the engine actor, listen.

use crate::api;
use crate::core::{self, Actor, CommitMode, OpenOptions, Started};
use crate::error::ServeError;
use crate::state::ServiceCommand;
use crate::token::Token;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use xinyong_engine::{Command, Policy};

/// Everything `xinyong serve` can be told.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Where the log lives: an SQLite file path (created if absent), `sqlite://PATH`,
    /// `:memory:` (not durable), or `postgres://USER@HOST:PORT/DB`.
    pub db: String,
    /// Address to listen on; port 0 picks a free port ([`Server::local_addr`] tells which).
    pub listen: SocketAddr,
    /// Rules for a *new* log (default: the article's); an existing log keeps its own.
    pub policy: Option<Policy>,
    /// Name of the scenario the policy came from, recorded in the log for people.
    pub scenario: Option<String>,
    /// The operator's token (64 hex characters), e.g. from `XINYONG_OPERATOR_TOKEN`. Without
    /// it, a new log gets a random one, returned once by [`Server::bootstrap_token`].
    pub operator_token: Option<String>,
    /// Close the day automatically at this interval (a game's clock); None: the operator
    /// closes days.
    pub day_length: Option<Duration>,
    /// Save a snapshot every this many log records (0: only at clean shutdown).
    pub snapshot_every: u64,
    /// Load the newest snapshot at start (false: replay the whole log).
    pub use_snapshots: bool,
    pub commit: CommitMode,
    /// Let anyone create a citizen account with `POST /v1/register`.
    pub self_registration: bool,
    /// Generate this scenario's synthetic population (its `run.citizens`, seed and world)
    /// when the log is new: real people then live among simulated citizens (a mixed world).
    pub synthetic: Option<xinyong_sim::Scenario>,
}

impl ServeConfig {
    /// Defaults for a log at `db`: listen on 127.0.0.1:8080, snapshot every 10,000 records,
    /// group commit, no day clock, no self-registration.
    pub fn new(db: impl Into<String>) -> ServeConfig {
        ServeConfig {
            db: db.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            policy: None,
            scenario: None,
            operator_token: None,
            day_length: None,
            snapshot_every: 10_000,
            use_snapshots: true,
            commit: CommitMode::Group,
            self_registration: false,
            synthetic: None,
        }
    }
}

/// A running server. Drop it only after [`Server::shutdown`] to keep the last snapshot.
pub struct Server {
    addr: SocketAddr,
    started: Started,
    shutdown: watch::Sender<bool>,
    http: JoinHandle<std::io::Result<()>>,
    clock: Option<JoinHandle<()>>,
    actor: Actor,
    engine_thread: std::thread::JoinHandle<()>,
}

impl Server {
    /// Opens the log, replays it (from the newest snapshot), and starts serving.
    pub async fn start(config: ServeConfig) -> Result<Server, ServeError> {
        let operator_token = match &config.operator_token {
            Some(text) => Some(Token::parse(text).map_err(|e| ServeError::Other(format!("the operator token: {e}")))?),
            None => None,
        };
        let options = OpenOptions {
            db: config.db.clone(),
            policy: config.policy.clone(),
            scenario: config.scenario.clone(),
            operator_token,
            use_snapshots: config.use_snapshots,
            snapshot_every: config.snapshot_every,
            commit: config.commit,
            self_registration: config.self_registration,
            synthetic: config.synthetic.clone(),
        };
        let (core, committer, started) = tokio::task::spawn_blocking(move || core::open(options))
            .await
            .map_err(|e| ServeError::Other(format!("start-up failed: {e}")))??;
        let (actor, engine_thread) = core::spawn(core, committer)?;
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(listener) => listener,
            Err(source) => {
                stop_actor(actor, engine_thread).await;
                return Err(ServeError::Listen { addr: config.listen, source });
            }
        };
        let addr = listener.local_addr().map_err(|source| ServeError::Listen { addr: config.listen, source })?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let router = api::app(actor.clone(), shutdown_rx.clone(), config.day_length);
        let mut stop = shutdown_rx.clone();
        // No Nagle: an answer leaves in one go, instead of waiting ~40 ms for the client's
        // delayed ACK when it spans two segments.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
        });
        let http = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stopping| *stopping).await;
                })
                .await
        });
        let clock = config.day_length.map(|length| tokio::spawn(day_clock(actor.clone(), length, shutdown_rx)));
        tracing::info!(%addr, replayed = started.replayed, snapshot_seq = started.snapshot_seq, "serving");
        Ok(Server { addr, started, shutdown, http, clock, actor, engine_thread })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The operator token this start created (a new log without a given token): print it
    /// once; it is stored nowhere.
    pub fn bootstrap_token(&self) -> Option<&str> {
        self.started.bootstrap_token.as_deref()
    }

    /// What start-up found: snapshot, records replayed, last seq.
    pub fn started(&self) -> &Started {
        &self.started
    }

    /// Stops accepting requests, finishes those in flight, saves a snapshot, flushes the log.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.shutdown.send(true);
        match self.http.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "the HTTP server stopped with an error"),
            Err(error) => tracing::warn!(%error, "the HTTP task failed"),
        }
        if let Some(clock) = self.clock {
            let _ = clock.await;
        }
        stop_actor(self.actor, self.engine_thread).await;
        Ok(())
    }

    /// Serves until Ctrl-C or SIGTERM, then shuts down cleanly.
    pub async fn run_until_signal(self) -> Result<(), ServeError> {
        wait_for_signal().await;
        tracing::info!("stopping: finishing requests, saving a snapshot");
        self.shutdown().await
    }
}

async fn stop_actor(actor: Actor, thread: std::thread::JoinHandle<()>) {
    actor.stop().await;
    drop(actor);
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The game clock: the engine has no clock, so the service closes the day itself every
/// `length`, through the log like any command (account: none). The timer starts with the
/// process; a restart starts a fresh day length.
async fn day_clock(actor: Actor, length: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        let next = std::time::Instant::now() + length;
        *actor.shared.next_close.lock().unwrap_or_else(|p| p.into_inner()) = Some(next);
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        let closed = actor.call(|core| core.execute(None, ServiceCommand::Engine { command: Command::CloseDay })).await;
        match closed {
            Ok(_) => tracing::info!("the day clock closed the day"),
            Err(error) => tracing::warn!(%error, "the day clock could not close the day"),
        }
    }
}

/// Serves with `config` until Ctrl-C or SIGTERM.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let server = Server::start(config).await?;
    if let Some(token) = server.bootstrap_token() {
        eprintln!("operator token (shown once, keep it): {token}");
    }
    eprintln!("listening on {}", server.url());
    server.run_until_signal().await
}
