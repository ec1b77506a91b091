//! The xinyong engine: every rule of the social-commerce social-credit system of the
//! article, in one pure, deterministic state machine.
//!
//! It knows nothing of HTTP, SQL, files, threads, clocks or global randomness: commands
//! come in, outcomes or [`Refusal`]s go out, and [`Engine::close_day`] advances time.
//! The simulator and the live service both drive this one engine, so a rule lives in
//! exactly one place.
//!
//! The drunk-night story of the article, end to end:
//!
//! ```
//! use xinyong_engine::*;
//!
//! let mut rules = Policy::default();
//! rules.groups.min_size = 1; // a tiny group for the example
//! let mut engine = Engine::new(rules.validate().unwrap(), StoredDirectory::new(), EngineOptions::default());
//! let people = engine.register_citizens(4).unwrap();
//! let group = engine.create_group().unwrap();
//! for c in people.clone() {
//!     engine.assign_group(CitizenId(c), group).unwrap();
//! }
//! let x = CitizenId(0);
//!
//! // Day 0: the cameras identify X drunk at night.
//! let incident = engine.report_incident_named(x, "public_drunkenness", 0).unwrap();
//! engine.close_day(); // the notices go out
//!
//! // Day 1: every group-mate gets the same message: expel X, or keep X.
//! engine.answer_notice(CitizenId(1), incident, Answer::Expel).unwrap();
//! engine.answer_notice(CitizenId(2), incident, Answer::Expel).unwrap();
//! engine.answer_notice(CitizenId(3), incident, Answer::Keep).unwrap();
//! let day = engine.close_day();
//!
//! assert_eq!(engine.score(CitizenId(1)).unwrap(), 1003); // expel: +3
//! assert_eq!(engine.score(CitizenId(3)).unwrap(), 997); // keep: −3
//! assert_eq!(day.expelled, vec![(incident, x)]); // 2 of 3 ≥ the 0.5 quorum
//! assert_eq!(engine.group_of(x).unwrap(), None);
//! ```

pub mod command;
pub mod directory;
pub mod engine;
pub mod exec;
mod group;
pub mod ids;
pub mod incidents;
pub mod ledger;
pub mod policy;
pub mod pricing;
pub mod promotions;
pub mod refusal;
pub mod state;
pub mod stats;

pub use command::{Command, Outcome};
pub use directory::{Directory, StoredDirectory};
pub use engine::{
    CitizenView, DayReport, Engine, EngineOptions, Explanation, Fnv64, GroupDay, GrouplessDay, LocalDay, OrderReceipt,
    Populate, Quote,
};
pub use exec::{Executor, Sequential};
pub use ids::{BrandId, CitizenId, Day, GroupId, IncidentId, KolId, OrderId, ProductId, PromotionId, ReportId};
pub use ledger::{Answer, Cause, Ledger, LedgerEntry, LedgerMode, LedgerTotals};
pub use policy::{AbstainAs, Policy, PolicyError, Restriction, Restrictions, Rules, Tier};
pub use pricing::{Fen, PriceBreakdown, format_yuan, unit_price};
pub use refusal::Refusal;
pub use state::{
    AnswerSlot, AnswerSlots, AppealStatus, Group, GroupHistory, GroupToday, GrouplessMember, Incident, IncidentSource,
    Kol, Member, NoticeBatch, NoticeView, Order, Product, ProductSpec, RecipientIter, Report, ReportStatus,
    SettledOrder, TodayIncident, VoteOutcome, Voucher,
};
pub use stats::ScoreHistogram;
