//! Helpers shared by the integration tests that run `ecs-query` in-process
//! over a simulator lake.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test binary uses a part

use std::path::{Path, PathBuf};
use std::process::Command;

use ecs_query::cli::{DemoArgs, DemoFiles, DemoPreset, Format, LakeArgs, OutputArgs};
use ecs_sim::{Preset, Truth};

pub fn lake_args(dir: &Path) -> LakeArgs {
    LakeArgs {
        lake: dir.to_str().unwrap().to_owned(),
        profile: None,
        region: None,
        endpoint_url: None,
        engine: ecs_query::cli::EngineArg::Datafusion,
        athena_workgroup: "primary".into(),
        athena_database: None,
        athena_output: None,
    }
}

pub fn output(format: Format, now_micros: i64) -> OutputArgs {
    OutputArgs {
        format,
        now: Some(now_micros),
        show_sql: false,
        dialect: ecs_query::cli::SqlDialectArg::Datafusion,
    }
}

/// The end of a preset's simulated range, microseconds since the epoch.
pub fn end_micros(p: &Preset) -> i64 {
    (p.start_ms + (p.hours * 3_600_000.0) as i64) * 1000
}

/// A lake in a new temporary directory, built through the same path as
/// `ecs-query demo` (the simulator's payloads through the ingest code).
pub fn build_lake(preset: DemoPreset, hours: f64, seed: u64) -> std::path::PathBuf {
    build_lake_with(preset, hours, seed, DemoFiles::Chunks)
}

/// [`build_lake`] with the inputs cut into ingest calls as `files` says.
pub fn build_lake_with(
    preset: DemoPreset,
    hours: f64,
    seed: u64,
    files: DemoFiles,
) -> std::path::PathBuf {
    let dir = tempfile::tempdir().unwrap().keep();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(ecs_query::demo::run(
        &lake_args(&dir),
        DemoArgs {
            hours,
            seed,
            preset,
            copies: 10,
            no_questions: true,
            files,
        },
        &output(Format::Csv, 0),
        &mut std::io::sink(),
    ))
    .unwrap();
    dir
}

/// Runs a future on a fresh runtime, on a thread with the stack the CLI's
/// main thread has (DataFusion's planner recurses deeply in debug builds).
pub fn block_on<T: Send, F: std::future::Future<Output = T>>(make: impl FnOnce() -> F + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn_scoped(s, || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(make())
            })
            .unwrap()
            .join()
            .unwrap()
    })
}

/// The fleet preset's lake over `hours` with `seed`, built once per test
/// binary (each binary reads one).
pub fn fleet_lake(hours: f64, seed: u64) -> &'static std::path::PathBuf {
    static LAKE: std::sync::OnceLock<(f64, u64, std::path::PathBuf)> = std::sync::OnceLock::new();
    let (h, s, dir) =
        LAKE.get_or_init(|| (hours, seed, build_lake(DemoPreset::Fleet, hours, seed)));
    assert_eq!((*h, *s), (hours, seed), "one fleet lake per test binary");
    dir
}

/// The simulator's ground truth of [`fleet_lake`].
pub fn fleet_truth(hours: f64, seed: u64) -> &'static Truth {
    static TRUTH: std::sync::OnceLock<(f64, u64, Truth)> = std::sync::OnceLock::new();
    let (h, s, truth) = TRUTH.get_or_init(|| {
        (
            hours,
            seed,
            ecs_sim::simulate(&Preset::fleet(hours), seed).truth,
        )
    });
    assert_eq!((*h, *s), (hours, seed), "one fleet truth per test binary");
    truth
}

/// A preset's whole simulated range as a query scope.
pub fn whole_range(p: &Preset) -> ecs_query_engine::summary::Scope {
    ecs_query_engine::summary::Scope {
        from: Some(p.start_ms * 1000),
        to: Some(end_micros(p) + 1),
    }
}

/// The simulator truth's own notion of a stop nobody asked for, from its
/// causes and exits (what `TaskRow::is_abnormal` must agree with).
pub fn abnormal(t: &ecs_sim::TaskTruth) -> bool {
    match t.stop_cause {
        Some("oom_killed" | "elb_health_check" | "container_health_check" | "failed_to_start") => {
            true
        }
        Some("essential_container_exited") => t.exit_kind != Some("clean"),
        _ => false,
    }
}

/// Chromium, when installed (`.ci/run` installs it and sets ECS_REQUIRE_CHROMIUM).
pub fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var_os("ECS_REQUIRE_CHROMIUM").is_none(),
            "ECS_REQUIRE_CHROMIUM is set but no chromium on PATH"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium)");
    }
    found
}

/// Runs headless Chromium on a file; returns (stdout, console lines from stderr).
pub fn headless(chrome: &Path, page: &Path, extra: &[&str]) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// Measures every chart after layout and writes it into the DOM: its size
/// and its plotted marks (`class="mark"`, not the legend) laid out inside it.
pub const CHECK: &str = "<script>document.body.dataset.check = JSON.stringify([...document.querySelectorAll('svg.chart')].map(s => { const b = s.getBoundingClientRect(); return {id: s.dataset.chart, w: b.width, h: b.height, marks: [...s.querySelectorAll('.mark')].filter(r => { const x = r.getBoundingClientRect(); return x.width > 0 && x.height > 0 && x.left >= b.left && x.right <= b.right + 1 && x.top >= b.top && x.bottom <= b.bottom + 1; }).length}; }));</script>";

/// Renders `html` in headless Chromium with [`CHECK`] added: the console
/// lines and every chart's laid-out size and visible marks.
pub fn laid_out_charts(
    chrome: &Path,
    dir: &Path,
    html: &str,
) -> (Vec<String>, Vec<serde_json::Value>) {
    let checked = dir.join("checked.html");
    std::fs::write(
        &checked,
        html.replace("</body>", &format!("{CHECK}</body>")),
    )
    .unwrap();
    let (dom, console) = headless(chrome, &checked, &["--dump-dom"]);
    let start = dom.find("data-check=\"").expect("the check ran") + "data-check=\"".len();
    let json = dom[start..][..dom[start..].find('"').unwrap()].replace("&quot;", "\"");
    (console, serde_json::from_str(&json).unwrap())
}

/// A screenshot of `page` (1200 x 3000), kept beside it as `<name>.png`
/// for people to look at; it must be a real picture.
pub fn screenshot(chrome: &Path, page: &Path, name: &str) {
    let shot = page.with_file_name(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    headless(
        chrome,
        page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,3000",
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "{} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}

/// The brief's questions (issue 19's benchmark list), as the Athena tests
/// ask them.
#[allow(dead_code)] // not every test binary asks them
pub const BRIEF_QUESTIONS: &[&str] = &[
    "exit 137 by revision last 7d",
    "oom by service last 24h",
    "stops by cause last 7d",
    "unhealthy by deployment last 7d",
    "memory peak by revision last 7d",
    "deployments last 7d",
    "top 10 tasks by memory peak last 24h",
];

/// Hand-written SQL over a view (`tasks`), which exists only in DataFusion's
/// session: another engine is sent the view's plan in its place.
#[allow(dead_code)]
pub const SQL_OVER_A_VIEW: &str = "SELECT service, count(*) AS tasks, max(memory_peak) AS peak \
     FROM tasks GROUP BY service ORDER BY service";

/// The first task the simulator's truth says was killed for memory.
#[allow(dead_code)]
pub fn oom_killed_task(truth: &Truth) -> String {
    truth
        .tasks
        .iter()
        .find(|t| t.stop_cause == Some("oom_killed"))
        .expect("the preset kills a task for memory")
        .task_id
        .clone()
}
