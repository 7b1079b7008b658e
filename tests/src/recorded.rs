//! Recorded and scripted AWS API answers shared by the tests of the poller
//! (in process) and of its built artifact: an ECS endpoint answering with
//! the AWS CLI documentation's DescribeTasks output and the configuration
//! capture's calls, an ELBv2 endpoint with the documentation's target group.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{JsonApiServer, QueryApiServer, fixture};

pub const RECORDED_ARN: &str =
    "arn:aws:ecs:us-west-2:123456789012:task/MyCluster/1234567890123456789";
pub const SECOND_ARN: &str =
    "arn:aws:ecs:us-west-2:123456789012:task/MyCluster/9f8e7d6c5b4a39281706f5e4d3c2b1a0";

/// The recorded response, and a second task derived from it that reports
/// health (the recorded one says UNKNOWN, as a task without health checks does).
pub fn describe(arns: &[String]) -> Value {
    let recorded: Value =
        serde_json::from_slice(&fixture("api_describe_tasks_awscli.json")).unwrap();
    let mut tasks = Vec::new();
    for arn in arns {
        let mut t = recorded["tasks"][0].clone();
        if arn == SECOND_ARN {
            t["taskArn"] = SECOND_ARN.into();
            t["healthStatus"] = "UNHEALTHY".into();
            t["containers"][0]["healthStatus"] = "UNHEALTHY".into();
            let mut sidecar = t["containers"][0].clone();
            sidecar["name"] = "envoy".into();
            sidecar["healthStatus"] = "HEALTHY".into();
            t["containers"].as_array_mut().unwrap().push(sidecar);
        }
        tasks.push(t);
    }
    json!({"tasks": tasks, "failures": []})
}

/// A scripted ECS endpoint for the capture: ListTasks and DescribeTasks as
/// above (one task of `sample-fargate:2`, service `fargate-service`),
/// DescribeTaskDefinition answering the written task definition (CLI v1 =
/// the API's own JSON: epoch-second timestamps) or throttling while
/// `throttle` is set, DescribeServices a recorded answer. Counts the calls.
pub fn capture_endpoint(
    throttle: Arc<Mutex<bool>>,
    pending: Arc<Mutex<bool>>,
) -> (JsonApiServer, Arc<Mutex<Vec<String>>>) {
    let calls = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = calls.clone();
    let server = JsonApiServer::start(Arc::new(move |target: &str, body: &Value| {
        let op = target.rsplit('.').next().unwrap_or_default().to_owned();
        seen.lock().unwrap().push(op.clone());
        match op.as_str() {
            "ListTasks" => (200, json!({"taskArns": [RECORDED_ARN]}).to_string()),
            "DescribeTasks" => {
                let arns: Vec<String> = serde_json::from_value(body["tasks"].clone()).unwrap();
                (200, describe(&arns).to_string())
            }
            // The newest registrations: the running revision, and one
            // registered since whose tasks never ran (described too).
            "ListTaskDefinitions" => {
                assert_eq!(body["sort"], "DESC");
                (
                    200,
                    json!({"taskDefinitionArns": [
                        "arn:aws:ecs:us-west-2:123456789012:task-definition/sample-fargate:3",
                        "arn:aws:ecs:us-west-2:123456789012:task-definition/sample-fargate:2",
                    ]})
                    .to_string(),
                )
            }
            "DescribeTaskDefinition" if *throttle.lock().unwrap() => (
                400,
                json!({"__type": "ThrottlingException", "message": "Rate exceeded"}).to_string(),
            ),
            "DescribeTaskDefinition" => {
                // The written answer, as the revision asked for.
                let asked = body["taskDefinition"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let (family, revision) = asked
                    .rsplit('/')
                    .next()
                    .and_then(|r| r.split_once(':'))
                    .expect("family:revision");
                let mut answer: Value = serde_json::from_slice(&config_fixture(
                    "describe_task_definition_fargate_healthcheck_heap_cli_v1_written.json",
                ))
                .unwrap();
                let td = &mut answer["taskDefinition"];
                td["taskDefinitionArn"] = asked.as_str().into();
                td["family"] = family.into();
                td["revision"] = revision.parse::<i64>().unwrap().into();
                (200, answer.to_string())
            }
            "ListServiceDeployments" => {
                assert_eq!(
                    (&body["cluster"], &body["service"]),
                    (&json!("MyCluster"), &json!("fargate-service"))
                );
                let answer = "list_service_deployments_successful_awscli-docs.json";
                (200, String::from_utf8(config_fixture(answer)).unwrap())
            }
            "DescribeServiceDeployments" => {
                let answer = if *pending.lock().unwrap() {
                    "describe_service_deployments_pending_api-reference.json"
                } else {
                    "describe_service_deployments_successful_circuit_breaker_awscli-docs.json"
                };
                (200, String::from_utf8(config_fixture(answer)).unwrap())
            }
            "DescribeServiceRevisions" => {
                // The revision the described deployment names (either fixture's).
                let arn = body["serviceRevisionArns"][0].as_str().unwrap_or_default();
                assert!(
                    arn.ends_with("/1485800978477494678") || arn.ends_with("/4980306466373577095"),
                    "{body}"
                );
                let answer = "describe_service_revisions_fargate_awscli-docs.json";
                (200, String::from_utf8(config_fixture(answer)).unwrap())
            }
            "DescribeServices" => {
                assert_eq!(body["cluster"], "MyCluster");
                assert_eq!(body["services"], json!(["fargate-service"]));
                // The recorded answer, behind the recorded target group.
                let mut answer: Value = serde_json::from_slice(&config_fixture(
                    "describe_services_cli_v1_epoch_steady_state_awscli-docs.json",
                ))
                .unwrap();
                // Answering for the service asked about.
                answer["services"][0]["serviceName"] = "fargate-service".into();
                answer["services"][0]["serviceArn"] =
                    "arn:aws:ecs:us-west-2:123456789012:service/fargate-service".into();
                answer["services"][0]["loadBalancers"] = json!([{
                    "targetGroupArn": TARGET_GROUP, "containerName": "simple-app", "containerPort": 80
                }]);
                (200, answer.to_string())
            }
            other => (
                400,
                json!({"__type": "UnknownOperationException", "message": other}).to_string(),
            ),
        }
    }));
    (server, calls)
}

pub fn config_fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/aws-config")
            .join(name),
    )
    .unwrap()
}

pub const TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067";

/// One JSON value as the query protocol's XML: objects' members as
/// elements, lists as `<member>`s.
fn xml(v: &Value) -> String {
    match v {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("<{k}>{}</{k}>", xml(v)))
            .collect(),
        Value::Array(a) => a
            .iter()
            .map(|v| format!("<member>{}</member>", xml(v)))
            .collect(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A scripted ELBv2 endpoint answering with the AWS CLI documentation's
/// describe-target-groups and describe-target-group-attributes outputs,
/// turned into the API's XML (the CLI prints the API's members as JSON).
pub fn elb_endpoint() -> QueryApiServer {
    failing_elb_endpoint(Arc::new(Mutex::new(false)))
}

/// [`elb_endpoint`], answering a server error while `fail` is set.
pub fn failing_elb_endpoint(fail: Arc<Mutex<bool>>) -> QueryApiServer {
    QueryApiServer::start(Arc::new(move |body: &str| {
        if *fail.lock().unwrap() {
            return (
                500,
                "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>\
                 <Message>scripted</Message></Error><RequestId>x</RequestId></ErrorResponse>"
                    .to_owned(),
            );
        }
        let answer = |action: &str, result: &Value| {
            format!(
                "<{action}Response xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">\
                 <{action}Result>{}</{action}Result>\
                 <ResponseMetadata><RequestId>1549581b-12b7-11e3-895e-1334aEXAMPLE</RequestId></ResponseMetadata>\
                 </{action}Response>",
                xml(result)
            )
        };
        let fixture =
            |name: &str| -> Value { serde_json::from_slice(&config_fixture(name)).unwrap() };
        if body.contains("Action=DescribeTargetGroups&") {
            assert!(body.contains("my-targets"), "{body}");
            let doc = fixture("describe_target_groups_http_instance_awscli-docs.json");
            (200, answer("DescribeTargetGroups", &doc))
        } else if body.contains("Action=DescribeTargetGroupAttributes&") {
            let doc = fixture("describe_target_group_attributes_http_instance_awscli-docs.json");
            (200, answer("DescribeTargetGroupAttributes", &doc))
        } else {
            (
                400,
                format!(
                    "<ErrorResponse><Error><Code>InvalidAction</Code><Message>{body}</Message></Error></ErrorResponse>"
                ),
            )
        }
    }))
}

/// The log group subscriber's destination (the ingest-logs function).
pub const DEST: &str = "arn:aws:lambda:us-west-2:123456789012:function:lake-IngestLogs";
/// A destination of an earlier stack.
pub const OLD_DEST: &str = "arn:aws:lambda:us-west-2:123456789012:function:old-IngestLogs";
/// The subscriber's filter name.
pub const OURS: &str = "ecs-postmortem-lake";

/// A scripted CloudWatch Logs account for the log group subscriber: groups and their filters, changed by
/// PutSubscriptionFilter as CloudWatch Logs would (same name: replaced;
/// a third filter: LimitExceededException).
pub struct LogsAccount {
    pub filters: Mutex<BTreeMap<String, Vec<Value>>>,
    pub calls: Mutex<Vec<(String, Value)>>,
    /// PutSubscriptionFilter on this group is throttled once.
    pub throttle_once: Mutex<Option<String>>,
}

impl Default for LogsAccount {
    fn default() -> Self {
        Self::new()
    }
}

impl LogsAccount {
    pub fn new() -> Self {
        let f = |name: &str, dest: &str| json!({"filterName": name, "destinationArn": dest, "filterPattern": ""});
        let mut filters = BTreeMap::new();
        for (group, list) in [
            ("/ecs/api", vec![]),
            ("/ecs/web", vec![f(OURS, DEST)]),
            (
                "/ecs/worker",
                vec![
                    f(
                        "to-splunk",
                        "arn:aws:firehose:us-west-2:123456789012:deliverystream/splunk",
                    ),
                    f(
                        "to-datadog",
                        "arn:aws:lambda:us-west-2:123456789012:function:datadog",
                    ),
                ],
            ),
            (
                "/ecs/batch",
                vec![f(
                    "to-datadog",
                    "arn:aws:lambda:us-west-2:123456789012:function:datadog",
                )],
            ),
            ("/ecs/handmade", vec![f("my-own-name", DEST)]),
            ("/ecs/moved", vec![f(OURS, OLD_DEST)]),
            // Ours, but filtering (edited by hand): put back to every event.
            (
                "/ecs/filtered",
                vec![json!({"filterName": OURS, "destinationArn": DEST, "filterPattern": "ERROR"})],
            ),
            ("/aws/ecs/containerinsights/prod/performance", vec![]),
            ("/aws/ecs/containerinsights/prod/application", vec![]),
            ("/aws/lambda/something", vec![]),
        ] {
            filters.insert(group.to_owned(), list);
        }
        // Enough groups under /ecs/ to page DescribeLogGroups.
        for i in 0..55 {
            filters.insert(format!("/ecs/svc-{i:02}"), vec![]);
        }
        Self {
            filters: Mutex::new(filters),
            calls: Mutex::new(Vec::new()),
            throttle_once: Mutex::new(Some("/ecs/svc-07".into())),
        }
    }

    /// Listed by DescribeLogGroups but deleted before it is described.
    pub const GHOST: &'static str = "/ecs/ghost";

    pub fn count(&self, op: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| o == op)
            .count()
    }

    pub fn answer(&self, target: &str, body: &Value) -> (u16, String) {
        let op = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.calls.lock().unwrap().push((op.clone(), body.clone()));
        let error = |kind: &str, message: &str| {
            (400, json!({"__type": kind, "message": message}).to_string())
        };
        let mut filters = self.filters.lock().unwrap();
        match op.as_str() {
            "DescribeLogGroups" => {
                let prefix = body["logGroupNamePrefix"].as_str().unwrap_or_default();
                let ghost = Self::GHOST.to_owned();
                let mut names: Vec<&String> =
                    filters.keys().filter(|g| g.starts_with(prefix)).collect();
                if ghost.starts_with(prefix) {
                    names.push(&ghost);
                }
                // Pages of 50, as the API's default limit.
                let from: usize = body["nextToken"].as_str().map_or(0, |t| t.parse().unwrap());
                let page: Vec<Value> = names
                    .iter()
                    .skip(from)
                    .take(50)
                    .map(|g| json!({"logGroupName": g}))
                    .collect();
                let mut answer = json!({"logGroups": page});
                if from + 50 < names.len() {
                    answer["nextToken"] = (from + 50).to_string().into();
                }
                (200, answer.to_string())
            }
            "DescribeSubscriptionFilters" => {
                let group = body["logGroupName"].as_str().unwrap();
                match filters.get(group) {
                    Some(list) => (200, json!({"subscriptionFilters": list}).to_string()),
                    None => error(
                        "ResourceNotFoundException",
                        "The specified log group does not exist.",
                    ),
                }
            }
            "PutSubscriptionFilter" => {
                let group = body["logGroupName"].as_str().unwrap().to_owned();
                let mut throttle = self.throttle_once.lock().unwrap();
                if throttle.as_deref() == Some(group.as_str()) {
                    *throttle = None;
                    return error("ThrottlingException", "Rate exceeded");
                }
                let list = filters.get_mut(&group).unwrap();
                let name = body["filterName"].as_str().unwrap();
                let new = json!({"filterName": name, "destinationArn": body["destinationArn"], "filterPattern": body["filterPattern"]});
                if let Some(existing) = list.iter_mut().find(|f| f["filterName"] == name) {
                    *existing = new;
                } else if list.len() >= 2 {
                    return error("LimitExceededException", "Resource limit exceeded.");
                } else {
                    list.push(new);
                }
                (200, "{}".to_owned())
            }
            other => error("UnknownOperationException", other),
        }
    }
}

/// An SNS endpoint on loopback answering every `Publish` as SNS does (the
/// answer's shape from the SNS API reference), and the form-encoded
/// requests it received, for the real aws-sdk-sns client.
pub fn sns_endpoint() -> (QueryApiServer, Arc<Mutex<Vec<String>>>) {
    let published = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&published);
    let server = QueryApiServer::start(Arc::new(move |body: &str| {
        log.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(body.to_owned());
        (
            200,
            "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult>\
             <MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult>\
             <ResponseMetadata><RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId>\
             </ResponseMetadata></PublishResponse>"
                .to_owned(),
        )
    }));
    (server, published)
}

/// One form-encoded request's parameters (`Action=Publish&Message=...`), decoded.
pub fn form_fields(body: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
