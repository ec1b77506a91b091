//! The service's tests: real servers on 127.0.0.1 (ephemeral ports), real HTTP.
//!
//! PostgreSQL tests use the server named by `XINYONG_TEST_POSTGRES` (a fresh schema each);
//! without it they fail in CI (`CI` set) and print why they skip elsewhere.

mod authz;
mod bad_input;
mod common;
mod denunciation;
mod mixed;
mod restart;
mod story;
mod web_support;
