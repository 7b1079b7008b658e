//! The `ecs-sim` binary writes the same simulation as the library, to files,
//! deterministically.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeSet;
use std::process::Command;

fn run(out: &std::path::Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_ecs-sim"))
        .args(["--preset", "fleet", "--hours", "12", "--seed", "5", "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn files_match_the_library_and_repeat_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let summary: serde_json::Value = serde_json::from_str(&run(&a)).unwrap();
    run(&b);
    for f in [
        "events.jsonl",
        "logs.jsonl",
        "truth_tasks.jsonl",
        "truth_deployments.jsonl",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
    let sim = ecs_sim::simulate(&ecs_sim::Preset::fleet(12.0), 5);
    let events = std::fs::read_to_string(a.join("events.jsonl")).unwrap();
    assert_eq!(
        events.lines().collect::<Vec<_>>(),
        sim.events.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(summary["events"], sim.events.len());
    assert_eq!(summary["tasks"], sim.truth.tasks.len());
    // Every task in the truth has events, and every task in the events has a truth.
    let in_events: BTreeSet<String> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["detail-type"] == "ECS Task State Change")
        .map(|e| {
            e["detail"]["taskArn"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let in_truth: BTreeSet<String> = sim.truth.tasks.iter().map(|t| t.task_id.clone()).collect();
    assert_eq!(in_events, in_truth);
    let logs = std::fs::read_to_string(a.join("logs.jsonl")).unwrap();
    assert_eq!(logs.lines().count(), sim.log_payloads.len());
}
