//! The engine actor: the one thread that owns the state and decides the log's order.
//!
//! Handlers parse and authorize, then send the actor a closure ([`Actor::call`]). The actor
//! runs closures one at a time on its own thread. A closure that changes state calls
//! [`Core::execute`]: the command is applied to the in-memory state, and if it changed
//! anything its record is handed to the store's group committer *before the next closure
//! runs* — so the log order is the apply order, and replay rebuilds the same state. The
//! reply leaves the actor at once but reaches the client only when the records it depends on
//! are durable ([`crate::durability`]); meanwhile the actor goes on applying, and one fsync
//! acknowledges everything that queued up behind it.
//!
//! Why one thread: the engine is a sequential state machine (a day close touches
//! everything), the work per command is microseconds, and the expensive part — the fsync —
//! is already batched. A single owner needs no locks on the state and makes the log order
//! obvious.

use crate::durability::Durability;
use crate::error::{ApiError, ServeError};
use crate::events::{Event, EventHub};
use crate::metrics::{Gauges, Metrics};
use crate::state::{Done, LoggedCommand, Principal, Role, SNAPSHOT_FORMAT, ServiceCommand, ServiceState, Snapshot};
use crate::token::{Token, TokenHash};
use serde::Serialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use xinyong_engine::{Answer, Cause, Command, Outcome, Policy, SettledOrder};
use xinyong_sim::Scenario;
use xinyong_store::{CommitHandle, Committer, CommitterConfig, NewRecord, Store};

/// How records reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CommitMode {
    /// Group commit: one transaction for everything queued during the previous fsync.
    #[default]
    Group,
    /// The design to compare with: one row per command, one transaction each (a batch
    /// request becomes one row per order).
    Naive,
}

/// Jobs queued for the actor before handlers wait for room.
pub const ACTOR_QUEUE_JOBS_MAX: usize = 4096;

/// What handlers share with the actor.
pub struct Shared {
    /// Token hash → who. Written by the actor when accounts are created.
    pub auth: RwLock<HashMap<TokenHash, Principal>>,
    pub durability: Durability,
    pub hub: EventHub,
    pub metrics: Metrics,
    pub commit: CommitHandle,
    /// Set when a command panicked inside the actor: the state may be half-changed, so the
    /// server stops serving until a restart replays the log (which never saw that command).
    pub poisoned: Mutex<Option<String>>,
    /// When the day clock will close the day next (None without `--day-length`).
    pub next_close: Mutex<Option<Instant>>,
    pub self_registration: bool,
    pub commit_mode: CommitMode,
}

impl Shared {
    pub fn principal(&self, token: &TokenHash) -> Option<Principal> {
        self.auth.read().unwrap_or_else(|p| p.into_inner()).get(token).copied()
    }

    /// Why the server cannot serve now (a panic in the engine, a failed log), if so.
    pub fn unavailable(&self) -> Option<ApiError> {
        if let Some(reason) = self.poisoned.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Some(ApiError::unavailable(
                "restart_required",
                format!(
                    "a request failed inside the engine ({reason}); the operator must restart the server, which replays the log"
                ),
            ));
        }
        self.durability.failure().map(|reason| {
            ApiError::unavailable(
                "storage_failed",
                format!("the log could not be written ({reason}); the operator must restart the server"),
            )
        })
    }
}

pub type Job = Box<dyn FnOnce(&mut Core) + Send>;

/// Handlers' way to the actor.
#[derive(Clone)]
pub struct Actor {
    jobs: mpsc::Sender<Job>,
    pub shared: Arc<Shared>,
}

impl Actor {
    /// Runs `f` on the actor thread and returns its result once every record submitted so far
    /// (its own included) is durable.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let (sender, receiver) = oneshot::channel();
        let job: Job = Box::new(move |core: &mut Core| {
            if let Some(error) = core.shared.unavailable() {
                let _ = sender.send(Err(error));
                return;
            }
            match catch_unwind(AssertUnwindSafe(|| f(core))) {
                Ok(result) => {
                    let wait = core.last_submitted();
                    let _ = sender.send(result.map(|r| (r, wait)));
                }
                Err(panic) => {
                    let message = panic_message(&panic);
                    tracing::error!(%message, "a command panicked inside the engine; refusing further requests until restart");
                    core.shared.metrics.panics.fetch_add(1, Ordering::Relaxed);
                    *core.shared.poisoned.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
                    // Dropping the sender answers 500.
                }
            }
        });
        if self.jobs.send(job).await.is_err() {
            return Err(ApiError::unavailable("shutting_down", "the server is shutting down"));
        }
        let (result, wait) = receiver
            .await
            .map_err(|_| ApiError::internal("this request failed inside the engine; the server needs a restart"))??;
        self.shared.durability.wait(wait).await?;
        Ok(result)
    }

    /// Asks the actor to stop after the jobs already queued (snapshot, flush, exit).
    pub async fn stop(&self) {
        let _ = self.jobs.send(Box::new(|core: &mut Core| core.stop = true)).await;
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// The state and the log, owned by the actor thread.
pub struct Core {
    pub state: ServiceState,
    pub shared: Arc<Shared>,
    commit: CommitHandle,
    /// Seq the next submitted record will get (this process is the log's only writer).
    next_seq: u64,
    snapshot_every: u64,
    since_snapshot: u64,
    stop: bool,
}

/// What start-up found and did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Started {
    /// Seq of the snapshot the state was loaded from (0: none).
    pub snapshot_seq: u64,
    /// Records replayed after the snapshot.
    pub replayed: u64,
    /// Seq of the last record in the log after start-up.
    pub last_seq: u64,
    /// The operator token, when this start created it (empty log, no token given): shown
    /// once, never stored.
    #[serde(skip)]
    pub bootstrap_token: Option<String>,
    pub replay_ms: u64,
    /// The policy given at start differs from the one in the log (the log wins).
    pub policy_ignored: bool,
    /// A synthetic population was given at start but the log already holds its world.
    pub synthetic_ignored: bool,
    /// The log is a mixed world's (real people among simulated citizens).
    pub mixed: bool,
}

/// Start-up settings the core needs.
pub struct OpenOptions {
    pub db: String,
    pub policy: Option<Policy>,
    pub scenario: Option<String>,
    pub operator_token: Option<Token>,
    pub use_snapshots: bool,
    pub snapshot_every: u64,
    pub commit: CommitMode,
    pub self_registration: bool,
    /// A synthetic population for a *new* log (a mixed world); an existing log keeps its own.
    pub synthetic: Option<Scenario>,
}

/// Reads the log (from the newest snapshot), or starts a new one; returns the core, ready to
/// run, and its committer.
pub fn open(options: OpenOptions) -> Result<(Core, Committer, Started), ServeError> {
    let started_at = Instant::now();
    let mut store = xinyong_store::open(&options.db)?;
    let mut started = Started::default();
    let mut state: Option<ServiceState> = None;
    let mut after = 0;
    if options.use_snapshots
        && let Some((seq, bytes)) = store.latest_snapshot()?
    {
        match serde_json::from_slice::<Snapshot>(&bytes) {
            Ok(snapshot) if snapshot.format == SNAPSHOT_FORMAT && snapshot.seq == seq => {
                state = Some(snapshot.state);
                after = seq;
                started.snapshot_seq = seq;
            }
            Ok(snapshot) => tracing::warn!(
                seq,
                format = snapshot.format,
                "ignoring a snapshot of another format; replaying the whole log"
            ),
            Err(error) => tracing::warn!(seq, %error, "ignoring an unreadable snapshot; replaying the whole log"),
        }
    }
    loop {
        let records = store.read_after(after, 10_000)?;
        let Some(last) = records.last() else { break };
        let last_seq = last.seq;
        for record in &records {
            let logged: LoggedCommand = serde_json::from_slice(&record.body).map_err(|e| ServeError::BadRecord {
                seq: record.seq,
                detail: format!("{} record: {e}", record.kind),
            })?;
            match state.as_mut() {
                None => {
                    state = Some(
                        ServiceState::bootstrap(&logged.command)
                            .map_err(|e| ServeError::Diverged { seq: record.seq, detail: e.to_string() })?,
                    );
                }
                Some(s) => {
                    s.replay(&logged).map_err(|detail| ServeError::Diverged { seq: record.seq, detail })?;
                }
            }
            started.replayed += 1;
        }
        after = last_seq;
    }
    let mut last_seq = store.last_seq()?;
    if last_seq != after {
        return Err(ServeError::Other(format!("the log ends at {last_seq} but reading stopped at {after}")));
    }
    let state = match state {
        Some(state) => {
            if let Some(policy) = &options.policy
                && *policy != state.engine.rules().policy
            {
                started.policy_ignored = true;
                tracing::info!(
                    "the log already holds a policy; the one given at start is ignored (the log is the truth)"
                );
            }
            state
        }
        None => {
            // An empty log: this start creates the platform and its first operator.
            let token = match &options.operator_token {
                Some(token) => token.clone(),
                None => {
                    let token = Token::generate().map_err(ServeError::Other)?;
                    started.bootstrap_token = Some(token.as_str().to_string());
                    token
                }
            };
            let command = ServiceCommand::Bootstrap {
                policy: options.policy.clone().unwrap_or_default(),
                operator: token.hash(),
                scenario: options.scenario.clone(),
            };
            let state = ServiceState::bootstrap(&command).map_err(|e| ServeError::Other(e.to_string()))?;
            let logged = LoggedCommand { account: None, accepted: 0, command };
            last_seq = *append_now(store.as_mut(), &logged)?.end();
            state
        }
    };
    let mut state = state;
    // A token given at start that is not an operator's yet becomes one: whoever runs the
    // server is the operator (e.g. after losing the first token).
    if let Some(token) = &options.operator_token
        && !state.accounts.iter().any(|a| a.role == Role::Operator && a.token == token.hash())
    {
        if state.accounts.iter().any(|a| a.token == token.hash()) {
            return Err(ServeError::Other("XINYONG_OPERATOR_TOKEN is the token of a non-operator account".into()));
        }
        let command = ServiceCommand::AddOperator { name: "operator".into(), token: token.hash() };
        let applied = state.apply(&command);
        applied.result.map_err(|e| ServeError::Other(e.to_string()))?;
        last_seq = *append_now(store.as_mut(), &LoggedCommand { account: None, accepted: 0, command })?.end();
    }
    if let Some(scenario) = &options.synthetic {
        if state.mixed.is_none() && state.in_setup() {
            let command = ServiceCommand::Synthetic { scenario: Box::new(scenario.clone()) };
            state.apply(&command).result.map_err(|e| ServeError::Other(format!("the synthetic population: {e}")))?;
            last_seq = *append_now(store.as_mut(), &LoggedCommand { account: None, accepted: 0, command })?.end();
        } else {
            started.synthetic_ignored = true;
            tracing::info!("the log already holds its world; the synthetic population given at start is ignored");
        }
    }
    started.mixed = state.mixed.is_some();
    started.last_seq = last_seq;
    started.replay_ms = started_at.elapsed().as_millis() as u64;

    let mut config = CommitterConfig::default();
    if options.commit == CommitMode::Naive {
        config.batch_records_max = 1;
    }
    let committer = Committer::start(store, config)?;
    let commit = committer.handle();
    let auth = state
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.token, Principal { account: i as u32, role: a.role, subject: a.subject }))
        .collect();
    let shared = Arc::new(Shared {
        auth: RwLock::new(auth),
        durability: Durability::new(last_seq),
        hub: EventHub::default(),
        metrics: Metrics::default(),
        commit: commit.clone(),
        poisoned: Mutex::new(None),
        next_close: Mutex::new(None),
        self_registration: options.self_registration,
        commit_mode: options.commit,
    });
    let core = Core {
        state,
        shared,
        commit,
        next_seq: last_seq + 1,
        snapshot_every: options.snapshot_every,
        since_snapshot: 0,
        stop: false,
    };
    Ok((core, committer, started))
}

fn append_now(store: &mut dyn Store, logged: &LoggedCommand) -> Result<std::ops::RangeInclusive<u64>, ServeError> {
    let body = serde_json::to_vec(logged).map_err(|e| ServeError::Other(e.to_string()))?;
    Ok(store.append(&[NewRecord::new(logged.command.kind(), body)])?)
}

/// Starts the actor thread; returns its handle and a join handle that yields when the actor
/// has saved its last snapshot and flushed the log.
pub fn spawn(core: Core, committer: Committer) -> Result<(Actor, std::thread::JoinHandle<()>), ServeError> {
    let (jobs, mut receiver) = mpsc::channel::<Job>(ACTOR_QUEUE_JOBS_MAX);
    let shared = Arc::clone(&core.shared);
    let thread = std::thread::Builder::new()
        .name("xinyong-engine".into())
        .spawn(move || {
            let mut core = core;
            while let Some(job) = receiver.blocking_recv() {
                job(&mut core);
                if core.stop {
                    break;
                }
            }
            if core.shared.unavailable().is_none() {
                core.snapshot();
            }
            drop(core);
            if let Err(error) = committer.shutdown() {
                tracing::error!(%error, "the log writer failed while shutting down");
            }
        })
        .map_err(|e| ServeError::Other(format!("cannot start the engine thread: {e}")))?;
    Ok((Actor { jobs, shared }, thread))
}

/// What the day-close hooks need from before the command.
struct Before {
    ledger_len: usize,
    settled_len: usize,
}

impl Core {
    /// Seq of the last record this process submitted (or found at start).
    pub fn last_submitted(&self) -> u64 {
        self.next_seq - 1
    }

    /// Applies a command on behalf of `account` (None: the server itself); logs it if it
    /// changed the state; publishes its events. The caller's reply waits for durability
    /// through [`Actor::call`].
    pub fn execute(&mut self, account: Option<u32>, command: ServiceCommand) -> Result<Done, ApiError> {
        let before = Before {
            ledger_len: self.state.engine.ledger().entries().len(),
            settled_len: self.state.engine.settled_orders().len(),
        };
        let applied = self.state.apply(&command);
        let metrics = &self.shared.metrics;
        match &applied.result {
            Ok(Done::Batch(results)) => {
                let refused = results.len() as u64 - applied.accepted as u64;
                metrics.commands_accepted.fetch_add(applied.accepted as u64, Ordering::Relaxed);
                metrics.commands_refused.fetch_add(refused, Ordering::Relaxed);
            }
            Ok(_) => {
                metrics.commands_accepted.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                metrics.commands_refused.fetch_add(1, Ordering::Relaxed);
            }
        }
        if applied.logged {
            match (&command, &applied.result, self.shared.commit_mode) {
                (ServiceCommand::Batch { commands }, Ok(Done::Batch(results)), CommitMode::Naive) => {
                    // The naive design: one row per order, one transaction each.
                    for (command, result) in commands.iter().zip(results) {
                        let changed = match result {
                            Ok(_) => true,
                            Err(refusal) => crate::state::refusal_changes_state(command, refusal),
                        };
                        if changed {
                            let command = ServiceCommand::Engine { command: command.clone() };
                            self.submit(&LoggedCommand { account, accepted: result.is_ok() as u32, command });
                        }
                    }
                }
                _ if !applied.log_as.is_empty() => {
                    for (logged, accepted) in &applied.log_as {
                        self.submit(&LoggedCommand { account, accepted: *accepted, command: logged.clone() });
                    }
                }
                _ => {
                    self.submit(&LoggedCommand { account, accepted: applied.accepted, command: command.clone() });
                }
            }
        }
        if let Ok(Done::Accounts { first, count }) = &applied.result {
            let mut auth = self.shared.auth.write().unwrap_or_else(|p| p.into_inner());
            for account in *first..*first + *count {
                let a = &self.state.accounts[account as usize];
                auth.insert(a.token, Principal { account, role: a.role, subject: a.subject });
            }
        }
        if self.shared.hub.any() && applied.logged {
            self.publish_events(&command, &applied.result, &before);
        }
        if applied.logged && self.snapshot_every > 0 {
            self.since_snapshot += 1;
            if self.since_snapshot >= self.snapshot_every {
                self.snapshot();
            }
        }
        applied.result
    }

    fn submit(&mut self, logged: &LoggedCommand) {
        let body = serde_json::to_vec(logged).expect("a command serializes");
        let expected = self.next_seq;
        self.next_seq += 1;
        let shared = Arc::clone(&self.shared);
        let submitted = Instant::now();
        self.shared.metrics.records_submitted.fetch_add(1, Ordering::Relaxed);
        self.commit.submit(
            NewRecord::new(logged.command.kind(), body),
            Box::new(move |result| match result {
                Ok(seq) if seq == expected => {
                    shared.metrics.commit_seconds.observe(submitted.elapsed());
                    shared.durability.acked(seq);
                }
                Ok(seq) => shared.durability.fail(format!(
                    "a record expected at seq {expected} was written at {seq}: another process writes to this log"
                )),
                Err(error) => shared.durability.fail(error.to_string()),
            }),
        );
    }

    /// Saves the state after the last submitted record, in log order (after that record is
    /// committed). Snapshots only shorten restarts; a failure is logged and otherwise ignored.
    pub fn snapshot(&mut self) {
        self.since_snapshot = 0;
        if self.state.mixed.is_some() {
            // The synthetic population is not in a snapshot: a mixed world replays its log.
            return;
        }
        let seq = self.last_submitted();
        if seq == 0 {
            return;
        }
        #[derive(Serialize)]
        struct SnapshotRef<'a> {
            format: u32,
            seq: u64,
            state: &'a ServiceState,
        }
        let bytes = match serde_json::to_vec(&SnapshotRef { format: SNAPSHOT_FORMAT, seq, state: &self.state }) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!(%error, "cannot serialize a snapshot");
                return;
            }
        };
        let shared = Arc::clone(&self.shared);
        self.commit.run(Box::new(move |store| {
            let result = store.and_then(|store| store.save_snapshot(seq, &bytes));
            match result {
                Ok(()) => {
                    shared.metrics.snapshots_saved.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(seq, bytes = bytes.len(), "snapshot saved");
                }
                Err(error) => tracing::warn!(seq, %error, "snapshot not saved"),
            }
        }));
    }

    /// Figures for `/metrics`.
    pub fn gauges(&self) -> Gauges {
        let stats = self.commit.stats();
        let e = &self.state.engine;
        Gauges {
            log_seq_durable: self.shared.durability.through(),
            log_records_committed: stats.records_committed,
            log_commits: stats.commits,
            log_queue_records: stats.records_queued as u64,
            day: e.day(),
            citizens: e.citizen_count(),
            groups: e.group_count(),
            groupless: e.groupless().len() as u32,
            products: e.products().len() as u32,
            kols: e.kols().len() as u32,
            accounts: self.state.accounts.len() as u32,
            orders_pending: e.pending_orders().len() as u64,
            sse_subscriptions: self.shared.hub.subscriptions() as u64,
        }
    }

    fn citizen_account(&self, citizen: xinyong_engine::CitizenId) -> Option<u32> {
        self.state.citizen_account(citizen)
    }

    fn publish_events(&self, command: &ServiceCommand, result: &Result<Done, ApiError>, before: &Before) {
        let seq = self.last_submitted();
        let hub = &self.shared.hub;
        let engine = &self.state.engine;
        if let (ServiceCommand::Batch { commands }, Ok(Done::Batch(results))) = (command, result) {
            let placed = commands.iter().zip(results).filter(|(_, r)| r.is_ok()).map(|(c, _)| c);
            self.publish_pool_changes(seq, placed);
            return;
        }
        let Ok(Done::Engine(outcome)) = result else { return };
        let ServiceCommand::Engine { command } = command else { return };
        match (command, outcome) {
            (Command::PlaceOrder { .. }, Outcome::Order { .. }) => {
                self.publish_pool_changes(seq, std::iter::once(command));
            }
            (Command::Promote { kol, product }, Outcome::Promotion { .. }) => {
                // To the followers listening now (no index from a KOL to its followers; the
                // listeners are few).
                let data = json!({"kol": kol.0, "kol_name": engine.kols().get(kol.index()).map(|k| &k.name),
                    "product": product.0, "name": engine.products().get(product.index()).map(|p| &p.name)});
                for account in hub.listening() {
                    let Some(a) = self.state.accounts.get(account as usize) else { continue };
                    let citizen = xinyong_engine::CitizenId(a.subject);
                    if a.role == Role::Citizen && engine.directory().followed(citizen).contains(kol) {
                        hub.publish(account, Event { seq, kind: "promotion", data: data.clone() });
                    }
                }
            }
            (Command::ReportIncident { citizen, .. }, Outcome::Incident { incident }) => {
                if let (Some(account), Some(record)) = (self.citizen_account(*citizen), engine.incident(*incident)) {
                    let kind = &engine.rules().policy.incident_kinds[record.kind as usize];
                    hub.publish(
                        account,
                        Event {
                            seq,
                            kind: "incident_reported",
                            data: json!({"incident": incident.to_string(), "kind": kind.name,
                                "penalty": record.penalty_applied, "day": record.day,
                                "score": engine.score(*citizen).ok()}),
                        },
                    );
                }
            }
            (Command::DecideAppeal { incident, granted }, Outcome::Appeal { delta }) => {
                if let Some(account) = self.citizen_account(incident.citizen) {
                    hub.publish(
                        account,
                        Event {
                            seq,
                            kind: "appeal_decided",
                            data: json!({"incident": incident.to_string(), "granted": granted, "delta": delta}),
                        },
                    );
                }
            }
            (Command::CloseDay, Outcome::DayClosed { report }) => {
                let listening: HashSet<u32> = hub.listening();
                hub.broadcast(Event {
                    seq,
                    kind: "day_closed",
                    data: json!({"closed": report.day, "today": engine.day(), "expelled": report.expelled.len(),
                        "orders": report.orders, "notices_delivered": report.notices_delivered}),
                });
                let to = |citizen: xinyong_engine::CitizenId| {
                    self.citizen_account(citizen).filter(|a| listening.contains(a))
                };
                for entry in &engine.ledger().entries()[before.ledger_len.min(engine.ledger().entries().len())..] {
                    if let Cause::Vote { incident, answer, abstained } = entry.cause
                        && let Some(account) = to(entry.citizen)
                    {
                        hub.publish(
                            account,
                            Event {
                                seq,
                                kind: "vote_tallied",
                                data: json!({"incident": incident.to_string(), "answer": answer.name(),
                                    "abstained": abstained, "delta": entry.delta}),
                            },
                        );
                    }
                }
                for (incident, offender) in &report.expelled {
                    if let Some(account) = to(*offender) {
                        let regroup_day = engine.view(*offender).ok().and_then(|v| v.regroup_day);
                        hub.publish(
                            account,
                            Event {
                                seq,
                                kind: "expelled",
                                data: json!({"incident": incident.to_string(), "regroup_day": regroup_day}),
                            },
                        );
                    }
                }
                let sanction = &engine.rules().policy.sanction;
                for group in engine.groups() {
                    for batch in group.open_notices().iter().filter(|b| b.deadline == report.day + 1) {
                        let kind = engine
                            .incident(batch.incident)
                            .map(|i| engine.rules().policy.incident_kinds[i.kind as usize].name.clone());
                        for recipient in batch.recipients(group.members()) {
                            if let Some(account) = to(recipient) {
                                hub.publish(
                                    account,
                                    Event {
                                        seq,
                                        kind: "notice",
                                        data: json!({"incident": batch.incident.to_string(),
                                            "offender": batch.offender.0, "kind": kind, "deadline": batch.deadline,
                                            "expel_points": sanction.expel_reward, "keep_points": -(sanction.keep_penalty as i64),
                                            "choices": [Answer::Expel.name(), Answer::Keep.name()]}),
                                    },
                                );
                            }
                        }
                    }
                }
                let settled = engine.settled_orders();
                for s in &settled[before.settled_len.min(settled.len())..] {
                    if let Some(account) = to(s.order.id.citizen) {
                        hub.publish(account, Event { seq, kind: "order_settled", data: settled_json(s) });
                    }
                }
            }
            _ => {}
        }
    }

    /// `pool_changed` to the listening members of each group whose pool for a product the
    /// accepted orders among `placed` changed (once per group and product): what lets a
    /// group-buy progress bar move when a group-mate orders. It names no buyer.
    fn publish_pool_changes<'a>(&self, seq: u64, placed: impl Iterator<Item = &'a Command>) {
        let hub = &self.shared.hub;
        let engine = &self.state.engine;
        let mut pools = std::collections::BTreeSet::new();
        for command in placed {
            if let Command::PlaceOrder { citizen, product, .. } = command
                && let Ok(Some(group)) = engine.group_of(*citizen)
            {
                pools.insert((group, *product));
            }
        }
        if pools.is_empty() {
            return;
        }
        let listening = hub.listening();
        let rules = engine.rules();
        for (group, product) in pools {
            let Some(members) = engine.group(group).map(|g| g.members()) else { continue };
            let units = engine.pool_units(group, product);
            let (discount_bp, tier) = rules.group_discount(units);
            let data = json!({"product": product.0, "units": units, "tier": tier, "discount_bp": discount_bp,
                "next_tier": crate::api::wire::next_tier(rules.next_group_discount(units))});
            for member in members {
                if let Some(account) = self.citizen_account(member.citizen).filter(|a| listening.contains(a)) {
                    hub.publish(account, Event { seq, kind: "pool_changed", data: data.clone() });
                }
            }
        }
    }
}

/// A settled order on the wire.
pub fn settled_json(s: &SettledOrder) -> serde_json::Value {
    json!({
        "order": s.order.id.to_string(),
        "product": s.order.product.0,
        "units": s.order.units,
        "via": s.order.promotion.map(|k| k.0),
        "pool_units": s.pool_units,
        "pool_tier": s.pool_tier,
        "unit_price_fen": s.price.unit_price,
        "list_price_fen": s.price.list_price,
        "group_discount_bp": s.price.group_discount_bp,
        "credit_discount_bp": s.price.credit_discount_bp,
        "capped": s.price.capped,
        "total_fen": s.total,
        "status": "settled",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> OpenOptions {
        OpenOptions {
            db: ":memory:".into(),
            policy: None,
            scenario: None,
            operator_token: None,
            use_snapshots: true,
            snapshot_every: 0,
            commit: CommitMode::Group,
            self_registration: false,
            synthetic: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_inside_the_engine_stops_the_service_until_a_restart() {
        let (core, committer, started) = open(options()).unwrap();
        assert!(started.bootstrap_token.is_some(), "a new log without a token makes one");
        let (actor, thread) = spawn(core, committer).unwrap();
        assert_eq!(actor.call(|core| Ok(core.state.engine.day())).await.unwrap(), 0);
        let error = actor.call(|_| -> Result<(), ApiError> { panic!("a bug") }).await.unwrap_err();
        assert_eq!((error.status.as_u16(), error.code), (500, "internal"));
        // The state may be half-changed: nothing is served until the log is replayed.
        let error = actor.call(|core| Ok(core.state.engine.day())).await.unwrap_err();
        assert_eq!((error.status.as_u16(), error.code), (503, "restart_required"));
        assert!(actor.shared.unavailable().is_some());
        actor.stop().await;
        drop(actor);
        thread.join().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replies_wait_for_the_records_submitted_before_them() {
        let (core, committer, _) = open(options()).unwrap();
        let (actor, thread) = spawn(core, committer).unwrap();
        let seq = actor
            .call(|core| {
                let tokens = vec![Token::generate().unwrap().hash()];
                core.execute(Some(0), ServiceCommand::CreateCitizens { tokens })?;
                Ok(core.last_submitted())
            })
            .await
            .unwrap();
        assert_eq!(seq, 2, "the bootstrap is record 1");
        assert!(actor.shared.durability.through() >= seq, "the reply came after the ack");
        actor.stop().await;
        drop(actor);
        thread.join().unwrap();
    }
}
