//! The incident records the engine keeps: one list per reporting day, sorted by id.
//!
//! A record is looked up by id (tallies, appeals, the service's notices), a day's records
//! arrive together at the close, and old days are forgotten together. So the records are
//! kept as one sorted `Vec` per reporting day (`IncidentId` sorts by day first), not as one
//! ordered map: a day's batch becomes its list in one allocation, nothing already kept is
//! moved or rebuilt, a list holds 80 B a record (a B-tree node held ~93 B even packed full)
//! and forgetting a day frees its one block. At China scale a day is ~1.6 M records in one
//! block of ~130 MB that goes straight back to the system, instead of ~150,000 B-tree nodes
//! of 1 KiB among the member lists (docs/BENCHMARKS.md, "Incident records by day").
//!
//! Iteration, equality, hashing and the serialized form are those of the
//! `BTreeMap<IncidentId, Incident>` this replaced: records in id order.

use crate::ids::{Day, IncidentId};
use crate::state::Incident;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The incident records kept, by reporting day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncidentBook {
    /// (reporting day, that day's records sorted by id, none twice); days increasing, no
    /// list empty.
    days: Vec<(Day, Vec<Incident>)>,
    /// Records in all lists.
    len: usize,
}

impl IncidentBook {
    pub fn new() -> IncidentBook {
        IncidentBook::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn day_index(&self, day: Day) -> Result<usize, usize> {
        self.days.binary_search_by_key(&day, |(d, _)| *d)
    }

    pub fn get(&self, id: &IncidentId) -> Option<&Incident> {
        let (_, list) = &self.days[self.day_index(id.day).ok()?];
        list.binary_search_by_key(id, |x| x.id).ok().map(|i| &list[i])
    }

    pub fn get_mut(&mut self, id: &IncidentId) -> Option<&mut Incident> {
        let d = self.day_index(id.day).ok()?;
        let list = &mut self.days[d].1;
        let i = list.binary_search_by_key(id, |x| x.id).ok()?;
        Some(&mut list[i])
    }

    /// The largest id kept.
    pub fn last_id(&self) -> Option<IncidentId> {
        self.days.last().and_then(|(_, list)| list.last()).map(|x| x.id)
    }

    /// Adds a record, replacing (and returning) the one with its id if there was one.
    pub fn insert(&mut self, record: Incident) -> Option<Incident> {
        let d = match self.day_index(record.id.day) {
            Ok(d) => d,
            Err(d) => {
                self.days.insert(d, (record.id.day, Vec::new()));
                d
            }
        };
        let list = &mut self.days[d].1;
        match list.binary_search_by_key(&record.id, |x| x.id) {
            Ok(i) => Some(std::mem::replace(&mut list[i], record)),
            Err(i) => {
                list.insert(i, record);
                self.len += 1;
                None
            }
        }
    }

    /// Adds records sorted by id, none twice, replacing those with the same ids: what
    /// inserting them one by one gives. A day not kept yet takes the batch's run for that
    /// day as its list (the batch itself when it is all one day, as a simulated day's is:
    /// nothing is copied); a day kept already is merged with its run in one ordered pass.
    pub fn extend_sorted(&mut self, mut records: Vec<Incident>) {
        debug_assert!(records.windows(2).all(|w| w[0].id < w[1].id), "sorted, none twice");
        // The last day's run first, so that each run is split off the end of the batch.
        while let Some(last) = records.last() {
            let day = last.id.day;
            let start = records.partition_point(|x| x.id.day < day);
            let mut run = if start == 0 { std::mem::take(&mut records) } else { records.split_off(start) };
            run.shrink_to_fit();
            match self.day_index(day) {
                Err(d) => {
                    self.len += run.len();
                    self.days.insert(d, (day, run));
                }
                Ok(d) => {
                    let old = std::mem::take(&mut self.days[d].1);
                    self.len -= old.len();
                    let merged = merge(old, run);
                    self.len += merged.len();
                    self.days[d].1 = merged;
                }
            }
        }
    }

    /// Forgets the records reported before `first_day_kept` for which `keep` is false. A
    /// day left with no record goes; one left with a few gives its spare room back.
    pub fn prune(&mut self, first_day_kept: Day, mut keep: impl FnMut(&Incident) -> bool) {
        let old = self.days.partition_point(|(d, _)| *d < first_day_kept);
        for (_, list) in &mut self.days[..old] {
            let before = list.len();
            list.retain(&mut keep);
            if list.len() < before {
                list.shrink_to_fit();
                self.len -= before - list.len();
            }
        }
        let mut d = 0;
        self.days.retain(|(_, list)| {
            d += 1;
            d > old || !list.is_empty()
        });
    }

    /// Every record, in id order.
    pub fn values(&self) -> impl Iterator<Item = &Incident> {
        self.days.iter().flat_map(|(_, list)| list.iter())
    }

    /// Heap bytes held: the lists' capacities and the table of days.
    pub fn heap_bytes(&self) -> u64 {
        let lists: usize = self.days.iter().map(|(_, list)| list.capacity() * std::mem::size_of::<Incident>()).sum();
        (lists + self.days.capacity() * std::mem::size_of::<(Day, Vec<Incident>)>()) as u64
    }
}

/// Two lists sorted by id into one; on equal ids, `new`'s record.
fn merge(old: Vec<Incident>, new: Vec<Incident>) -> Vec<Incident> {
    if old.last().is_none_or(|last| new.first().is_none_or(|first| last.id < first.id)) {
        let mut out = old;
        out.reserve_exact(new.len());
        out.extend(new);
        return out;
    }
    let mut out = Vec::with_capacity(old.len() + new.len());
    let mut old = old.into_iter().peekable();
    for record in new {
        while let Some(earlier) = old.next_if(|x| x.id < record.id) {
            out.push(earlier);
        }
        old.next_if(|x| x.id == record.id);
        out.push(record);
    }
    out.extend(old);
    out.shrink_to_fit();
    out
}

impl std::hash::Hash for IncidentBook {
    /// As the `BTreeMap<IncidentId, Incident>` hashed: the count, then each (id, record).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.len);
        for record in self.values() {
            (&record.id, record).hash(state);
        }
    }
}

impl Serialize for IncidentBook {
    /// A sequence of (id, record) pairs in id order, as the map was written.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.values().map(|x| (&x.id, x)))
    }
}

impl<'de> Deserialize<'de> for IncidentBook {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IncidentBook, D::Error> {
        let mut pairs = Vec::<(IncidentId, Incident)>::deserialize(d)?;
        for (id, record) in &pairs {
            if *id != record.id {
                return Err(serde::de::Error::custom(format!("incident record {:?} is filed under {id:?}", record.id)));
            }
        }
        // As the map was read: the last of equal ids wins.
        pairs.reverse();
        pairs.sort_by_key(|(id, _)| *id);
        pairs.dedup_by_key(|(id, _)| *id);
        let mut book = IncidentBook::new();
        book.extend_sorted(pairs.into_iter().map(|(_, x)| x).collect());
        Ok(book)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CitizenId, GroupId};
    use crate::state::{AppealStatus, IncidentSource, VoteOutcome};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn record(day: Day, citizen: u32, seq: u8, mark: i32) -> Incident {
        Incident {
            id: IncidentId { day, citizen: CitizenId(citizen), seq },
            kind: 0,
            day,
            group: Some(GroupId(citizen % 5)),
            penalty_applied: mark,
            source: IncidentSource::Camera,
            outcome: None,
            appeal: AppealStatus::NotAppealed,
        }
    }

    fn same(book: &IncidentBook, model: &BTreeMap<IncidentId, Incident>) -> Result<(), TestCaseError> {
        let listed: Vec<&Incident> = book.values().collect();
        let expected: Vec<&Incident> = model.values().collect();
        prop_assert_eq!(listed, expected);
        prop_assert_eq!(book.len(), model.len());
        prop_assert_eq!(book.last_id(), model.keys().next_back().copied());
        prop_assert!(book.days.iter().all(|(_, list)| !list.is_empty()), "no day kept empty");
        prop_assert!(book.days.windows(2).all(|w| w[0].0 < w[1].0), "days in order");
        Ok(())
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(Day, u32, u8, i32),
        Batch(Vec<(Day, u32, u8)>, i32),
        Tally(Day, u32, u8),
        Prune(Day, i32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u32..6, 0u32..30, 0u8..2, -9i32..0).prop_map(|(d, c, s, m)| Op::Insert(d, c, s, m)),
            (proptest::collection::btree_set((0u32..6, 0u32..30, 0u8..2), 0..40), -9i32..0)
                .prop_map(|(ids, m)| Op::Batch(ids.into_iter().collect(), m)),
            (0u32..6, 0u32..30, 0u8..2).prop_map(|(d, c, s)| Op::Tally(d, c, s)),
            (0u32..7, -9i32..0).prop_map(|(d, m)| Op::Prune(d, m)),
        ]
    }

    proptest! {
        /// Any sequence of inserts, sorted batches, tallies and prunes leaves the book
        /// holding exactly what an ordered map given the same operations holds, in the same
        /// order, with the same hash and the same serialized form.
        #[test]
        fn the_book_keeps_what_an_ordered_map_keeps(ops in proptest::collection::vec(op(), 0..30)) {
            let mut book = IncidentBook::new();
            let mut model: BTreeMap<IncidentId, Incident> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(d, c, s, m) => {
                        let r = record(d, c, s, m);
                        let was = model.insert(r.id, r.clone());
                        prop_assert_eq!(book.insert(r), was);
                    }
                    Op::Batch(ids, m) => {
                        let batch: Vec<Incident> = ids.iter().map(|&(d, c, s)| record(d, c, s, m)).collect();
                        for r in &batch {
                            model.insert(r.id, r.clone());
                        }
                        book.extend_sorted(batch);
                    }
                    Op::Tally(d, c, s) => {
                        let id = IncidentId { day: d, citizen: CitizenId(c), seq: s };
                        let outcome = VoteOutcome { notified: c, expel: 1, keep: 0, unanswered: 0, expelled: true };
                        prop_assert_eq!(book.get(&id), model.get(&id));
                        if let Some(r) = model.get_mut(&id) {
                            r.outcome = Some(outcome);
                        }
                        if let Some(r) = book.get_mut(&id) {
                            r.outcome = Some(outcome);
                        }
                    }
                    Op::Prune(first_day_kept, m) => {
                        // Keep the old records with penalties above the mark, say.
                        model.retain(|id, r| id.day >= first_day_kept || r.penalty_applied > m);
                        book.prune(first_day_kept, |r| r.penalty_applied > m);
                    }
                }
                same(&book, &model)?;
            }
            let hash = |x: &dyn Fn(&mut crate::engine::Fnv64)| {
                let mut h = crate::engine::Fnv64::default();
                x(&mut h);
                std::hash::Hasher::finish(&h)
            };
            prop_assert_eq!(
                hash(&|h| std::hash::Hash::hash(&book, h)),
                hash(&|h| std::hash::Hash::hash(&model, h))
            );
            let written = serde_json::to_string(&book).unwrap();
            prop_assert_eq!(&written, &serde_json::to_string(&model.iter().collect::<Vec<_>>()).unwrap());
            let back: IncidentBook = serde_json::from_str(&written).unwrap();
            prop_assert_eq!(back, book);
        }
    }

    #[test]
    fn a_record_filed_under_another_id_is_refused() {
        let r = record(1, 2, 0, -3);
        let other = IncidentId { day: 1, citizen: CitizenId(3), seq: 0 };
        let text = serde_json::to_string(&[(other, &r)]).unwrap();
        let err = serde_json::from_str::<IncidentBook>(&text).unwrap_err().to_string();
        assert!(err.contains("filed under"), "{err}");
    }
}
