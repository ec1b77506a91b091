//! The engine's state, laid out for scale: `u32` ids, members stored inside their
//! group (a group's votes touch one contiguous slice), 6 bytes of mutable state per
//! citizen, no per-citizen heap allocation.

use crate::ids::{BrandId, CitizenId, Day, GroupId, IncidentId, KolId, ProductId, ReportId};
use crate::ledger::Answer;
use crate::pricing::{Fen, PriceBreakdown};
use serde::{Deserialize, Serialize};

/// A citizen's mutable state: 6 bytes, packed (no padding: at 1.4 billion citizens each
/// byte is 1.3 GiB). The id, then one 16-bit word: the score, the tier and a mark. Fields
/// are read and written by value; a packed field cannot be borrowed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "MemberFields", into = "MemberFields")]
#[repr(C, packed)]
pub struct Member {
    pub citizen: CitizenId,
    /// Bits 0–11: the score minus `score_min` (the policy bounds the range to
    /// [`crate::policy::SCORE_RANGE_MAX`]). Bits 12–14: the tier index as of the last day
    /// close (0 = highest tier; at most [`crate::policy::TIERS_MAX`] tiers). Bit 15: the
    /// score changed since.
    pub(crate) state: u16,
}

const SCORE_BITS: u32 = 12;
const SCORE_MASK: u16 = (1 << SCORE_BITS) - 1;
const TIER_MASK: u16 = 0x7 << SCORE_BITS;
const SCORE_CHANGED: u16 = 0x8000;
const _: () = assert!(crate::policy::SCORE_RANGE_MAX == SCORE_MASK as i64);
const _: () = assert!(crate::policy::TIERS_MAX == (TIER_MASK >> SCORE_BITS) as usize + 1);
const _: () = assert!(SCORE_MASK & TIER_MASK == 0 && (SCORE_MASK | TIER_MASK) & SCORE_CHANGED == 0);
const _: () = assert!(std::mem::size_of::<Member>() == 6);

impl Member {
    pub fn new(citizen: CitizenId, score_offset: u16, tier: u8) -> Member {
        assert!(score_offset <= SCORE_MASK, "score offset {score_offset} beyond the policy's bound");
        assert!((tier as usize) < crate::policy::TIERS_MAX, "tier {tier} beyond the policy's bound");
        Member { citizen, state: score_offset | (tier as u16) << SCORE_BITS }
    }

    /// The score minus `score_min`.
    pub fn score_offset(&self) -> u16 {
        self.state & SCORE_MASK
    }

    /// Sets the score (minus `score_min`); the tier and the mark are left as they are.
    pub(crate) fn set_score_offset(&mut self, offset: u16) {
        debug_assert!(offset <= SCORE_MASK);
        self.state = (self.state & !SCORE_MASK) | (offset & SCORE_MASK);
    }

    /// Tier index as of the last day close (0 = highest tier).
    pub fn tier(&self) -> u8 {
        ((self.state & TIER_MASK) >> SCORE_BITS) as u8
    }

    /// Whether the score changed since the tier was last computed.
    pub fn score_changed(&self) -> bool {
        self.state & SCORE_CHANGED != 0
    }

    pub(crate) fn mark_score_changed(&mut self) {
        self.state |= SCORE_CHANGED;
    }

    /// Records the tier of the current score (and clears the changed mark).
    pub(crate) fn set_tier(&mut self, tier: u8) {
        debug_assert!((tier as usize) < crate::policy::TIERS_MAX);
        self.state = (self.state & SCORE_MASK) | ((tier as u16) << SCORE_BITS & TIER_MASK);
    }
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let citizen = self.citizen;
        f.debug_struct("Member")
            .field("citizen", &citizen)
            .field("score_offset", &self.score_offset())
            .field("tier", &self.tier())
            .field("score_changed", &self.score_changed())
            .finish()
    }
}

/// [`Member`]'s serialized form (unchanged from when it was four aligned fields).
#[derive(Serialize, Deserialize)]
struct MemberFields {
    citizen: CitizenId,
    score_offset: u16,
    tier: u8,
    flags: u8,
}

impl From<Member> for MemberFields {
    fn from(m: Member) -> MemberFields {
        MemberFields {
            citizen: m.citizen,
            score_offset: m.score_offset(),
            tier: m.tier(),
            flags: m.score_changed() as u8,
        }
    }
}

impl TryFrom<MemberFields> for Member {
    type Error = String;

    fn try_from(m: MemberFields) -> Result<Member, String> {
        if m.score_offset > SCORE_MASK {
            return Err(format!(
                "member {}: score offset {} is beyond {} (policy.score_max − policy.score_min)",
                m.citizen, m.score_offset, SCORE_MASK
            ));
        }
        if m.tier as usize >= crate::policy::TIERS_MAX {
            return Err(format!(
                "member {}: tier {} is beyond the {} tiers allowed",
                m.citizen,
                m.tier,
                crate::policy::TIERS_MAX
            ));
        }
        let mut member = Member::new(m.citizen, m.score_offset, m.tier);
        if m.flags & 1 != 0 {
            member.mark_score_changed();
        }
        Ok(member)
    }
}

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

/// The answers to one notice batch, two bits each (four a byte).
///
/// A day's notices stay open until the next close, ~250 answers each: at a byte an answer
/// that was ~0.3 B a citizen (0.4 GB at China scale), at two bits a quarter of it.
/// Serialized, compared and hashed as the list of [`AnswerSlot`]s it stands for, so
/// stored state and state hashes are as before.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnswerSlots {
    len: u32,
    bits: Box<[u8]>,
}

impl AnswerSlots {
    /// `len` slots, all [`AnswerSlot::None`].
    pub fn new(len: usize) -> AnswerSlots {
        AnswerSlots::try_new(len).expect("a batch has fewer than 2^32 recipients")
    }

    /// `len` slots, all [`AnswerSlot::None`]; `None` if `len` does not fit the `u32` length.
    fn try_new(len: usize) -> Option<AnswerSlots> {
        Some(AnswerSlots { len: u32::try_from(len).ok()?, bits: vec![0; len.div_ceil(4)].into() })
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> AnswerSlot {
        assert!(i < self.len(), "answer slot {i} of {}", self.len);
        match (self.bits[i / 4] >> (2 * (i % 4))) & 3 {
            0 => AnswerSlot::None,
            1 => AnswerSlot::Expel,
            2 => AnswerSlot::Keep,
            other => unreachable!("answer slot holds {other}: only 0, 1 and 2 are ever written"),
        }
    }

    pub fn set(&mut self, i: usize, slot: AnswerSlot) {
        assert!(i < self.len(), "answer slot {i} of {}", self.len);
        let shift = 2 * (i % 4);
        let byte = &mut self.bits[i / 4];
        *byte = (*byte & !(3 << shift)) | ((slot as u8) << shift);
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = AnswerSlot> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    fn heap_bytes(&self) -> usize {
        self.bits.len()
    }
}

impl std::hash::Hash for AnswerSlots {
    /// As `Vec<AnswerSlot>` hashes: the length, then each slot.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        self.iter().for_each(|slot| slot.hash(state));
    }
}

impl Serialize for AnswerSlots {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for AnswerSlots {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<AnswerSlots, De::Error> {
        let slots = Vec::<AnswerSlot>::deserialize(deserializer)?;
        let mut out = AnswerSlots::try_new(slots.len()).ok_or_else(|| {
            serde::de::Error::custom(format!("{} answers in one notice batch (at most 2^32 - 1)", slots.len()))
        })?;
        slots.into_iter().enumerate().for_each(|(i, slot)| out.set(i, slot));
        Ok(out)
    }
}

/// The notices about one incident: one per group-mate of the offender.
///
/// Who was notified is, in nearly every case, "the group's members at delivery except the
/// offender", and the group has not changed since: the batch then stores no list at all
/// (4 bytes a recipient saved, ~1 B a citizen at China scale). Before the group's roster
/// changes, [`Group`] writes the list out (`Recipients::Listed`). Every read of an unlisted
/// batch checks a stamp of the roster, so a change that forgot to list fails loudly
/// instead of answering for the wrong people.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NoticeBatch {
    pub incident: IncidentId,
    pub offender: CitizenId,
    /// Answers are taken until the end of this day, then tallied.
    pub deadline: Day,
    recipients: Recipients,
    /// `answers.get(i)` is the `i`-th recipient's answer so far (recipients sorted by id).
    pub answers: AnswerSlots,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Recipients {
    /// The group's members at delivery minus the offender; `stamp` is [`roster_stamp`] of
    /// the members then.
    Roster { stamp: u64 },
    /// Sorted by id (written out when the roster changed while the notice was open).
    Listed(Vec<CitizenId>),
}

/// A fingerprint of a group's roster (its member ids in order).
pub(crate) fn roster_stamp(members: &[Member]) -> u64 {
    members.iter().fold(members.len() as u64, |h, m| (h ^ m.citizen.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl NoticeBatch {
    /// A batch for every member of `members` (the group's roster now) but the offender.
    pub(crate) fn to_roster(incident: IncidentId, deadline: Day, members: &[Member]) -> NoticeBatch {
        let offender = incident.citizen;
        let count = members.len() - members.binary_search_by_key(&offender, |m| m.citizen).is_ok() as usize;
        NoticeBatch {
            incident,
            offender,
            deadline,
            recipients: Recipients::Roster { stamp: roster_stamp(members) },
            answers: AnswerSlots::new(count),
        }
    }

    /// How many citizens were notified.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// The recipients' ids, sorted. `members` is the batch's group's members now.
    pub fn recipients<'a>(&'a self, members: &'a [Member]) -> RecipientIter<'a> {
        match &self.recipients {
            Recipients::Listed(list) => {
                RecipientIter { listed: Some(list.iter()), members: [].iter(), offender: self.offender }
            }
            Recipients::Roster { stamp } => {
                check_roster(*stamp, members);
                RecipientIter { listed: None, members: members.iter(), offender: self.offender }
            }
        }
    }

    /// The `index`-th recipient.
    pub fn recipient(&self, members: &[Member], index: usize) -> CitizenId {
        match &self.recipients {
            Recipients::Listed(list) => list[index],
            Recipients::Roster { stamp } => {
                check_roster(*stamp, members);
                members[self.roster_slot(members, index)].citizen
            }
        }
    }

    /// Where `citizen` is among the recipients.
    pub fn position(&self, members: &[Member], citizen: CitizenId) -> Option<usize> {
        match &self.recipients {
            Recipients::Listed(list) => list.binary_search(&citizen).ok(),
            Recipients::Roster { stamp } => {
                check_roster(*stamp, members);
                if citizen == self.offender {
                    return None;
                }
                let slot = members.binary_search_by_key(&citizen, |m| m.citizen).ok()?;
                Some(slot - (self.offender_slot(members).is_some_and(|o| o < slot)) as usize)
            }
        }
    }

    /// Whether the recipients are written out (the roster changed since delivery).
    pub(crate) fn is_listed(&self) -> bool {
        matches!(self.recipients, Recipients::Listed(_))
    }

    /// Checks, for a batch not written out, that `members` is still the roster it was
    /// delivered to (cost: one pass over the members).
    pub(crate) fn check_roster(&self, members: &[Member]) {
        if let Recipients::Roster { stamp } = self.recipients {
            check_roster(stamp, members);
        }
    }

    fn offender_slot(&self, members: &[Member]) -> Option<usize> {
        members.binary_search_by_key(&self.offender, |m| m.citizen).ok()
    }

    fn roster_slot(&self, members: &[Member], index: usize) -> usize {
        index + self.offender_slot(members).is_some_and(|o| o <= index) as usize
    }

    /// Writes the recipients out, before the roster `members` changes.
    /// Heap bytes this batch holds (its answers and, once written out, its recipients).
    pub(crate) fn heap_bytes(&self) -> u64 {
        let listed = match &self.recipients {
            Recipients::Listed(list) => list.capacity() * std::mem::size_of::<CitizenId>(),
            Recipients::Roster { .. } => 0,
        };
        (self.answers.heap_bytes() + listed) as u64
    }

    fn list(&mut self, members: &[Member]) {
        if matches!(self.recipients, Recipients::Roster { .. }) {
            let list: Vec<CitizenId> = self.recipients(members).collect();
            debug_assert_eq!(list.len(), self.answers.len());
            self.recipients = Recipients::Listed(list);
        }
    }
}

#[track_caller]
fn check_roster(stamp: u64, members: &[Member]) {
    assert_eq!(roster_stamp(members), stamp, "a group's roster changed while a notice to it was open and unlisted");
}

/// The recipients of a notice batch, in id order.
pub struct RecipientIter<'a> {
    listed: Option<std::slice::Iter<'a, CitizenId>>,
    members: std::slice::Iter<'a, Member>,
    offender: CitizenId,
}

impl Iterator for RecipientIter<'_> {
    type Item = CitizenId;

    fn next(&mut self) -> Option<CitizenId> {
        if let Some(list) = &mut self.listed {
            return list.next().copied();
        }
        self.members.by_ref().map(|m| m.citizen).find(|&c| c != self.offender)
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

impl GroupToday {
    pub fn is_empty(&self) -> bool {
        self.incidents.is_empty() && self.orders.is_empty() && self.reports.is_empty()
    }
}

/// Nothing pending: what an unallocated [`Pending`] reads as.
static NOTHING_PENDING: GroupToday = GroupToday { incidents: Vec::new(), orders: Vec::new(), reports: Vec::new() };

/// A group's [`GroupToday`], boxed, and only while something is pending.
///
/// Between two groups' days (and in a simulation, between closes) almost every group has
/// nothing pending, and three empty lists inline would be 72 B a group (0.29 B a citizen:
/// 0.4 GB at China scale). Reading an empty one allocates nothing; the first write
/// allocates; [`Pending::release_if_empty`] gives the box back. Serialized as the plain
/// `GroupToday`, so stored state and messages read as before.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pending(Option<Box<GroupToday>>);

impl Pending {
    /// Drops the box once it holds nothing (keeping it empty would cost its 72 B).
    pub(crate) fn release_if_empty(&mut self) {
        if self.0.as_deref().is_some_and(GroupToday::is_empty) {
            self.0 = None;
        }
    }

    /// Puts a worker's spare box in place while nothing is pending, so that the day's first
    /// write reuses the lists' capacity left by an earlier group instead of allocating.
    pub(crate) fn lend(&mut self, spare: &mut Option<Box<GroupToday>>) {
        if self.0.is_none() {
            self.0 = spare.take();
            debug_assert!(self.0.as_deref().is_none_or(GroupToday::is_empty), "a spare box holds nothing");
        }
    }

    /// Gives the box to `spare`, capacity and all, once it holds nothing.
    pub(crate) fn take_back(&mut self, spare: &mut Option<Box<GroupToday>>) {
        if self.0.as_deref().is_some_and(GroupToday::is_empty) {
            *spare = self.0.take();
        }
    }

    /// The pending lists if there are any, without allocating.
    pub(crate) fn allocated_mut(&mut self) -> Option<&mut GroupToday> {
        self.0.as_deref_mut()
    }

    /// The box itself (its lists' buffers are counted apart).
    pub(crate) fn box_bytes(&self) -> u64 {
        if self.0.is_some() { std::mem::size_of::<GroupToday>() as u64 } else { 0 }
    }
}

impl std::ops::Deref for Pending {
    type Target = GroupToday;
    fn deref(&self) -> &GroupToday {
        self.0.as_deref().unwrap_or(&NOTHING_PENDING)
    }
}

impl std::ops::DerefMut for Pending {
    /// Allocates on the first write (see [`Pending::release_if_empty`]).
    fn deref_mut(&mut self) -> &mut GroupToday {
        self.0.get_or_insert_with(Box::default)
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Pending) -> bool {
        **self == **other
    }
}

impl Eq for Pending {}

impl std::hash::Hash for Pending {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl Serialize for Pending {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Pending {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<Pending, De::Error> {
        let today = GroupToday::deserialize(deserializer)?;
        Ok(Pending((!today.is_empty()).then(|| Box::new(today))))
    }
}

/// An interest group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Group {
    /// Members sorted by citizen id.
    pub(crate) members: Vec<Member>,
    /// Notices delivered and waiting for their deadline.
    pub(crate) open: Vec<NoticeBatch>,
    pub history: GroupHistory,
    pub(crate) today: Pending,
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

    /// Adds a member at `at` (keeping ids sorted). Every change of the roster goes through
    /// this, [`Group::push_member`] or [`Group::remove_member`]: open notices are written
    /// out first (see [`NoticeBatch`]).
    pub(crate) fn insert_member(&mut self, at: usize, member: Member) {
        self.list_recipients();
        self.members.insert(at, member);
    }

    /// Adds a member whose id is above every member's.
    pub(crate) fn push_member(&mut self, member: Member) {
        debug_assert!(self.members.last().is_none_or(|m| { m.citizen } < { member.citizen }));
        self.list_recipients();
        self.members.push(member);
    }

    pub(crate) fn remove_member(&mut self, slot: usize) -> Member {
        self.list_recipients();
        self.members.remove(slot)
    }

    pub(crate) fn reserve_members(&mut self, additional: usize) {
        self.members.reserve_exact(additional);
    }

    fn list_recipients(&mut self) {
        for batch in &mut self.open {
            batch.list(&self.members);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(citizen: u32) -> TodayIncident {
        TodayIncident { id: IncidentId { day: 3, citizen: CitizenId(citizen), seq: 0 }, kind: 1 }
    }

    proptest::proptest! {
        /// The three parts of a member's 16-bit word never spill into one another.
        #[test]
        fn a_members_score_tier_and_mark_are_independent(
            citizen in proptest::prelude::any::<u32>(),
            score in 0u16..=SCORE_MASK,
            tier in 0u8..crate::policy::TIERS_MAX as u8,
            next in 0u16..=SCORE_MASK,
            next_tier in 0u8..crate::policy::TIERS_MAX as u8,
        ) {
            let mut m = Member::new(CitizenId(citizen), score, tier);
            proptest::prop_assert_eq!((m.score_offset(), m.tier(), m.score_changed()), (score, tier, false));
            m.mark_score_changed();
            m.set_score_offset(next);
            proptest::prop_assert_eq!((m.score_offset(), m.tier(), m.score_changed()), (next, tier, true));
            let copy = m.citizen;
            proptest::prop_assert_eq!(copy, CitizenId(citizen));
            // Through the serialized form and back: the same member.
            let json = serde_json::to_string(&m).unwrap();
            proptest::prop_assert_eq!(serde_json::from_str::<Member>(&json).unwrap(), m);
            m.set_tier(next_tier);
            proptest::prop_assert_eq!((m.score_offset(), m.tier(), m.score_changed()), (next, next_tier, false));
        }
    }

    #[test]
    fn a_stored_member_beyond_the_bounds_is_refused_with_a_reason() {
        let ok = r#"{"citizen":7,"score_offset":4095,"tier":7,"flags":1}"#;
        let m: Member = serde_json::from_str(ok).unwrap();
        assert_eq!((m.score_offset(), m.tier(), m.score_changed()), (4095, 7, true));
        let e = serde_json::from_str::<Member>(r#"{"citizen":7,"score_offset":4096,"tier":0,"flags":0}"#).unwrap_err();
        assert!(e.to_string().contains("score offset 4096"), "{e}");
        let e = serde_json::from_str::<Member>(r#"{"citizen":7,"score_offset":5,"tier":8,"flags":0}"#).unwrap_err();
        assert!(e.to_string().contains("tier 8"), "{e}");
    }

    #[test]
    fn pending_lists_take_a_box_only_while_something_is_pending() {
        let mut pending = Pending::default();
        assert!(pending.is_empty() && pending.orders.is_empty(), "an unallocated box reads as nothing pending");
        assert_eq!(pending.box_bytes(), 0);
        assert!(pending.allocated_mut().is_none());
        pending.incidents.push(incident(4));
        assert_eq!(pending.box_bytes(), std::mem::size_of::<GroupToday>() as u64, "the first write allocates");
        pending.release_if_empty();
        assert_eq!(pending.incidents.len(), 1, "a box with something pending is kept");
        pending.incidents.clear();
        pending.release_if_empty();
        assert_eq!(pending.box_bytes(), 0, "an emptied box is given back");
        assert!(std::mem::size_of::<Group>() <= 64, "a group's row stays at most 64 B");
    }

    fn slot(k: u8) -> AnswerSlot {
        [AnswerSlot::None, AnswerSlot::Expel, AnswerSlot::Keep][k as usize % 3]
    }

    proptest::proptest! {
        #[test]
        fn packed_answers_read_back_what_was_written_and_look_like_the_list(
            len in 0usize..40,
            writes in proptest::collection::vec((0usize..40, 0u8..3), 0..80),
        ) {
            use std::hash::{Hash, Hasher};
            let mut packed = AnswerSlots::new(len);
            let mut model = vec![AnswerSlot::None; len];
            for (i, k) in writes.into_iter().filter(|(i, _)| *i < len) {
                packed.set(i, slot(k));
                model[i] = slot(k);
            }
            proptest::prop_assert_eq!(packed.len(), len);
            proptest::prop_assert_eq!(packed.iter().collect::<Vec<_>>(), model.clone());
            let json = serde_json::to_value(&packed).unwrap();
            proptest::prop_assert_eq!(&json, &serde_json::to_value(&model).unwrap());
            let back: AnswerSlots = serde_json::from_value(json).unwrap();
            proptest::prop_assert_eq!(&back, &packed);
            let digest = |x: &dyn Fn(&mut std::hash::DefaultHasher)| {
                let mut h = std::hash::DefaultHasher::new();
                x(&mut h);
                h.finish()
            };
            proptest::prop_assert_eq!(digest(&|h| packed.hash(h)), digest(&|h| model.hash(h)));
        }
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_batch_of_2_pow_32_answers_is_refused_before_anything_is_allocated() {
        assert!(AnswerSlots::try_new(1usize << 32).is_none());
        assert_eq!(AnswerSlots::try_new(5).map(|a| (a.len(), a.heap_bytes())), Some((5, 2)));
    }

    #[test]
    fn pending_lists_serialize_as_the_plain_lists() {
        let mut pending = Pending::default();
        let empty = serde_json::to_value(GroupToday::default()).unwrap();
        assert_eq!(serde_json::to_value(&pending).unwrap(), empty);
        pending.incidents.push(incident(9));
        let full = GroupToday { incidents: vec![incident(9)], ..GroupToday::default() };
        assert_eq!(serde_json::to_value(&pending).unwrap(), serde_json::to_value(&full).unwrap());
        let back: Pending = serde_json::from_value(serde_json::to_value(&full).unwrap()).unwrap();
        assert_eq!(back, pending);
        let nothing: Pending = serde_json::from_value(empty).unwrap();
        assert_eq!(nothing.box_bytes(), 0, "nothing pending reads back without a box");
        assert_eq!(nothing, Pending::default());
    }
}
