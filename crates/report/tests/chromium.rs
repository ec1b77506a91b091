//! The pages open in a real browser: headless Chromium loads each page from disk, the DOM
//! it builds holds every figure, the console stays silent, and the same file loaded as
//! XHTML parses without error (so the markup is well-formed, not just tolerated).
//! Screenshots land in `target/screenshots/`; with `XINYONG_UPDATE_SCREENSHOTS=1` the
//! report's is also copied to `docs/img/report.png` for the README.
//!
//! Runs when `/usr/bin/chromium` exists (Debian: `apt-get install chromium`). Without it
//! the tests are skipped with a message, except under CI (`CI` set), where they fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{chart_ids, synthetic_run, with_denunciations};
use serde_json::json;
use xinyong_report::{
    CompareInput, SweepInput, SweepRun, compare_metrics, render_compare, render_sweep, write_run_report,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const TIMEOUT: Duration = Duration::from_secs(90);

/// The browser, or `None` after printing why the test is skipped (panics under CI).
fn chromium() -> Option<&'static Path> {
    let path = Path::new(CHROMIUM);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{CHROMIUM} is missing and CI is set: install it (apt-get install -y chromium)");
    }
    eprintln!("skipped: {CHROMIUM} not found (apt-get install -y chromium to run this test)");
    None
}

/// Runs Chromium headless with `arguments` on `page`; returns (stdout, stderr).
fn run_chromium(browser: &Path, page: &Path, arguments: &[String]) -> (String, String) {
    let profile = tempfile::tempdir().expect("profile directory");
    let output_dir = tempfile::tempdir().expect("output directory");
    let stdout_path = output_dir.path().join("stdout");
    let stderr_path = output_dir.path().join("stderr");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(arguments)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (
        std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    )
}

/// Loads `page`, checks the DOM and the console, checks the XHTML parse, takes screenshots.
fn check_in_browser(browser: &Path, page: &Path, expected_ids: &[String], screenshot_name: &str) {
    let (dom, log) = run_chromium(browser, page, &["--dump-dom".to_string()]);
    assert!(dom.contains("</main>"), "the DOM was not built: {}", &dom[..dom.len().min(400)]);
    for id in expected_ids {
        assert!(dom.contains(&format!("<figure id=\"{id}\"")), "the DOM lacks {id}");
    }
    let console: Vec<&str> = log.lines().filter(|line| line.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "the page wrote to the console: {console:#?}");

    // Loaded as XHTML, any markup error becomes a <parsererror> element.
    let xhtml = page.with_extension("xhtml");
    std::fs::copy(page, &xhtml).expect("copy as xhtml");
    let (dom, _) = run_chromium(browser, &xhtml, &["--dump-dom".to_string()]);
    assert!(!dom.contains("parsererror"), "not well-formed XHTML: {}", &dom[..dom.len().min(1200)]);
    assert!(dom.contains("<figure"), "the XHTML DOM has no figures");

    let directory = screenshots_dir();
    for (suffix, size) in [("", "1280,2200"), ("-phone", "390,1600")] {
        let png = directory.join(format!("{screenshot_name}{suffix}.png"));
        let _ = std::fs::remove_file(&png);
        run_chromium(browser, page, &[format!("--screenshot={}", png.display()), format!("--window-size={size}")]);
        let bytes = std::fs::read(&png).unwrap_or_else(|_| panic!("no screenshot at {}", png.display()));
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", png.display());
        assert!(bytes.len() > 20_000, "{} is suspiciously small (blank page?)", png.display());
    }
}

/// `target/screenshots` (respecting a custom target directory).
fn screenshots_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target directory").to_path_buf();
    let directory = target.join("screenshots");
    std::fs::create_dir_all(&directory).expect("create target/screenshots");
    directory
}

#[test]
fn the_run_report_renders_in_chromium() {
    let Some(browser) = chromium() else { return };
    let run_dir = tempfile::tempdir().unwrap();
    let (metrics, summary) = synthetic_run(120, 7);
    let metrics = with_denunciations(&metrics);
    std::fs::write(run_dir.path().join("metrics.csv"), metrics.to_csv()).unwrap();
    std::fs::write(run_dir.path().join("summary.json"), summary.to_string()).unwrap();
    let page = write_run_report(run_dir.path()).unwrap();
    let ids = chart_ids(&std::fs::read_to_string(&page).unwrap());
    assert!(ids.len() >= 12, "{ids:?}");
    check_in_browser(browser, &page, &ids, "report");

    if std::env::var("XINYONG_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/img");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(screenshots_dir().join("report.png"), docs.join("report.png")).unwrap();
    }
}

#[test]
fn the_compare_page_renders_in_chromium() {
    let Some(browser) = chromium() else { return };
    let seeds = [1u64, 2, 3, 4];
    let runs_a: Vec<_> = seeds.iter().map(|s| synthetic_run(90, *s).0).collect();
    let runs_b: Vec<_> = seeds.iter().map(|s| synthetic_run(90, s + 100).0).collect();
    let input = CompareInput {
        label_a: "default".into(),
        label_b: "rongcheng".into(),
        runs_a,
        runs_b,
        seeds: seeds.to_vec(),
        scenario_a: json!({"name": "default", "vote": {"expel_quorum": 0.5}}),
        scenario_b: json!({"name": "rongcheng", "vote": {"expel_quorum": 0.3}}),
    };
    let diffs = compare_metrics(&input);
    let html = render_compare(&input, &diffs).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let page = directory.path().join("compare.html");
    std::fs::write(&page, &html).unwrap();
    check_in_browser(browser, &page, &chart_ids(&html), "compare");
}

#[test]
fn the_sweep_page_renders_in_chromium() {
    let Some(browser) = chromium() else { return };
    let mut runs = Vec::new();
    for (index, quorum) in ["0.3", "0.5", "0.7"].iter().enumerate() {
        for seed in [1u64, 2, 3] {
            runs.push(SweepRun {
                values: vec![quorum.to_string()],
                seed,
                metrics: synthetic_run(60, seed + 10 * index as u64).0,
            });
        }
    }
    let input = SweepInput { parameters: vec!["vote.expel_quorum".into()], runs };
    let html = render_sweep(&input).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let page = directory.path().join("sweep.html");
    std::fs::write(&page, &html).unwrap();
    check_in_browser(browser, &page, &chart_ids(&html), "sweep");
}
