//! Conservation laws and invariants over random command sequences.

use proptest::prelude::*;
use xinyong_engine::*;

const CITIZENS: u32 = 12;
const PRODUCTS: u32 = 3;
const KOLS: u32 = 2;

fn setup(policy: &Policy) -> (Engine<StoredDirectory>, Vec<Command>) {
    let mut e = Engine::new(policy.validate().unwrap(), StoredDirectory::new(), EngineOptions::default());
    let mut setup = Vec::new();
    for _ in 0..CITIZENS {
        setup.push(Command::RegisterCitizen);
    }
    for _ in 0..3 {
        setup.push(Command::CreateGroup);
    }
    for i in 0..PRODUCTS {
        setup.push(Command::AddProduct {
            spec: ProductSpec {
                name: format!("product {i}"),
                brand: BrandId(0),
                category: 0,
                list_price: 1_000 + 733 * i as i64,
                travel: i == 0,
            },
        });
    }
    for i in 0..KOLS {
        setup.push(Command::AddKol { name: format!("kol {i}") });
    }
    for cmd in &setup {
        e.apply(cmd).unwrap();
    }
    (e, setup)
}

/// A command over small id ranges, so that commands often hit the same people.
fn command() -> impl Strategy<Value = Command> {
    let citizen = (0..CITIZENS + 1).prop_map(CitizenId); // one id past the end: unknown
    let group = (0..4u32).prop_map(GroupId);
    let product = (0..PRODUCTS + 1).prop_map(ProductId);
    let kol = (0..KOLS).prop_map(KolId);
    let answer = prop_oneof![Just(Answer::Expel), Just(Answer::Keep)];
    let incident =
        (0..6u32, 0..CITIZENS, 0..2u8).prop_map(|(day, c, seq)| IncidentId { day, citizen: CitizenId(c), seq });
    let kinds = ["traffic_violation", "public_drunkenness", "destroying_public_equipment", "nonsense"];
    prop_oneof![
        3 => (citizen.clone(), group).prop_map(|(citizen, group)| Command::AssignGroup { citizen, group }),
        1 => citizen.clone().prop_map(|citizen| Command::RemoveFromGroup { citizen }),
        2 => (citizen.clone(), kol.clone()).prop_map(|(citizen, kol)| Command::Follow { citizen, kol }),
        2 => (citizen.clone(), proptest::collection::vec(product.clone(), 0..3))
            .prop_map(|(citizen, products)| Command::SetFavourites { citizen, products }),
        2 => (kol.clone(), product.clone()).prop_map(|(kol, product)| Command::Promote { kol, product }),
        6 => (citizen.clone(), product.clone(), 0..25u32, proptest::option::of(kol))
            .prop_map(|(citizen, product, units, via)| Command::PlaceOrder { citizen, product, units, via }),
        3 => (citizen.clone(), 0..4usize)
            .prop_map(move |(citizen, k)| Command::ReportIncident { citizen, kind: kinds[k].into(), day: None }),
        6 => (citizen.clone(), incident.clone(), answer)
            .prop_map(|(citizen, incident, answer)| Command::AnswerNotice { citizen, incident, answer }),
        1 => (citizen, incident.clone()).prop_map(|(citizen, incident)| Command::FileAppeal { citizen, incident }),
        1 => (incident, any::<bool>()).prop_map(|(incident, granted)| Command::DecideAppeal { incident, granted }),
        1 => product.prop_map(|product| Command::RevealScandal { product }),
        2 => ((0..CITIZENS + 1).prop_map(CitizenId), (0..CITIZENS).prop_map(CitizenId), 0..3usize)
            .prop_map(move |(citizen, accused, k)| Command::Denounce { citizen, accused, kind: kinds[k].into(), day: None }),
        2 => ((0..6u32, 0..CITIZENS, 0..2u8), any::<bool>())
            .prop_map(|((day, c, seq), confirmed)| Command::DecideReport {
                report: ReportId { day, citizen: CitizenId(c), seq },
                confirmed,
            }),
        3 => Just(Command::CloseDay),
    ]
}

fn policy_strategy() -> impl Strategy<Value = Policy> {
    (
        1u32..4,
        0u32..3,
        prop_oneof![Just(AbstainAs::Keep), Just(AbstainAs::Expel), Just(AbstainAs::None)],
        0u32..=4,
        any::<bool>(),
    )
        .prop_map(|(min_size, extra, abstain_as, quorum_quarters, denunciation)| {
            let mut p = Policy::default();
            p.groups.min_size = min_size;
            p.groups.max_size = min_size + extra + 1;
            p.sanction.abstain_as = abstain_as;
            p.sanction.expel_quorum = quorum_quarters as f64 / 4.0;
            p.sanction.regroup_after_days = 2;
            p.initial_score = 980; // near tier boundaries, so tiers and bans move
            p.score_min = 900;
            p.score_max = 1100;
            p.tiers[4].min_score = Some(960);
            p.tiers[3].min_score = Some(970);
            p.tiers[2].min_score = Some(975);
            p.denunciation.enabled = denunciation;
            p.denunciation.reward_points = 2;
            p.denunciation.false_report_penalty = 3;
            p.denunciation.voucher_days = 2;
            p
        })
}

fn check_invariants(e: &Engine<StoredDirectory>) -> Result<(), TestCaseError> {
    let rules = e.rules();
    let initial = rules.policy.initial_score as i64;
    let max_size = rules.policy.groups.max_size;
    // Score = initial + Σ ledger, for every citizen.
    let mut total_delta = 0i64;
    for c in 0..e.citizen_count() {
        let citizen = CitizenId(c);
        let sum: i64 = e.ledger().of(citizen).map(|x| x.delta as i64).sum();
        prop_assert_eq!(e.score(citizen).unwrap() as i64, initial + sum, "citizen {}", c);
        total_delta += sum;
    }
    prop_assert_eq!(e.ledger().totals().delta_sum, total_delta);
    // Every citizen is in exactly one place; groups never exceed max_size.
    let mut seen = vec![0u32; e.citizen_count() as usize];
    for (g, group) in e.groups().iter().enumerate() {
        prop_assert!(group.size() <= max_size, "group {} has {} members", g, group.size());
        for m in group.members() {
            seen[m.citizen.index()] += 1;
            prop_assert_eq!(e.group_of(m.citizen).unwrap(), Some(GroupId(g as u32)));
        }
        let sorted = group.members().windows(2).all(|w| { w[0].citizen } < { w[1].citizen });
        prop_assert!(sorted, "members are sorted by id");
    }
    for entry in e.groupless() {
        seen[entry.member.citizen.index()] += 1;
        prop_assert_eq!(e.group_of(entry.member.citizen).unwrap(), None);
    }
    prop_assert!(seen.iter().all(|&n| n == 1), "membership counts {:?}", seen);
    // The histogram agrees with the scores.
    prop_assert_eq!(e.scores().total(), e.citizen_count() as u64);
    let sum_scores: i128 = (0..e.citizen_count()).map(|c| e.score(CitizenId(c)).unwrap() as i128).sum();
    prop_assert_eq!(e.scores().sum(), sum_scores);
    // No settled order got more than the cap.
    for o in e.settled_orders() {
        let p = o.price;
        let off = (p.list_price - p.unit_price) as i128 * 10_000;
        prop_assert!(off <= rules.max_discount_bp as i128 * p.list_price as i128 + 10_000, "{:?}", p);
        // A voucher comes off last (a confirmed denunciation's reward).
        prop_assert_eq!(p.unit_price, p.list_price - p.group_discount - p.credit_discount - p.voucher_discount);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn invariants_hold_after_every_command(policy in policy_strategy(), commands in proptest::collection::vec(command(), 1..120)) {
        let (mut e, _) = setup(&policy);
        for cmd in &commands {
            let before = e.state_hash();
            let result = e.apply(cmd);
            if result.is_err() {
                prop_assert_eq!(before, e.state_hash(), "a refused command changed the state: {:?}", cmd);
            }
            check_invariants(&e)?;
        }
    }

    #[test]
    fn replaying_the_same_commands_gives_the_same_state(policy in policy_strategy(), commands in proptest::collection::vec(command(), 1..120)) {
        let (mut a, setup_commands) = setup(&policy);
        let mut outcomes_a = Vec::new();
        for cmd in &commands {
            outcomes_a.push(a.apply(cmd));
        }
        let mut b = Engine::new(policy.validate().unwrap(), StoredDirectory::new(), EngineOptions::default());
        for cmd in setup_commands.iter().chain(&commands) {
            let _ = b.apply(cmd);
        }
        prop_assert_eq!(a.state_hash(), b.state_hash());
        // And through a serialized snapshot.
        let snapshot = serde_json::to_string(&a).unwrap();
        let c: Engine<StoredDirectory> = serde_json::from_str(&snapshot).unwrap();
        prop_assert_eq!(a.state_hash(), c.state_hash());
        let _ = outcomes_a;
    }

    #[test]
    fn votes_move_points_exactly_as_the_rule_says(answers in proptest::collection::vec(prop_oneof![Just(Some(Answer::Expel)), Just(Some(Answer::Keep)), Just(None)], 1..9)) {
        let mut p = Policy::default();
        p.groups.min_size = 1;
        p.groups.max_size = 10;
        let mut e = Engine::new(p.validate().unwrap(), StoredDirectory::new(), EngineOptions::default());
        let n = answers.len() as u32 + 1;
        e.register_citizens(n).unwrap();
        let g = e.create_group().unwrap();
        for c in 0..n { e.assign_group(CitizenId(c), g).unwrap(); }
        let incident = e.report_incident_named(CitizenId(0), "public_drunkenness", 0).unwrap();
        e.close_day();
        for (i, a) in answers.iter().enumerate() {
            if let Some(a) = a { e.answer_notice(CitizenId(i as u32 + 1), incident, *a).unwrap(); }
        }
        let report = e.close_day();
        let expels = answers.iter().filter(|a| **a == Some(Answer::Expel)).count() as i32;
        for (i, a) in answers.iter().enumerate() {
            let expected = if *a == Some(Answer::Expel) { 1003 } else { 997 };
            prop_assert_eq!(e.score(CitizenId(i as u32 + 1)).unwrap(), expected);
        }
        let expelled = 2 * expels >= answers.len() as i32;
        prop_assert_eq!(!report.expelled.is_empty(), expelled);
        // Mean score moves by exactly (3·expel − 3·keep − penalty) / citizens.
        let keeps = answers.len() as i32 - expels;
        prop_assert_eq!(e.scores().sum(), (1000 * n as i128) + (3 * expels - 3 * keeps - 10) as i128);
    }
}
