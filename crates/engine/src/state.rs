//! The engine's state, laid out for scale: `u32` ids, members stored inside their
//! group (a group's votes touch one contiguous slice), 8 bytes of mutable state per
//! citizen, no per-citizen heap allocation.

use crate::ids::{BrandId, CitizenId, Day, GroupId, IncidentId, KolId, ProductId, ReportId};
use crate::ledger::Answer;
use crate::pricing::{Fen, PriceBreakdown};
use serde::{Deserialize, Serialize};

/// A citizen's mutable state: 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Member {
    pub citizen: CitizenId,
    /// Score minus `score_min` (fits 16 bits: the policy bounds the range).
    pub score_offset: u16,
    /// Tier index as of the last day close (0 = highest tier).
    pub tier: u8,
    /// Bit 0: the score changed since the tier was last computed.
    pub flags: u8,
}

pub(crate) const FLAG_SCORE_CHANGED: u8 = 1;

const _: () = assert!(std::mem::size_of::<Member>() == 8);

/// A citizen with no group: expelled and waiting, or new.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GrouplessMember {
    pub member: Member,
    /// The day at whose close the citizen may be placed into a group again.
    pub eligible_day: Day,
}

/// How a notice recipient answered so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum AnswerSlot {
    None = 0,
    Expel = 1,
    Keep = 2,
}

impl AnswerSlot {
    pub fn answer(self) -> Option<Answer> {
        match self {
            AnswerSlot::None => None,
            AnswerSlot::Expel => Some(Answer::Expel),
            AnswerSlot::Keep => Some(Answer::Keep),
        }
    }
}

impl From<Answer> for AnswerSlot {
    fn from(a: Answer) -> Self {
        match a {
            Answer::Expel => AnswerSlot::Expel,
            Answer::Keep => AnswerSlot::Keep,
        }
    }
}

/// The notices about one incident: one per group-mate of the offender.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NoticeBatch {
    pub incident: IncidentId,
    pub offender: CitizenId,
    /// Answers are taken until the end of this day, then tallied.
    pub deadline: Day,
    /// Recipients, sorted by id.
    pub recipients: Vec<CitizenId>,
    /// `answers[i]` is `recipients[i]`'s answer so far.
    pub answers: Vec<AnswerSlot>,
}

impl NoticeBatch {
    pub fn position(&self, citizen: CitizenId) -> Option<usize> {
        self.recipients.binary_search(&citizen).ok()
    }
}

/// Counters a group keeps about its own past (the voting model's "what the group did before").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupHistory {
    /// Notices tallied in this group.
    pub votes: u32,
    /// Offenders this group expelled.
    pub expulsions: u32,
}

/// An incident reported today, waiting for the close to notify the offender's group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TodayIncident {
    pub id: IncidentId,
    pub kind: u8,
}

/// What happened in a group (or among the groupless) since the last close.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupToday {
    pub incidents: Vec<TodayIncident>,
    pub orders: Vec<Order>,
    /// Denunciations filed today by members (kept until decided or the close).
    pub reports: Vec<Report>,
}

/// An interest group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Group {
    /// Members sorted by citizen id.
    pub(crate) members: Vec<Member>,
    /// Notices delivered and waiting for their deadline.
    pub(crate) open: Vec<NoticeBatch>,
    pub history: GroupHistory,
    pub(crate) today: GroupToday,
}

impl Group {
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn size(&self) -> u32 {
        self.members.len() as u32
    }

    pub fn open_notices(&self) -> &[NoticeBatch] {
        &self.open
    }

    pub(crate) fn slot(&self, citizen: CitizenId) -> Option<usize> {
        self.members.binary_search_by_key(&citizen, |m| m.citizen).ok()
    }

    /// Orders placed in this group today (not yet settled).
    pub fn orders_today(&self) -> &[Order] {
        &self.today.orders
    }

    /// Incidents reported against members today (notified at the close).
    pub fn incidents_today(&self) -> &[TodayIncident] {
        &self.today.incidents
    }
}

/// Where an appeal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AppealStatus {
    NotAppealed,
    Filed { day: Day },
    Granted { filed: Day, decided: Day },
    Rejected { filed: Day, decided: Day },
}

/// Where an incident came from (the engine knows who reported it, never whether it is true).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum IncidentSource {
    /// The camera network (or a reporter).
    #[default]
    Camera,
    /// A citizen's denunciation, confirmed.
    Denunciation { report: ReportId },
}

/// Where a denunciation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReportStatus {
    Pending,
    Confirmed { incident: IncidentId, decided: Day },
    Rejected { decided: Day },
}

/// A citizen's report against a group-mate: not an incident until confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Report {
    pub id: ReportId,
    pub accused: CitizenId,
    /// Index into the policy's incident kinds.
    pub kind: u8,
    /// The day of the alleged incident.
    pub day: Day,
    pub status: ReportStatus,
}

/// A voucher earned by a confirmed denunciation: named after the incident it became.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Voucher {
    pub id: IncidentId,
    pub holder: CitizenId,
    pub discount_bp: u32,
    /// Usable on orders placed from the day after it is issued until this day included.
    pub expires: Day,
}

/// What the group decided about an incident.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VoteOutcome {
    pub notified: u32,
    pub expel: u32,
    pub keep: u32,
    /// Recipients who did not answer (counted per `abstain_as`).
    pub unanswered: u32,
    pub expelled: bool,
}

/// An incident attributed to a citizen.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    /// Index into the policy's incident kinds.
    pub kind: u8,
    /// The day the incident happened (≤ the day it was reported, `id.day`).
    pub day: Day,
    /// The offender's group when the incident was reported.
    pub group: Option<GroupId>,
    /// Penalty actually applied (≤ 0).
    pub penalty_applied: i32,
    #[serde(default)]
    pub source: IncidentSource,
    /// Filled when the notices are tallied.
    pub outcome: Option<VoteOutcome>,
    pub appeal: AppealStatus,
}

/// A product of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Product {
    pub name: String,
    pub brand: BrandId,
    /// Interest topic / category index (meaning set by the world or the operator).
    pub category: u16,
    pub list_price: Fen,
    /// Train or plane ticket: refused to citizens whose tier restricts travel.
    pub travel: bool,
    /// Days on which a scandal about this product was revealed.
    pub scandals: Vec<Day>,
}

/// What a product needs to enter the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductSpec {
    pub name: String,
    pub brand: BrandId,
    pub category: u16,
    pub list_price: Fen,
    pub travel: bool,
}

/// A key opinion leader.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kol {
    pub name: String,
    /// In [0, 1]; raises the conversion of the KOL's promotions.
    pub credibility: f64,
    pub promotions: u64,
    /// Units sold through this KOL's promotions (settled orders).
    pub units_sold: u64,
    /// Scandals that hit this KOL.
    pub scandals_hit: u32,
}

/// An order placed today, settled at the day's close.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Order {
    pub id: crate::ids::OrderId,
    pub product: ProductId,
    pub units: u32,
    /// The buyer's group when ordering: the pool the order joins.
    pub group: Option<GroupId>,
    /// The buyer's credit-tier discount (non-zero only on a favourite).
    pub credit_discount_bp: u32,
    pub promotion: Option<KolId>,
    /// The voucher this order uses, if any.
    #[serde(default)]
    pub voucher: Option<Voucher>,
}

/// A settled order: what was paid and why.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SettledOrder {
    pub order: Order,
    /// Units in the order's pool (0 when groupless).
    pub pool_units: u64,
    /// Pool tier reached (0 = none).
    pub pool_tier: u8,
    pub price: PriceBreakdown,
    pub total: Fen,
}

/// A citizen's answer as recorded, for views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeView {
    pub incident: IncidentId,
    pub offender: CitizenId,
    pub kind: u8,
    pub group: GroupId,
    pub deadline: Day,
    pub answer: Option<Answer>,
}

/// Serializes a map as a list of pairs, for maps whose keys are not strings (JSON
/// snapshots cannot have struct keys).
pub(crate) mod map_as_pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(map: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
