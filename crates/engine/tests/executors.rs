//! The day's work done group by group, in any order and any grouping of the groups,
//! gives the same state as the same actions issued one by one by citizen id.

use proptest::prelude::*;
use xinyong_engine::*;

/// An executor that visits groups in reverse, in chunks with separate accumulators, and
/// merges the accumulators in a scrambled order: what a thread pool might do.
struct Scrambled(usize);

impl Executor for Scrambled {
    fn fold<T, A, I, F, M>(&self, items: &mut [T], init: I, f: F, merge: M) -> A
    where
        T: Send,
        A: Send,
        I: Fn() -> A + Sync + Send,
        F: Fn(usize, &mut T, &mut A) + Sync + Send,
        M: Fn(A, A) -> A + Sync + Send,
    {
        let chunk = self.0.max(1);
        let mut accs = Vec::new();
        let len = items.len();
        let mut chunks: Vec<(usize, &mut [T])> =
            items.chunks_mut(chunk).enumerate().map(|(i, c)| (i * chunk, c)).collect();
        chunks.reverse();
        for (start, c) in chunks {
            let mut acc = init();
            for (j, item) in c.iter_mut().enumerate().rev() {
                f(start + j, item, &mut acc);
            }
            accs.push(acc);
        }
        assert!(len == 0 || !accs.is_empty());
        // Merge odd-positioned accumulators first, then the rest.
        let (odd, even): (Vec<_>, Vec<_>) = accs.into_iter().enumerate().partition(|(i, _)| i % 2 == 1);
        odd.into_iter().chain(even).map(|(_, a)| a).fold(init(), merge)
    }
}

#[derive(Clone, Debug)]
enum Act {
    Incident { citizen: u32, kind: u8 },
    Answer { recipient_pick: usize, answer: Answer },
    Order { citizen: u32, product: u32, units: u32 },
}

const N: u32 = 40;

fn world(abstain: AbstainAs) -> Engine<StoredDirectory> {
    world_with(abstain, EngineOptions::default())
}

fn world_with(abstain: AbstainAs, options: EngineOptions) -> Engine<StoredDirectory> {
    let mut p = Policy::default();
    p.groups.min_size = 3;
    p.groups.max_size = 9;
    p.sanction.abstain_as = abstain;
    p.sanction.regroup_after_days = 2;
    p.initial_score = 965;
    let mut e = Engine::new(p.validate().unwrap(), StoredDirectory::new(), options);
    e.register_citizens(N).unwrap();
    // Groups of 8 for the first 32 citizens; 8 stay groupless.
    let assignments: Vec<(CitizenId, GroupId)> = (0..32).map(|c| (CitizenId(c), GroupId(c / 8))).collect();
    e.form_groups(&assignments).unwrap();
    for (i, travel) in [(0, false), (1, false), (2, true)] {
        e.add_product(ProductSpec {
            name: format!("p{i}"),
            brand: BrandId(0),
            category: 0,
            list_price: 1000 + 500 * i,
            travel,
        })
        .unwrap();
    }
    e
}

fn acts() -> impl Strategy<Value = Vec<Vec<Act>>> {
    let act = prop_oneof![
        2 => (0..N, 0..7u8).prop_map(|(citizen, kind)| Act::Incident { citizen, kind }),
        5 => (0..64usize, prop_oneof![Just(Answer::Expel), Just(Answer::Keep)])
            .prop_map(|(recipient_pick, answer)| Act::Answer { recipient_pick, answer }),
        4 => (0..N, 0..3u32, 1..8u32).prop_map(|(citizen, product, units)| Act::Order { citizen, product, units }),
    ];
    proptest::collection::vec(proptest::collection::vec(act, 0..25), 1..8)
}

/// The open notice and recipient an `Answer` act picks, as (incident, recipient).
fn pick(e: &Engine<StoredDirectory>, n: usize) -> Option<(IncidentId, CitizenId)> {
    let all: Vec<(IncidentId, CitizenId)> = e
        .groups()
        .iter()
        .flat_map(|g| g.open_notices().iter().flat_map(|b| b.recipients(g.members()).map(move |r| (b.incident, r))))
        .collect();
    (!all.is_empty()).then(|| all[n % all.len()])
}

fn by_id(days: &[Vec<Act>], abstain: AbstainAs) -> (u64, Vec<DayReport>) {
    let mut e = world(abstain);
    let mut reports = Vec::new();
    for day in days {
        let picks: Vec<Option<(IncidentId, CitizenId)>> = day
            .iter()
            .map(|a| match a {
                Act::Answer { recipient_pick, .. } => pick(&e, *recipient_pick),
                _ => None,
            })
            .collect();
        // Incidents, then answers, then orders: the order run_day's drivers use.
        for a in day {
            if let Act::Incident { citizen, kind } = a {
                let _ = e.report_incident(CitizenId(*citizen), *kind, e.day());
            }
        }
        for (a, p) in day.iter().zip(&picks) {
            if let (Act::Answer { answer, .. }, Some((incident, recipient))) = (a, p) {
                let _ = e.answer_notice(*recipient, *incident, *answer);
            }
        }
        for a in day {
            if let Act::Order { citizen, product, units } = a {
                let _ = e.place_order(CitizenId(*citizen), ProductId(*product), *units, None);
            }
        }
        reports.push(e.close_day());
    }
    (e.state_hash(), reports)
}

fn by_group<E: Executor>(days: &[Vec<Act>], abstain: AbstainAs, exec: &E) -> (u64, Vec<DayReport>) {
    by_group_with(days, abstain, exec, EngineOptions::default(), true)
}

/// [`by_group`] in an engine made with `options`, placing orders with their receipts
/// (`GroupDay::place_order`) or without (`GroupDay::put_order`).
fn by_group_with<E: Executor>(
    days: &[Vec<Act>],
    abstain: AbstainAs,
    exec: &E,
    options: EngineOptions,
    receipts: bool,
) -> (u64, Vec<DayReport>) {
    let mut e = world_with(abstain, options);
    let mut reports = Vec::new();
    for day in days {
        let picks: Vec<Option<(IncidentId, CitizenId)>> = day
            .iter()
            .map(|a| match a {
                Act::Answer { recipient_pick, .. } => pick(&e, *recipient_pick),
                _ => None,
            })
            .collect();
        let groupless: Vec<CitizenId> = e.groupless().iter().map(|m| m.member.citizen).collect();
        let report = e.run_day(
            exec,
            |g| {
                fn mine(g: &GroupDay<StoredDirectory>, c: u32) -> Option<usize> {
                    g.members().iter().position(|m| m.citizen.0 == c)
                }
                for a in day {
                    if let Act::Incident { citizen, kind } = a
                        && let Some(slot) = mine(g, *citizen)
                    {
                        let _ = g.report_incident(slot, *kind);
                    }
                }
                for (a, p) in day.iter().zip(&picks) {
                    if let (Act::Answer { answer, .. }, Some((incident, recipient))) = (a, p)
                        && let Some(b) = g.open_notices().iter().position(|b| b.incident == *incident)
                        && let Some(i) = g.open_notices()[b].position(g.members(), *recipient)
                    {
                        let _ = g.answer(b, i, *answer);
                    }
                }
                for a in day {
                    if let Act::Order { citizen, product, units } = a
                        && let Some(slot) = mine(g, *citizen)
                    {
                        if receipts {
                            let _ = g.place_order(slot, ProductId(*product), *units, None);
                        } else {
                            let _ = g.put_order(slot, ProductId(*product), *units, None);
                        }
                    }
                }
            },
            |g| {
                for a in day {
                    if let Act::Incident { citizen, kind } = a
                        && let Ok(i) = groupless.binary_search(&CitizenId(*citizen))
                    {
                        let _ = g.report_incident(i, *kind);
                    }
                }
                for a in day {
                    if let Act::Order { citizen, product, units } = a
                        && let Ok(i) = groupless.binary_search(&CitizenId(*citizen))
                    {
                        let _ = g.place_order(i, ProductId(*product), *units, None);
                    }
                }
            },
        );
        reports.push(report);
    }
    (e.state_hash(), reports)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn group_by_group_equals_citizen_by_citizen(
        days in acts(),
        abstain in prop_oneof![Just(AbstainAs::Keep), Just(AbstainAs::Expel), Just(AbstainAs::None)],
        chunk in 1usize..4,
    ) {
        let reference = by_id(&days, abstain);
        prop_assert_eq!(&by_group(&days, abstain, &Sequential), &reference);
        prop_assert_eq!(&by_group(&days, abstain, &Scrambled(chunk)), &reference);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Without history the close puts orders in pools by (group, product) alone, and the
    /// simulator places them without receipts: the day's counts and sums must not move.
    #[test]
    fn orders_settle_alike_without_history_and_without_receipts(
        days in acts(),
        chunk in 1usize..4,
    ) {
        let (_, reference) = by_id(&days, AbstainAs::Keep);
        let lean = EngineOptions { keep_history: false, ..EngineOptions::default() };
        prop_assert_eq!(&by_group_with(&days, AbstainAs::Keep, &Sequential, lean, false).1, &reference);
        prop_assert_eq!(&by_group_with(&days, AbstainAs::Keep, &Scrambled(chunk), lean, false).1, &reference);
        prop_assert_eq!(&by_group_with(&days, AbstainAs::Keep, &Sequential, lean, true).1, &reference);
    }
}

/// The world of `world()`, populated group by group so that shards can hold a part of it.
fn populated(abstain: AbstainAs, shard: Option<(u32, u32, bool)>) -> Engine<StoredDirectory> {
    let reference = world(abstain);
    let mut e = Engine::new(
        reference.rules().clone(),
        StoredDirectory::new(),
        EngineOptions { index_citizens: false, ..EngineOptions::default() },
    );
    if let Some((a, b, counts)) = shard {
        e.set_shard(a, b, counts);
    }
    let mut p = e.populate(N, &[8, 8, 8, 8]).unwrap();
    for c in 0..32 {
        p.place(CitizenId(c), c / 8).unwrap();
    }
    p.finish().unwrap();
    for product in reference.products() {
        e.add_product(ProductSpec {
            name: product.name.clone(),
            brand: product.brand,
            category: product.category,
            list_price: product.list_price,
            travel: product.travel,
        })
        .unwrap();
    }
    e
}

/// One day's acts, group by group (the `by_group` closures, shared by every shard).
fn act_day(
    e: &mut Engine<StoredDirectory>,
    day: &[Act],
    picks: &[Option<(IncidentId, CitizenId)>],
    groupless: &[CitizenId],
) -> LocalDay {
    e.day_local(
        &Sequential,
        |g| -> Option<()> {
            let mine = |g: &GroupDay<StoredDirectory>, c: u32| g.members().iter().position(|m| m.citizen.0 == c);
            for a in day {
                if let Act::Incident { citizen, kind } = a
                    && let Some(slot) = mine(g, *citizen)
                {
                    let _ = g.report_incident(slot, *kind);
                }
            }
            for (a, p) in day.iter().zip(picks) {
                if let (Act::Answer { answer, .. }, Some((incident, recipient))) = (a, p)
                    && let Some(b) = g.open_notices().iter().position(|b| b.incident == *incident)
                    && let Some(i) = g.open_notices()[b].position(g.members(), *recipient)
                {
                    let _ = g.answer(b, i, *answer);
                }
            }
            for a in day {
                if let Act::Order { citizen, product, units } = a
                    && let Some(slot) = mine(g, *citizen)
                {
                    let _ = g.place_order(slot, ProductId(*product), *units, None);
                }
            }
            None
        },
        |g| {
            for a in day {
                if let Act::Incident { citizen, kind } = a
                    && let Ok(i) = groupless.binary_search(&CitizenId(*citizen))
                {
                    let _ = g.report_incident(i, *kind);
                }
            }
            for a in day {
                if let Act::Order { citizen, product, units } = a
                    && let Ok(i) = groupless.binary_search(&CitizenId(*citizen))
                {
                    let _ = g.place_order(i, ProductId(*product), *units, None);
                }
            }
        },
    )
    .0
}

fn open_picks(shards: &[&Engine<StoredDirectory>], day: &[Act]) -> Vec<Option<(IncidentId, CitizenId)>> {
    let all: Vec<(IncidentId, CitizenId)> = shards
        .iter()
        .flat_map(|e| {
            e.groups().iter().flat_map(|g| {
                g.open_notices().iter().flat_map(|b| b.recipients(g.members()).map(move |r| (b.incident, r)))
            })
        })
        .collect();
    day.iter()
        .map(|a| match a {
            Act::Answer { recipient_pick, .. } if !all.is_empty() => Some(all[recipient_pick % all.len()]),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn shards_that_exchange_their_day_reach_the_state_of_one_engine(
        days in acts(),
        abstain in prop_oneof![Just(AbstainAs::Keep), Just(AbstainAs::Expel)],
        split in 0u32..=4,
    ) {
        let mut one = populated(abstain, None);
        let mut a = populated(abstain, Some((0, split, true)));
        let mut b = populated(abstain, Some((split, 4, false)));
        for day in &days {
            let picks = open_picks(&[&one], day);
            prop_assert_eq!(&picks, &open_picks(&[&a, &b], day));
            let groupless: Vec<CitizenId> = one.groupless().iter().map(|m| m.member.citizen).collect();
            let whole = act_day(&mut one, day, &picks, &groupless);
            let expected = one.day_finish(vec![whole]);
            let part_a = act_day(&mut a, day, &picks, &groupless);
            let part_b = act_day(&mut b, day, &picks, &groupless);
            // What crosses the network: the parts, serialized.
            let wire = |p: &LocalDay| serde_json::from_str::<LocalDay>(&serde_json::to_string(p).unwrap()).unwrap();
            let report_a = a.day_finish(vec![wire(&part_a), wire(&part_b)]);
            let report_b = b.day_finish(vec![wire(&part_b), wire(&part_a)]);
            prop_assert_eq!(&report_a, &expected);
            prop_assert_eq!(&report_b, &expected);
            for g in 0..4 {
                let holder = if g < split { &a } else { &b };
                prop_assert_eq!(one.group(GroupId(g)).unwrap(), holder.group(GroupId(g)).unwrap(), "group {}", g);
                prop_assert_eq!(one.group_size(GroupId(g)), a.group_size(GroupId(g)));
                prop_assert_eq!(one.group_size(GroupId(g)), b.group_size(GroupId(g)));
            }
            prop_assert_eq!(one.groupless(), a.groupless());
            prop_assert_eq!(one.groupless(), b.groupless());
            prop_assert_eq!(one.scores(), a.scores());
            prop_assert_eq!(one.scores(), b.scores());
            prop_assert_eq!(one.ledger().totals(), a.ledger().totals());
        }
    }
}
