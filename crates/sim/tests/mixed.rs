//! Mixed worlds at the simulator's level: the live engine lent to the simulated citizens
//! day by day (the service's tests drive the same thing over HTTP).

use xinyong_engine::{Answer, CitizenId, Command, Engine, EngineOptions, LedgerMode};
use xinyong_sim::mixed::MixedDirectory;
use xinyong_sim::{Scenario, Simulation};

fn scenario() -> Scenario {
    let mut s = Scenario::default();
    s.run.citizens = 2_400;
    s.run.days = 30;
    s.run.seed = 12;
    s.world.misconduct.daily_rate_mean = 0.004;
    s.policy.sanction.regroup_after_days = 8; // regrouping happens within the run
    s
}

/// The generated world's engine, taken by a stand-in for the live platform.
fn live(sim: &mut Simulation<MixedDirectory>) -> Engine<MixedDirectory> {
    let rules = sim.engine().rules().clone();
    let mut engine = Engine::new(rules, MixedDirectory::stored_only(), EngineOptions::default());
    sim.swap_engine(&mut engine);
    assert!(engine.directory().is_mixed() && engine.citizen_count() == 2_400);
    engine
}

#[test]
fn with_no_real_person_a_mixed_world_gives_simulates_metrics_and_ledger() {
    let mut reference = Simulation::new(scenario()).unwrap();
    reference.run(|_, _| {});
    assert_eq!(reference.engine().ledger().mode(), LedgerMode::Full);
    let mut mixed = Simulation::mixed(scenario()).unwrap();
    let mut engine = live(&mut mixed);
    let mut commands = 0;
    for d in 0..30 {
        let day = mixed.step_on(&mut engine);
        assert_eq!(day.commands.last(), Some(&Command::CloseDay), "day {d} ends with its close");
        assert_eq!(day.report.day, d);
        commands += day.commands.len();
    }
    assert_eq!(engine.day(), 30);
    assert!(commands > 10_000, "the simulated citizens act through commands: {commands}");
    let reference_csv = xinyong_sim::metrics::to_csv(reference.metrics(), &reference.tier_names());
    let mixed_csv = xinyong_sim::metrics::to_csv(mixed.metrics(), &mixed.tier_names());
    assert_eq!(reference_csv, mixed_csv, "metrics differ");
    let sorted = |entries: &[xinyong_engine::LedgerEntry]| {
        let mut l = entries.to_vec();
        l.sort_by_key(|e| (e.day, e.citizen, e.cause.incident(), e.cause.kind()));
        l
    };
    assert_eq!(sorted(reference.engine().ledger().entries()), sorted(engine.ledger().entries()), "ledgers differ");
    for c in 0..2_400 {
        assert_eq!(reference.engine().score(CitizenId(c)), engine.score(CitizenId(c)));
    }
}

#[test]
fn real_people_are_placed_among_the_simulated_and_only_the_cameras_act_for_them() {
    let mut mixed = Simulation::mixed(scenario()).unwrap();
    let mut engine = live(&mut mixed);
    let people = engine.register_citizens(3).unwrap();
    assert_eq!(people, 2_400..2_403, "real people take the ids after the synthetic population");
    engine.set_interests(CitizenId(2_401), &[0.0, 0.0, 1.0, 0.5]).unwrap();
    assert!(engine.set_interests(CitizenId(5), &[1.0]).is_err(), "a simulated citizen's interests are the seed's");
    let mut answered = 0;
    for d in 0..30 {
        // The real people answer "keep" to every notice they hold (person 2 never answers).
        for c in [2_400, 2_401] {
            for notice in engine.notices_for(CitizenId(c)).unwrap().into_iter().filter(|n| n.answer.is_none()) {
                engine.answer_notice(CitizenId(c), notice.incident, Answer::Keep).unwrap();
                answered += 1;
            }
        }
        let day = mixed.step_on(&mut engine);
        for command in &day.commands {
            let actor = match command {
                Command::PlaceOrder { citizen, .. }
                | Command::AnswerNotice { citizen, .. }
                | Command::FileAppeal { citizen, .. }
                | Command::Denounce { citizen, .. } => Some(*citizen),
                _ => None,
            };
            assert!(actor.is_none_or(|c| c.0 < 2_400), "day {d}: {command:?} acts for a real person");
        }
        if d == 0 {
            for c in people.clone() {
                assert!(engine.group_of(CitizenId(c)).unwrap().is_some(), "placed at the first close");
            }
        }
    }
    assert!(answered > 0, "real people received notices to answer");
    let keep_votes =
        engine.ledger().entries().iter().filter(|e| e.citizen.0 >= 2_400 && e.cause.kind() == "vote_keep").count();
    assert_eq!(keep_votes, answered, "every answer moved points, and only answers did");
}
