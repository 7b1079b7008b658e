//! The query language over a simulator lake (fleet preset, 30 h, seed 3):
//! answers checked against the simulator's ground truth, plans and outputs
//! snapshotted, `--show-sql` round-tripped, and error messages snapshotted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::path::PathBuf;

mod common;
use common::lake_args;
use ecs_query::cli::{Format, OutputArgs};
use ecs_query_engine::Lake;
use ecs_sim::{Preset, Truth};

const HOURS: f64 = 30.0;
const SEED: u64 = 3;

fn preset() -> Preset {
    Preset::fleet(HOURS)
}

/// "Now" for windowed questions: the end of the simulated range (µs).
fn end_micros() -> i64 {
    common::end_micros(&preset())
}

fn output(format: Format) -> OutputArgs {
    common::output(format, end_micros())
}

/// The lake, built once per test binary through the same path as `ecs-query demo`.
fn lake_dir() -> &'static PathBuf {
    common::fleet_lake(HOURS, SEED)
}

fn truth() -> &'static Truth {
    common::fleet_truth(HOURS, SEED)
}

/// Runs a future with the CLI's stack, after the lake is built (outside any runtime).
fn block_on<T: Send, F: std::future::Future<Output = T>>(make: impl FnOnce() -> F + Send) -> T {
    lake_dir();
    common::block_on(make)
}

/// The answer rendered in `format`.
fn render(question: &str, format: Format) -> String {
    block_on(move || async move {
        let lake = Lake::open(&lake_args(lake_dir()).config()).await.unwrap();
        let mut out = Vec::new();
        ecs_query::ask::answer(&lake, question, &output(format), &mut out)
            .await
            .unwrap_or_else(|e| panic!("{question}: {e}"));
        String::from_utf8(out).unwrap()
    })
}

/// The answer as rows of column -> value (CSV cells; NULL is "").
fn rows(question: &str) -> Vec<BTreeMap<String, String>> {
    let csv = render(question, Format::Csv);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect()
}

fn get<'a>(row: &'a BTreeMap<String, String>, column: &str) -> &'a str {
    row.get(column)
        .unwrap_or_else(|| panic!("no column {column} in {row:?}"))
}

/// The answer keyed by (family, revision) -> column value.
fn by_revision(question: &str, column: &str) -> BTreeMap<(String, i32), String> {
    rows(question)
        .iter()
        .map(|r| {
            (
                (
                    get(r, "family").to_owned(),
                    get(r, "revision").parse().unwrap(),
                ),
                get(r, column).to_owned(),
            )
        })
        .collect()
}

/// Truth counted per (family, revision).
fn truth_by_revision(
    pred: impl Fn(&ecs_sim::TaskTruth) -> bool,
) -> BTreeMap<(String, i32), String> {
    let mut m: BTreeMap<(String, i32), usize> = BTreeMap::new();
    for t in &truth().tasks {
        let n = m.entry((t.family.clone(), t.revision)).or_default();
        if pred(t) {
            *n += 1;
        }
    }
    m.into_iter().map(|(k, v)| (k, v.to_string())).collect()
}

/// PostgreSQL/DataFusion `percentile_cont`: linear interpolation.
fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = p * (values.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    values[lo] + (values[hi] - values[lo]) * (rank - lo as f64)
}

#[test]
fn exit_137_by_revision_matches_the_truth_with_every_revision_listed() {
    assert_eq!(
        by_revision("exit 137 by revision", "exit_137"),
        truth_by_revision(|t| t.exit_code == Some(137))
    );
    // Correlated columns beside it: tasks, OOM kills, stop-timeout kills.
    assert_eq!(
        by_revision("exit 137 by revision", "tasks"),
        truth_by_revision(|_| true)
    );
    assert_eq!(
        by_revision("exit 137 by revision", "oom_kills"),
        truth_by_revision(|t| t.stop_cause == Some("oom_killed"))
    );
    assert_eq!(
        by_revision("exit 137 by revision", "stop_timeout_kills"),
        truth_by_revision(|t| t.exit_kind == Some("sigkill_after_stop_timeout"))
    );
    // The 137s split into both kinds somewhere in this fleet.
    let ooms = truth()
        .tasks
        .iter()
        .filter(|t| t.exit_kind == Some("sigkill_oom"))
        .count();
    let timeouts = truth()
        .tasks
        .iter()
        .filter(|t| t.exit_kind == Some("sigkill_after_stop_timeout"))
        .count();
    assert!(ooms > 0 && timeouts > 0, "{ooms} {timeouts}");
}

#[test]
fn heap_oom_and_oom_kills_are_told_apart() {
    // The runtime's own out-of-memory (V8's abort, exit 134) per revision,
    // from the logs; the kernel's kills stay in `oom`.
    let aborts: BTreeMap<(String, i32), String> =
        truth_by_revision(|t| t.exit_kind == Some("abort"))
            .into_iter()
            .filter(|(_, n)| n != "0")
            .collect();
    assert!(!aborts.is_empty());
    assert_eq!(
        by_revision("heap oom by revision", "heap_oom_tasks"),
        aborts
    );
    let ooms = by_revision("oom by revision", "oom_kills");
    for revision in aborts.keys() {
        assert_eq!(ooms[revision], "0", "{revision:?}");
    }
    // Spelled as users say it.
    assert_eq!(
        rows("runtime oom by revision"),
        rows("heap out of memory by revision")
    );
}

#[test]
fn stops_by_cause_and_oom_by_service_match_the_truth() {
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for t in &truth().tasks {
        if let Some(c) = t.stop_cause {
            *want.entry(c.to_owned()).or_default() += 1;
        }
    }
    let got: BTreeMap<String, usize> = rows("stops by cause")
        .iter()
        .filter(|r| !get(r, "stop_cause").is_empty())
        .map(|r| {
            (
                get(r, "stop_cause").to_owned(),
                get(r, "stops").parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);

    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for t in &truth().tasks {
        *want.entry(t.service.clone()).or_default() +=
            usize::from(t.stop_cause == Some("oom_killed"));
    }
    let got: BTreeMap<String, usize> = rows("OOM by svc")
        .iter()
        .map(|r| {
            (
                get(r, "service").to_owned(),
                get(r, "oom_kills").parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn memory_peak_and_time_to_healthy_match_the_truth() {
    let mut peaks: BTreeMap<(String, i32), Vec<f64>> = BTreeMap::new();
    let mut healthy: BTreeMap<(String, i32), Vec<f64>> = BTreeMap::new();
    for t in &truth().tasks {
        let key = (t.family.clone(), t.revision);
        if t.memory_peak_mib > 0 {
            peaks
                .entry(key.clone())
                .or_default()
                .push(t.memory_peak_mib as f64);
        }
        if let Some(s) = t.time_to_healthy_s {
            healthy.entry(key).or_default().push(s);
        }
    }
    let answer = rows("memory peak by revision");
    assert_eq!(answer.len(), truth_by_revision(|_| true).len());
    for r in &answer {
        let key = (
            get(r, "family").to_owned(),
            get(r, "revision").parse::<i32>().unwrap(),
        );
        match peaks.get_mut(&key) {
            Some(v) => {
                let max = v.iter().copied().fold(0.0, f64::max);
                assert_eq!(get(r, "mem_peak_mib"), format!("{max}"), "{key:?}");
                let p95 = percentile(v, 0.95);
                assert_eq!(get(r, "mem_peak_p95_mib"), format!("{:.1}", p95), "{key:?}");
                let p50 = percentile(v, 0.5);
                assert_eq!(get(r, "mem_peak_p50_mib"), format!("{:.1}", p50), "{key:?}");
            }
            // Tasks that never ran have no memory sample.
            None => assert_eq!(get(r, "mem_peak_mib"), "", "{key:?}"),
        }
    }
    let answer = rows("time-to-healthy by rev");
    for r in &answer {
        let key = (
            get(r, "family").to_owned(),
            get(r, "revision").parse::<i32>().unwrap(),
        );
        match healthy.get_mut(&key) {
            Some(v) => {
                assert_eq!(get(r, "healthy_tasks"), v.len().to_string(), "{key:?}");
                let p50 = percentile(v, 0.5);
                assert_eq!(get(r, "p50_s_to_healthy"), format!("{:.1}", p50), "{key:?}");
            }
            None => assert_eq!(get(r, "healthy_tasks"), "0", "{key:?}"),
        }
    }
}

#[test]
fn top_tasks_by_memory_peak_are_the_truths_highest() {
    // Ranked by the peak against the task's own limit (closest to an OOM
    // kill first), each row's peak in MiB as the truth has it.
    let pct = |t: &ecs_sim::TaskTruth| 1000 * t.memory_peak_mib / i64::from(t.memory_limit_mib);
    let mut want: Vec<i64> = truth().tasks.iter().map(pct).collect();
    want.sort_unstable_by(|a, b| b.cmp(a));
    let answer = rows("top 5 tasks by memory peak");
    assert_eq!(answer.len(), 5);
    let got: Vec<i64> = answer
        .iter()
        .map(|r| {
            let t = truth()
                .tasks
                .iter()
                .find(|t| t.task_id == get(r, "task_id"))
                .unwrap();
            assert_eq!(t.memory_peak_mib.to_string(), get(r, "mem_peak_mib"));
            pct(t)
        })
        .collect();
    assert_eq!(got, want[..5]);
}

#[test]
fn deployments_have_the_truths_outcome_and_revision() {
    let answer = rows("deployments");
    assert_eq!(answer.len(), truth().deployments.len());
    for d in &truth().deployments {
        let r = answer
            .iter()
            .find(|r| get(r, "deployment_id") == d.deployment_id)
            .unwrap_or_else(|| panic!("{} missing", d.deployment_id));
        assert_eq!(get(r, "outcome"), d.outcome, "{}", d.deployment_id);
        assert_eq!(
            get(r, "revision"),
            d.revision.to_string(),
            "{}",
            d.deployment_id
        );
        assert_eq!(get(r, "service"), d.service);
        let tasks = truth()
            .tasks
            .iter()
            .filter(|t| t.deployment_id == d.deployment_id);
        assert_eq!(get(r, "tasks"), tasks.clone().count().to_string());
        let ooms = tasks.filter(|t| t.stop_cause == Some("oom_killed")).count();
        assert_eq!(get(r, "oom_kills"), ooms.to_string());
    }
    assert!(answer.iter().any(|r| get(r, "outcome") == "rolled_back"));
}

#[test]
fn windows_count_what_stopped_inside_them() {
    let end_ms = end_micros() / 1000;
    for hours in [1, 6, 12] {
        let from = end_ms - hours * 3_600_000;
        let want = truth()
            .tasks
            .iter()
            .filter(|t| t.stopped_at_ms.is_some_and(|s| s >= from && s <= end_ms))
            .count();
        let got: usize = rows(&format!("stops last {hours}h"))
            .iter()
            .map(|r| get(r, "stops").parse::<usize>().unwrap())
            .sum();
        assert_eq!(got, want, "last {hours}h");
    }
    // since/until with dates: the whole simulated day 2026-11-19.
    let (from, to) = (1_795_046_400_000, 1_795_132_800_000);
    let want = truth()
        .tasks
        .iter()
        .filter(|t| t.stopped_at_ms.is_some_and(|s| s >= from && s < to))
        .count();
    let got: usize = rows("stops since 2026-11-19 until 2026-11-19")
        .iter()
        .map(|r| get(r, "stops").parse::<usize>().unwrap())
        .sum();
    assert_eq!(got, want);
}

#[test]
fn where_and_for_filter_like_the_truth() {
    let want = truth_by_revision(|t| t.stop_cause == Some("elb_health_check"));
    let got = by_revision(
        "unhealthy by revision where service=api",
        "health_check_stops",
    );
    let want: BTreeMap<_, _> = want.into_iter().filter(|((s, _), _)| s == "api").collect();
    assert_eq!(got, want);
    assert_eq!(
        rows("unhealthy by revision for api"),
        rows("unhealthy by revision where svc = api")
    );
    let not_api = rows("stops by service where service != api");
    assert!(!not_api.is_empty() && not_api.iter().all(|r| get(r, "service") != "api"));
    // revision=family:rev
    let one = rows("stops by revision where rev=api:42");
    assert_eq!(one.len(), 1);
    assert_eq!(get(&one[0], "revision"), "42");
}

/// Values from the question are literals in the plan, never SQL text: a
/// value written as SQL matches nothing, and `--show-sql` shows it as one
/// quoted string.
#[test]
fn hostile_values_are_literals_not_sql() {
    let hostile = "api' OR '1'='1";
    assert!(rows(&format!("stops by service where service=\"{hostile}\"")).is_empty());
    assert!(rows("logs \"x' OR '1'='1\" by revision").is_empty());
    assert!(!rows("stops by service where service=api").is_empty());
    let sql = block_on(move || async move {
        let lake = Lake::open(&lake_args(lake_dir()).config()).await.unwrap();
        let mut out = Vec::new();
        let show = ecs_query::cli::OutputArgs {
            show_sql: true,
            ..output(Format::Csv)
        };
        ecs_query::ask::answer(
            &lake,
            &format!("stops by service where service=\"{hostile}\""),
            &show,
            &mut out,
        )
        .await
        .unwrap();
        String::from_utf8(out).unwrap()
    });
    assert!(sql.contains("'api'' OR ''1''=''1'"), "{sql}");
}

#[test]
fn logs_text_counts_the_lines_and_their_tasks() {
    // The simulator's crash-looping billing revision logs its last words
    // ("Error: Cannot find module ...") once per crash (exit 1); the text
    // matches whatever its case.
    let want = truth_by_revision(|t| t.service == "billing" && t.exit_code == Some(1));
    let got = by_revision("logs \"CANNOT FIND MODULE\" by revision", "tasks");
    for (k, v) in &got {
        assert_eq!(want.get(k), Some(v), "{k:?}");
    }
    assert!(got.values().any(|v| v != "0"), "{got:?}");
    // OOM kills are the kernel's and leave no heap message: only the tasks
    // whose heap cap is below the limit (V8 aborts, exit 134) log one.
    let aborts: BTreeMap<_, _> = truth_by_revision(|t| t.exit_kind == Some("abort"))
        .into_iter()
        .filter(|(_, n)| n != "0")
        .collect();
    assert_eq!(
        by_revision("logs \"heap out of memory\" by revision", "tasks"),
        aborts
    );
}

/// The corpus: each question's optimized plan (partition pruning on `dt`,
/// projected columns) and answer, snapshotted; and its `--show-sql` SQL run
/// through `ecs-query sql` gives the same answer.
const CORPUS: &[&str] = &[
    "exit 137 by revision last 7d",
    "oom by service last 24h",
    "stops by cause since 2026-11-19",
    "unhealthy by deployment last 7d where service=api",
    "memory peak by revision last 30d",
    "restarts by day last 14d",
    "deployments last 7d",
    "logs \"cannot find module\" by revision last 7d",
    "top 10 tasks by memory peak last 24h",
    "exits by exit code, exit kind",
    "cpu peak by service",
    "time to healthy by revision, az",
    "deployments by outcome",
    "logs by signature",
    "stops by hour last 6h top 3",
];

#[test]
fn corpus_plans_and_answers() {
    for question in CORPUS {
        let (plan, sql) = block_on(move || async move {
            let lake = Lake::open(&lake_args(lake_dir()).config()).await.unwrap();
            let df = ecs_query_engine::ask::plan(&lake, question, end_micros())
                .await
                .unwrap();
            let plan = df.clone().into_optimized_plan().unwrap();
            (
                plan.display_indent().to_string(),
                ecs_query_engine::ask::to_sql(&df).unwrap(),
            )
        });
        let answer = render(question, Format::Table);
        insta::with_settings!({ description => *question, omit_expression => true }, {
            insta::assert_snapshot!(format!("{question}\n\n{answer}\n{plan}"));
        });

        let via_sql = block_on(move || async move {
            let lake = Lake::open(&lake_args(lake_dir()).config()).await.unwrap();
            let mut out = Vec::new();
            ecs_query::sql::run(&lake, sql.trim_end_matches(';'), Format::Csv, &mut out)
                .await
                .unwrap_or_else(|e| panic!("{question}: the SQL of --show-sql fails: {e}\n{sql}"));
            String::from_utf8(out).unwrap()
        });
        assert_eq!(
            via_sql,
            render(question, Format::Csv),
            "{question}: --show-sql differs"
        );
    }
}

#[test]
fn formats() {
    let md = render("oom by service", Format::Markdown);
    let mut lines = md.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("| cluster | service | oom_kills |")
    );
    assert!(lines.next().unwrap().starts_with("| --- | --- | ---: |"));
    let json: serde_json::Value =
        serde_json::from_str(&render("oom by service", Format::Json)).unwrap();
    assert_eq!(json.as_array().unwrap().len(), rows("oom by service").len());
}

#[test]
fn error_messages() {
    let mut all = String::new();
    for q in [
        "exit 137 by revison last 7d",
        "exti 137",
        "exit by revision",
        "oom by service lst 7d",
        "oom service",
        "stops last 7 fortnights",
        "stops since yesterday",
        "logs \"heap",
        "deployments by cause",
        "stops where revision=latest",
        "top ten tasks by memory peak",
    ] {
        let message = block_on(move || async move {
            match ecs_query_engine::lang::parse(q) {
                Err(e) => format!(
                    "{}",
                    ecs_query::CliError::from(ecs_query_engine::Error::from(e))
                ),
                Ok(query) => {
                    let lake = Lake::open(&lake_args(lake_dir()).config()).await.unwrap();
                    match ecs_query_engine::lang::lower::lower(&lake.ctx, &query, end_micros())
                        .await
                    {
                        Err(e) => format!(
                            "{}",
                            ecs_query::CliError::from(ecs_query_engine::Error::from(e))
                        ),
                        Ok(_) => panic!("{q} should fail"),
                    }
                }
            }
        });
        all.push_str(&format!("$ ecs-query '{q}'\nerror: {message}\n\n"));
    }
    insta::assert_snapshot!(all);
}
