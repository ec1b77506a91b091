//! The ledger: every score change and its cause. A score is the fold of its ledger.
//!
//! Each entry records the delta actually applied (after clamping to the score bounds)
//! and the delta the rule asked for, so `score = initial + Σ applied` holds exactly and
//! a user can still see when a bound absorbed part of a change.

use crate::ids::{CitizenId, Day, IncidentId, OrderId, ReportId};
use serde::{Deserialize, Serialize};

/// An answer to a notice: expel the offender from the group, or keep them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Expel,
    Keep,
}

impl Answer {
    pub fn name(self) -> &'static str {
        match self {
            Answer::Expel => "expel",
            Answer::Keep => "keep",
        }
    }
}

/// Why a score changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Cause {
    /// The citizen was the offender of this incident.
    Incident { incident: IncidentId },
    /// The citizen answered (or, when `abstained`, was counted as answering) the notice
    /// about this incident.
    Vote { incident: IncidentId, answer: Answer, abstained: bool },
    /// An appeal of this incident was granted: its penalty is given back.
    AppealGranted { incident: IncidentId },
    /// The citizen's denunciation was confirmed and became this incident.
    DenunciationReward { report: ReportId, incident: IncidentId },
    /// The citizen's denunciation was rejected.
    FalseReport { report: ReportId },
    /// A voucher was issued for a confirmed denunciation (no points: a record).
    VoucherIssued { voucher: IncidentId },
    /// The voucher was used on this order (no points: a record).
    VoucherUsed { voucher: IncidentId, order: OrderId },
    /// The voucher expired unused (no points: a record).
    VoucherExpired { voucher: IncidentId },
}

impl Cause {
    /// A short stable name for the kind of cause (used in tables and files).
    pub fn kind(&self) -> &'static str {
        match self {
            Cause::Incident { .. } => "incident",
            Cause::Vote { answer: Answer::Expel, abstained: false, .. } => "vote_expel",
            Cause::Vote { answer: Answer::Keep, abstained: false, .. } => "vote_keep",
            Cause::Vote { answer: Answer::Expel, abstained: true, .. } => "abstain_counted_expel",
            Cause::Vote { answer: Answer::Keep, abstained: true, .. } => "abstain_counted_keep",
            Cause::AppealGranted { .. } => "appeal_granted",
            Cause::DenunciationReward { .. } => "denunciation_reward",
            Cause::FalseReport { .. } => "false_report",
            Cause::VoucherIssued { .. } => "voucher_issued",
            Cause::VoucherUsed { .. } => "voucher_used",
            Cause::VoucherExpired { .. } => "voucher_expired",
        }
    }

    /// The incident the entry is about (a voucher is named after the incident that earned
    /// it); None for a rejected report.
    pub fn incident(&self) -> Option<IncidentId> {
        match *self {
            Cause::Incident { incident }
            | Cause::Vote { incident, .. }
            | Cause::AppealGranted { incident }
            | Cause::DenunciationReward { incident, .. } => Some(incident),
            Cause::VoucherIssued { voucher }
            | Cause::VoucherUsed { voucher, .. }
            | Cause::VoucherExpired { voucher } => Some(voucher),
            Cause::FalseReport { .. } => None,
        }
    }

    /// The denunciation the entry is about, if any.
    pub fn report(&self) -> Option<ReportId> {
        match *self {
            Cause::DenunciationReward { report, .. } | Cause::FalseReport { report } => Some(report),
            _ => None,
        }
    }
}

/// One change of one citizen's score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub day: Day,
    pub citizen: CitizenId,
    /// Change applied to the score (after clamping to [score_min, score_max]).
    pub delta: i32,
    /// Change the rule asked for (differs from `delta` only at a bound).
    pub requested: i32,
    pub cause: Cause,
}

/// What the ledger keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerMode {
    /// Every entry, indexed by citizen (the service; simulations up to a size).
    Full,
    /// Only totals: for populations too large to keep every entry.
    Totals,
}

/// Sums kept in every mode; they make the conservation law checkable at any size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerTotals {
    pub entries: u64,
    /// Σ applied deltas over all entries.
    pub delta_sum: i64,
    pub incident_sum: i64,
    pub vote_sum: i64,
    pub appeal_sum: i64,
    /// Points from denunciations (rewards and penalties for false reports).
    #[serde(default)]
    pub denunciation_sum: i64,
}

impl LedgerTotals {
    pub fn add(&mut self, entry: &LedgerEntry) {
        self.entries += 1;
        self.delta_sum += entry.delta as i64;
        match entry.cause {
            Cause::Incident { .. } => self.incident_sum += entry.delta as i64,
            Cause::Vote { .. } => self.vote_sum += entry.delta as i64,
            Cause::AppealGranted { .. } => self.appeal_sum += entry.delta as i64,
            Cause::DenunciationReward { .. } | Cause::FalseReport { .. } => self.denunciation_sum += entry.delta as i64,
            Cause::VoucherIssued { .. } | Cause::VoucherUsed { .. } | Cause::VoucherExpired { .. } => {}
        }
    }

    pub fn merge(&mut self, other: &LedgerTotals) {
        self.entries += other.entries;
        self.delta_sum += other.delta_sum;
        self.incident_sum += other.incident_sum;
        self.vote_sum += other.vote_sum;
        self.appeal_sum += other.appeal_sum;
        self.denunciation_sum += other.denunciation_sum;
    }
}

/// The append-only ledger.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ledger {
    mode: LedgerMode,
    entries: Vec<LedgerEntry>,
    /// Entry positions per citizen (Full mode only).
    by_citizen: Vec<Vec<u32>>,
    totals: LedgerTotals,
}

impl Ledger {
    /// Heap bytes of the entries and the per-citizen index.
    pub fn heap_bytes(&self) -> u64 {
        let index: usize = self.by_citizen.iter().map(|v| v.capacity() * 4).sum();
        (self.entries.capacity() * std::mem::size_of::<LedgerEntry>()
            + self.by_citizen.capacity() * std::mem::size_of::<Vec<u32>>()
            + index) as u64
    }

    pub fn new(mode: LedgerMode) -> Ledger {
        Ledger { mode, entries: Vec::new(), by_citizen: Vec::new(), totals: LedgerTotals::default() }
    }

    pub fn mode(&self) -> LedgerMode {
        self.mode
    }

    pub fn record(&mut self, entry: LedgerEntry) {
        self.totals.add(&entry);
        self.append(entry);
    }

    /// Adds totals computed elsewhere (a fold over groups) without entries.
    pub(crate) fn add_totals(&mut self, totals: &LedgerTotals) {
        self.totals.merge(totals);
    }

    /// Stores an entry whose totals were already counted (Full mode only).
    pub(crate) fn append(&mut self, entry: LedgerEntry) {
        if self.mode == LedgerMode::Full {
            let position = u32::try_from(self.entries.len()).expect("ledger holds at most 2^32 entries in Full mode");
            let c = entry.citizen.index();
            if self.by_citizen.len() <= c {
                self.by_citizen.resize_with(c + 1, Vec::new);
            }
            self.by_citizen[c].push(position);
            self.entries.push(entry);
        }
    }

    pub fn totals(&self) -> LedgerTotals {
        self.totals
    }

    /// All entries, in the order they were recorded (Full mode; empty otherwise).
    pub fn entries(&self) -> &[LedgerEntry] {
        &self.entries
    }

    /// The entries of one citizen, oldest first (Full mode; empty otherwise).
    pub fn of(&self, citizen: CitizenId) -> impl Iterator<Item = &LedgerEntry> {
        self.by_citizen
            .get(citizen.index())
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.entries[i as usize])
    }
}
