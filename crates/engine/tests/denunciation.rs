//! Denunciation for vouchers (the article's title): citizens report citizens, and are paid
//! when the report is confirmed.

use xinyong_engine::*;

fn c(i: u32) -> CitizenId {
    CitizenId(i)
}

fn policy() -> Policy {
    let mut p = Policy::default();
    p.groups.min_size = 2;
    p.groups.max_size = 10;
    p.denunciation.enabled = true;
    p.denunciation.voucher_percent = 0.1;
    p.denunciation.voucher_days = 5;
    p.denunciation.reward_points = 2;
    p.denunciation.false_report_penalty = 4;
    p.denunciation.max_reports_per_day = 2;
    p
}

/// Two groups: citizens 0..4 and 4..8.
fn world(p: Policy) -> Engine<StoredDirectory> {
    let mut e = Engine::new(p.validate().unwrap(), StoredDirectory::new(), EngineOptions::default());
    e.register_citizens(8).unwrap();
    let assignments: Vec<(CitizenId, GroupId)> = (0..8).map(|i| (c(i), GroupId(i / 4))).collect();
    e.form_groups(&assignments).unwrap();
    e.add_product(ProductSpec {
        name: "tea".into(),
        brand: BrandId(0),
        category: 0,
        list_price: 10_000,
        travel: false,
    })
    .unwrap();
    e
}

fn causes(e: &Engine<StoredDirectory>, who: u32) -> Vec<&'static str> {
    e.ledger().of(c(who)).map(|x| x.cause.kind()).collect()
}

#[test]
fn denunciation_is_off_unless_the_policy_allows_it() {
    let mut p = policy();
    p.denunciation.enabled = false;
    let mut e = world(p);
    assert_eq!(e.denounce(c(0), c(1), "littering", 0).unwrap_err().code(), "denunciation_disabled");
    assert!(!Policy::default().denunciation.enabled, "off in the default policy");
}

#[test]
fn a_confirmed_report_becomes_an_incident_and_pays_a_voucher() {
    let mut e = world(policy());
    let report = e.denounce(c(0), c(1), "public_drunkenness", 0).unwrap();
    assert_eq!(e.pending_reports().len(), 1);
    assert_eq!(e.score(c(1)).unwrap(), 1000, "a report is not an incident until confirmed");
    let incident = e.decide_report(report, true).unwrap().expect("an incident");
    assert_eq!(e.score(c(1)).unwrap(), 990);
    assert_eq!(e.incident(incident).unwrap().source, IncidentSource::Denunciation { report });
    assert_eq!(e.score(c(0)).unwrap(), 1002, "reward points");
    assert_eq!(causes(&e, 0), ["denunciation_reward", "voucher_issued"]);
    // The voucher is usable from tomorrow, like any incident's notices go out at the close.
    let today = e.place_order(c(0), ProductId(0), 1, None).unwrap();
    assert_eq!(today.provisional.voucher_bp, 0);
    let report_day = e.close_day();
    assert_eq!((report_day.denunciations, report_day.denunciations_confirmed, report_day.vouchers_issued), (1, 1, 1));
    assert_eq!(report_day.notices_delivered, 3, "exactly as a camera incident: the group-mates are asked");
    let receipt = e.place_order(c(0), ProductId(0), 2, None).unwrap();
    assert_eq!(receipt.provisional.voucher_bp, 1000);
    assert_eq!(receipt.provisional.unit_price, 9_000);
    let second = e.place_order(c(0), ProductId(0), 1, None).unwrap();
    assert_eq!(second.provisional.voucher_bp, 0, "one voucher, one order");
    let next = e.close_day();
    assert_eq!(next.vouchers_used, 1);
    assert_eq!(next.discount_voucher, 2 * 1000);
    assert!(causes(&e, 0).contains(&"voucher_used"));
    assert!(e.vouchers_of(c(0)).is_empty());
    let settled: Vec<_> = e.settled_orders().iter().filter(|o| o.order.voucher.is_some()).collect();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].price.voucher_discount, 1000);
}

#[test]
fn a_rejected_report_costs_the_denouncer() {
    let mut e = world(policy());
    let report = e.denounce(c(2), c(3), "littering", 0).unwrap();
    assert_eq!(e.decide_report(report, false).unwrap(), None);
    assert_eq!(e.score(c(2)).unwrap(), 996);
    assert_eq!(e.score(c(3)).unwrap(), 1000);
    assert_eq!(causes(&e, 2), ["false_report"]);
    assert_eq!(e.decide_report(report, true).unwrap_err().code(), "report_already_decided");
    let day = e.close_day();
    assert_eq!(day.denunciations_rejected, 1);
}

#[test]
fn vouchers_expire_unused() {
    let mut e = world(policy());
    let report = e.denounce(c(0), c(1), "littering", 0).unwrap();
    e.decide_report(report, true).unwrap();
    let mut expired = 0;
    for _ in 0..7 {
        expired += e.close_day().vouchers_expired;
    }
    assert_eq!(expired, 1);
    assert!(causes(&e, 0).contains(&"voucher_expired"));
    assert!(e.vouchers_of(c(0)).is_empty());
}

#[test]
fn a_report_decided_days_later_still_becomes_an_incident() {
    let mut e = world(policy());
    let report = e.denounce(c(0), c(1), "fare_evasion", 0).unwrap();
    e.close_day();
    e.close_day();
    assert_eq!(e.pending_reports().iter().map(|r| r.id).collect::<Vec<_>>(), [report]);
    let incident = e.decide_report(report, true).unwrap().unwrap();
    assert_eq!(incident.day, 2, "reported when confirmed");
    assert_eq!(e.incident(incident).unwrap().day, 0, "about the day of the alleged incident");
}

#[test]
fn denunciation_refusals() {
    let mut e = world(policy());
    assert_eq!(e.denounce(c(0), c(0), "littering", 0).unwrap_err().code(), "self_report");
    assert_eq!(e.denounce(c(0), c(5), "littering", 0).unwrap_err().code(), "not_in_your_group");
    assert_eq!(e.denounce(c(0), c(9), "littering", 0).unwrap_err().code(), "unknown_citizen");
    assert_eq!(e.denounce(c(0), c(1), "spitting", 0).unwrap_err().code(), "unknown_incident_kind");
    assert_eq!(e.denounce(c(0), c(1), "littering", 3).unwrap_err().code(), "incident_in_future");
    e.denounce(c(0), c(1), "littering", 0).unwrap();
    e.denounce(c(0), c(2), "littering", 0).unwrap();
    assert_eq!(e.denounce(c(0), c(3), "littering", 0).unwrap_err().code(), "too_many_reports");
    let unknown = ReportId { day: 0, citizen: c(7), seq: 0 };
    assert_eq!(e.decide_report(unknown, true).unwrap_err().code(), "unknown_report");
    // A groupless citizen has no group-mates to report.
    e.remove_from_group(c(3)).unwrap();
    assert_eq!(e.denounce(c(3), c(0), "littering", 0).unwrap_err().code(), "not_in_your_group");
    assert_eq!(e.denounce(c(1), c(3), "littering", 0).unwrap_err().code(), "not_in_your_group", "who left the group");
}

#[test]
fn report_ids_read_and_print_the_same() {
    let id = ReportId { day: 4, citizen: c(77), seq: 1 };
    assert_eq!(id.to_string(), "r4-77-1");
    assert_eq!("r4-77-1".parse::<ReportId>().unwrap(), id);
    assert!("i4-77-1".parse::<ReportId>().is_err());
}

#[test]
fn the_ledger_still_explains_every_score() {
    let mut e = world(policy());
    for day in 0..6u32 {
        for i in 0..4 {
            if let Ok(r) = e.denounce(c(i), c((i + 1) % 4), "littering", day) {
                e.decide_report(r, (i + day) % 3 != 0).unwrap();
            }
            let _ = e.place_order(c(i), ProductId(0), 1, None);
        }
        e.close_day();
    }
    for i in 0..8 {
        let why = e.explain(c(i)).unwrap();
        assert_eq!(why.initial_score + why.entries.iter().map(|x| x.delta).sum::<i32>(), why.score);
    }
    let kinds: Vec<&str> = e.ledger().entries().iter().map(|x| x.cause.kind()).collect();
    for kind in ["denunciation_reward", "false_report", "voucher_issued", "voucher_used"] {
        assert!(kinds.contains(&kind), "{kind} missing");
    }
}
