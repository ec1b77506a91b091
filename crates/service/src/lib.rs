//! The live xinyong platform: the same engine the simulator drives, driven by real people
//! over HTTP — a classroom or a lab plays citizens, KOLs, brands, a reporter (the camera
//! network) and the operator.
//!
//! # How it fits together
//!
//! ```text
//!  HTTP (axum) ──parse, authenticate, authorize──▶ engine actor (one thread)
//!                                                    │ apply to the in-memory state
//!                                                    │ changed? ──▶ store's group committer ──▶ SQLite / PostgreSQL
//!  reply ◀──── released once its records are durable ◀───────────── ack (seq) ───┘
//! ```
//!
//! * **The log is the truth** ([`state`]). Every accepted command (and the refused orders
//!   the engine counts) is one record of the store's append-only log, in the order the actor
//!   applied it. The state is the engine replayed from the log; snapshots (every N records
//!   and at clean shutdown) only shorten the replay. Replay re-runs the very function the
//!   live server ran and checks every record is accepted as it was.
//! * **One writer of state** ([`core`]): a single actor thread owns the engine and the
//!   accounts, so the log order is the apply order with no locks on the state.
//! * **Nothing acknowledged is lost, nothing unacknowledged is shown** ([`durability`]):
//!   every reply — a write, a read, a refusal — waits until every record the actor had
//!   submitted when it computed the reply is durable. A client therefore never observes
//!   state that a crash could take back, and reads see the caller's own earlier writes.
//!   One fsync acknowledges everything queued behind it (group commit), which is why this
//!   costs little.
//! * **Roles and tokens** ([`token`], [`state::Role`]): operator, reporter, citizen, KOL,
//!   brand. A token is 256 random bits, shown once; the log stores its SHA-256. A citizen's
//!   requests are answered from their own id only: no endpoint takes another citizen's id
//!   from a citizen.
//! * **Errors** ([`error`]): every refusal is a 4xx JSON body `{code, reason, details?}`.
//!
//! The engine knows nothing of HTTP, SQL, threads or clocks; this crate is where those
//! live. Its own invariant: no handler changes state except through
//! [`core::Core::execute`], which is the only caller of the store.
//!
//! # Example
//!
//! ```no_run
//! # async fn example() -> Result<(), xinyong_service::ServeError> {
//! use xinyong_service::{ServeConfig, Server};
//! let mut config = ServeConfig::new("xinyong.db");
//! config.listen = "127.0.0.1:0".parse().unwrap();
//! let server = Server::start(config).await?;
//! println!("serving on {}", server.url());
//! if let Some(token) = server.bootstrap_token() {
//!     println!("operator token: {token}"); // shown once
//! }
//! server.shutdown().await?; // snapshot, flush
//! # Ok(()) }
//! ```

pub mod api;
pub mod client;
pub mod core;
pub mod durability;
pub mod error;
pub mod events;
pub mod metrics;
pub mod server;
pub mod state;
pub mod token;
pub mod web;

pub use crate::core::{CommitMode, Started};
pub use error::{ApiError, ServeError};
pub use server::{ServeConfig, Server, serve};
pub use state::{LoggedCommand, Role, SYNTHETIC_CITIZENS_MAX, ServiceCommand, ServiceState};
pub use token::{Token, TokenHash};
