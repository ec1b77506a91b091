//! The service's state as a pure state machine: the engine plus who is who (accounts,
//! roles, token hashes), and the commands that change it.
//!
//! Everything here is deterministic and free of I/O, so that the live server and the
//! replay at start-up run *the same function* ([`ServiceState::apply`]) over the same
//! commands and end in the same state. The live server logs exactly the commands whose
//! [`Applied::logged`] is true, in the order it applied them; replay applies them again and
//! checks that each is accepted or refused as it was the first time ([`LoggedCommand::accepted`]):
//! a difference means the log was written by other rules and is reported, never ignored.

use crate::error::ApiError;
use crate::token::TokenHash;
use serde::{Deserialize, Serialize};
use xinyong_engine::{CitizenId, Command, DayReport, Engine, EngineOptions, Fnv64, GroupId, Outcome, Policy, Refusal};
use xinyong_sim::mixed::MixedDirectory;
use xinyong_sim::{Scenario, Simulation};

/// The service's engine: its directory holds what real people declared and, in a mixed
/// world, the synthetic population beside them.
pub type ServiceEngine = Engine<MixedDirectory>;

/// Version of the snapshot layout; a snapshot of another version is ignored (full replay).
pub const SNAPSHOT_FORMAT: u32 = 3;
/// Most citizens created by one request.
pub const CITIZENS_PER_REQUEST_MAX: u32 = 10_000;
/// Most commands in one batch record.
pub const BATCH_COMMANDS_MAX: usize = 10_000;
/// Longest account name, in bytes.
pub const NAME_BYTES_MAX: usize = 200;
/// Most simulated citizens in a mixed world (the live engine keeps a full ledger and
/// history in memory).
pub const SYNTHETIC_CITIZENS_MAX: u32 = 1_000_000;
/// Most simulated citizens' commands in one log record (a record holds at most 4 MiB).
pub const SIMULATED_DAY_RECORD_COMMANDS: usize = 10_000;
/// Most accounts of all kinds.
pub const ACCOUNTS_MAX: usize = u32::MAX as usize - 1;

/// What an account may do. A person holds one account, with one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The state: policy, catalogue, accounts, appeals, day closes; sees everything.
    Operator,
    /// The camera network: files incidents against citizens (text only, no images).
    Reporter,
    /// A person with a score, a group, orders and notices; sees only their own.
    Citizen,
    /// A key opinion leader: promotes products to followers.
    Kol,
    /// A seller: adds its products to the catalogue.
    Brand,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Operator, Role::Reporter, Role::Citizen, Role::Kol, Role::Brand];

    pub fn name(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Reporter => "reporter",
            Role::Citizen => "citizen",
            Role::Kol => "kol",
            Role::Brand => "brand",
        }
    }
}

/// An account: a role, the id of what it is (citizen, KOL, brand, reporter or operator
/// number) and the hash of its token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub role: Role,
    pub subject: u32,
    pub name: String,
    pub token: TokenHash,
}

/// Who is calling, once their token is recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub account: u32,
    pub role: Role,
    /// Citizen id, KOL id, brand id, reporter number or operator number, by role.
    pub subject: u32,
}

/// A named actor the engine does not know (brands, reporters) and its account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub name: String,
    pub account: u32,
}

/// Every state change the service logs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServiceCommand {
    /// The first record of every log: the rules and the first operator's token.
    Bootstrap {
        policy: Policy,
        operator: TokenHash,
        scenario: Option<String>,
    },
    /// Replaces the rules, only while nothing exists yet (set-up phase).
    SetPolicy {
        policy: Policy,
    },
    /// Another operator account (e.g. `XINYONG_OPERATOR_TOKEN` changed between starts).
    AddOperator {
        name: String,
        token: TokenHash,
    },
    /// Registers one citizen per token.
    CreateCitizens {
        tokens: Vec<TokenHash>,
    },
    CreateKol {
        name: String,
        token: TokenHash,
    },
    CreateBrand {
        name: String,
        token: TokenHash,
    },
    CreateReporter {
        name: String,
        token: TokenHash,
    },
    /// Places groupless citizens into (new) groups: the result of a grouping, logged as
    /// assignments so that replay does not depend on the grouping algorithm's version.
    FormGroups {
        assignments: Vec<(CitizenId, GroupId)>,
    },
    /// One engine command.
    Engine {
        command: Command,
    },
    /// Several engine commands applied in order, each accepted or refused on its own.
    Batch {
        commands: Vec<Command>,
    },
    /// Generates a scenario's synthetic population around the real people to come (a mixed
    /// world, `serve --synthetic`): only while nothing exists yet. Replay regenerates it
    /// from the scenario and its seed.
    Synthetic {
        scenario: Box<Scenario>,
    },
    /// A day closed in a mixed world: every engine command the simulated citizens sent at
    /// the close, in order, ending with the close itself. Replay runs the simulated day
    /// again and checks that it sends exactly these commands.
    SimulatedDay {
        commands: Vec<Command>,
        /// This record's place among the day's records (a day of many commands spans
        /// several), from 0.
        part: u32,
        /// The day's last record.
        last: bool,
    },
}

impl ServiceCommand {
    /// The record's `kind` in the store: a short name for people reading the log.
    pub fn kind(&self) -> String {
        match self {
            ServiceCommand::Bootstrap { .. } => "bootstrap".into(),
            ServiceCommand::SetPolicy { .. } => "set_policy".into(),
            ServiceCommand::AddOperator { .. } => "add_operator".into(),
            ServiceCommand::CreateCitizens { .. } => "create_citizens".into(),
            ServiceCommand::CreateKol { .. } => "create_kol".into(),
            ServiceCommand::CreateBrand { .. } => "create_brand".into(),
            ServiceCommand::CreateReporter { .. } => "create_reporter".into(),
            ServiceCommand::FormGroups { .. } => "form_groups".into(),
            ServiceCommand::Engine { command } => format!("engine.{}", engine_kind(command)),
            ServiceCommand::Batch { .. } => "batch".into(),
            ServiceCommand::Synthetic { .. } => "synthetic".into(),
            ServiceCommand::SimulatedDay { .. } => "simulated_day".into(),
        }
    }
}

fn engine_kind(command: &Command) -> &'static str {
    match command {
        Command::RegisterCitizen => "register_citizen",
        Command::CreateGroup => "create_group",
        Command::AssignGroup { .. } => "assign_group",
        Command::RemoveFromGroup { .. } => "remove_from_group",
        Command::AddProduct { .. } => "add_product",
        Command::AddKol { .. } => "add_kol",
        Command::Follow { .. } => "follow",
        Command::Unfollow { .. } => "unfollow",
        Command::SetFavourites { .. } => "set_favourites",
        Command::SetInterests { .. } => "set_interests",
        Command::Promote { .. } => "promote",
        Command::PlaceOrder { .. } => "place_order",
        Command::ReportIncident { .. } => "report_incident",
        Command::AnswerNotice { .. } => "answer_notice",
        Command::FileAppeal { .. } => "file_appeal",
        Command::DecideAppeal { .. } => "decide_appeal",
        Command::RevealScandal { .. } => "reveal_scandal",
        Command::Denounce { .. } => "denounce",
        Command::DecideReport { .. } => "decide_report",
        Command::CloseDay => "close_day",
    }
}

/// One record of the log: who asked (None: the server itself, e.g. the day clock), what,
/// and how many of its engine commands were accepted (replay checks it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedCommand {
    pub account: Option<u32>,
    pub accepted: u32,
    pub command: ServiceCommand,
}

/// What an accepted command produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Done {
    Nothing,
    Engine(Outcome),
    /// Accounts `first..first + count` were created.
    Accounts {
        first: u32,
        count: u32,
    },
    Batch(Vec<Result<Outcome, Refusal>>),
}

/// The result of applying a command, and whether it must be logged.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub result: Result<Done, ApiError>,
    /// The state changed: the command goes into the log. True for accepted commands, and
    /// for the refused orders the engine counts (travel bans and other refused orders are
    /// part of the day's report), so that replay reproduces those counts too.
    pub logged: bool,
    /// Engine commands accepted (0 or 1, or up to a batch's length).
    pub accepted: u32,
    /// What goes into the log instead of the command itself, as (record, accepted) pairs:
    /// a day closed in a mixed world is logged as the simulated citizens' commands, in
    /// records of at most [`SIMULATED_DAY_RECORD_COMMANDS`] ([`ServiceCommand::SimulatedDay`]).
    pub log_as: Vec<(ServiceCommand, u32)>,
}

impl Applied {
    fn accepted(done: Done, accepted: u32) -> Applied {
        Applied { result: Ok(done), logged: true, accepted, log_as: Vec::new() }
    }

    fn refused(error: ApiError) -> Applied {
        Applied { result: Err(error), logged: false, accepted: 0, log_as: Vec::new() }
    }
}

/// The synthetic population of a mixed world and the simulator that drives it: rebuilt from
/// the log's [`ServiceCommand::Synthetic`] record, never saved in a snapshot.
pub struct MixedWorld {
    pub sim: Box<Simulation<MixedDirectory>>,
    /// On replay: the commands of the day's records read so far.
    logged: Vec<Command>,
}

impl std::fmt::Debug for MixedWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MixedWorld({} simulated citizens)", self.sim.scenario().run.citizens)
    }
}

/// Whether the engine changed its state while refusing `command` with `refusal`.
///
/// `Engine::place_order` counts refused orders for the day report (travel bans apart from
/// the others; orders naming something that does not exist are not counted). Every other
/// command checks everything before it changes anything.
pub fn refusal_changes_state(command: &Command, refusal: &Refusal) -> bool {
    matches!(command, Command::PlaceOrder { .. })
        && (matches!(refusal, Refusal::TravelBanned { .. }) || !refusal.is_not_found())
}

/// The whole state of the service: what a snapshot holds (a mixed world's synthetic
/// population apart: a mixed world takes no snapshots and replays its log).
#[derive(Debug, Serialize, Deserialize)]
pub struct ServiceState {
    pub engine: ServiceEngine,
    pub accounts: Vec<Account>,
    /// Account of each real citizen, by citizen id past the simulated ones (ids are dense).
    pub citizen_accounts: Vec<u32>,
    /// Account of each real KOL, by KOL id past the simulated ones.
    pub kol_accounts: Vec<u32>,
    /// KOLs generated with a mixed world's synthetic population (the first KOL ids).
    #[serde(default)]
    pub simulated_kols: u32,
    #[serde(skip)]
    pub mixed: Option<MixedWorld>,
    pub brands: Vec<Named>,
    pub reporters: Vec<Named>,
    /// The engine's report of every closed day, in order (the operator's history charts).
    pub days: Vec<DayReport>,
    /// Name of the scenario the policy came from, for people.
    pub scenario: Option<String>,
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.len() > NAME_BYTES_MAX || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "invalid_name",
            format!("a name is 1 to {NAME_BYTES_MAX} bytes of text without control characters"),
        ));
    }
    Ok(())
}

impl ServiceState {
    /// The state after the first record of a log.
    pub fn bootstrap(command: &ServiceCommand) -> Result<ServiceState, ApiError> {
        let ServiceCommand::Bootstrap { policy, operator, scenario } = command else {
            return Err(ApiError::invalid("not_bootstrap", "the first record of a log must be a bootstrap"));
        };
        let rules = policy.validate().map_err(|e| {
            ApiError::invalid("invalid_policy", e.to_string()).with_details(serde_json::json!({"key": e.key}))
        })?;
        Ok(ServiceState {
            engine: Engine::new(rules, MixedDirectory::stored_only(), EngineOptions::default()),
            accounts: vec![Account { role: Role::Operator, subject: 0, name: "operator".into(), token: *operator }],
            citizen_accounts: Vec::new(),
            kol_accounts: Vec::new(),
            simulated_kols: 0,
            mixed: None,
            brands: Vec::new(),
            reporters: Vec::new(),
            days: Vec::new(),
            scenario: scenario.clone(),
        })
    }

    /// Nothing exists yet but the operator: the rules may still change.
    pub fn in_setup(&self) -> bool {
        let e = &self.engine;
        e.day() == 0
            && e.citizen_count() == 0
            && e.group_count() == 0
            && e.products().is_empty()
            && e.kols().is_empty()
            && e.incidents().next().is_none()
    }

    /// The principal of an account.
    pub fn principal(&self, account: u32) -> Option<Principal> {
        self.accounts.get(account as usize).map(|a| Principal { account, role: a.role, subject: a.subject })
    }

    /// Applies one command. A refused command changes nothing, except the refused orders the
    /// engine counts (see [`refusal_changes_state`]).
    pub fn apply(&mut self, command: &ServiceCommand) -> Applied {
        match command {
            ServiceCommand::Bootstrap { .. } => {
                Applied::refused(ApiError::conflict("already_bootstrapped", "the log already starts with a bootstrap"))
            }
            ServiceCommand::SetPolicy { policy } => {
                if !self.in_setup() {
                    return Applied::refused(ApiError::conflict(
                        "policy_locked",
                        "the rules can change only while no citizen, group, product, KOL or incident exists \
                         and no day was closed: replaying history under other rules would rewrite it",
                    ));
                }
                match policy.validate() {
                    Ok(rules) => {
                        self.engine = Engine::new(rules, MixedDirectory::stored_only(), EngineOptions::default());
                        Applied::accepted(Done::Nothing, 0)
                    }
                    Err(e) => Applied::refused(
                        ApiError::invalid("invalid_policy", e.to_string())
                            .with_details(serde_json::json!({"key": e.key})),
                    ),
                }
            }
            ServiceCommand::AddOperator { name, token } => {
                let subject = self.accounts.iter().filter(|a| a.role == Role::Operator).count() as u32;
                self.add_accounts(Role::Operator, name, std::iter::once((subject, *token)))
            }
            ServiceCommand::CreateCitizens { tokens } => {
                if tokens.is_empty() || tokens.len() > CITIZENS_PER_REQUEST_MAX as usize {
                    return Applied::refused(ApiError::invalid(
                        "invalid_count",
                        format!("create 1 to {CITIZENS_PER_REQUEST_MAX} citizens at a time"),
                    ));
                }
                if self.accounts.len() + tokens.len() > ACCOUNTS_MAX {
                    return Applied::refused(ApiError::invalid("limit_reached", "no room for more accounts"));
                }
                let ids = match self.engine.register_citizens(tokens.len() as u32) {
                    Ok(ids) => ids,
                    Err(refusal) => return Applied::refused(refusal.into()),
                };
                let first_account = self.accounts.len() as u32;
                debug_assert_eq!(
                    self.citizen_accounts.len() as u32 + self.engine.directory().simulated_count(),
                    ids.start,
                    "citizen ids are dense"
                );
                for (citizen, token) in ids.zip(tokens) {
                    self.citizen_accounts.push(self.accounts.len() as u32);
                    self.accounts.push(Account {
                        role: Role::Citizen,
                        subject: citizen,
                        name: format!("c{citizen}"),
                        token: *token,
                    });
                }
                Applied::accepted(
                    Done::Accounts { first: first_account, count: tokens.len() as u32 },
                    tokens.len() as u32,
                )
            }
            ServiceCommand::CreateKol { name, token } => {
                if let Err(e) = check_name(name) {
                    return Applied::refused(e);
                }
                let kol = match self.engine.add_kol(name.clone()) {
                    Ok(kol) => kol,
                    Err(refusal) => return Applied::refused(refusal.into()),
                };
                debug_assert_eq!(self.kol_accounts.len() as u32 + self.simulated_kols, kol.0, "KOL ids are dense");
                self.kol_accounts.push(self.accounts.len() as u32);
                self.add_accounts(Role::Kol, name, std::iter::once((kol.0, *token)))
            }
            ServiceCommand::CreateBrand { name, token } => {
                if let Err(e) = check_name(name) {
                    return Applied::refused(e);
                }
                let brand = self.brands.len() as u32;
                self.brands.push(Named { name: name.clone(), account: self.accounts.len() as u32 });
                self.add_accounts(Role::Brand, name, std::iter::once((brand, *token)))
            }
            ServiceCommand::CreateReporter { name, token } => {
                if let Err(e) = check_name(name) {
                    return Applied::refused(e);
                }
                let reporter = self.reporters.len() as u32;
                self.reporters.push(Named { name: name.clone(), account: self.accounts.len() as u32 });
                self.add_accounts(Role::Reporter, name, std::iter::once((reporter, *token)))
            }
            ServiceCommand::FormGroups { assignments } => match self.engine.form_groups(assignments) {
                Ok(()) => Applied::accepted(Done::Nothing, assignments.len() as u32),
                Err(refusal) => Applied::refused(refusal.into()),
            },
            ServiceCommand::Engine { command: Command::CloseDay } if self.mixed.is_some() => {
                let (commands, closed) = self.simulated_day();
                let parts = commands.len().div_ceil(SIMULATED_DAY_RECORD_COMMANDS).max(1);
                let log_as = commands
                    .chunks(SIMULATED_DAY_RECORD_COMMANDS)
                    .enumerate()
                    .map(|(i, chunk)| {
                        let last = i + 1 == parts;
                        let part = ServiceCommand::SimulatedDay { commands: chunk.to_vec(), part: i as u32, last };
                        (part, last as u32)
                    })
                    .collect();
                Applied { result: Ok(Done::Engine(closed)), logged: true, accepted: 1, log_as }
            }
            ServiceCommand::Engine { command } => match self.apply_engine(command) {
                Ok(outcome) => Applied::accepted(Done::Engine(outcome), 1),
                Err(refusal) => Applied {
                    logged: refusal_changes_state(command, &refusal),
                    result: Err(refusal.into()),
                    accepted: 0,
                    log_as: Vec::new(),
                },
            },
            ServiceCommand::Synthetic { scenario } => self.generate(scenario),
            ServiceCommand::SimulatedDay { commands, part, last } => {
                let Some(mixed) = self.mixed.as_mut() else {
                    return Applied::refused(ApiError::conflict(
                        "not_mixed",
                        "a simulated day needs a synthetic population (serve --synthetic)",
                    ));
                };
                if *part == 0 {
                    // A day starts afresh: parts of a day whose last record never became
                    // durable (a crash in between) were never acknowledged nor applied.
                    mixed.logged.clear();
                }
                mixed.logged.extend_from_slice(commands);
                if !last {
                    // A part of a day's commands: checked with the day's last record.
                    return Applied::accepted(Done::Nothing, 0);
                }
                let commands = std::mem::take(&mut mixed.logged);
                let commands = &commands;
                let (sent, closed) = self.simulated_day();
                if sent != *commands {
                    let first =
                        sent.iter().zip(commands).position(|(a, b)| a != b).unwrap_or(sent.len().min(commands.len()));
                    return Applied::refused(ApiError::conflict(
                        "simulated_day_diverged",
                        format!(
                            "the simulated citizens sent {} commands where the log holds {}; the first difference is at \
                             command {first}: the log was written by another version of the simulator",
                            sent.len(),
                            commands.len()
                        ),
                    ));
                }
                Applied::accepted(Done::Engine(closed), 1)
            }
            ServiceCommand::Batch { commands } => {
                if commands.is_empty() || commands.len() > BATCH_COMMANDS_MAX {
                    return Applied::refused(ApiError::invalid(
                        "invalid_count",
                        format!("a batch holds 1 to {BATCH_COMMANDS_MAX} commands"),
                    ));
                }
                let mut logged = false;
                let mut accepted = 0;
                let results: Vec<Result<Outcome, Refusal>> = commands
                    .iter()
                    .map(|command| {
                        let result = self.apply_engine(command);
                        match &result {
                            Ok(_) => {
                                accepted += 1;
                                logged = true;
                            }
                            Err(refusal) => logged |= refusal_changes_state(command, refusal),
                        }
                        result
                    })
                    .collect();
                Applied { result: Ok(Done::Batch(results)), logged, accepted, log_as: Vec::new() }
            }
        }
    }

    /// Generates a mixed world's synthetic population: the simulator builds it and the
    /// service takes the engine.
    fn generate(&mut self, scenario: &Scenario) -> Applied {
        if !self.in_setup() || self.mixed.is_some() {
            return Applied::refused(ApiError::conflict(
                "world_locked",
                "a synthetic population is generated only while nothing else exists yet",
            ));
        }
        if scenario.run.citizens == 0 || scenario.run.citizens > SYNTHETIC_CITIZENS_MAX {
            return Applied::refused(
                ApiError::invalid(
                    "invalid_scenario",
                    format!("run.citizens: a mixed world has 1 to {SYNTHETIC_CITIZENS_MAX} simulated citizens"),
                )
                .with_details(serde_json::json!({"key": "run.citizens"})),
            );
        }
        if let Err((key, message)) = scenario.check() {
            return Applied::refused(
                ApiError::invalid("invalid_scenario", format!("{key}: {message}"))
                    .with_details(serde_json::json!({"key": key})),
            );
        }
        let mut sim = match Simulation::mixed(scenario.clone()) {
            Ok(sim) => sim,
            Err(e) => return Applied::refused(ApiError::invalid("invalid_scenario", e.to_string())),
        };
        let rules = sim.engine().rules().clone();
        let mut engine = Engine::new(rules, MixedDirectory::stored_only(), EngineOptions::default());
        sim.swap_engine(&mut engine);
        self.engine = engine;
        self.simulated_kols = self.engine.kols().len() as u32;
        self.scenario = Some(scenario.run.name.clone());
        self.mixed = Some(MixedWorld { sim: Box::new(sim), logged: Vec::new() });
        Applied::accepted(Done::Nothing, 0)
    }

    /// The simulated citizens act on the live engine and the day closes; records the day's
    /// report and returns their commands (ending with the close) and the close's outcome.
    fn simulated_day(&mut self) -> (Vec<Command>, Outcome) {
        let mixed = self.mixed.as_mut().expect("a mixed world");
        let day = mixed.sim.step_on(&mut self.engine);
        self.days.push(day.report.clone());
        (day.commands, Outcome::DayClosed { report: Box::new(day.report) })
    }

    /// The account of a real citizen (simulated citizens have none).
    pub fn citizen_account(&self, citizen: CitizenId) -> Option<u32> {
        let first_real = self.engine.directory().simulated_count();
        citizen.0.checked_sub(first_real).and_then(|i| self.citizen_accounts.get(i as usize)).copied()
    }

    /// Whether a citizen is a real person (false for a mixed world's simulated citizens).
    pub fn is_real(&self, citizen: CitizenId) -> bool {
        citizen.0 >= self.engine.directory().simulated_count()
    }

    fn add_accounts(&mut self, role: Role, name: &str, subjects: impl Iterator<Item = (u32, TokenHash)>) -> Applied {
        let first = self.accounts.len() as u32;
        for (subject, token) in subjects {
            self.accounts.push(Account { role, subject, name: name.to_string(), token });
        }
        let count = self.accounts.len() as u32 - first;
        Applied::accepted(Done::Accounts { first, count }, 0)
    }

    fn apply_engine(&mut self, command: &Command) -> Result<Outcome, Refusal> {
        if self.mixed.is_some() && *command == Command::CloseDay {
            return Err(Refusal::Unsupported {
                what: "closing the day inside a batch".into(),
                reason: "in a mixed world the day closes on its own, after the simulated citizens act".into(),
            });
        }
        let outcome = self.engine.apply(command)?;
        if let Outcome::DayClosed { report } = &outcome {
            self.days.push((**report).clone());
        }
        Ok(outcome)
    }

    /// Applies a record read back from the log and checks it does what it did the first time.
    pub fn replay(&mut self, logged: &LoggedCommand) -> Result<Applied, String> {
        let applied = self.apply(&logged.command);
        if !applied.logged {
            let why = applied.result.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
            return Err(format!(
                "the {} command was refused on replay ({why}) but had been logged",
                logged.command.kind()
            ));
        }
        if applied.accepted != logged.accepted {
            return Err(format!(
                "the {} command had {} engine commands accepted when logged, {} on replay",
                logged.command.kind(),
                logged.accepted,
                applied.accepted
            ));
        }
        Ok(applied)
    }

    /// A digest of the *whole* service state (engine, accounts, day history), as the FNV-1a
    /// of its canonical JSON: equal states give equal digests. Every map is ordered, so the
    /// JSON of a state is a function of the state.
    pub fn state_hash(&self) -> u64 {
        use std::hash::Hasher;
        let bytes = serde_json::to_vec(self).expect("the service state serializes");
        let mut h = Fnv64::default();
        h.write(&bytes);
        h.finish()
    }
}

/// A snapshot: the state after log record `seq`.
#[derive(Serialize, Deserialize)]
pub struct Snapshot {
    pub format: u32,
    pub seq: u64,
    pub state: ServiceState,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Token;
    use xinyong_engine::{ProductId, ProductSpec};

    fn state() -> ServiceState {
        let mut policy = Policy::default();
        policy.groups.min_size = 1;
        let token = Token::generate().unwrap().hash();
        ServiceState::bootstrap(&ServiceCommand::Bootstrap { policy, operator: token, scenario: None }).unwrap()
    }

    fn hash() -> TokenHash {
        Token::generate().unwrap().hash()
    }

    #[test]
    fn a_refused_travel_order_is_logged_because_the_engine_counts_it() {
        let mut s = state();
        s.apply(&ServiceCommand::CreateCitizens { tokens: vec![hash()] });
        let spec = ProductSpec {
            name: "train".into(),
            brand: xinyong_engine::BrandId(0),
            category: 0,
            list_price: 100,
            travel: true,
        };
        s.apply(&ServiceCommand::Engine { command: Command::AddProduct { spec } });
        // Not found: nothing counted, nothing logged.
        let order =
            |product| Command::PlaceOrder { citizen: CitizenId(0), product: ProductId(product), units: 1, via: None };
        let applied = s.apply(&ServiceCommand::Engine { command: order(9) });
        assert!(!applied.logged && applied.result.is_err());
        // Zero units: refused and counted among "other" refused orders, so logged.
        let zero = Command::PlaceOrder { citizen: CitizenId(0), product: ProductId(0), units: 0, via: None };
        let applied = s.apply(&ServiceCommand::Engine { command: zero });
        assert!(applied.logged && applied.result.is_err() && applied.accepted == 0);
    }

    #[test]
    fn replay_notices_a_command_that_no_longer_does_what_it_did() {
        let mut s = state();
        let create = ServiceCommand::CreateCitizens { tokens: vec![hash(), hash()] };
        let logged = LoggedCommand { account: Some(0), accepted: 2, command: create };
        s.replay(&logged).unwrap();
        let wrong = LoggedCommand { accepted: 3, ..logged };
        assert!(s.replay(&wrong).unwrap_err().contains("accepted"));
        let policy = LoggedCommand {
            account: Some(0),
            accepted: 0,
            command: ServiceCommand::SetPolicy { policy: Policy::default() },
        };
        assert!(s.replay(&policy).unwrap_err().contains("refused on replay"));
    }

    #[test]
    fn the_policy_changes_only_during_setup() {
        let mut s = state();
        let mut p = Policy::default();
        p.groups.min_size = 3;
        assert!(s.apply(&ServiceCommand::SetPolicy { policy: p.clone() }).result.is_ok());
        assert_eq!(s.engine.rules().policy.groups.min_size, 3);
        p.groups.min_size = 0;
        let e = s.apply(&ServiceCommand::SetPolicy { policy: p.clone() }).result.unwrap_err();
        assert_eq!(e.code, "invalid_policy");
        s.apply(&ServiceCommand::CreateCitizens { tokens: vec![hash()] });
        p.groups.min_size = 2;
        let e = s.apply(&ServiceCommand::SetPolicy { policy: p }).result.unwrap_err();
        assert_eq!(e.code, "policy_locked");
    }

    fn synthetic(citizens: u32) -> ServiceCommand {
        let mut scenario = Scenario::default();
        scenario.run.citizens = citizens;
        scenario.run.days = 5;
        scenario.world.misconduct.daily_rate_mean = 0.01;
        ServiceCommand::Synthetic { scenario: Box::new(scenario) }
    }

    fn refusal_code(applied: Applied) -> &'static str {
        assert!(!applied.logged, "a refused command is not logged");
        applied.result.unwrap_err().code
    }

    #[test]
    fn a_synthetic_population_is_refused_unless_it_comes_first_and_fits() {
        let mut s = state();
        assert_eq!(refusal_code(s.apply(&synthetic(0))), "invalid_scenario");
        assert_eq!(refusal_code(s.apply(&synthetic(SYNTHETIC_CITIZENS_MAX + 1))), "invalid_scenario");
        let day = ServiceCommand::SimulatedDay { commands: vec![Command::CloseDay], part: 0, last: true };
        assert_eq!(refusal_code(s.apply(&day)), "not_mixed");
        s.apply(&ServiceCommand::CreateCitizens { tokens: vec![hash()] });
        assert_eq!(refusal_code(s.apply(&synthetic(400))), "world_locked");
        assert!(s.mixed.is_none() && s.engine.citizen_count() == 1, "nothing changed");
    }

    #[test]
    fn replay_checks_a_simulated_day_against_what_the_simulator_sends() {
        let mut live = state();
        assert!(live.apply(&synthetic(400)).result.is_ok());
        assert_eq!(live.engine.citizen_count(), 400);
        let closed = live.apply(&ServiceCommand::Engine { command: Command::CloseDay });
        assert!(closed.logged && closed.result.is_ok());
        let [(ServiceCommand::SimulatedDay { commands, part: 0, last: true }, 1)] = closed.log_as.as_slice() else {
            panic!("one record for a small day: {:?}", closed.log_as.len())
        };
        assert!(commands.len() > 1 && commands.last() == Some(&Command::CloseDay));
        // The same records replayed on a fresh state reach the same state.
        let mut replayed = state();
        replayed.apply(&synthetic(400));
        let record = ServiceCommand::SimulatedDay { commands: commands.clone(), part: 0, last: true };
        assert!(replayed.apply(&record).result.is_ok());
        assert_eq!(replayed.engine.state_hash(), live.engine.state_hash());
        // A log that holds other commands than the simulator sends is refused.
        let mut other = state();
        other.apply(&synthetic(400));
        let wrong = ServiceCommand::SimulatedDay { commands: commands[1..].to_vec(), part: 0, last: true };
        assert_eq!(refusal_code(other.apply(&wrong)), "simulated_day_diverged");
    }

    #[test]
    fn snapshots_round_trip_to_the_same_hash() {
        let mut s = state();
        s.apply(&ServiceCommand::CreateCitizens { tokens: vec![hash(), hash(), hash()] });
        s.apply(&ServiceCommand::CreateKol { name: "Li".into(), token: hash() });
        s.apply(&ServiceCommand::Engine {
            command: Command::SetInterests { citizen: CitizenId(1), interests: vec![0.1, 0.7, 1.0 / 3.0] },
        });
        s.apply(&ServiceCommand::Engine { command: Command::CloseDay });
        let json = serde_json::to_vec(&s).unwrap();
        let back: ServiceState = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.state_hash(), s.state_hash());
        assert_eq!(back.engine.state_hash(), s.engine.state_hash());
        assert_eq!(serde_json::to_vec(&back).unwrap(), json);
    }
}
