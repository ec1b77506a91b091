//! The store's contract, the committer's promises and crash safety, checked against SQLite
//! always and against PostgreSQL when `XINYONG_TEST_POSTGRES` names a server (see `common`).
//!
//! One test binary (one link) for all of them: builds are slow here.

mod committer;
mod common;
mod contract;
mod crash;
