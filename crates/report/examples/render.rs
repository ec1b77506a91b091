//! Re-renders `RUN_DIR/report.html` from `RUN_DIR/metrics.csv` and `RUN_DIR/summary.json`
//! (what `xinyong report RUN_DIR` does), without building the whole binary:
//! `cargo run -p xinyong-report --example render -- RUN_DIR`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run_dir = std::env::args().nth(1).ok_or("usage: render RUN_DIR")?;
    let path = xinyong_report::write_run_report(std::path::Path::new(&run_dir))?;
    println!("{}", path.display());
    Ok(())
}
