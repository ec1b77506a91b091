//! Denunciation for vouchers in simulation (issue 11): off changes nothing, the
//! confirmation model decides who is punished, and every driver agrees.

use xinyong_sim::{Driver, Scenario, Simulation};

fn base() -> Scenario {
    let mut s = Scenario::default();
    s.run.citizens = 3_000;
    s.run.days = 40;
    s.run.seed = 17;
    s.run.threads = 2;
    s.world.misconduct.daily_rate_mean = 0.004;
    s
}

fn on() -> Scenario {
    let mut s = base();
    s.policy.denunciation.enabled = true;
    s.world.denunciation.malicious_share = 0.1;
    s.world.denunciation.malicious_rate = 0.2;
    s
}

fn csv(s: Scenario) -> String {
    let mut sim = Simulation::new(s).unwrap();
    sim.run(|_, _| {});
    xinyong_sim::metrics::to_csv(sim.metrics(), &sim.tier_names())
}

/// A column of a metrics CSV by name.
fn column(csv: &str, name: &str) -> Vec<i64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}"));
    lines.map(|l| l.split(',').nth(i).unwrap().parse::<f64>().unwrap() as i64).collect()
}

#[test]
fn with_denunciation_off_the_world_model_is_never_consulted() {
    let a = csv(base());
    let mut b = base();
    b.world.denunciation.propensity = 1.0;
    b.world.denunciation.malicious_share = 1.0;
    b.world.denunciation.malicious_rate = 1.0;
    assert_eq!(a, csv(b), "the denunciation model changed a run where the policy has it off");
    assert!(!a.lines().next().unwrap().contains("denunciation"), "no denunciation columns when off");
}

#[test]
fn switched_on_without_denouncers_it_preserves_every_draw_and_only_adds_columns() {
    let off = csv(base());
    let mut s = base();
    s.policy.denunciation.enabled = true;
    s.world.denunciation.witness_rate = 0.0;
    s.world.denunciation.malicious_share = 0.0;
    let quiet = csv(s);
    // Same rows, each extended by the denunciation columns: nothing filed, and every
    // innocent expulsion came from the cameras.
    for (a, b) in off.lines().zip(quiet.lines()).skip(1) {
        assert!(b.starts_with(a), "common random numbers broken:\n{a}\n{b}");
    }
    assert_eq!(off.lines().count(), quiet.lines().count());
    for name in ["denunciations", "denunciations_confirmed", "vouchers_issued", "vouchers_used", "discount_voucher"] {
        assert!(column(&quiet, name).iter().all(|&n| n == 0), "{name}");
    }
    assert_eq!(column(&quiet, "expulsions_innocent_camera"), column(&off, "expulsions_innocent"));
    assert!(column(&quiet, "expulsions_innocent_denunciation").iter().all(|&n| n == 0));
}

#[test]
fn with_confirm_rate_false_zero_no_innocent_is_punished_through_a_denunciation() {
    let mut s = on();
    s.world.denunciation.confirm_rate_false = 0.0;
    let out = csv(s);
    let filed: i64 = column(&out, "denunciations").iter().sum();
    let confirmed: i64 = column(&out, "denunciations_confirmed").iter().sum();
    assert!(filed > 50 && confirmed > 0, "the scenario exercises denunciation ({filed} filed, {confirmed} confirmed)");
    assert!(confirmed < filed, "malicious reports are rejected");
    assert!(column(&out, "denunciations_false_confirmed").iter().all(|&n| n == 0));
    assert!(column(&out, "expulsions_innocent_denunciation").iter().all(|&n| n == 0));
}

#[test]
fn confirmed_false_reports_punish_innocents_and_are_counted_apart_from_cameras() {
    let mut s = on();
    s.world.denunciation.confirm_rate_false = 1.0;
    s.world.voting.model = xinyong_sim::VotingModel::AlwaysExpel;
    let out = csv(s);
    let false_confirmed: i64 = column(&out, "denunciations_false_confirmed").iter().sum();
    assert!(false_confirmed > 0);
    let innocent = column(&out, "expulsions_innocent");
    let camera = column(&out, "expulsions_innocent_camera");
    let denounced = column(&out, "expulsions_innocent_denunciation");
    for day in 0..innocent.len() {
        assert_eq!(innocent[day], camera[day] + denounced[day], "day {day}: the split adds up");
    }
    assert!(denounced.iter().sum::<i64>() > 0, "always expel: falsely denounced people are expelled");
    // Every confirmed report pays one voucher; a voucher is used at most once.
    let issued = column(&out, "vouchers_issued");
    assert_eq!(issued, column(&out, "denunciations_confirmed"));
    let (mut held, used, expired) = (0i64, column(&out, "vouchers_used"), column(&out, "vouchers_expired"));
    for day in 0..issued.len() {
        held += issued[day] - used[day] - expired[day];
        assert!(held >= 0, "day {day}: more vouchers used or expired than issued");
    }
    assert!(used.iter().sum::<i64>() > 0, "vouchers are spent on orders");
    assert!(column(&out, "discount_voucher").iter().sum::<i64>() > 0);
}

#[test]
fn denunciation_runs_alike_by_group_by_citizen_and_on_any_thread_count() {
    let mut outs = Vec::new();
    for (driver, threads) in [(Driver::Groups, 1), (Driver::Groups, 3), (Driver::Citizens, 2)] {
        let mut s = on();
        s.run.threads = threads;
        s.policy.sanction.regroup_after_days = 10;
        let mut sim = Simulation::with_driver(s, driver).unwrap();
        sim.run(|_, _| {});
        let mut ledger = sim.engine().ledger().entries().to_vec();
        ledger.sort_by_key(|e| (e.day, e.citizen, e.cause.incident(), e.cause.kind()));
        outs.push((xinyong_sim::metrics::to_csv(sim.metrics(), &sim.tier_names()), ledger, sim.engine().state_hash()));
    }
    assert!(column(&outs[0].0, "denunciations_confirmed").iter().sum::<i64>() > 0);
    for other in &outs[1..] {
        assert_eq!(outs[0].0, other.0, "metrics differ");
        assert_eq!(outs[0].1, other.1, "ledgers differ");
        assert_eq!(outs[0].2, other.2, "states differ");
    }
}
