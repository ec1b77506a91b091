//! Writes a demo `report.html`, `compare.html` and `sweep.html` from synthetic metrics, to
//! look at the pages without running a simulation:
//! `cargo run -p xinyong-report --example demo -- OUT_DIR [DAYS]`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;

use serde_json::json;
use xinyong_report::{CompareInput, SweepInput, SweepRun, write_compare, write_run_report, write_sweep};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "demo-report".to_string()));
    std::fs::create_dir_all(&out)?;
    let days: usize = match std::env::args().nth(2) {
        Some(days) => days.parse()?,
        None => 180,
    };
    let (metrics, summary) = common::synthetic_run(days, 7);
    std::fs::write(out.join("metrics.csv"), common::with_denunciations(&metrics).to_csv())?;
    std::fs::write(out.join("summary.json"), serde_json::to_string_pretty(&summary)?)?;
    println!("{}", write_run_report(&out)?.display());

    let seeds = [1u64, 2, 3, 4, 5];
    let input = CompareInput {
        label_a: "default".into(),
        label_b: "rongcheng".into(),
        runs_a: seeds.iter().map(|s| common::synthetic_run(120, *s).0).collect(),
        runs_b: seeds.iter().map(|s| common::synthetic_run(120, s + 100).0).collect(),
        seeds: seeds.to_vec(),
        scenario_a: json!({"name": "default", "vote": {"expel_quorum": 0.5}}),
        scenario_b: json!({"name": "rongcheng", "vote": {"expel_quorum": 0.3}}),
    };
    let diffs = write_compare(&out, &input)?;
    print!("{}", xinyong_report::compare_text_table(&diffs));

    let mut runs = Vec::new();
    for (index, quorum) in ["0.3", "0.5", "0.7"].iter().enumerate() {
        for seed in [1u64, 2, 3] {
            runs.push(SweepRun {
                values: vec![quorum.to_string()],
                seed,
                metrics: common::synthetic_run(90, seed + 10 * index as u64).0,
            });
        }
    }
    write_sweep(&out, &SweepInput { parameters: vec!["vote.expel_quorum".into()], runs })?;
    Ok(())
}
