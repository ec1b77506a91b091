//! The KOL promotions the engine keeps: one sorted list per day.
//!
//! Every order placed through a KOL asks whether that KOL promotes that product today, and
//! a KOL's promotions are kept for the scandal window (30 days by default) after. As one
//! ordered set, at China scale (700,000 KOLs, one promotion a day each) that was ~22
//! million entries, a few hundred MB, and each order's question a walk down a B-tree
//! far larger than the caches (~5 % of a 100 M day's samples, docs/BENCHMARKS.md,
//! "Promotions by day"). Here a day's promotions are one sorted list of (KOL, product),
//! 8 B each: today's question is a search in today's list only (guessed from the KOL's
//! id, see [`search`]), a promotion added
//! in KOL order (the simulator's) is a push, and a day that leaves the window goes whole.
//!
//! Iteration, hashing and the serialized form are those of the `BTreeSet<PromotionId>`
//! this replaced: promotions in id order.

use crate::ids::{Day, KolId, ProductId, PromotionId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The promotions kept, by day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PromotionBook {
    /// (day, that day's (KOL, product) pairs sorted, none twice); days increasing, no list
    /// empty.
    days: Vec<(Day, Vec<(KolId, ProductId)>)>,
    /// Promotions in all lists.
    len: usize,
}

impl PromotionBook {
    pub fn new() -> PromotionBook {
        PromotionBook::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn day(&self, day: Day) -> Option<&[(KolId, ProductId)]> {
        // The day asked is nearly always the last one kept (today).
        match self.days.last() {
            Some((last, list)) if *last == day => Some(list),
            _ => self.days.binary_search_by_key(&day, |(d, _)| *d).ok().map(|i| &self.days[i].1[..]),
        }
    }

    pub fn contains(&self, id: &PromotionId) -> bool {
        self.day(id.day).is_some_and(|list| search(list, (id.kol, id.product)).is_ok())
    }

    /// Adds a promotion; false (and nothing changes) when it is kept already.
    pub fn insert(&mut self, id: PromotionId) -> bool {
        let d = match self.days.binary_search_by_key(&id.day, |(d, _)| *d) {
            Ok(d) => d,
            Err(d) => {
                // A new day: the day before will not grow again in the usual order of days,
                // so its spare room goes back.
                if let Some((_, list)) = d.checked_sub(1).and_then(|before| self.days.get_mut(before)) {
                    list.shrink_to_fit();
                }
                self.days.insert(d, (id.day, Vec::new()));
                d
            }
        };
        let list = &mut self.days[d].1;
        let pair = (id.kol, id.product);
        // In KOL order (the simulator's), a push.
        let at = match list.last() {
            Some(last) if *last < pair => list.len(),
            None => 0,
            Some(_) => match search(list, pair) {
                Ok(_) => return false,
                Err(at) => at,
            },
        };
        list.insert(at, pair);
        self.len += 1;
        true
    }

    /// The promotions of one day, in id order.
    pub fn on_day(&self, day: Day) -> impl Iterator<Item = PromotionId> + '_ {
        self.day(day).unwrap_or(&[]).iter().map(move |&(kol, product)| PromotionId { day, kol, product })
    }

    /// Every promotion kept, in id order.
    pub fn iter(&self) -> impl Iterator<Item = PromotionId> + '_ {
        self.days
            .iter()
            .flat_map(|(day, list)| list.iter().map(|&(kol, product)| PromotionId { day: *day, kol, product }))
    }

    /// Forgets the promotions of the days before `day`.
    pub fn forget_before(&mut self, day: Day) {
        let old = self.days.partition_point(|(d, _)| *d < day);
        self.len -= self.days[..old].iter().map(|(_, list)| list.len()).sum::<usize>();
        self.days.drain(..old);
    }

    /// Heap bytes held: the lists' capacities and the table of days.
    pub fn heap_bytes(&self) -> u64 {
        let pair = std::mem::size_of::<(KolId, ProductId)>();
        let lists: usize = self.days.iter().map(|(_, list)| list.capacity() * pair).sum();
        (lists + self.days.capacity() * std::mem::size_of::<(Day, Vec<(KolId, ProductId)>)>()) as u64
    }
}

/// Where `pair` is in a day's sorted list, or where it would go: `binary_search`'s
/// answer, found faster. KOL ids are dense and each KOL promotes about as many products
/// a day, so `pair`'s place is guessed in proportion to its KOL id; the answer is then
/// bracketed by steps doubling away from the guess and searched for inside the bracket. In
/// the simulator (a promotion a day from every KOL) the guess is the place, and a
/// question costs two or three reads of the list instead of ~17 for 100,000 KOLs, each
/// likely a cache miss.
fn search(list: &[(KolId, ProductId)], pair: (KolId, ProductId)) -> Result<usize, usize> {
    let n = list.len();
    let Some(last) = list.last() else { return Err(0) };
    let span = last.0.0 as u64 + 1;
    let guess = ((pair.0.0 as u64).min(span - 1) * n as u64 / span) as usize;
    // Bracket: everything before `lo` is below `pair` and everything from `hi` on is
    // above it, so its place (found or to insert) is in `lo..=hi`.
    let (mut lo, mut hi);
    let mut step = 1;
    if list[guess] < pair {
        lo = guess + 1;
        loop {
            let probe = guess + step;
            if probe >= n {
                hi = n;
                break;
            }
            if list[probe] >= pair {
                hi = probe + 1;
                break;
            }
            lo = probe + 1;
            step *= 2;
        }
    } else {
        hi = guess + 1;
        loop {
            if step > guess {
                lo = 0;
                break;
            }
            let probe = guess - step;
            if list[probe] < pair {
                lo = probe + 1;
                break;
            }
            hi = probe + 1;
            step *= 2;
        }
    }
    match list[lo..hi].binary_search(&pair) {
        Ok(i) => Ok(lo + i),
        Err(i) => Err(lo + i),
    }
}

impl std::hash::Hash for PromotionBook {
    /// As the `BTreeSet<PromotionId>` hashed: the count, then each id.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.len);
        for id in self.iter() {
            id.hash(state);
        }
    }
}

impl Serialize for PromotionBook {
    /// A sequence of ids in order, as the set was written.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for PromotionBook {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PromotionBook, D::Error> {
        let mut ids = Vec::<PromotionId>::deserialize(d)?;
        ids.sort_unstable();
        ids.dedup();
        let mut book = PromotionBook::new();
        for id in ids {
            book.insert(id);
        }
        Ok(book)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(Day, u32, u32),
        Forget(Day),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u32..8, 0u32..12, 0u32..3).prop_map(|(d, k, p)| Op::Insert(d, k, p)),
            1 => (0u32..9).prop_map(Op::Forget),
        ]
    }

    fn id(day: Day, kol: u32, product: u32) -> PromotionId {
        PromotionId { day, kol: KolId(kol), product: ProductId(product) }
    }

    proptest! {
        /// The guessed search answers what `binary_search` answers, for lists of any
        /// shape (KOLs with many promotions, few, none; a few KOL ids far above the rest)
        /// and any pair, present or not.
        #[test]
        fn the_guessed_search_is_a_binary_search(
            list in proptest::collection::btree_set((0u32..40, 0u32..6), 0..120),
            far in proptest::collection::btree_set((1000u32..100_000, 0u32..3), 0..4),
            kol in 0u32..100_001,
            product in 0u32..7,
        ) {
            let list: Vec<(KolId, ProductId)> =
                list.iter().chain(&far).map(|&(k, p)| (KolId(k), ProductId(p))).collect();
            for pair in list.iter().copied().chain([(KolId(kol), ProductId(product)), (KolId(kol % 41), ProductId(product))]) {
                prop_assert_eq!(search(&list, pair), list.binary_search(&pair), "{:?}", pair);
            }
        }

        /// Any sequence of inserts (in any order of days and KOLs) and forgettings leaves
        /// the book answering as an ordered set given the same operations: membership,
        /// each day's list, every id in order, the count, the hash and the JSON form.
        #[test]
        fn the_book_keeps_what_an_ordered_set_keeps(ops in proptest::collection::vec(op(), 0..60)) {
            let mut book = PromotionBook::new();
            let mut model: BTreeSet<PromotionId> = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Insert(d, k, p) => prop_assert_eq!(book.insert(id(d, k, p)), model.insert(id(d, k, p))),
                    Op::Forget(d) => {
                        model = model.split_off(&id(d, 0, 0));
                        book.forget_before(d);
                    }
                }
                prop_assert_eq!(book.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
                prop_assert_eq!(book.len(), model.len());
                prop_assert!(book.days.iter().all(|(_, list)| !list.is_empty()), "no day kept empty");
                for d in 0..9 {
                    let on_day: Vec<PromotionId> = model.iter().filter(|x| x.day == d).copied().collect();
                    prop_assert_eq!(book.on_day(d).collect::<Vec<_>>(), on_day);
                    for k in 0..12 {
                        for p in 0..3 {
                            prop_assert_eq!(book.contains(&id(d, k, p)), model.contains(&id(d, k, p)));
                        }
                    }
                }
            }
            let hash = |x: &dyn Fn(&mut crate::engine::Fnv64)| {
                let mut h = crate::engine::Fnv64::default();
                x(&mut h);
                std::hash::Hasher::finish(&h)
            };
            prop_assert_eq!(hash(&|h| std::hash::Hash::hash(&book, h)), hash(&|h| std::hash::Hash::hash(&model, h)));
            let written = serde_json::to_string(&book).unwrap();
            prop_assert_eq!(&written, &serde_json::to_string(&model).unwrap());
            let back: PromotionBook = serde_json::from_str(&written).unwrap();
            prop_assert_eq!(back, book);
        }
    }
}
