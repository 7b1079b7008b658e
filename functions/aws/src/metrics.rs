//! CloudWatch metrics from a Lambda's log: the embedded metric format (EMF),
//! one JSON line that CloudWatch turns into metrics without an API call.

/// The namespace of every metric the lake's functions emit.
pub const NAMESPACE: &str = "EcsPostmortemLake";

/// One EMF line: `counts` as `Count` metrics of `function` (the `Function`
/// dimension, which the stack's alarms select on), stamped now.
pub fn emf(function: &str, counts: &[(&str, usize)]) -> serde_json::Value {
    let metrics: Vec<serde_json::Value> = counts
        .iter()
        .map(|(name, _)| serde_json::json!({"Name": name, "Unit": "Count"}))
        .collect();
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": ecs_lake::time::now_micros() / 1000,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": metrics,
            }],
        },
        "Function": function,
    });
    for (name, value) in counts {
        line[*name] = (*value).into();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_names_each_metric_and_carries_its_value() {
        let line = emf(
            "poll-health",
            &[("ConfigCaptured", 3), ("ConfigCaptureFailures", 0)],
        );
        assert_eq!(line["Function"], "poll-health");
        assert_eq!(line["ConfigCaptured"], 3);
        assert_eq!(line["ConfigCaptureFailures"], 0);
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Metrics"][1]["Name"], "ConfigCaptureFailures");
        assert!(line["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    }
}
