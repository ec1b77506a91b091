//! A run split over shards (issue 9): shards that exchange their day parts through JSON
//! reach, day by day, the metrics of the whole run, whatever the number of shards.

use xinyong_engine::KolId;
use xinyong_sim::{DayPart, MetricsRow, RowPart, Scenario, Shard, Simulation};

/// A small world that takes every cross-shard path: expulsions and regrouping into other
/// shards' groups, KOLs followed from several shards, scandals, appeals.
fn busy(overrides: &[(&str, &str)]) -> Scenario {
    let mut pairs: Vec<(String, String)> = [
        ("run.citizens", "4000"),
        ("run.days", "40"),
        ("run.threads", "1"),
        ("policy.sanction.regroup_after_days", "5"),
        ("world.commerce.scandal_rate", "0.01"),
        ("world.kols.per_million", "5000"),
        // Keeping an offender costs enough that some who never offended end up banned from travel.
        ("policy.sanction.keep_penalty", "80"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    pairs.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Scenario::parse("", "shards", &pairs).unwrap()
}

/// Runs `n` shards in lock step, parts crossing as JSON bytes (delivered in reverse order:
/// the merge must not depend on arrival order); returns shard 0's rows.
fn sharded(s: &Scenario, n: u32) -> Vec<MetricsRow> {
    let mut shards: Vec<Simulation> =
        (0..n).map(|i| Simulation::with_shard(s.clone(), Shard::new(i, n)).unwrap()).collect();
    for _ in 0..s.run.days {
        let parts: Vec<Vec<u8>> = shards.iter_mut().map(|x| serde_json::to_vec(&x.step_local()).unwrap()).collect();
        for x in shards.iter_mut() {
            let p: Vec<DayPart> = parts.iter().rev().map(|b| serde_json::from_slice(b).unwrap()).collect();
            x.step_finish(p);
            assert!(!x.is_complete() || n == 1);
        }
    }
    if n > 1 {
        // The last row's shares travel alone, after the last day.
        let rows: Vec<Vec<u8>> = shards.iter().map(|x| serde_json::to_vec(&x.row_part().unwrap()).unwrap()).collect();
        for x in shards.iter_mut() {
            x.complete_row(rows.iter().map(|b| serde_json::from_slice::<RowPart>(b).unwrap()).collect());
        }
    }
    assert!(shards.iter().all(|x| x.is_complete() && x.row_part().is_none()));
    for x in &shards[1..] {
        assert_eq!(x.metrics(), shards[0].metrics(), "every shard records the same rows");
        assert_eq!(x.totals(), shards[0].totals());
        assert_eq!(x.engine().ledger().totals(), shards[0].engine().ledger().totals());
    }
    shards[0].metrics().to_vec()
}

fn whole(s: &Scenario) -> Simulation {
    let mut sim = Simulation::new(s.clone()).unwrap();
    sim.run(|_, _| {});
    sim
}

fn assert_same(s: &Scenario, n: u32) {
    let reference = whole(s);
    let rows = sharded(s, n);
    for (a, b) in rows.iter().zip(reference.metrics()) {
        assert_eq!(a, b, "{n} shards, day {}", b.day);
    }
    assert_eq!(rows.len(), reference.metrics().len());
}

#[test]
fn the_busy_world_takes_every_cross_shard_path() {
    let s = busy(&[]);
    let sim = whole(&s);
    let m = sim.metrics();
    let sum = |f: fn(&MetricsRow) -> u64| m.iter().map(f).sum::<u64>();
    assert!(sum(|r| r.expulsions) > 10, "expulsions");
    assert!(sum(|r| r.regrouped) > 10, "regrouping");
    assert!(sum(|r| r.scandals) > 0 && sim.scandal_events().iter().any(|e| e.kols_hit > 0), "scandals hit KOLs");
    assert!(sum(|r| r.appeals) > 0, "appeals");
    assert!(m.iter().any(|r| r.banned_never_offended > 0), "travel bans on people never offending");
    // KOLs sell, and some KOL has followers in the groups of every one of 3 shards.
    let engine = sim.engine();
    assert!(engine.kols().iter().any(|k| k.units_sold > 0), "followers buy through KOLs");
    let people = &engine.directory().people;
    let groups = engine.group_count();
    let spread = (0..engine.kols().len() as u32).any(|k| {
        (0..3).all(|i| {
            Shard::new(i, 3)
                .groups(groups)
                .any(|g| engine.groups()[g as usize].members().iter().any(|m| people.follows(m.citizen, KolId(k))))
        })
    });
    assert!(spread, "a KOL followed from every shard");
}

#[test]
fn two_shards_reach_the_whole_runs_metrics() {
    assert_same(&busy(&[]), 2);
}

#[test]
fn three_shards_reach_the_whole_runs_metrics() {
    assert_same(&busy(&[]), 3);
}

#[test]
fn shards_agree_when_the_expelled_regroup_at_once() {
    // Regrouping the same day or the next: the expelled may land in another shard's group
    // before their notices are tallied.
    for days in ["0", "1"] {
        let s = busy(&[
            ("run.days", "25"),
            ("policy.sanction.regroup_after_days", days),
            ("world.voting.model", "always_expel"),
        ]);
        assert_same(&s, 3);
    }
}

#[test]
fn a_shard_of_one_is_the_whole_run() {
    assert_same(&busy(&[("run.days", "10")]), 1);
}

#[test]
fn shards_agree_with_denunciation_and_balanced_grouping() {
    let s = busy(&[
        ("policy.denunciation.enabled", "true"),
        ("world.denunciation.malicious_share", "0.1"),
        ("world.denunciation.malicious_rate", "0.2"),
        ("world.grouping", "\"balanced\""),
    ]);
    let rows = sharded(&s, 1);
    let confirmed: u64 = rows.iter().filter_map(|r| r.denunciation.as_ref()).map(|d| d.denunciations_confirmed).sum();
    assert!(confirmed > 0, "the scenario exercises denunciation");
    assert_same(&s, 2);
    assert_same(&s, 3);
}
