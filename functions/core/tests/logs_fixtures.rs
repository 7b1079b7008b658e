//! CloudWatch Logs payloads from `tests/fixtures/aws/` (Lambda subscription in
//! gzip and zlib, the Kinesis form, Firehose records with a control message)
//! and Container Insights records normalize to the rows their content says.
//! Expected values are read off the payloads, decoded here independently of
//! the code under test (serde_json::Value over flate2).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ecs_lake::normalize::Normalizer;
use ecs_lake::rows::LogCounts;
use ecs_lake::sources::logs::decode::MAX_DECODED_BYTES;
use serde_json::{Value, json};

mod common;
use common::{check, finish, fixture};

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

/// The test's own decoder: base64 -> gzip or zlib -> JSON.
fn decode(data: &str) -> Value {
    let bytes = STANDARD.decode(data).unwrap();
    let mut out = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
    } else {
        flate2::read::ZlibDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
    }
    serde_json::from_slice(&out).unwrap()
}

fn gzip_base64(bytes: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    STANDARD.encode(gz.finish().unwrap())
}

/// A DATA_MESSAGE payload with these messages, one second apart.
fn payload(group: &str, stream: &str, messages: &[String]) -> String {
    let events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("ev{i}"), "timestamp": 1_700_000_000_000i64 + i as i64 * 1000, "message": m}))
        .collect();
    let doc = json!({
        "messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": group,
        "logStream": stream, "subscriptionFilters": ["f"], "logEvents": events,
    });
    gzip_base64(doc.to_string().as_bytes())
}

fn micros_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
        .replace(".000Z", "Z")
}

/// Checks `logs` rows against the payload's decoded log events.
fn check_log_rows(rows: &[common::Row], decoded: &Value) {
    let events = decoded["logEvents"].as_array().unwrap();
    assert_eq!(rows.len(), events.len());
    for (row, e) in rows.iter().zip(events) {
        check(
            row,
            &[
                ("log_group", decoded["logGroup"].as_str().unwrap()),
                ("log_stream", decoded["logStream"].as_str().unwrap()),
                ("account", decoded["owner"].as_str().unwrap()),
                ("event_id", e["id"].as_str().unwrap()),
                ("message", e["message"].as_str().unwrap()),
                ("time", &micros_text(e["timestamp"].as_i64().unwrap())),
            ],
        );
    }
}

#[test]
fn lambda_subscription_payloads_gzip_and_zlib_with_policy_level() {
    for name in [
        "cwl_lambda_awslogs_aws-lambda-go.json",
        "cwl_lambda_awslogs_aws-lambda-rust-runtime.json",
        "cwl_lambda_awslogs_policyLevel_powertools.json",
    ] {
        let data = fixture_json(name)["awslogs"]["data"]
            .as_str()
            .unwrap()
            .to_owned();
        let decoded = decode(&data);
        let mut n = Normalizer::new(0);
        n.push_logs_payload(0, data.as_bytes());
        let counts = n.log_counts();
        let (t, q) = finish(n);
        assert!(q.is_empty(), "{name}: {q:?}");
        check_log_rows(&t["logs"], &decoded);
        for row in &t["logs"] {
            // "[ERROR] First test message"
            check(
                row,
                &[("level", "error"), ("task_id", "∅"), ("signature", "∅")],
            );
        }
        assert_eq!(
            counts,
            LogCounts {
                data_messages: 1,
                log_events: 2,
                rows: 2,
                ..Default::default()
            },
            "{name}"
        );
    }
}

#[test]
fn kinesis_records_and_firehose_records_with_a_control_message() {
    let kinesis = fixture_json("cwl_kinesis_stream_powertools.json");
    let firehose = fixture_json("cwl_firehose_transform_sam-cli_template.json");
    let datas: Vec<String> = kinesis["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kinesis"]["data"].as_str().unwrap().to_owned())
        .chain(
            firehose["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["data"].as_str().unwrap().to_owned()),
        )
        .collect();
    let mut n = Normalizer::new(0);
    let mut expected_events = 0;
    let mut controls = 0;
    let mut data_rows = Vec::new();
    for (i, d) in datas.iter().enumerate() {
        n.push_logs_payload(i as u32, d.as_bytes());
        let decoded = decode(d);
        if decoded["messageType"] == "CONTROL_MESSAGE" {
            controls += 1;
        } else {
            expected_events += decoded["logEvents"].as_array().unwrap().len();
            data_rows.push(decoded);
        }
    }
    assert_eq!(controls, 1, "the Firehose fixture's first record");
    let counts = n.log_counts();
    let (t, q) = finish(n);
    assert!(q.is_empty(), "{q:?}");
    assert_eq!(
        counts,
        LogCounts {
            data_messages: datas.len() - 1,
            control_messages: 1,
            log_events: expected_events,
            rows: expected_events,
            ..Default::default()
        }
    );
    // Rows are sorted by time, then group and stream: compare as sets of event ids.
    let mut got: Vec<&str> = t["logs"].iter().map(|r| r["event_id"].as_str()).collect();
    let mut want: Vec<&str> = data_rows
        .iter()
        .flat_map(|d| d["logEvents"].as_array().unwrap())
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    // Lambda's own stream names are not awslogs task streams.
    assert!(t["logs"].iter().all(|r| r["task_id"] == "∅"));
}

#[test]
fn container_insights_records_become_metrics_rows() {
    let names = [
        "ci_perf_Container_awsdocs.json",
        "ci_perf_Task_emf_awsdocs.json",
        "ci_perf_Service_emf_awsdocs.json",
        "ci_perf_Cluster_emf_awsdocs.json",
        "ci_perf_Task_fargate_logevent_message_uktrade.json",
    ];
    let records: Vec<Value> = names.iter().map(|n| fixture_json(n)).collect();
    let messages: Vec<String> = records.iter().map(Value::to_string).collect();
    let data = payload(
        "/aws/ecs/containerinsights/GroupCluster/performance",
        "AgentTelemetry-0d7650e6dec34c1a9200f72098071e8f",
        &messages,
    );
    let mut n = Normalizer::new(0);
    n.push_logs_payload(0, data.as_bytes());
    let (t, q) = finish(n);
    assert!(q.is_empty(), "{q:?}");
    assert!(
        !t.contains_key("logs"),
        "performance records are not log lines"
    );
    let metrics = &t["metrics"];
    assert_eq!(metrics.len(), records.len());
    for r in &records {
        let ts = r["Timestamp"].as_i64().unwrap();
        let row = metrics
            .iter()
            .find(|m| {
                m["record_type"] == r["Type"].as_str().unwrap() && m["time"] == micros_text(ts)
            })
            .unwrap_or_else(|| panic!("no row for {r}"));
        let s = |k: &str| r[k].as_str().map(str::to_owned);
        let num = |k: &str| r.get(k).map(|v| v.to_string().trim_matches('"').to_owned());
        let mut expect: Vec<(&str, Option<String>)> = vec![
            ("cluster", s("ClusterName")),
            ("service", s("ServiceName")),
            ("task_id", s("TaskId")),
            ("family", s("TaskDefinitionFamily")),
            ("revision", s("TaskDefinitionRevision")),
            ("container", s("ContainerName")),
            ("image", s("Image")),
            ("launch_type", s("LaunchType")),
            ("availability_zone", s("AvailabilityZone")),
            (
                "known_status",
                s("KnownStatus").or(s("ContainerKnownStatus")),
            ),
            ("ec2_instance_id", s("EC2InstanceId")),
            ("memory_utilized", num("MemoryUtilized")),
            ("memory_reserved", num("MemoryReserved")),
            ("network_rx_packets", num("NetworkRxPackets")),
            ("storage_read_bytes", num("StorageReadBytes")),
            ("desired_task_count", num("DesiredTaskCount")),
            ("task_count", num("TaskCount")),
            (
                "log_group",
                Some("/aws/ecs/containerinsights/GroupCluster/performance".into()),
            ),
        ];
        if let Some(cpu) = r["CpuUtilized"].as_f64() {
            // Arrow prints 0.0 as "0.0" and 23.619... in full.
            assert!((row["cpu_utilized"].parse::<f64>().unwrap() - cpu).abs() < 1e-9);
        }
        expect.retain(|(_, v)| v.is_some());
        for (k, v) in expect {
            assert_eq!(row[k], v.unwrap(), "{k} of {r}");
        }
    }
    // Records without ClusterName take it from the log group: none here, all carry it.
    assert!(metrics.iter().all(|m| m["cluster"] != "GroupCluster"));
    // Task records carry their lifecycle times in milliseconds.
    let task = metrics
        .iter()
        .find(|m| m["record_type"] == "Task" && m["launch_type"] == "EC2")
        .unwrap();
    check(
        task,
        &[
            ("pull_started_at", &micros_text(1_623_963_608_201)),
            ("started_at", &micros_text(1_623_963_610_382)),
        ],
    );
}

#[test]
fn enhanced_observability_fields_and_string_numbers_give_health_samples() {
    let mut healthy = fixture_json("ci_perf_Container_awsdocs.json");
    healthy["UnHealthyContainerHealthStatus"] = json!(0);
    healthy["RestartCount"] = json!("2");
    healthy["MemoryUtilized"] = json!("731");
    let mut unhealthy = healthy.clone();
    unhealthy["Timestamp"] = json!(1_623_963_960_000i64);
    unhealthy["UnHealthyContainerHealthStatus"] = json!("1");
    // Enhanced observability's Container* names fill the same columns.
    for (plain, container) in [
        ("MemoryUtilized", "ContainerMemoryUtilized"),
        ("CpuReserved", "ContainerCpuReserved"),
    ] {
        let v = unhealthy.as_object_mut().unwrap().remove(plain).unwrap();
        unhealthy[container] = v;
    }
    let mut no_cluster = fixture_json("ci_perf_Task_emf_awsdocs.json");
    no_cluster.as_object_mut().unwrap().remove("ClusterName");
    let data = payload(
        "/aws/ecs/containerinsights/from-group/performance",
        "AgentTelemetry-x",
        &[
            healthy.to_string(),
            unhealthy.to_string(),
            no_cluster.to_string(),
        ],
    );
    let mut n = Normalizer::new(0);
    n.push_logs_payload(0, data.as_bytes());
    let (t, q) = finish(n);
    assert!(q.is_empty(), "{q:?}");
    // Sorted by time, cluster, task: the two records of minute one, then minute two.
    let m = &t["metrics"];
    check(
        &m[0],
        &[
            ("record_type", "Container"),
            ("memory_utilized", "731"),
            ("restart_count", "2"),
            ("unhealthy", "0"),
        ],
    );
    check(
        &m[1],
        &[
            ("record_type", "Task"),
            ("cluster", "from-group"),
            ("unhealthy", "∅"),
        ],
    );
    check(
        &m[2],
        &[
            ("record_type", "Container"),
            ("unhealthy", "1"),
            ("memory_utilized", "731"),
            ("cpu_reserved", "10.0"),
        ],
    );
    let h = &t["health"];
    assert_eq!(h.len(), 2, "one sample per record that carries the field");
    for (row, (status, ts)) in h.iter().zip([
        ("HEALTHY", 1_623_963_900_000),
        ("UNHEALTHY", 1_623_963_960_000),
    ]) {
        check(
            row,
            &[
                ("status", status),
                ("time", &micros_text(ts)),
                ("task_id", "7ac4dfba69214411b4783a3b8189c9ba"),
                ("container", "sleep"),
                ("cluster", "MyCluster"),
                ("revision", "1"),
                ("source", "container_insights"),
            ],
        );
    }
}

#[test]
fn app_logs_take_task_and_container_from_the_stream_or_firelens() {
    let firelens = json!({
        "container_id": "abc", "container_name": "/ecs-web-3-web-8ad1", "ecs_cluster": "prod",
        "ecs_task_arn": "arn:aws:ecs:eu-west-1:111122223333:task/prod/0123456789abcdef0123456789abcdef",
        "ecs_task_definition": "web:42", "source": "stderr",
        "log": "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    });
    let messages = [
        r#"{"level":"warn","msg":"slow request","ms":2300}"#.to_owned(),
        "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space".to_owned(),
        firelens.to_string(),
    ];
    let data = payload(
        "/ecs/web",
        "ecs/web/5a1b2c3d4e5f60718293a4b5c6d7e8f9",
        &messages,
    );
    let mut n = Normalizer::new(0);
    n.push_logs_payload(0, data.as_bytes());
    let (t, q) = finish(n);
    assert!(q.is_empty(), "{q:?}");
    let l = &t["logs"];
    check(
        &l[0],
        &[
            ("level", "warn"),
            ("task_id", "5a1b2c3d4e5f60718293a4b5c6d7e8f9"),
            ("container", "web"),
            ("signature", "∅"),
        ],
    );
    check(&l[1], &[("signature", "java_oom"), ("container", "web")]);
    check(
        &l[2],
        &[
            ("task_id", "0123456789abcdef0123456789abcdef"),
            ("container", "ecs-web-3-web-8ad1"),
            ("cluster", "prod"),
            ("family", "web"),
            ("revision", "42"),
            ("stream", "stderr"),
            ("signature", "node_heap_oom"),
            ("level", "fatal"),
        ],
    );
}

#[test]
fn bad_payloads_are_quarantined_whole_and_bad_records_alone() {
    let good = fixture_json("cwl_lambda_awslogs_aws-lambda-go.json")["awslogs"]["data"]
        .as_str()
        .unwrap()
        .to_owned();
    let compressed = STANDARD.decode(&good).unwrap();
    let truncated = STANDARD.encode(&compressed[..compressed.len() / 2]);
    // 64 MiB of zeros gzip to ~64 KiB: four times the limit.
    let bomb = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            gz.write_all(&zeros).unwrap();
        }
        STANDARD.encode(gz.finish().unwrap())
    };
    assert!(bomb.len() < MAX_DECODED_BYTES / 16);
    let perf_ok = fixture_json("ci_perf_Container_awsdocs.json").to_string();
    let perf = payload(
        "/aws/ecs/containerinsights/c/performance",
        "AgentTelemetry-x",
        &[
            perf_ok.clone(),
            "not json {".to_owned(),
            perf_ok,
            r#"{"Version":"0"}"#.to_owned(),
        ],
    );
    let inputs = [
        ("good", good),
        ("bad base64", "H4sI!!not*base64".to_owned()),
        ("truncated", truncated),
        ("bomb", bomb),
        ("not cwl", gzip_base64(br#"{"hello":"world"}"#)),
        (
            "other type",
            gzip_base64(br#"{"messageType":"SOMETHING","logEvents":[]}"#),
        ),
        ("perf", perf),
        (
            "not utf-8",
            gzip_base64(
                b"{\"messageType\":\"DATA_MESSAGE\",\"logGroup\":\"/ecs/a\",\"logStream\":\"s\",\"logEvents\":[{\"id\":\"1\",\"timestamp\":1,\"message\":\"caf\xe9\"}]}",
            ),
        ),
    ];
    let mut n = Normalizer::new(0);
    for (i, (_, body)) in inputs.iter().enumerate() {
        n.push_logs_payload(i as u32, body.as_bytes());
    }
    let counts = n.log_counts();
    let (t, q) = finish(n);
    let reason = |input: u32| {
        q.iter()
            .filter(|q| q.input == input)
            .map(|q| q.error.reason.clone())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert!(reason(0).is_empty());
    assert!(reason(1).contains("not base64"), "{}", reason(1));
    assert!(
        reason(2).contains("gzip payload is corrupt or truncated"),
        "{}",
        reason(2)
    );
    assert!(reason(3).contains("inflates past the"), "{}", reason(3));
    assert!(
        reason(4).contains("not a CloudWatch Logs message"),
        "{}",
        reason(4)
    );
    assert!(
        reason(5).contains("neither DATA_MESSAGE nor CONTROL_MESSAGE"),
        "{}",
        reason(5)
    );
    assert!(reason(7).contains("not UTF-8 text"), "{}", reason(7));
    for i in [1, 2, 3, 4, 5, 7] {
        let whole: Vec<_> = q.iter().filter(|q| q.input == i).collect();
        assert!(
            whole.len() == 1 && whole[0].part.is_none(),
            "input {i} is quarantined whole"
        );
    }
    // The performance payload keeps its two good records; the two bad ones are
    // quarantined alone, with the event id and the original message.
    let parts: Vec<_> = q.iter().filter(|q| q.input == 6).collect();
    assert_eq!(parts.len(), 2);
    assert!(
        parts[0].error.reason.contains("not valid"),
        "{}",
        parts[0].error.reason
    );
    assert!(
        parts[1].error.reason.contains("has no Type"),
        "{}",
        parts[1].error.reason
    );
    let part = parts[0].part.as_ref().unwrap();
    assert_eq!(part.id, "ev1");
    let kept: Value = serde_json::from_slice(&part.raw).unwrap();
    assert_eq!(kept["message"], "not json {");
    assert_eq!(kept["logGroup"], "/aws/ecs/containerinsights/c/performance");
    assert_eq!(t["metrics"].len(), 2);
    assert_eq!(t["logs"].len(), 2);
    assert_eq!(
        counts,
        LogCounts {
            data_messages: 2,
            payloads_quarantined: 6,
            log_events: 6,
            rows: 4,
            quarantined: 2,
            ..Default::default()
        }
    );
    assert_eq!(
        counts.log_events,
        counts.rows + counts.quarantined,
        "conservation"
    );
}

#[test]
fn export_lines_and_decoded_json_payloads() {
    let mut n = Normalizer::new(0);
    n.push_export_line(
        0,
        "/ecs/web",
        "ecs/web/5a1b2c3d4e5f60718293a4b5c6d7e8f9",
        b"2026-11-20T10:00:00.123Z Killed\n",
    );
    n.push_export_line(1, "/ecs/web", "s", b"no timestamp here");
    let decoded = fixture_json("cwl_lambda_awslogs_aws-lambda-go.json")["awslogs"]["data"]
        .as_str()
        .map(decode)
        .unwrap();
    n.push_logs_payload(2, decoded.to_string().as_bytes());
    let counts = n.log_counts();
    let (t, q) = finish(n);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].input, 1);
    assert!(
        q[0].error.reason.contains("timestamp"),
        "{}",
        q[0].error.reason
    );
    let l = &t["logs"];
    assert_eq!(l.len(), 3);
    let export = l
        .iter()
        .find(|r| r["log_stream"].starts_with("ecs/"))
        .unwrap();
    check(
        export,
        &[
            ("time", "2026-11-20T10:00:00.123Z"),
            ("message", "Killed"),
            ("signature", "killed"),
            ("task_id", "5a1b2c3d4e5f60718293a4b5c6d7e8f9"),
            ("event_id", "∅"),
        ],
    );
    assert_eq!(
        (counts.log_events, counts.rows, counts.quarantined),
        (4, 3, 1)
    );
}

/// Truncations and byte flips of decoded payloads (re-compressed, so they reach
/// the JSON and record parsers) and of the base64 text: no panic, each payload
/// either quarantined whole or read, and log events conserved.
#[test]
fn mutated_payloads_never_panic_and_log_events_are_conserved() {
    let records: Vec<String> = [
        "ci_perf_Container_awsdocs.json",
        "ci_perf_Task_emf_awsdocs.json",
    ]
    .iter()
    .map(|n| fixture_json(n).to_string())
    .collect();
    let perf = payload("/aws/ecs/containerinsights/c/performance", "s", &records);
    let originals: Vec<String> = [
        fixture_json("cwl_lambda_awslogs_aws-lambda-go.json")["awslogs"]["data"]
            .as_str()
            .unwrap()
            .to_owned(),
        fixture_json("cwl_kinesis_stream_powertools.json")["Records"][0]["kinesis"]["data"]
            .as_str()
            .unwrap()
            .to_owned(),
        perf,
    ]
    .to_vec();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for b64 in &originals {
        let decoded = decode(b64).to_string().into_bytes();
        let step = (decoded.len() / 80).max(1);
        for cut in (0..decoded.len()).step_by(step) {
            inputs.push(gzip_base64(&decoded[..cut]).into_bytes());
            for flip in [b'"', b'0', b'}', b'\\', 0xff, b'{'] {
                let mut m = decoded.clone();
                m[cut] = flip;
                inputs.push(gzip_base64(&m).into_bytes());
            }
        }
        let text = b64.as_bytes();
        for cut in (0..text.len()).step_by((text.len() / 20).max(1)) {
            inputs.push(text[..cut].to_vec());
            let mut m = text.to_vec();
            m[cut] = b'*';
            inputs.push(m);
        }
    }
    let mut n = Normalizer::new(0);
    for (i, input) in inputs.iter().enumerate() {
        n.push_logs_payload(i as u32, input);
    }
    let counts = n.log_counts();
    let (t, q) = finish(n);
    let rows: usize = ["logs", "metrics"]
        .iter()
        .map(|k| t.get(k).map_or(0, Vec::len))
        .sum();
    assert_eq!(counts.rows, rows);
    assert_eq!(
        counts.log_events,
        counts.rows + counts.quarantined,
        "conservation"
    );
    assert_eq!(
        counts.data_messages + counts.control_messages + counts.payloads_quarantined,
        inputs.len(),
        "every payload read or quarantined whole, once"
    );
    let whole = q.iter().filter(|q| q.part.is_none()).count();
    assert_eq!(whole, counts.payloads_quarantined);
    assert_eq!(q.len() - whole, counts.quarantined);
    assert!(
        counts.payloads_quarantined > inputs.len() / 3,
        "most mutations are refused"
    );
    assert!(
        counts.rows > 0,
        "some mutations (inside messages) still read"
    );
}

/// Found by the `logs_payload` fuzz target: a DATA_MESSAGE whose `logEvents`
/// key is missing (here misspelt) was read as a payload without events and
/// its content dropped. It is quarantined; `"logEvents": []` is still an
/// empty payload.
#[test]
fn a_data_message_without_log_events_is_quarantined() {
    let misspelt = json!({
        "messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "/ecs/api",
        "logStream": "s", "logEvent)": [{"id": "1", "timestamp": 1, "message": "lost?"}],
    });
    let empty = json!({
        "messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "/ecs/api",
        "logStream": "s", "logEvents": [],
    });
    let mut n = Normalizer::new(0);
    n.push_logs_payload(0, gzip_base64(misspelt.to_string().as_bytes()).as_bytes());
    n.push_logs_payload(1, gzip_base64(empty.to_string().as_bytes()).as_bytes());
    let counts = n.log_counts();
    assert_eq!((counts.payloads_quarantined, counts.data_messages), (1, 1));
    let (_, q) = finish(n);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].input, 0);
    assert!(
        q[0].error.reason.contains("logEvents"),
        "{}",
        q[0].error.reason
    );
}
