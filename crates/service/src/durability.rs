//! "Durable through seq N": the point up to which the log is on disk, and a way to wait
//! for it.
//!
//! Only the engine actor submits records, so it knows the seq each record will get (the
//! next one after the last); the store's acks arrive in seq order on the committer's thread
//! and move [`Durability::through`] forward. A reply — write, read or refusal — is released
//! only once everything the actor had submitted when it computed the reply is durable, so
//! no client ever sees state that a crash could take back (no read of an unacknowledged
//! write, in the same process or another).

use crate::error::ApiError;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;

#[derive(Default)]
pub struct Durability {
    through: AtomicU64,
    failed: Mutex<Option<String>>,
    waiters: Mutex<BTreeMap<u64, Vec<oneshot::Sender<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Durability {
    pub fn new(through: u64) -> Durability {
        Durability { through: AtomicU64::new(through), ..Durability::default() }
    }

    /// Seq of the last durable record.
    pub fn through(&self) -> u64 {
        self.through.load(Ordering::Acquire)
    }

    /// Why the log stopped taking records, if it did.
    pub fn failure(&self) -> Option<String> {
        lock(&self.failed).clone()
    }

    /// Record `seq` is durable (called in seq order).
    pub fn acked(&self, seq: u64) {
        self.through.fetch_max(seq, Ordering::AcqRel);
        let mut waiters = lock(&self.waiters);
        while let Some(entry) = waiters.first_entry() {
            if *entry.key() > seq {
                break;
            }
            for waiter in entry.remove() {
                let _ = waiter.send(());
            }
        }
    }

    /// The log failed: nothing after `through` will become durable in this process.
    pub fn fail(&self, reason: String) {
        lock(&self.failed).get_or_insert(reason);
        let waiters = std::mem::take(&mut *lock(&self.waiters));
        for waiter in waiters.into_values().flatten() {
            let _ = waiter.send(());
        }
    }

    /// Waits until record `seq` is durable; an error if the log failed first.
    pub async fn wait(&self, seq: u64) -> Result<(), ApiError> {
        if self.through() >= seq {
            return Ok(());
        }
        let receiver = {
            let mut waiters = lock(&self.waiters);
            // Checked again under the lock: `acked` stores before it locks.
            if self.through() >= seq {
                return Ok(());
            }
            if let Some(reason) = self.failure() {
                return Err(storage_failed(&reason));
            }
            let (sender, receiver) = oneshot::channel();
            waiters.entry(seq).or_default().push(sender);
            receiver
        };
        let _ = receiver.await;
        if self.through() >= seq {
            Ok(())
        } else {
            Err(storage_failed(&self.failure().unwrap_or_else(|| "the server is shutting down".into())))
        }
    }
}

fn storage_failed(reason: &str) -> ApiError {
    ApiError::unavailable(
        "storage_failed",
        format!(
            "the log could not be written ({reason}); nothing after the failure was kept: the operator must restart the server"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn waiters_are_released_in_order_and_by_failure() {
        let d = Arc::new(Durability::new(3));
        d.wait(2).await.unwrap();
        let d2 = Arc::clone(&d);
        let five = tokio::spawn(async move { d2.wait(5).await });
        let d3 = Arc::clone(&d);
        let seven = tokio::spawn(async move { d3.wait(7).await });
        tokio::task::yield_now().await;
        d.acked(4);
        d.acked(5);
        five.await.unwrap().unwrap();
        assert!(!seven.is_finished());
        d.fail("disk full".into());
        let error = seven.await.unwrap().unwrap_err();
        assert_eq!(error.code, "storage_failed");
        assert!(error.reason.contains("disk full"));
    }
}
