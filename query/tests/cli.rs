//! The real `ecs-query` binary: backfill then SQL, on a local lake and on a
//! real S3 endpoint (in-process s3s on loopback), plus errors and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;
use std::process::{Command, Output};

use ecs_lake_tests::{ACCESS_KEY, REGION, S3Server, SECRET_KEY, cwl_payload, fixture};

fn ecs_query(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ecs-query"));
    c.args(args)
        .env_remove("ECS_LAKE")
        .env_remove("AWS_ENDPOINT_URL")
        .env("NO_COLOR", "1");
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().expect("run ecs-query");
    (
        status.code().unwrap_or(-1),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

/// A backfill file in each supported shape, built from the fixtures:
/// gzipped JSON lines (with a broken line and a duplicate), a JSON array, an SQS envelope.
fn backfill_files(dir: &Path) -> Vec<String> {
    use std::io::Write;
    let compact = |name: &str| {
        serde_json::to_string(
            &serde_json::from_str::<serde_json::Value>(&fixture_text(name)).unwrap(),
        )
        .unwrap()
    };
    let task = compact("ecs_task_stopped_fargate_essential_exit2_fivexl.json");
    let elb = compact("ecs_task_stopped_fargate_elb_healthcheck_exit143_kx_kotlin_support.json");
    let lines = format!("{task}\n{elb}\n{{\"truncated\": \n{task}\n");
    let gz_path = dir.join("archive.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(lines.as_bytes()).unwrap();
    gz.finish().unwrap();

    let array_path = dir.join("array.json");
    std::fs::write(
        &array_path,
        format!(
            "[{}]",
            fixture_text("ecs_task_stopped_ec2_bridge_userinitiated_aws-samples.json")
        ),
    )
    .unwrap();

    let sqs_path = dir.join("sqs.json");
    let sqs = serde_json::json!({"Records": [{"messageId": "m-1", "body": fixture_text("ecs_deployment_FAILED_circuit_breaker_awsdocs.json")}]});
    std::fs::write(&sqs_path, sqs.to_string()).unwrap();
    [gz_path, array_path, sqs_path]
        .iter()
        .map(|p| p.display().to_string())
        .collect()
}

const CAUSES_SQL: &str = "SELECT stop_cause, exit_kind, count(*) AS n, count(DISTINCT event_id) AS events \
                          FROM task_events GROUP BY 1, 2 ORDER BY 1";

/// From the payloads: the exit-2 task twice (a duplicate delivery), the ELB
/// health-check task (143) and the user-stopped EC2 task (0).
const EXPECTED_CAUSES_CSV: &str = "stop_cause,exit_kind,n,events\n\
    elb_health_check,sigterm,1,1\n\
    essential_container_exited,app_error,2,1\n\
    user_stopped,clean,1,1\n";

#[test]
fn ingest_then_sql_on_a_local_lake() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let files = backfill_files(dir.path());
    let mut args = vec!["ingest", "--lake", lake];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = run(&mut ecs_query(&args));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("read 6 inputs from 3 file(s)"), "{out}");
    assert!(out.contains("written      5"), "{out}");
    assert!(out.contains("quarantined  1"), "{out}");
    assert!(out.contains("task_events        4 rows"), "{out}");

    let (code, out, err) = run(&mut ecs_query(&[
        "sql", "--lake", lake, "--format", "csv", CAUSES_SQL,
    ]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, EXPECTED_CAUSES_CSV);

    // The broken line is in quarantine with where it came from and why.
    let (code, out, _) = run(&mut ecs_query(&[
        "sql",
        "--lake",
        lake,
        "-f",
        "json",
        "SELECT input_id, reason, size FROM quarantine",
    ]));
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        rows[0]["input_id"]
            .as_str()
            .unwrap()
            .ends_with("archive.jsonl.gz:3"),
        "{rows}"
    );
    assert!(
        rows[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("not an EventBridge event"),
        "{rows}"
    );
    assert_eq!(rows[0]["size"], "{\"truncated\": ".len());

    // The dt partition column is there to filter on.
    let (code, out, _) = run(&mut ecs_query(&[
        "sql",
        "--lake",
        lake,
        "-f",
        "csv",
        "SELECT count(*) AS n FROM task_events WHERE dt = '2022-08-08'",
    ]));
    assert_eq!((code, out.as_str()), (0, "n\n1\n"));

    // Re-running the same backfill overwrites its objects, it does not duplicate rows.
    let (code, _, _) = run(&mut ecs_query(&args));
    assert_eq!(code, 0);
    let (_, out, _) = run(&mut ecs_query(&[
        "sql",
        "--lake",
        lake,
        "-f",
        "csv",
        "SELECT count(*) AS n FROM task_events",
    ]));
    assert_eq!(out, "n\n4\n");
}

#[test]
fn ingest_cloudwatch_logs_payloads_and_exports() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    // A subscription event, a Kinesis event, JSON lines of two subscription
    // events (app logs of one task, Container Insights for the same task).
    let subscription = dir.path().join("awslogs.json");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/aws/cwl_lambda_awslogs_aws-lambda-go.json"),
        &subscription,
    )
    .unwrap();
    let kinesis = dir.path().join("kinesis.json");
    std::fs::write(&kinesis, fixture("cwl_kinesis_stream_powertools.json")).unwrap();
    let task = "5a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let app = cwl_payload(
        "/ecs/web",
        &format!("ecs/web/{task}"),
        1_795_500_000_000,
        &[
            "listening on :8080".to_owned(),
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
                .to_owned(),
        ],
    );
    let mut record: serde_json::Value =
        serde_json::from_str(&fixture_text("ci_perf_Container_awsdocs.json")).unwrap();
    record["TaskId"] = task.into();
    record["MemoryUtilized"] = "1019".into();
    record["MemoryReserved"] = 1024.into();
    let perf = cwl_payload(
        "/aws/ecs/containerinsights/prod/performance",
        "FargateTelemetry-1",
        1_795_500_000_000,
        &[record.to_string()],
    );
    let lines = dir.path().join("payloads.jsonl");
    std::fs::write(
        &lines,
        format!(
            "{}\n{}\n",
            serde_json::json!({"awslogs": {"data": app}}),
            serde_json::json!({"awslogs": {"data": perf}})
        ),
    )
    .unwrap();
    // A CloudWatch Logs export, laid out as exports are: <task>/<stream>/000000.gz.
    let export_dir = dir.path().join(format!("export-1/ecs/web/{task}"));
    std::fs::create_dir_all(&export_dir).unwrap();
    let export = export_dir.join("000000.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&export).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(b"2026-11-24T10:00:00.000Z Received SIGTERM, draining\n2026-11-24T10:00:30.000Z Killed\nnot a line\n").unwrap();
    gz.finish().unwrap();

    let files: Vec<String> = [&subscription, &kinesis, &lines, &export]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    // An export does not record its log group: without --log-group, exit 2 and say so.
    let mut args = vec!["ingest", "--lake", lake];
    args.extend(files.iter().map(String::as_str));
    let (code, _, err) = run(&mut ecs_query(&args));
    assert_eq!(code, 2);
    assert!(
        err.contains("looks like a CloudWatch Logs export") && err.contains("--log-group"),
        "{err}"
    );

    args.extend(["--log-group", "/ecs/web"]);
    let (code, out, err) = run(&mut ecs_query(&args));
    assert_eq!(code, 0, "{err}");
    // 1 + 2 + 2 payloads + 3 export lines; 2 + 6 + 3 log events + 3 lines.
    assert!(out.contains("read 8 inputs from 4 file(s)"), "{out}");
    assert!(
        out.contains("log events   14 (13 rows, 1 quarantined); control messages dropped: 0"),
        "{out}"
    );

    let sql = |q: &str| {
        let (code, out, err) = run(&mut ecs_query(&["sql", "--lake", lake, "-f", "csv", q]));
        assert_eq!(code, 0, "{err}");
        out
    };
    assert_eq!(sql("SELECT count(*) AS n FROM logs"), "n\n12\n");
    assert_eq!(
        sql(
            "SELECT log_stream, task_id, container, signature FROM logs WHERE signature IS NOT NULL ORDER BY time"
        ),
        // 06:00 the heap line (payload), 10:00 and 10:00:30 the export lines.
        format!(
            "log_stream,task_id,container,signature\n\
                 ecs/web/{task},{task},web,node_heap_oom\n\
                 ecs/web/{task},{task},web,sigterm\n\
                 ecs/web/{task},{task},web,killed\n"
        )
    );
    // Memory peak beside the crash line, joined on the task.
    assert_eq!(
        sql(
            "SELECT m.memory_utilized, m.memory_reserved, l.signature FROM metrics m JOIN logs l ON m.task_id = l.task_id \
             WHERE l.signature = 'node_heap_oom'"
        ),
        "memory_utilized,memory_reserved,signature\n1019,1024,node_heap_oom\n"
    );
    let q = sql("SELECT input_id, reason FROM quarantine");
    assert!(
        q.contains("000000.gz:3") && q.contains("does not start with a timestamp"),
        "{q}"
    );
}

#[test]
fn ingest_then_sql_on_an_s3_lake() {
    let server = S3Server::start(&["lake"]);
    let dir = tempfile::tempdir().unwrap();
    let files = backfill_files(dir.path());
    let with_s3 = |c: &mut Command| {
        c.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env_remove("AWS_PROFILE");
    };
    // Endpoint from the environment for the write...
    let mut args = vec!["ingest", "--lake", "s3://lake/ecs/prod"];
    args.extend(files.iter().map(String::as_str));
    let mut c = ecs_query(&args);
    with_s3(&mut c);
    c.env("AWS_ENDPOINT_URL", &server.endpoint);
    let (code, out, err) = run(&mut c);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("written      5"), "{out}");
    assert!(
        server
            .bucket_dir("lake")
            .join("ecs/prod/task_events")
            .is_dir(),
        "objects stored under the prefix"
    );

    // ...and from the flag for the reads.
    let read = |args: &[&str]| {
        let mut all = vec![
            "--lake",
            "s3://lake/ecs/prod",
            "--endpoint-url",
            &server.endpoint,
            "-f",
            "csv",
        ];
        all.extend(args);
        let mut c = ecs_query(&all);
        with_s3(&mut c);
        let (code, out, err) = run(&mut c);
        assert_eq!(code, 0, "{err}");
        out
    };
    assert_eq!(read(&["sql", CAUSES_SQL]), EXPECTED_CAUSES_CSV);

    // The query language over the same S3 lake: one row per task, so the
    // duplicate delivery of the exit-2 task counts once.
    let out = read(&["stops by cause"]);
    let firsts: Vec<String> = out
        .lines()
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        firsts,
        [
            "stop_cause,stops",
            "elb_health_check,1",
            "essential_container_exited,1",
            "user_stopped,1"
        ]
    );
}

#[test]
fn read_only_sql_refuses_writes_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().to_str().unwrap();
    let target = dir.path().join("copy.parquet");
    let copy = format!("COPY (SELECT 1) TO '{}'", target.display());
    for q in [
        "DROP TABLE task_events",
        copy.as_str(),
        "INSERT INTO task_events SELECT * FROM task_events",
        "CREATE TABLE x AS SELECT 1",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let (code, _, err) = run(&mut ecs_query(&["sql", "--lake", lake, q]));
        assert_eq!(code, 2, "{q}");
        assert!(
            err.contains("not supported") && err.contains("read-only"),
            "{q}: {err}"
        );
    }
    assert!(!target.exists(), "COPY wrote a file");
}

#[test]
fn errors_say_what_to_do_and_exit_2() {
    let (code, _, err) = run(&mut ecs_query(&[
        "sql",
        "--lake",
        "/nonexistent/lake",
        "SELECT 1",
    ]));
    assert_eq!(code, 2);
    assert!(
        err.contains("hint: build a lake with `ecs-query ingest"),
        "{err}"
    );
    let (code, _, err) = run(&mut ecs_query(&[
        "ingest",
        "--lake",
        "/tmp/ecs-query-never",
        "/nonexistent.json",
    ]));
    assert_eq!(code, 2);
    assert!(err.contains("cannot read /nonexistent.json"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&mut ecs_query(&[
        "sql",
        "--lake",
        dir.path().to_str().unwrap(),
        "SELECT nope FROM task_events",
    ]));
    assert_eq!(code, 2);
    assert!(err.contains("nope"), "{err}");
    let (code, _, err) = run(&mut ecs_query(&["schema", "tasksz"]));
    assert_eq!(code, 2);
    assert!(err.contains("ecs-query tables"), "{err}");
    // A view's columns come from its plan, on any lake (even an empty one).
    let lake = dir.path().to_str().unwrap();
    let (code, out, err) = run(&mut ecs_query(&["schema", "--lake", lake, "tasks"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("tasks (view)"), "{out}");
    assert!(out.contains("  memory_peak_pct "), "{out}");
}

#[test]
fn empty_lake_has_every_table_with_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(&mut ecs_query(&[
        "sql",
        "--lake",
        dir.path().to_str().unwrap(),
        "-f",
        "csv",
        "SELECT count(*) AS n FROM container_events",
    ]));
    assert_eq!((code, out.as_str()), (0, "n\n0\n"));
}

#[test]
fn help_tables_and_schema_snapshots() {
    let (_, help, _) = run(&mut ecs_query(&["--help"]));
    insta::assert_snapshot!("help", help);
    let (_, ingest_help, _) = run(&mut ecs_query(&["ingest", "--help"]));
    insta::assert_snapshot!("ingest_help", ingest_help);
    let (_, tables, _) = run(&mut ecs_query(&["tables"]));
    insta::assert_snapshot!("tables", tables);
    let (code, schema, _) = run(&mut ecs_query(&["schema", "task_events"]));
    assert_eq!(code, 0);
    assert!(
        schema.contains("stop_cause") && schema.contains("partition: UTC day"),
        "{schema}"
    );
}

#[test]
fn health_transitions_and_time_to_healthy_from_samples_and_stop_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    // The ELB-stopped task (started 05:05:11.677, stopping at 05:06:48.601),
    // and Container Insights records for its container: healthy at 05:06:00,
    // unhealthy at 05:06:30 and 05:07:00.
    let task = "7e12d648155541fbb8a922c39b586f82";
    let event = dir.path().join("task.json");
    std::fs::write(
        &event,
        fixture("ecs_task_stopped_fargate_elb_healthcheck_exit143_kx_kotlin_support.json"),
    )
    .unwrap();
    let minute = 1_659_935_160_000i64; // 2022-08-08T05:06:00Z
    let records: Vec<String> = [(0, 0), (30_000, 1), (60_000, 1)]
        .iter()
        .map(|(dt, unhealthy)| {
            let mut r: serde_json::Value =
                serde_json::from_slice(&fixture("ci_perf_Container_awsdocs.json")).unwrap();
            r["TaskId"] = task.into();
            r["ClusterName"] = "sin-web_cluster-dev".into();
            r["ContainerName"] = "sin-web_container-dev".into();
            r["Timestamp"] = (minute + dt).into();
            r["UnHealthyContainerHealthStatus"] = (*unhealthy).into();
            r.to_string()
        })
        .collect();
    let perf = dir.path().join("perf.json");
    let data = cwl_payload(
        "/aws/ecs/containerinsights/sin-web_cluster-dev/performance",
        "FargateTelemetry-1",
        minute,
        &records,
    );
    std::fs::write(
        &perf,
        serde_json::json!({"awslogs": {"data": data}}).to_string(),
    )
    .unwrap();
    let (code, _, err) = run(&mut ecs_query(&[
        "ingest",
        "--lake",
        lake,
        event.to_str().unwrap(),
        perf.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{err}");

    let sql = |q: &str| {
        let (code, out, err) = run(&mut ecs_query(&["sql", "--lake", lake, "-f", "csv", q]));
        assert_eq!(code, 0, "{err}");
        out
    };
    assert_eq!(
        sql(
            "SELECT time, container, from_status, to_status, source FROM health_transitions ORDER BY time"
        ),
        "time,container,from_status,to_status,source\n\
         2022-08-08T05:06:00Z,sin-web_container-dev,,HEALTHY,container_insights\n\
         2022-08-08T05:06:30Z,sin-web_container-dev,HEALTHY,UNHEALTHY,container_insights\n\
         2022-08-08T05:06:48.601Z,,,UNHEALTHY,stop_reason:elb_health_check\n"
    );
    // 05:05:11.677 -> 05:06:00: 48.323 s.
    assert_eq!(
        sql("SELECT task_id, container, seconds_to_healthy FROM time_to_healthy"),
        format!("task_id,container,seconds_to_healthy\n{task},sin-web_container-dev,48.323\n")
    );
    // Columns named like SQL keywords parse anywhere in a select list.
    assert_eq!(
        sql("SELECT task_id, cluster FROM health_transitions LIMIT 1"),
        format!("task_id,cluster\n{task},sin-web_cluster-dev\n")
    );
}

#[test]
fn demo_builds_a_lake_that_agrees_with_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let (code, out, err) = run(&mut ecs_query(&[
        "demo", "--lake", lake, "--hours", "24", "--seed", "3",
    ]));
    assert_eq!(code, 0, "{err}");
    for title in ecs_query::demo::QUESTIONS.iter().map(|(t, _)| t) {
        assert!(out.contains(title), "{title} missing from:\n{out}");
    }
    assert!(out.contains("quarantined  0"), "{out}");

    // Stopped tasks per revision and cause, from the lake and from the truth.
    let truth = ecs_sim::simulate(&ecs_sim::Preset::node_oom(24.0), 3).truth;
    let mut want: std::collections::BTreeMap<(i32, &str), usize> = Default::default();
    for t in &truth.tasks {
        if let Some(cause) = t.stop_cause {
            *want.entry((t.revision, cause)).or_default() += 1;
        }
    }
    let expected: String = want
        .iter()
        .map(|((rev, cause), n)| format!("{rev},{cause},{n}\n"))
        .collect();
    let (code, csv, err) = run(&mut ecs_query(&[
        "sql",
        "--lake",
        lake,
        "-f",
        "csv",
        "SELECT revision, stop_cause, count(DISTINCT task_id) AS n FROM task_events WHERE last_status = 'STOPPED' GROUP BY 1, 2 ORDER BY 1, 2",
    ]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(csv, format!("revision,stop_cause,n\n{expected}"));

    // The timeline of an OOM-killed task, by a prefix of its id.
    let oom = truth
        .tasks
        .iter()
        .find(|t| t.stop_cause == Some("oom_killed"))
        .expect("the preset OOM-kills");
    let (code, out, err) = run(&mut ecs_query(&[
        "timeline",
        "--lake",
        lake,
        "-f",
        "csv",
        &oom.task_id[..10],
    ]));
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.splitn(4, ',').collect())
        .collect();
    let times: Vec<i64> = rows
        .iter()
        .map(|r| ecs_lake::time::parse_time(r[0]).unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "in time order:\n{out}"
    );
    let has = |kind: &str, event: &str| rows.iter().any(|r| r[1] == kind && r[2].contains(event));
    assert!(has("task", "STOPPED"), "{out}");
    assert!(has("container", "exited 137"), "{out}");
    // A kernel OOM kill: no heap message before it (the heap cap is above the limit).
    assert!(!has("signature", "node_heap_oom"), "{out}");
    assert!(has("health", "UNKNOWN -> HEALTHY"), "{out}");
    // The last memory row is the truth's peak, at the limit.
    let last_memory = rows.iter().rev().find(|r| r[1] == "memory").unwrap();
    assert_eq!(
        last_memory[2],
        format!(
            "peak {} of {} MiB",
            oom.memory_peak_mib, oom.memory_limit_mib
        )
    );
    // The stop is the last state change.
    let last_task = rows.iter().rev().find(|r| r[1] == "task").unwrap();
    assert!(last_task[2].starts_with("STOPPED"), "{out}");

    let (code, _, err) = run(&mut ecs_query(&["timeline", "--lake", lake, "ffffffff"]));
    assert_eq!(code, 2);
    assert!(err.contains("no task \"ffffffff\""), "{err}");
    let (code, _, err) = run(&mut ecs_query(&["timeline", "--lake", lake, ""]));
    assert_eq!(code, 2);
    assert!(err.contains("give more of the task id"), "{err}");
}

#[test]
fn secrets_in_log_messages_are_redacted_unless_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("logs.json");
    let messages = [
        "connecting to postgres://app:s3cr3t@db:5432/orders".to_owned(),
        "using AKIAIOSFODNN7EXAMPLE".to_owned(),
    ];
    let data = cwl_payload(
        "/ecs/api",
        "ecs/app/0123456789abcdef0123456789abcdef",
        1_795_046_400_000,
        &messages,
    );
    std::fs::write(
        &file,
        serde_json::json!({"awslogs": {"data": data}}).to_string(),
    )
    .unwrap();
    let stored = |extra: &[&str]| {
        let lake = dir.path().join(format!("lake{}", extra.len()));
        let lake = lake.to_str().unwrap();
        let mut args = vec!["ingest", "--lake", lake];
        args.extend(extra);
        args.push(file.to_str().unwrap());
        let (code, out, err) = run(&mut ecs_query(&args));
        assert_eq!(code, 0, "{out}{err}");
        let (code, out, err) = run(&mut ecs_query(&[
            "--lake",
            lake,
            "-f",
            "csv",
            "sql",
            "SELECT message FROM logs ORDER BY time",
        ]));
        assert_eq!(code, 0, "{err}");
        out
    };
    assert_eq!(
        stored(&[]),
        "message\npostgres://app:<redacted>@db:5432/orders\nusing <redacted:aws-access-key>\n"
            .replace("postgres", "connecting to postgres")
    );
    let kept = stored(&["--keep-secrets"]);
    assert!(
        kept.contains("s3cr3t") && kept.contains("AKIAIOSFODNN7EXAMPLE"),
        "{kept}"
    );
}

/// `ecs-query sql` on `lake`, as CSV; the command must succeed.
fn sql_csv(lake: &str, query: &str) -> String {
    let (code, out, err) = run(&mut ecs_query(&["sql", "--lake", lake, "-f", "csv", query]));
    assert_eq!(code, 0, "{err}");
    out
}

/// A document of `tests/fixtures/aws-config/` (see its SOURCES.md).
fn config_fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/aws-config")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn ingest_task_definitions_as_the_cli_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let mut files = Vec::new();
    let mut save = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        files.push(path.display().to_string());
    };
    // As the AWS CLI prints them: v2 (ISO-8601 with offsets), v1 (epoch
    // seconds), and delete-task-definitions' list.
    for name in [
        "describe_task_definition_ec2_wordpress_mysql_cli_v2_awscli-docs.json",
        "describe_task_definition_fargate_healthcheck_heap_cli_v1_written.json",
        "delete_task_definitions_fargate_awslogs_cli_v2_awscli-docs.json",
    ] {
        save(name, config_fixture(name));
    }
    // Recorded boto3 answers (placebo): the response is under `data`. The
    // 2019 one predates registeredAt; the 2023 one writes registeredAt as a
    // placebo datetime object, which no CLI prints: quarantined, with why.
    let unwrap = |name: &str| {
        let doc: serde_json::Value = serde_json::from_str(&config_fixture(name)).unwrap();
        doc["data"].to_string()
    };
    save(
        "c7n-2019.json",
        unwrap("describe_task_definition_ec2_host_awslogs_2019_placebo_cloud-custodian.json"),
    );
    save(
        "c7n-2023.json",
        unwrap("describe_task_definition_fargate_awsvpc_awslogs_placebo_cloud-custodian.json"),
    );

    let mut args = vec!["ingest", "--lake", lake];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = run(&mut ecs_query(&args));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("written      4"), "{out}");
    assert!(out.contains("quarantined  1"), "{out}");

    let sql = |query: &str| sql_csv(lake, query);
    // Values read off the documents.
    assert_eq!(
        sql(
            "SELECT family, revision, status, network_mode, requires_compatibilities, cpu, memory, \
             CAST(registered_at AS VARCHAR) AS registered_at, CAST(deregistered_at AS VARCHAR) AS deregistered_at, containers \
             FROM task_definitions ORDER BY family"
        ),
        "family,revision,status,network_mode,requires_compatibilities,cpu,memory,registered_at,deregistered_at,containers\n\
         api,17,ACTIVE,awsvpc,FARGATE,512,1024,2026-11-26T00:00:00.123Z,,2\n\
         c7n,1,ACTIVE,host,,,,,,1\n\
         curltest,1,DELETE_IN_PROGRESS,awsvpc,FARGATE,256,512,2021-09-10T12:56:24.704Z,2023-03-14T15:20:59.419Z,1\n\
         hello_world,8,ACTIVE,,,,,2024-06-21T16:15:12.669Z,,2\n"
    );
    assert_eq!(
        sql(
            "SELECT family, container_name, essential, memory, memory_reservation, health_check_interval, \
             health_check_timeout, health_check_retries, health_check_start_period, stop_timeout, ulimits, \
             log_group, node_max_old_space_mib, heap_settings, environment_names, secrets \
             FROM container_definitions ORDER BY family, container_name"
        ),
        "family,container_name,essential,memory,memory_reservation,health_check_interval,health_check_timeout,\
         health_check_retries,health_check_start_period,stop_timeout,ulimits,log_group,node_max_old_space_mib,\
         heap_settings,environment_names,secrets\n\
         api,api,true,1024,768,30,5,3,,30,nofile=65536:65536,/ecs/api,1536,NODE_OPTIONS=--max-old-space-size=1536,\
         \"NODE_OPTIONS,DATABASE_URL\",STRIPE_KEY=arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/stripe-AbCdEf\n\
         api,log-router,false,,50,,,,,,,,,,,\n\
         c7n,default,true,1,,,,,,,,/aws/batch/job,,,,\n\
         curltest,ctest,true,,,,,,,,,/ecs/curltest,,,,\n\
         hello_world,mysql,true,500,,,,,,,,,,,MYSQL_ROOT_PASSWORD,\n\
         hello_world,wordpress,true,500,,,,,,,,,,,,\n"
    );
    // No environment value reaches the lake: not in a column, not in `raw`.
    assert_eq!(
        sql("SELECT count(*) AS n FROM task_definitions \
             WHERE raw LIKE '%hunter2%' OR raw LIKE '%\"password\"%' OR raw LIKE '%enable-source-maps%'"),
        "n\n0\n"
    );
    assert_eq!(
        sql(
            "SELECT count(*) AS n FROM task_definitions WHERE raw LIKE '%\"value\":\"<redacted>\"%'"
        ),
        "n\n2\n"
    );
    // The document no CLI prints is in quarantine, saying which field.
    let reason = sql("SELECT reason FROM quarantine");
    assert!(
        reason.contains("taskDefinition.registeredAt is an object, not a time"),
        "{reason}"
    );
}

#[test]
fn ingest_services_and_target_groups_as_the_cli_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let mut files = Vec::new();
    for name in [
        "describe_services_cli_v1_epoch_steady_state_awscli-docs.json",
        "update_service_two_deployments_circuit_breaker_events_awscli-docs.json",
        "describe_target_groups_http_instance_awscli-docs.json",
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, config_fixture(name)).unwrap();
        files.push(path.display().to_string());
    }
    let mut args = vec!["ingest", "--lake", lake];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = run(&mut ecs_query(&args));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("written      3"), "{out}");

    let sql = |query: &str| sql_csv(lake, query);
    // Values read off the documents: CLI v1 epoch seconds, the old service
    // ARN without its cluster (the cluster from clusterArn), v2 with the
    // circuit breaker and alarms.
    assert_eq!(
        sql(
            "SELECT cluster, service, desired_count, health_check_grace_period_seconds, circuit_breaker_enable, \
             circuit_breaker_rollback, alarms_enable, maximum_percent, minimum_healthy_percent, \
             CAST(created_at AS VARCHAR) AS created_at FROM services ORDER BY cluster"
        ),
        "cluster,service,desired_count,health_check_grace_period_seconds,circuit_breaker_enable,circuit_breaker_rollback,\
         alarms_enable,maximum_percent,minimum_healthy_percent,created_at\n\
         default,my-http-service,10,,,,,,,2016-06-24T20:56:48.595Z\n\
         mycluster,my-http-service,2,0,true,true,false,200,100,2025-02-21T20:54:48.862Z\n"
    );
    assert_eq!(
        sql(
            "SELECT name, protocol, port, health_check_path, health_check_interval, health_check_timeout, \
             healthy_threshold, unhealthy_threshold, matcher FROM target_groups"
        ),
        "name,protocol,port,health_check_path,health_check_interval,health_check_timeout,healthy_threshold,\
         unhealthy_threshold,matcher\nmy-targets,HTTP,80,/,30,5,5,2,200\n"
    );
}

#[test]
fn ingest_the_deployment_history_as_the_cli_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let mut files = Vec::new();
    for name in [
        "list_service_deployments_successful_awscli-docs.json",
        "list_service_deployments_no_timestamps_devguide.json",
        "describe_service_deployments_successful_circuit_breaker_awscli-docs.json",
        "describe_service_deployments_pending_api-reference.json",
        "describe_service_revisions_fargate_awscli-docs.json",
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, config_fixture(name)).unwrap();
        files.push(path.display().to_string());
    }
    // A truncated answer and one with a wrong type: quarantined, saying why.
    let truncated = dir.path().join("truncated.json");
    let whole =
        config_fixture("describe_service_deployments_successful_circuit_breaker_awscli-docs.json");
    // One line, so that it is one input (a multi-line fragment is read as JSON lines).
    let compact = serde_json::from_str::<serde_json::Value>(&whole)
        .unwrap()
        .to_string();
    std::fs::write(&truncated, &compact[..compact.len() / 2]).unwrap();
    let wrong = dir.path().join("wrong.json");
    std::fs::write(
        &wrong,
        whole.replace("\"failureCount\": 0", "\"failureCount\": \"none\""),
    )
    .unwrap();
    files.push(truncated.display().to_string());
    files.push(wrong.display().to_string());
    let mut args = vec!["ingest", "--lake", lake];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = run(&mut ecs_query(&args));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("written      5"), "{out}");
    assert!(out.contains("quarantined  2"), "{out}");

    let sql = |query: &str| sql_csv(lake, query);
    // Values read off the documents (CLI v2 ISO-8601 with offsets, the API
    // reference's `Z` with two fractional digits; a brief fills what it has).
    assert_eq!(
        sql(
            "SELECT cluster, service, detailed, status, CAST(created_at AS VARCHAR) AS created_at, \
             CAST(finished_at AS VARCHAR) AS finished_at, CAST(updated_at AS VARCHAR) AS updated_at, \
             circuit_breaker_enable, circuit_breaker_status, circuit_breaker_failure_count, \
             circuit_breaker_threshold, alarms_status, \
             regexp_replace(target_service_revision_arn, '.*/', '') AS target \
             FROM service_deployments ORDER BY cluster, detailed, status"
        ),
        "cluster,service,detailed,status,created_at,finished_at,updated_at,circuit_breaker_enable,\
         circuit_breaker_status,circuit_breaker_failure_count,circuit_breaker_threshold,alarms_status,target\n\
         example,sd-example,false,SUCCESSFUL,,,,,,,,,4980306466373577095\n\
         example,sd-example,true,PENDING,,,2024-09-10T16:49:35.570Z,false,,,,,4980306466373577095\n\
         example-cluster,example-service,false,SUCCESSFUL,2024-10-31T12:03:30.917Z,2024-10-31T12:05:04.527Z,,,,,,,1485800978477494678\n\
         example-cluster,example-service,true,SUCCESSFUL,2024-10-31T12:03:30.917Z,2024-10-31T12:05:04.527Z,2024-10-31T12:05:04.527Z,true,MONITORING_COMPLETE,0,3,DISABLED,1485800978477494678\n"
    );
    assert_eq!(
        sql(
            "SELECT cluster, service, family, revision, capacity_providers, platform_version, \
             container_images, CAST(created_at AS VARCHAR) AS created_at FROM service_revisions"
        ),
        "cluster,service,family,revision,capacity_providers,platform_version,container_images,created_at\n\
         example-cluster,example-service,webserver,5,FARGATE,1.4.0,\
         \"aws-otel-collector=public.ecr.aws/aws-observability/aws-otel-collector:v0.32.0@sha256:7a1b3560655071bcacd66902c20ebe9a69470d5691fe3bd36baace7c2f3c4640,\
         web=nginx@sha256:28402db69fec7c17e179ea87882667f1e054391138f77ffaf0c3eb388efc3ffb\",\
         2024-10-31T12:03:29.302Z\n"
    );
    let reasons = sql("SELECT reason FROM quarantine ORDER BY reason");
    assert!(
        reasons.contains(
            "serviceDeployments[0].deploymentCircuitBreaker.failureCount is \"\"none\"\", not a whole number"
        ) && reasons.contains("EOF while parsing"),
        "{reasons}"
    );
}

#[test]
fn ingest_target_group_attributes_with_the_arn_they_were_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let arn = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067";
    let mut files = Vec::new();
    for name in [
        "describe_target_group_attributes_http_instance_awscli-docs.json",
        "describe_target_group_attributes_tcp_awscli-docs.json",
    ] {
        // As the AWS CLI prints it (no ARN: refused, saying how to add it),
        // and with the ARN added as the README's jq does.
        let text = config_fixture(name);
        let mut with_arn: serde_json::Value = serde_json::from_str(&text).unwrap();
        with_arn["TargetGroupArn"] = format!("{arn}-{}", files.len()).into();
        for (suffix, body) in [("raw", text), ("arn", with_arn.to_string())] {
            let path = dir.path().join(format!("{suffix}-{name}"));
            std::fs::write(&path, body).unwrap();
            files.push(path.display().to_string());
        }
    }
    let mut args = vec!["ingest", "--lake", lake];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = run(&mut ecs_query(&args));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("written      2"), "{out}");
    assert!(out.contains("quarantined  2"), "{out}");
    let sql = |query: &str| sql_csv(lake, query);
    assert_eq!(
        sql(
            "SELECT regexp_replace(target_group_arn, '.*-', '') AS n, deregistration_delay_s, \
             slow_start_s, stickiness_enabled FROM target_group_attributes ORDER BY n"
        ),
        "n,deregistration_delay_s,slow_start_s,stickiness_enabled\n0,300,0,false\n2,300,,\n"
    );
    let reasons = sql("SELECT reason FROM quarantine");
    assert!(
        reasons.contains("does not name its target group")
            && reasons.contains("--target-group-arn $ARN"),
        "{reasons}"
    );
}

#[test]
fn diff_compares_the_service_as_captured_with_each_revision() {
    // The simulator's api:41 and api:42, and its service captured once
    // running each (as poll-health does per deployment), the grace period
    // raised with the second.
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let preset = ecs_sim::Preset::node_oom(48.0);
    let mut docs: Vec<serde_json::Value> = preset.task_definition_documents();
    let service = preset.service_documents()[0].clone();
    for (revision, grace) in [(41, 0), (42, 90)] {
        let mut s = service.clone();
        let svc = &mut s["services"][0];
        let arn = svc["taskDefinition"].as_str().unwrap().to_owned();
        svc["taskDefinition"] = format!("{}:{revision}", arn.rsplit_once(':').unwrap().0).into();
        svc["healthCheckGracePeriodSeconds"] = grace.into();
        docs.push(s);
    }
    // Its target group as captured with each: the path and the
    // deregistration delay changed with the second.
    let groups = &preset.service_documents()[1..];
    let mut captured_with = Vec::new();
    for (path, delay) in [("/health", "15"), ("/healthz", "60")] {
        let mut g = groups[0].clone();
        g["TargetGroups"][0]["HealthCheckPath"] = path.into();
        let mut a = groups[1].clone();
        a["Attributes"][0]["Value"] = delay.into();
        captured_with.push(vec![g, a]);
    }
    let service_42 = docs.pop().unwrap();
    // Two ingests, as two polls: api:41 with the first target group, then
    // api:42 with the second.
    let mut batches = [docs, vec![service_42]];
    for (batch, groups) in batches.iter_mut().zip(captured_with) {
        batch.extend(groups);
    }
    for (n, batch) in batches.iter().enumerate() {
        let mut files = Vec::new();
        for (i, d) in batch.iter().enumerate() {
            let path = dir.path().join(format!("doc-{n}-{i}.json"));
            std::fs::write(&path, d.to_string()).unwrap();
            files.push(path.display().to_string());
        }
        let mut args = vec!["ingest", "--lake", lake];
        args.extend(files.iter().map(String::as_str));
        let (code, _, err) = run(&mut ecs_query(&args));
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = run(&mut ecs_query(&[
        "diff", "--lake", lake, "api:41", "api:42",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("| service api | healthCheckGracePeriodSeconds | 0 | 90 |"),
        "{out}"
    );
    assert!(
        out.contains("| target group api | HealthCheckPath | /health | /healthz |"),
        "{out}"
    );
    assert!(
        out.contains("| target group api | deregistration_delay.timeout_seconds | 15 | 60 |"),
        "{out}"
    );
    assert!(out.contains("| app | image |"), "{out}");
}

/// Day one: the documents a user holds, in one `ingest` (a trail file
/// gzipped as CloudTrail writes them, a filter-log-events output, the
/// lifecycle-event log group's payload, a botocore recording), then the
/// lake's answers; a second run adds nothing to the views.
#[test]
fn ingest_reads_the_documents_a_user_holds() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let path_of = |name: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/aws")
            .join(name)
    };
    let trail = dir.path().join("trail.json.gz");
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&trail).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(
        &std::fs::read(path_of(
            "cloudtrail_submit_task_state_change_oom_no_exit_code_ecs-agent-5135.json",
        ))
        .unwrap(),
    )
    .unwrap();
    gz.finish().unwrap();
    // The task of the lifecycle group's event, as `describe-tasks` printed
    // it at the same state (its detail is the Task object).
    let event: serde_json::Value = serde_json::from_str(&fixture_text(
        "ecs_task_stopped_fargate_scaling_activity_exit137_arkime-aws-aio.json",
    ))
    .unwrap();
    let describe = dir.path().join("describe-tasks.json");
    std::fs::write(
        &describe,
        serde_json::json!({"tasks": [event["detail"]], "failures": []}).to_string(),
    )
    .unwrap();
    let files = [
        trail,
        path_of("logs_filter_log_events_doc_aws-cli.json"),
        path_of("cwl_ecs_lifecycle_events_log_group_arkime-event.json"),
        path_of("describe_tasks_placebo_cannotpull_taskfailedtostart_cloud-custodian.json"),
        describe,
    ];
    let mut args = vec!["ingest", "--lake", lake];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    // filter-log-events output does not name its log group.
    let (code, _, err) = run(&mut ecs_query(&args));
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "logs_filter_log_events_doc_aws-cli.json is an `aws logs filter-log-events` output, which does not name its log group"
        ) && err.contains("pass --log-group"),
        "{err}"
    );
    args.extend(["--log-group", "demo-log-group"]);
    for _ in 0..2 {
        let (code, out, err) = run(&mut ecs_query(&args));
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("quarantined  0"), "{out}");
        assert!(
            out.contains("ECS events in log groups: 1 (read as events, not log lines)"),
            "{out}"
        );
    }
    let sql = |q: &str| {
        let (code, out, err) = run(&mut ecs_query(&["sql", "--lake", lake, "-f", "csv", q]));
        assert_eq!(code, 0, "{err}");
        out
    };
    // c50e... came both as an event and as a describe-tasks output: two rows
    // (the second run rewrote the same objects), one task in the view below.
    assert_eq!(
        sql(
            "SELECT count(*) AS n FROM task_events WHERE task_id = 'c50e321c974248dbaf4ae2cfa1662986'"
        ),
        "n\n2\n"
    );
    assert_eq!(
        sql("SELECT task_id, stop_cause, exit_code FROM tasks ORDER BY task_id"),
        "task_id,stop_cause,exit_code\n\
         0056d389848141b6a5d81c274ff15c58,oom_killed,\n\
         21b23041dec947b996fcc7a8aa606d64,failed_to_start,\n\
         c50e321c974248dbaf4ae2cfa1662986,scale_in,137\n"
    );
    assert_eq!(
        sql("SELECT log_stream, message FROM logs ORDER BY time"),
        "log_stream,message\nteststream,Test MESSAGE1\n2024/05/09/[$LATEST]abc1024,Test MESSAGE2\n"
    );
}

/// `backfill --from-aws` as a user runs it: the AWS SDK's standard
/// configuration (credentials, region, AWS_ENDPOINT_URL_<SERVICE>) pointing
/// at a loopback endpoint scripting ECS and CloudWatch Logs; one cluster
/// readable, one denied. The stopped task is the AWS CLI documentation's
/// recorded task, stopped as ECS reports an OOM kill.
#[test]
fn backfill_from_aws_reads_what_aws_holds_and_names_what_was_denied() {
    use ecs_lake_tests::JsonApiServer;
    use serde_json::{Value, json};
    const TASK: &str =
        "arn:aws:ecs:us-west-2:123456789012:task/prod/0b0b0b0b0b0b4b0b8b0b0b0b0b0b0b02";
    let api = JsonApiServer::start(std::sync::Arc::new(|target: &str, body: &Value| {
        let ok = |v: Value| (200, v.to_string());
        match target.rsplit('.').next().unwrap_or_default() {
            "ListTasks" if body["cluster"] == "locked" => (
                400,
                json!({"__type": "AccessDeniedException", "message": "not authorized to perform: ecs:ListTasks"}).to_string(),
            ),
            "ListTasks" if body["desiredStatus"] == "STOPPED" => ok(json!({"taskArns": [TASK]})),
            "ListTasks" => ok(json!({"taskArns": []})),
            "DescribeTasks" => {
                let recorded: Value =
                    serde_json::from_str(&fixture_text("api_describe_tasks_awscli.json")).unwrap();
                let mut t = recorded["tasks"][0].clone();
                t.as_object_mut().unwrap().remove("startedBy");
                t["taskArn"] = TASK.into();
                t["lastStatus"] = "STOPPED".into();
                t["stopCode"] = "EssentialContainerExited".into();
                t["stoppedAt"] = 1_795_518_030.25.into();
                t["containers"][0]["exitCode"] = 137.into();
                t["containers"][0]["reason"] =
                    "OutOfMemoryError: Container killed due to memory usage".into();
                ok(json!({"tasks": [t], "failures": []}))
            }
            "ListTaskDefinitions" => ok(json!({"taskDefinitionArns": []})),
            "DescribeTaskDefinition" => ok(serde_json::from_str(&config_fixture(
                "describe_task_definition_fargate_healthcheck_heap_cli_v1_written.json",
            ))
            .unwrap()),
            "DescribeLogGroups" if body["logGroupNamePrefix"] == "/ecs/" => {
                ok(json!({"logGroups": [{"logGroupName": "/ecs/api"}]}))
            }
            "DescribeLogGroups" => ok(json!({"logGroups": []})),
            // The one event, when the asked window holds it (both bounds inclusive).
            "FilterLogEvents"
                if !(body["startTime"].as_i64().unwrap()..=body["endTime"].as_i64().unwrap())
                    .contains(&1_795_518_000_000) =>
            {
                ok(json!({"events": []}))
            }
            "FilterLogEvents" => ok(json!({"events": [{
                "logStreamName": "ecs/api/0b0b0b0b0b0b4b0b8b0b0b0b0b0b0b02",
                "timestamp": 1_795_518_000_000_i64,
                "message": "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
                "ingestionTime": 1_795_518_000_500_i64, "eventId": "1"}]})),
            other => (
                400,
                json!({"__type": "UnknownOperationException", "message": other}).to_string(),
            ),
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let backfill = |extra: &[&str]| {
        let mut args = vec!["backfill", "--lake", lake];
        args.extend(extra);
        let mut c = ecs_query(&args);
        c.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env_remove("AWS_PROFILE")
            .env("AWS_ENDPOINT_URL_ECS", &api.endpoint)
            .env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &api.endpoint)
            .env(
                "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
                "http://127.0.0.1:9",
            );
        run(&mut c)
    };
    // Not without saying where from.
    let (code, _, err) = backfill(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("--from-aws"), "{err}");
    let (code, _, err) = backfill(&["--from-aws", "--since", "last tuesday"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--since \"last tuesday\" is neither a duration nor a time"),
        "{err}"
    );

    let (code, out, err) = backfill(&[
        "--from-aws",
        "--cluster",
        "prod",
        "--cluster",
        "arn:aws:ecs:us-west-2:123456789012:cluster/locked",
        // A fixed day (the event's): a duration would slide past it.
        "--since",
        "2026-11-24",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("tasks              1 described, 1 new states written"),
        "{out}"
    );
    assert!(out.contains("1 task definitions"), "{out}");
    assert!(
        out.contains("log group          /ecs/api: 1 events"),
        "{out}"
    );
    assert!(
        err.contains("ecs:ListTasks denied for cluster locked")
            && err.contains("allow the denied actions"),
        "{err}"
    );
    let sql = |q: &str| {
        let (code, out, err) = run(&mut ecs_query(&["sql", "--lake", lake, "-f", "csv", q]));
        assert_eq!(code, 0, "{err}");
        out
    };
    assert_eq!(
        sql("SELECT task_id, stop_cause, exit_code FROM tasks"),
        "task_id,stop_cause,exit_code\n0b0b0b0b0b0b4b0b8b0b0b0b0b0b0b02,oom_killed,137\n"
    );
    assert_eq!(
        sql("SELECT task_id, signature FROM logs"),
        "task_id,signature\n0b0b0b0b0b0b4b0b8b0b0b0b0b0b0b02,node_heap_oom\n"
    );
}
