//! The rules of MODEL.md §2, one test each, written the way the article tells them.

use xinyong_engine::*;

type Eng = Engine<StoredDirectory>;

fn policy() -> Policy {
    let mut p = Policy::default();
    p.groups.min_size = 2; // small groups keep the tests readable
    p.groups.max_size = 10;
    p
}

fn engine_with(p: Policy) -> Eng {
    Engine::new(p.validate().unwrap(), StoredDirectory::new(), EngineOptions::default())
}

/// One group of `n` citizens (ids 0..n), everything else default.
fn one_group(p: Policy, n: u32) -> (Eng, GroupId) {
    let mut e = engine_with(p);
    e.register_citizens(n).unwrap();
    let g = e.create_group().unwrap();
    for c in 0..n {
        e.assign_group(CitizenId(c), g).unwrap();
    }
    (e, g)
}

fn c(i: u32) -> CitizenId {
    CitizenId(i)
}

fn product(e: &mut Eng, price_yuan: i64, travel: bool) -> ProductId {
    e.add_product(ProductSpec {
        name: if travel { "train ticket".into() } else { "milk".into() },
        brand: BrandId(0),
        category: 0,
        list_price: price_yuan * 100,
        travel,
    })
    .unwrap()
}

fn drunk(e: &mut Eng, x: CitizenId) -> IncidentId {
    let day = e.day();
    e.report_incident_named(x, "public_drunkenness", day).unwrap()
}

#[test]
fn the_drunk_night_end_to_end() {
    // "Imaginons que j'aille en boîte et que je sorte ivre mort le soir."
    let (mut e, g) = one_group(policy(), 5);
    let x = c(0);
    let incident = drunk(&mut e, x);
    // The penalty applies on the day of the incident.
    assert_eq!(e.score(x).unwrap(), 990);
    // "le lendemain tous mes amis virtuels qui sont dans le même groupe que moi reçoivent le même message"
    let report = e.close_day();
    assert_eq!(report.notices_delivered, 4);
    for mate in 1..5 {
        let notices = e.notices_for(c(mate)).unwrap();
        assert_eq!(notices.len(), 1, "citizen {mate}");
        assert_eq!(notices[0].incident, incident);
        assert_eq!(notices[0].offender, x);
        assert_eq!(notices[0].deadline, 1);
    }
    assert!(e.notices_for(x).unwrap().is_empty(), "the offender is not asked about themselves");
    // "Soit ils me virent du groupe et gagnent trois points … Soit ils me gardent, et perdent trois points"
    e.answer_notice(c(1), incident, Answer::Expel).unwrap();
    e.answer_notice(c(2), incident, Answer::Expel).unwrap();
    e.answer_notice(c(3), incident, Answer::Keep).unwrap();
    e.answer_notice(c(4), incident, Answer::Keep).unwrap();
    // Points move at the deadline, not before.
    assert_eq!(e.score(c(1)).unwrap(), 1000);
    let report = e.close_day();
    assert_eq!(e.score(c(1)).unwrap(), 1003);
    assert_eq!(e.score(c(2)).unwrap(), 1003);
    assert_eq!(e.score(c(3)).unwrap(), 997);
    assert_eq!(e.score(c(4)).unwrap(), 997);
    assert_eq!((report.answers_expel, report.answers_keep, report.answers_none), (2, 2, 0));
    // 2 of 4 = 0.5 ≥ quorum 0.5: expelled.
    assert_eq!(report.expelled, vec![(incident, x)]);
    assert_eq!(e.group_of(x).unwrap(), None);
    assert_eq!(e.group(g).unwrap().size(), 4);
    let outcome = e.incident(incident).unwrap().outcome.unwrap();
    assert_eq!((outcome.notified, outcome.expel, outcome.keep, outcome.expelled), (4, 2, 2, true));
}

#[test]
fn below_the_quorum_the_offender_stays() {
    let (mut e, g) = one_group(policy(), 5);
    let incident = drunk(&mut e, c(0));
    e.close_day();
    e.answer_notice(c(1), incident, Answer::Expel).unwrap();
    for mate in 2..5 {
        e.answer_notice(c(mate), incident, Answer::Keep).unwrap();
    }
    let report = e.close_day();
    assert!(report.expelled.is_empty());
    assert_eq!(e.group_of(c(0)).unwrap(), Some(g));
}

#[test]
fn silence_counts_as_keep_by_default() {
    let (mut e, _) = one_group(policy(), 4);
    let incident = drunk(&mut e, c(0));
    e.close_day();
    e.answer_notice(c(1), incident, Answer::Expel).unwrap();
    let report = e.close_day();
    assert_eq!(report.answers_none, 2);
    assert_eq!(e.score(c(2)).unwrap(), 997, "no answer = keep = −3");
    assert!(report.expelled.is_empty(), "1 expel of 3 notified is below the quorum");
    let kinds: Vec<&str> = e.ledger().of(c(2)).map(|entry| entry.cause.kind()).collect();
    assert_eq!(kinds, ["abstain_counted_keep"]);
}

#[test]
fn abstain_as_expel_counts_towards_the_quorum() {
    let mut p = policy();
    p.sanction.abstain_as = AbstainAs::Expel;
    let (mut e, _) = one_group(p, 4);
    let incident = drunk(&mut e, c(0));
    e.close_day();
    let report = e.close_day();
    assert_eq!(e.score(c(1)).unwrap(), 1003);
    assert_eq!(report.expelled, vec![(incident, c(0))]);
}

#[test]
fn abstain_as_none_moves_no_points() {
    let mut p = policy();
    p.sanction.abstain_as = AbstainAs::None;
    let (mut e, g) = one_group(p, 4);
    drunk(&mut e, c(0));
    e.close_day();
    let report = e.close_day();
    for mate in 1..4 {
        assert_eq!(e.score(c(mate)).unwrap(), 1000);
    }
    assert_eq!(report.answers_none, 3);
    assert_eq!(e.group_of(c(0)).unwrap(), Some(g));
}

#[test]
fn groupless_offenders_take_the_penalty_but_notify_nobody() {
    let mut e = engine_with(policy());
    e.register_citizens(3).unwrap();
    let incident = drunk(&mut e, c(0));
    let report = e.close_day();
    assert_eq!(report.notices_delivered, 0);
    assert_eq!(e.score(c(0)).unwrap(), 990);
    assert_eq!(e.incident(incident).unwrap().group, None);
}

#[test]
fn an_expelled_citizen_waits_then_is_regrouped() {
    let mut p = policy();
    p.sanction.regroup_after_days = 3;
    p.sanction.abstain_as = AbstainAs::Expel;
    let (mut e, g) = one_group(p, 4);
    drunk(&mut e, c(0));
    e.close_day(); // day 0: notices
    e.close_day(); // day 1: tally, expelled; eligible at the close of day 1 + 3 = 4
    assert_eq!(e.view(c(0)).unwrap().regroup_day, Some(4));
    e.close_day(); // day 2
    e.close_day(); // day 3
    assert_eq!(e.group_of(c(0)).unwrap(), None);
    let report = e.close_day(); // day 4
    assert_eq!(report.regrouped, 1);
    assert_eq!(e.group_of(c(0)).unwrap(), Some(g));
}

#[test]
fn groups_below_min_size_are_refilled_first() {
    let mut p = policy();
    p.groups.min_size = 3;
    p.groups.max_size = 5;
    let mut e = engine_with(p);
    e.register_citizens(7).unwrap();
    let big = e.create_group().unwrap();
    let small = e.create_group().unwrap();
    for i in 0..4 {
        e.assign_group(c(i), big).unwrap();
    }
    e.assign_group(c(4), small).unwrap();
    // Citizens 5 and 6 are new and groupless; group 0 is most similar (listed first) but
    // group 1 is below min_size, so it is refilled first.
    let report = e.close_day();
    assert_eq!(report.regrouped, 2);
    assert_eq!(e.group(small).unwrap().size(), 3);
    assert_eq!(e.group(big).unwrap().size(), 4);
}

#[test]
fn group_pools_select_the_discount_tier_for_every_order_in_the_pool() {
    let mut p = policy();
    p.groups.max_size = 60;
    let (mut e, _) = one_group(p, 60);
    let milk = product(&mut e, 10, false);
    for i in 0..9 {
        e.place_order(c(i), milk, 1, None).unwrap();
    }
    // The tenth unit reaches the 20 % tier; the receipt says so provisionally.
    let receipt = e.place_order(c(9), milk, 1, None).unwrap();
    assert_eq!(receipt.pool_units, 10);
    assert_eq!(receipt.provisional.group_discount_bp, 2000);
    assert_eq!(receipt.next_tier, Some((15, 2500)));
    let report = e.close_day();
    assert_eq!(report.orders, 10);
    assert_eq!(report.gmv, 10 * 800);
    assert_eq!(report.discount_group, 10 * 200);
    assert_eq!(report.pools, 1);
    assert_eq!(report.pools_by_tier, vec![0, 1, 0, 0]);
    // Every order of the pool paid the pool's price, including the first ones.
    assert!(e.settled_orders().iter().all(|o| o.price.unit_price == 800 && o.pool_tier == 1));
}

#[test]
fn pools_are_per_group_product_and_day() {
    let mut p = policy();
    p.groups.max_size = 60;
    let mut e = engine_with(p);
    e.register_citizens(20).unwrap();
    let a = e.create_group().unwrap();
    let b = e.create_group().unwrap();
    for i in 0..20 {
        e.assign_group(c(i), if i < 10 { a } else { b }).unwrap();
    }
    let milk = product(&mut e, 10, false);
    for i in 0..20 {
        e.place_order(c(i), milk, 1, None).unwrap();
    }
    assert_eq!(e.pool_units(a, milk), 10);
    assert_eq!(e.pool_units(b, milk), 10);
    e.close_day();
    // A new day starts empty pools.
    assert_eq!(e.pool_units(a, milk), 0);
    let r = e.place_order(c(0), milk, 1, None).unwrap();
    assert_eq!(r.provisional.group_discount_bp, 0);
}

#[test]
fn groupless_citizens_pay_the_list_price() {
    let mut e = engine_with(policy());
    e.register_citizens(1).unwrap();
    let milk = product(&mut e, 10, false);
    let r = e.place_order(c(0), milk, 20, None).unwrap();
    assert_eq!(r.pool_units, 0);
    assert_eq!(r.provisional.unit_price, 1000);
    let report = e.close_day();
    assert_eq!(report.gmv, 20 * 1000);
    assert_eq!(report.pools, 0);
}

#[test]
fn credit_tier_discounts_favourites_only_and_the_cap_holds() {
    let mut p = policy();
    p.initial_score = 1100; // tier AAA: +10 % on favourites
    p.max_discount = 0.35;
    p.groups.max_size = 60;
    let (mut e, _) = one_group(p, 60);
    let milk = product(&mut e, 100, false);
    let rice = product(&mut e, 100, false);
    e.set_favourites(c(0), &[milk]).unwrap();
    for i in 1..50 {
        e.place_order(c(i), milk, 1, None).unwrap();
    }
    let favourite = e.place_order(c(0), milk, 1, None).unwrap();
    let other = e.place_order(c(0), rice, 1, None).unwrap();
    // 30 % group then 10 % credit would be 37 % off; the 35 % cap holds it.
    assert_eq!(favourite.provisional.group_discount_bp, 3000);
    assert_eq!(favourite.provisional.credit_discount_bp, 1000);
    assert!(favourite.provisional.capped);
    assert_eq!(favourite.provisional.unit_price, 6_500);
    assert_eq!(other.provisional.credit_discount_bp, 0);
    assert_eq!(other.provisional.unit_price, 10_000);
}

#[test]
fn tier_d_is_refused_train_tickets_with_the_reason() {
    let mut p = policy();
    p.initial_score = 610;
    let (mut e, _) = one_group(p, 3);
    let train = product(&mut e, 300, true);
    let milk = product(&mut e, 10, false);
    e.place_order(c(0), train, 1, None).unwrap();
    // −50 takes citizen 0 to 560: tier D, but tiers move only when the day closes.
    e.report_incident_named(c(0), "unpaid_judgement", 0).unwrap();
    assert_eq!(e.score(c(0)).unwrap(), 560);
    e.place_order(c(0), train, 1, None).unwrap();
    let report = e.close_day();
    assert_eq!(report.orders_refused_travel, 0);
    let refusal = e.place_order(c(0), train, 1, None).unwrap_err();
    match &refusal {
        Refusal::TravelBanned { tier, score, score_needed, .. } => {
            assert_eq!(tier, "D");
            assert_eq!(*score, 560);
            assert_eq!(*score_needed, 600);
        }
        other => panic!("expected a travel ban, got {other:?}"),
    }
    assert_eq!(refusal.code(), "travel_banned");
    assert!(refusal.to_string().contains("banned from travel"));
    // Other products are still sold.
    e.place_order(c(0), milk, 1, None).unwrap();
    let view = e.view(c(0)).unwrap();
    assert_eq!(view.restrictions, vec![Restriction::Travel]);
    assert_eq!(view.travel_score_needed, Some(600));
    let report = e.close_day();
    assert_eq!(report.orders_refused_travel, 1);
}

#[test]
fn scandals_hit_kols_who_promoted_within_the_window() {
    let mut e = engine_with(policy());
    e.register_citizens(1).unwrap();
    let milk = product(&mut e, 10, false);
    let tea = product(&mut e, 10, false);
    let promoter = e.add_kol("promoter".into()).unwrap();
    let bystander = e.add_kol("bystander".into()).unwrap();
    e.promote(promoter, milk).unwrap();
    e.promote(bystander, tea).unwrap();
    assert_eq!(e.promote(promoter, milk).unwrap_err().code(), "already_promoted");
    for _ in 0..10 {
        e.close_day();
    }
    e.reveal_scandal(milk).unwrap();
    let report = e.close_day();
    assert_eq!(report.scandals, vec![milk]);
    assert_eq!(report.kol_scandal_hits, 1);
    assert_eq!(e.kols()[promoter.index()].credibility, 0.25);
    assert_eq!(e.kols()[bystander.index()].credibility, 0.5);
}

#[test]
fn promotions_that_complete_their_window_cleanly_raise_credibility() {
    let mut e = engine_with(policy());
    let tea = product(&mut e, 10, false);
    let kol = e.add_kol("kol".into()).unwrap();
    e.promote(kol, tea).unwrap(); // day 0; window of 30 days completes at the close of day 30
    for _ in 0..30 {
        e.close_day();
    }
    assert_eq!(e.kols()[kol.index()].credibility, 0.5);
    let report = e.close_day();
    assert_eq!(report.kol_successes, 1);
    assert!((e.kols()[kol.index()].credibility - (0.5 + 0.02 * 0.5)).abs() < 1e-15);
}

#[test]
fn buying_in_place_goes_through_a_kol_one_follows() {
    let (mut e, _) = one_group(policy(), 2);
    let milk = product(&mut e, 10, false);
    let kol = e.add_kol("kol".into()).unwrap();
    assert_eq!(e.place_order(c(0), milk, 1, Some(kol)).unwrap_err().code(), "promotion_not_active");
    e.promote(kol, milk).unwrap();
    assert_eq!(e.place_order(c(0), milk, 1, Some(kol)).unwrap_err().code(), "not_following");
    e.follow(c(0), kol).unwrap();
    e.place_order(c(0), milk, 2, Some(kol)).unwrap();
    e.close_day();
    assert_eq!(e.kols()[kol.index()].units_sold, 2);
}

#[test]
fn a_granted_appeal_gives_the_penalty_back_and_the_votes_stand() {
    let mut p = policy();
    p.sanction.abstain_as = AbstainAs::Expel;
    let (mut e, _) = one_group(p, 3);
    let incident = drunk(&mut e, c(0));
    e.close_day();
    e.close_day(); // expelled; mates +3
    e.file_appeal(c(0), incident).unwrap();
    assert_eq!(e.decide_appeal(incident, true).unwrap(), 10);
    assert_eq!(e.score(c(0)).unwrap(), 1000);
    assert_eq!(e.score(c(1)).unwrap(), 1003, "answers already given stand");
    assert_eq!(e.group_of(c(0)).unwrap(), None, "the expulsion stands");
    let causes: Vec<&str> = e.ledger().of(c(0)).map(|x| x.cause.kind()).collect();
    assert_eq!(causes, ["incident", "appeal_granted"]);
    assert!(matches!(e.incident(incident).unwrap().appeal, AppealStatus::Granted { .. }));
}

#[test]
fn appeal_refusals() {
    let (mut e, _) = one_group(policy(), 3);
    let incident = drunk(&mut e, c(0));
    assert_eq!(e.file_appeal(c(1), incident).unwrap_err().code(), "appeal_not_by_offender");
    assert_eq!(e.decide_appeal(incident, true).unwrap_err().code(), "appeal_not_filed");
    e.file_appeal(c(0), incident).unwrap();
    assert_eq!(e.file_appeal(c(0), incident).unwrap_err().code(), "appeal_already_filed");
    assert_eq!(e.decide_appeal(incident, false).unwrap(), 0);
    assert_eq!(e.score(c(0)).unwrap(), 990);
    assert_eq!(e.decide_appeal(incident, true).unwrap_err().code(), "appeal_already_decided");
    let unknown = IncidentId { day: 0, citizen: c(2), seq: 0 };
    assert_eq!(e.file_appeal(c(2), unknown).unwrap_err().code(), "unknown_incident");
    assert_eq!(e.decide_appeal(unknown, true).unwrap_err().code(), "unknown_incident");
    // The window: 30 days after the report.
    let late = drunk(&mut e, c(1));
    for _ in 0..31 {
        e.close_day();
    }
    assert_eq!(e.file_appeal(c(1), late).unwrap_err().code(), "appeal_window_closed");
}

#[test]
fn notice_refusals() {
    let (mut e, _) = one_group(policy(), 3);
    let mut outsider_engine_id = e.register_citizens(1).unwrap();
    let outsider = c(outsider_engine_id.next().unwrap());
    let incident = drunk(&mut e, c(0));
    assert_eq!(e.answer_notice(c(1), incident, Answer::Expel).unwrap_err().code(), "notice_not_delivered");
    e.close_day();
    assert_eq!(e.answer_notice(c(0), incident, Answer::Keep).unwrap_err().code(), "not_a_recipient");
    assert_eq!(e.answer_notice(outsider, incident, Answer::Keep).unwrap_err().code(), "not_a_recipient");
    e.answer_notice(c(1), incident, Answer::Expel).unwrap();
    assert_eq!(e.answer_notice(c(1), incident, Answer::Keep).unwrap_err().code(), "already_answered");
    let unknown = IncidentId { day: 0, citizen: c(2), seq: 0 };
    assert_eq!(e.answer_notice(c(1), unknown, Answer::Keep).unwrap_err().code(), "unknown_incident");
    assert_eq!(e.answer_notice(c(9), incident, Answer::Keep).unwrap_err().code(), "unknown_citizen");
    e.close_day();
    assert_eq!(e.answer_notice(c(2), incident, Answer::Keep).unwrap_err().code(), "deadline_passed");
}

#[test]
fn order_refusals() {
    let mut p = policy();
    p.orders.max_orders_per_day = 2;
    p.orders.max_units_per_order = 5;
    let (mut e, _) = one_group(p, 2);
    let milk = product(&mut e, 10, false);
    assert_eq!(e.place_order(c(0), ProductId(99), 1, None).unwrap_err().code(), "unknown_product");
    assert_eq!(e.place_order(c(99), milk, 1, None).unwrap_err().code(), "unknown_citizen");
    assert_eq!(e.place_order(c(0), milk, 0, None).unwrap_err().code(), "invalid_units");
    assert_eq!(e.place_order(c(0), milk, 6, None).unwrap_err().code(), "invalid_units");
    assert_eq!(e.place_order(c(0), milk, 1, Some(KolId(7))).unwrap_err().code(), "unknown_kol");
    e.place_order(c(0), milk, 1, None).unwrap();
    e.place_order(c(0), milk, 1, None).unwrap();
    assert_eq!(e.place_order(c(0), milk, 1, None).unwrap_err().code(), "too_many_orders");
    assert_eq!(e.pending_orders().len(), 2, "refused orders leave no trace");
}

#[test]
fn membership_refusals() {
    let mut p = policy();
    p.groups.max_size = 2;
    let (mut e, g) = one_group(p, 2);
    let extra = CitizenId(e.register_citizens(1).unwrap().start);
    assert_eq!(e.assign_group(extra, g).unwrap_err().code(), "group_full");
    assert_eq!(e.assign_group(c(0), g).unwrap_err().code(), "already_in_group");
    assert_eq!(e.assign_group(extra, GroupId(5)).unwrap_err().code(), "unknown_group");
    assert_eq!(e.remove_from_group(extra).unwrap_err().code(), "not_in_group");
    e.remove_from_group(c(0)).unwrap();
    e.assign_group(extra, g).unwrap();
}

#[test]
fn incident_refusals() {
    let (mut e, _) = one_group(policy(), 2);
    assert_eq!(e.report_incident_named(c(0), "jaywalking_on_mars", 0).unwrap_err().code(), "unknown_incident_kind");
    assert_eq!(e.report_incident(c(0), 200, 0).unwrap_err().code(), "unknown_incident_kind");
    assert_eq!(e.report_incident_named(c(0), "littering", 1).unwrap_err().code(), "incident_in_future");
    assert_eq!(e.report_incident_named(c(7), "littering", 0).unwrap_err().code(), "unknown_citizen");
    assert_eq!(e.score(c(0)).unwrap(), 1000, "refused reports cost nothing");
}

#[test]
fn other_unknown_ids_are_refused() {
    let mut e = engine_with(policy());
    e.register_citizens(1).unwrap();
    assert_eq!(e.follow(c(0), KolId(3)).unwrap_err().code(), "unknown_kol");
    assert_eq!(e.promote(KolId(3), ProductId(0)).unwrap_err().code(), "unknown_kol");
    assert_eq!(e.reveal_scandal(ProductId(4)).unwrap_err().code(), "unknown_product");
    assert_eq!(e.set_favourites(c(0), &[ProductId(4)]).unwrap_err().code(), "unknown_product");
    assert_eq!(e.view(c(5)).unwrap_err().code(), "unknown_citizen");
    assert_eq!(e.explain(c(5)).unwrap_err().code(), "unknown_citizen");
}

#[test]
fn scores_stay_within_bounds_and_the_ledger_shows_the_absorbed_part() {
    let mut p = policy();
    p.initial_score = 30;
    let (mut e, _) = one_group(p, 2);
    e.report_incident_named(c(0), "destroying_public_equipment", 0).unwrap();
    assert_eq!(e.score(c(0)).unwrap(), 0);
    let entry = *e.ledger().of(c(0)).next().unwrap();
    assert_eq!((entry.delta, entry.requested), (-30, -100));
    let why = e.explain(c(0)).unwrap();
    assert_eq!(why.initial_score + why.entries.iter().map(|x| x.delta).sum::<i32>(), why.score);
}

#[test]
fn explanation_folds_the_ledger() {
    let (mut e, _) = one_group(policy(), 4);
    let i = drunk(&mut e, c(0));
    e.close_day();
    e.answer_notice(c(1), i, Answer::Expel).unwrap();
    e.close_day();
    let j = e.report_incident_named(c(1), "littering", 2).unwrap();
    let why = e.explain(c(1)).unwrap();
    assert_eq!(why.score, 998);
    assert_eq!(why.entries.len(), 2);
    assert_eq!(why.entries[0].cause, Cause::Vote { incident: i, answer: Answer::Expel, abstained: false });
    assert_eq!(why.entries[1].cause, Cause::Incident { incident: j });
    assert_eq!(why.tier, "A");
}

#[test]
fn commands_round_trip_through_json_and_apply_the_same() {
    let commands = vec![
        Command::RegisterCitizen,
        Command::RegisterCitizen,
        Command::CreateGroup,
        Command::AssignGroup { citizen: c(0), group: GroupId(0) },
        Command::AssignGroup { citizen: c(1), group: GroupId(0) },
        Command::ReportIncident { citizen: c(0), kind: "littering".into(), day: None },
        Command::CloseDay,
    ];
    let json = serde_json::to_string(&commands).unwrap();
    let back: Vec<Command> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, commands);
    let mut a = engine_with(policy());
    let mut b = engine_with(policy());
    for cmd in &commands {
        a.apply(cmd).unwrap();
    }
    for cmd in &back {
        b.apply(cmd).unwrap();
    }
    assert_eq!(a.state_hash(), b.state_hash());
    let unknown_field = r#"{"type":"remove_from_group","citizen":1,"extra":2}"#;
    assert!(serde_json::from_str::<Command>(unknown_field).is_err(), "unknown fields are refused");
}

#[test]
fn forming_groups_in_bulk_is_all_or_nothing() {
    let mut p = policy();
    p.groups.max_size = 2;
    let mut e = engine_with(p);
    e.register_citizens(5).unwrap();
    let too_many = [(c(0), GroupId(0)), (c(1), GroupId(0)), (c(2), GroupId(0))];
    assert_eq!(e.form_groups(&too_many).unwrap_err().code(), "group_full");
    assert_eq!(e.group_count(), 0);
    assert_eq!(e.groupless().len(), 5, "a refused formation changes nothing");
    let twice = [(c(0), GroupId(0)), (c(0), GroupId(1))];
    assert_eq!(e.form_groups(&twice).unwrap_err().code(), "invalid_value");
    e.form_groups(&[(c(3), GroupId(1)), (c(0), GroupId(0)), (c(1), GroupId(1))]).unwrap();
    assert_eq!(e.group_count(), 2);
    assert_eq!(e.group(GroupId(1)).unwrap().members().iter().map(|m| m.citizen).collect::<Vec<_>>(), [c(1), c(3)]);
    assert_eq!(e.groupless().iter().map(|m| m.member.citizen).collect::<Vec<_>>(), [c(2), c(4)]);
    assert_eq!(e.form_groups(&[(c(0), GroupId(1))]).unwrap_err().code(), "already_in_group");
}

#[test]
fn populating_streams_citizens_into_pre_sized_groups() {
    let mut e = engine_with(policy());
    let mut p = e.populate(6, &[2, 3]).unwrap();
    p.place(c(0), 0).unwrap();
    p.place(c(2), 1).unwrap();
    assert_eq!(p.place(c(2), 0).unwrap_err().code(), "invalid_value", "ids must increase");
    p.place(c(3), 0).unwrap();
    assert_eq!(p.place(c(4), 0).unwrap_err().code(), "group_full");
    p.place(c(4), 1).unwrap();
    p.place(c(5), 1).unwrap();
    p.finish().unwrap();
    assert_eq!(e.citizen_count(), 6);
    let ids = |g: u32| e.group(GroupId(g)).unwrap().members().iter().map(|m| m.citizen).collect::<Vec<_>>();
    assert_eq!(ids(0), [c(0), c(3)]);
    assert_eq!(ids(1), [c(2), c(4), c(5)]);
    assert_eq!(e.groupless().iter().map(|m| m.member.citizen).collect::<Vec<_>>(), [c(1)]);
    assert_eq!(e.group_of(c(4)).unwrap(), Some(GroupId(1)));
    assert_eq!(e.score(c(5)).unwrap(), 1000);
    assert_eq!(e.scores().total(), 6);
    // A group left short of its size is refused at the end.
    let mut short = engine_with(policy());
    let mut p = short.populate(3, &[2]).unwrap();
    p.place(c(0), 0).unwrap();
    assert_eq!(p.finish().unwrap_err().code(), "invalid_value");
    assert_eq!(engine_with(policy()).populate(3, &[11]).err().unwrap().code(), "invalid_value", "above max_size");
}

#[test]
fn populating_group_by_group_gives_what_populating_in_id_order_gives() {
    // Citizen i goes to group plan[i] (None: groupless), as in the test above plus more.
    let plan = [Some(0), None, Some(1), Some(0), Some(1), Some(1), Some(2), None, Some(2), Some(0)];
    let sizes = [3, 3, 2];
    let mut by_id = engine_with(policy());
    let mut p = by_id.populate(plan.len() as u32, &sizes).unwrap();
    for (i, g) in plan.iter().enumerate() {
        if let Some(g) = g {
            p.place(c(i as u32), *g).unwrap();
        }
    }
    p.finish().unwrap();
    let mut grouped = engine_with(policy());
    let mut p = grouped.populate(plan.len() as u32, &sizes).unwrap();
    let chunk = |range: std::ops::Range<u32>| {
        let mut pairs: Vec<(u32, CitizenId)> = range.filter_map(|i| plan[i as usize].map(|g| (g, c(i)))).collect();
        pairs.sort();
        pairs
    };
    // Refused, and nothing changes: unsorted, out of the range, twice, too many for a group.
    let mut unsorted = chunk(0..4);
    unsorted.reverse();
    assert_eq!(p.place_grouped(4, &unsorted).unwrap_err().code(), "invalid_value");
    assert_eq!(p.place_grouped(4, &[(0, c(5))]).unwrap_err().code(), "invalid_value");
    assert_eq!(p.place_grouped(4, &[(0, c(0)), (1, c(0))]).unwrap_err().code(), "invalid_value");
    assert_eq!(p.place_grouped(4, &[(2, c(0)), (2, c(1)), (2, c(2))]).unwrap_err().code(), "group_full");
    assert_eq!(p.place_grouped(11, &[]).unwrap_err().code(), "invalid_value");
    p.place_grouped(4, &chunk(0..4)).unwrap();
    assert_eq!(p.place(c(3), 0).unwrap_err().code(), "invalid_value", "the range is placed");
    p.place_grouped(10, &chunk(4..10)).unwrap();
    p.finish().unwrap();
    for g in 0..3 {
        assert_eq!(grouped.group(GroupId(g)).unwrap().members(), by_id.group(GroupId(g)).unwrap().members());
    }
    assert_eq!(grouped.groupless(), by_id.groupless());
    assert_eq!(grouped.groupless().iter().map(|m| m.member.citizen).collect::<Vec<_>>(), [c(1), c(7)]);
    for i in 0..plan.len() as u32 {
        assert_eq!(grouped.group_of(c(i)).unwrap(), by_id.group_of(c(i)).unwrap());
    }
}

#[test]
fn a_notice_goes_to_the_group_as_it_was_at_delivery() {
    // Notices are stored without a recipient list while the group is unchanged; when the
    // group changes before the deadline the recipients must still be those notified.
    let (mut e, g) = one_group(policy(), 5);
    let newcomer = CitizenId(e.register_citizens(1).unwrap().start);
    let incident = drunk(&mut e, c(0));
    assert_eq!(e.close_day().notices_delivered, 4);
    // The close placed the groupless newcomer in the group after delivering the notices;
    // then a recipient leaves, before anyone answers.
    assert_eq!(e.group_of(newcomer).unwrap(), Some(g));
    e.remove_from_group(c(2)).unwrap();
    assert!(e.notices_for(newcomer).unwrap().is_empty(), "joined after delivery: not asked");
    assert_eq!(e.answer_notice(newcomer, incident, Answer::Expel).unwrap_err().code(), "not_a_recipient");
    assert_eq!(e.notices_for(c(2)).unwrap().len(), 1, "left after delivery: still asked");
    e.answer_notice(c(1), incident, Answer::Expel).unwrap();
    e.answer_notice(c(2), incident, Answer::Keep).unwrap();
    e.answer_notice(c(3), incident, Answer::Expel).unwrap();
    assert_eq!(e.answer_notice(c(3), incident, Answer::Keep).unwrap_err().code(), "already_answered");
    let report = e.close_day();
    assert_eq!((report.answers_expel, report.answers_keep, report.answers_none), (2, 1, 1));
    assert_eq!(e.score(c(1)).unwrap(), 1003);
    assert_eq!(e.score(c(2)).unwrap(), 997, "the one who left is paid for the answer they gave");
    assert_eq!(e.score(c(3)).unwrap(), 1003);
    assert_eq!(e.score(c(4)).unwrap(), 997, "silence counts as keep");
    assert_eq!(e.score(newcomer).unwrap(), 1000);
    // Two of the four notified asked for expulsion: half, which the default quorum needs.
    assert_eq!(e.group_of(c(0)).unwrap(), None);
    assert_eq!(e.group_of(newcomer).unwrap(), Some(g));
}

#[test]
fn incident_records_are_forgotten_after_their_retention_unless_an_appeal_is_pending() {
    let keep = 3;
    let options =
        EngineOptions { keep_history: false, incident_retention_days: Some(keep), ..EngineOptions::default() };
    let mut e = Engine::new(policy().validate().unwrap(), StoredDirectory::new(), options);
    e.register_citizens(8).unwrap();
    let g = e.create_group().unwrap();
    for x in 0..8 {
        e.assign_group(c(x), g).unwrap();
    }
    // Citizen r misbehaves on day r; citizen 1 appeals on day 3 and hears back on day 9.
    let mut reported: Vec<IncidentId> = Vec::new();
    for today in 0..14u32 {
        assert_eq!(e.day(), today);
        if today < 6 {
            reported.push(drunk(&mut e, c(today)));
        }
        if today == 3 {
            e.file_appeal(c(1), reported[1]).unwrap();
        }
        if today == 9 {
            e.decide_appeal(reported[1], false).unwrap();
        }
        e.close_day();
        for (r, id) in reported.iter().enumerate() {
            let pending_appeal = r == 1 && (3..9).contains(&today);
            let expected = r as u32 + keep >= today || pending_appeal;
            assert_eq!(e.incident(*id).is_some(), expected, "incident of day {r} after the close of day {today}");
        }
    }
    assert_eq!(e.incidents().count(), 0, "all forgotten in the end");
}
