//! Per-account events for `GET /v1/events` (Server-Sent Events): a citizen's new notices,
//! the points their answers earned, their settled orders, decided appeals; day closes for
//! everyone.
//!
//! The engine actor publishes an event with the seq of the log record that caused it; the
//! stream sends it only once that record is durable. Each subscription has a bounded queue;
//! a subscriber that falls [`QUEUE_EVENTS_MAX`] events behind is disconnected (its client
//! reconnects and reads `GET /v1/notices` to catch up) rather than making the server hold
//! memory for it. Events are a convenience: everything in them can also be read.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Events queued for one subscription before it is dropped.
pub const QUEUE_EVENTS_MAX: usize = 1024;
/// Subscriptions one account may hold at once.
pub const SUBSCRIPTIONS_PER_ACCOUNT_MAX: usize = 8;

/// One event: its SSE name, its JSON data, and the log record it depends on.
#[derive(Debug, Serialize)]
pub struct Event {
    #[serde(skip)]
    pub seq: u64,
    pub kind: &'static str,
    pub data: serde_json::Value,
}

#[derive(Default)]
pub struct EventHub {
    subscribers: Mutex<HashMap<u32, Vec<mpsc::Sender<Arc<Event>>>>>,
    count: AtomicUsize,
    pub dropped_subscriptions: AtomicU64,
    pub published: AtomicU64,
}

impl EventHub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Vec<mpsc::Sender<Arc<Event>>>>> {
        self.subscribers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new subscription for `account`, or None if it holds too many already.
    pub fn subscribe(&self, account: u32) -> Option<mpsc::Receiver<Arc<Event>>> {
        let mut subscribers = self.lock();
        let list = subscribers.entry(account).or_default();
        list.retain(|s| !s.is_closed());
        if list.len() >= SUBSCRIPTIONS_PER_ACCOUNT_MAX {
            return None;
        }
        let (sender, receiver) = mpsc::channel(QUEUE_EVENTS_MAX);
        list.push(sender);
        self.count.store(subscribers.values().map(Vec::len).sum(), Ordering::Relaxed);
        Some(receiver)
    }

    /// Whether anyone listens at all (the actor skips building events otherwise).
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Subscriptions open now.
    pub fn subscriptions(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// The accounts with an open subscription now.
    pub fn listening(&self) -> std::collections::HashSet<u32> {
        self.lock().iter().filter(|(_, l)| l.iter().any(|s| !s.is_closed())).map(|(a, _)| *a).collect()
    }

    pub fn listens(&self, account: u32) -> bool {
        self.any() && self.lock().get(&account).is_some_and(|l| !l.is_empty())
    }

    /// Sends to every subscription of `account`.
    pub fn publish(&self, account: u32, event: Event) {
        if !self.any() {
            return;
        }
        let mut subscribers = self.lock();
        if let Some(list) = subscribers.get_mut(&account) {
            let event = Arc::new(event);
            self.send_all(list, &event);
        }
        self.count.store(subscribers.values().map(Vec::len).sum(), Ordering::Relaxed);
    }

    /// Sends to every subscription of every account.
    pub fn broadcast(&self, event: Event) {
        if !self.any() {
            return;
        }
        let event = Arc::new(event);
        let mut subscribers = self.lock();
        for list in subscribers.values_mut() {
            self.send_all(list, &event);
        }
        self.count.store(subscribers.values().map(Vec::len).sum(), Ordering::Relaxed);
    }

    fn send_all(&self, list: &mut Vec<mpsc::Sender<Arc<Event>>>, event: &Arc<Event>) {
        list.retain(|sender| match sender.try_send(Arc::clone(event)) {
            Ok(()) => {
                self.published.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped_subscriptions.fetch_add(1, Ordering::Relaxed);
                false
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &'static str) -> Event {
        Event { seq: 1, kind, data: serde_json::json!({}) }
    }

    #[test]
    fn events_reach_only_their_account_and_slow_readers_are_dropped() {
        let hub = EventHub::default();
        assert!(!hub.any());
        let mut mine = hub.subscribe(7).unwrap();
        let mut theirs = hub.subscribe(8).unwrap();
        hub.publish(7, event("notice"));
        assert_eq!(mine.try_recv().unwrap().kind, "notice");
        assert!(theirs.try_recv().is_err());
        hub.broadcast(event("day_closed"));
        assert_eq!(theirs.try_recv().unwrap().kind, "day_closed");
        for _ in 0..=QUEUE_EVENTS_MAX {
            hub.publish(8, event("x"));
        }
        assert!(!hub.listens(8), "a subscriber that fell behind is dropped");
        assert!(hub.listens(7));
    }
}
