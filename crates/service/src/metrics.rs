//! Counters and histograms for `GET /metrics`, in the Prometheus text format.
//!
//! Hand-written rather than a metrics crate: a few atomics and one small map are all the
//! service needs, and the exposition format is a page of text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS_SECONDS: [f64; 14] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// A latency histogram with fixed buckets (cumulative on output).
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS_SECONDS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let i = BUCKETS_SECONDS.iter().position(|&b| seconds <= b).unwrap_or(BUCKETS_SECONDS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(elapsed.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS_SECONDS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[BUCKETS_SECONDS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9);
        let _ = writeln!(out, "{name}_count {}", self.count.load(Ordering::Relaxed));
    }
}

/// Everything the service counts.
#[derive(Default)]
pub struct Metrics {
    /// (route template, method, status) → requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    pub request_seconds: Histogram,
    /// From submitting a record to its durable ack.
    pub commit_seconds: Histogram,
    pub commands_accepted: AtomicU64,
    pub commands_refused: AtomicU64,
    pub records_submitted: AtomicU64,
    pub panics: AtomicU64,
    pub snapshots_saved: AtomicU64,
}

/// Figures read from the state when `/metrics` is served.
#[derive(Default)]
pub struct Gauges {
    pub log_seq_durable: u64,
    pub log_records_committed: u64,
    pub log_commits: u64,
    pub log_queue_records: u64,
    pub day: u32,
    pub citizens: u32,
    pub groups: u32,
    pub groupless: u32,
    pub products: u32,
    pub kols: u32,
    pub accounts: u32,
    pub orders_pending: u64,
    pub sse_subscriptions: u64,
}

impl Metrics {
    pub fn count_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.request_seconds.observe(elapsed);
        let mut requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Route templates only (never raw paths), so the map stays small.
        if let Some(n) = requests.get_mut(&(route.to_string(), method.to_string(), status)) {
            *n += 1;
        } else {
            requests.insert((route.to_string(), method.to_string(), status), 1);
        }
    }

    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        out.push_str("# HELP xinyong_http_requests_total HTTP requests by route template, method and status.\n");
        out.push_str("# TYPE xinyong_http_requests_total counter\n");
        for ((route, method, status), n) in self.requests.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "xinyong_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        self.request_seconds.render(&mut out, "xinyong_http_request_duration_seconds", "Time to answer a request.");
        self.commit_seconds.render(
            &mut out,
            "xinyong_commit_latency_seconds",
            "From submitting a log record to its durable acknowledgement (group commit).",
        );
        let counters = [
            ("xinyong_commands_accepted_total", "Commands the engine accepted.", &self.commands_accepted),
            ("xinyong_commands_refused_total", "Commands the engine or the service refused.", &self.commands_refused),
            ("xinyong_log_records_submitted_total", "Log records submitted by this process.", &self.records_submitted),
            ("xinyong_panics_total", "Requests that panicked (answered 500).", &self.panics),
            ("xinyong_snapshots_saved_total", "Snapshots saved by this process.", &self.snapshots_saved),
        ];
        for (name, help, value) in counters {
            let _ =
                writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Ordering::Relaxed));
        }
        let g = gauges;
        let values: [(&str, &str, u64); 13] = [
            ("xinyong_log_seq", "Seq of the last durable log record.", g.log_seq_durable),
            ("xinyong_log_records_committed", "Records committed by this process.", g.log_records_committed),
            ("xinyong_log_commits", "Transactions committed by this process.", g.log_commits),
            ("xinyong_log_queue_records", "Records waiting to be committed.", g.log_queue_records),
            ("xinyong_day", "The open day.", g.day as u64),
            ("xinyong_citizens", "Registered citizens.", g.citizens as u64),
            ("xinyong_groups", "Interest groups.", g.groups as u64),
            ("xinyong_groupless", "Citizens in no group.", g.groupless as u64),
            ("xinyong_products", "Products in the catalogue.", g.products as u64),
            ("xinyong_kols", "Key opinion leaders.", g.kols as u64),
            ("xinyong_accounts", "Accounts of every role.", g.accounts as u64),
            ("xinyong_orders_pending", "Orders placed today, not yet settled.", g.orders_pending),
            ("xinyong_sse_subscriptions", "Open event streams.", g.sse_subscriptions),
        ];
        for (name, help, value) in values {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_cumulative_buckets() {
        let m = Metrics::default();
        m.commit_seconds.observe(Duration::from_micros(300));
        m.commit_seconds.observe(Duration::from_millis(3));
        m.count_request("/v1/orders", "POST", 201, Duration::from_millis(1));
        let text = m.render(&Gauges { day: 4, ..Gauges::default() });
        assert!(text.contains("xinyong_commit_latency_seconds_bucket{le=\"0.0005\"} 1\n"), "{text}");
        assert!(text.contains("xinyong_commit_latency_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("xinyong_commit_latency_seconds_count 2\n"));
        assert!(text.contains("xinyong_http_requests_total{route=\"/v1/orders\",method=\"POST\",status=\"201\"} 1\n"));
        assert!(text.contains("xinyong_day 4\n"));
    }
}
