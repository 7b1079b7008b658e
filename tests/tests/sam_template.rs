//! `sam/template.yaml` against the code: the Glue tables are generated from
//! the Rust schemas (the block between the GENERATED markers; a test fails
//! when they drift: regenerate with `UPDATE_TEMPLATE=1 cargo test -p
//! ecs-lake-tests --test sam_template`), and every Lambda binary of the
//! workspace has its function resource, and the other way round; the log
//! group subscriber is granted no more than its prefixes; the report may run
//! on Athena only in the stack's workgroup, and only when told to.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ecs_lake::schema::{Kind, PARTITION_COLUMN, TABLES, TableDef};

const BEGIN: &str = "  # BEGIN GENERATED: Glue tables from functions/core/src/schema.rs\n";
const END: &str = "  # END GENERATED\n";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template_path() -> PathBuf {
    root().join("sam/template.yaml")
}

/// Athena (Hive DDL) type of a column kind.
fn hive_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Str => "string",
        Kind::Ts => "timestamp",
        Kind::I32 => "int",
        Kind::I64 => "bigint",
        Kind::F64 => "double",
        Kind::Bool => "boolean",
        Kind::Bin => "binary",
    }
}

/// CloudFormation logical id of a table: `task_events` -> `GlueTableTaskEvents`.
fn logical_id(table: &TableDef) -> String {
    let camel: String = table
        .sql_name()
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("GlueTable{camel}")
}

fn yaml_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The generated block: one AWS::Glue::Table per lake table, partition
/// projection on `dt` (no crawler, no MSCK REPAIR), Parquet SerDe.
fn glue_block() -> String {
    let mut y = String::from(BEGIN);
    for t in TABLES {
        let first_sentence = t
            .doc
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .split(". ")
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_owned();
        y += &format!(
            "  {id}:\n    Type: AWS::Glue::Table\n    Properties:\n      CatalogId: !Ref AWS::AccountId\n      DatabaseName: !Ref GlueDatabase\n      TableInput:\n        Name: {name}\n        Description: {desc}\n        TableType: EXTERNAL_TABLE\n        Parameters:\n          classification: parquet\n          projection.enabled: 'true'\n          projection.dt.type: date\n          projection.dt.format: yyyy-MM-dd\n          projection.dt.range: !Sub '${{ProjectionStartDate}},NOW'\n          projection.dt.interval: '1'\n          projection.dt.interval.unit: DAYS\n          storage.location.template: !Sub 's3://${{LakeBucket}}/${{LakePrefix}}/{dir}/dt=${{!dt}}/'\n        PartitionKeys:\n          - Name: {PARTITION_COLUMN}\n            Type: string\n        StorageDescriptor:\n          Location: !Sub 's3://${{LakeBucket}}/${{LakePrefix}}/{dir}/'\n          InputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat\n          OutputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat\n          SerdeInfo:\n            SerializationLibrary: org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe\n          Columns:\n",
            id = logical_id(t),
            name = t.sql_name(),
            dir = t.name,
            desc = yaml_string(&first_sentence),
        );
        for c in t.columns {
            y += &format!(
                "            - Name: {}\n              Type: {}\n",
                c.name,
                hive_type(c.kind)
            );
        }
    }
    y += END;
    y
}

#[test]
fn glue_tables_are_generated_from_the_rust_schemas() {
    let path = template_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let (Some(start), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        panic!("{} lacks the GENERATED markers", path.display());
    };
    let wanted = glue_block();
    if text[start..end + END.len()] != wanted {
        if std::env::var_os("UPDATE_TEMPLATE").is_some() {
            let updated = format!("{}{wanted}{}", &text[..start], &text[end + END.len()..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            panic!(
                "the Glue tables in sam/template.yaml drifted from the Rust schemas: \
                 run UPDATE_TEMPLATE=1 cargo test -p ecs-lake-tests --test sam_template"
            );
        }
    }
    // Every lake table has its Glue table, by name.
    for t in TABLES {
        assert!(
            wanted.contains(&format!("        Name: {}\n", t.sql_name())),
            "{}",
            t.name
        );
    }
}

/// Binaries of the workspace's function crates (`functions/*/src/main.rs`), by package name.
fn lambda_binaries() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("functions")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("src/main.rs").is_file() {
            continue;
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let name = manifest
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap();
        names.insert(name);
    }
    names
}

#[test]
fn every_lambda_binary_has_its_function_and_back() {
    let text = std::fs::read_to_string(template_path()).unwrap();
    // `Binary: <name>` under each function's Metadata.BuildProperties.
    let named: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Binary: "))
        .map(str::to_owned)
        .collect();
    let functions = text.matches("Type: AWS::Serverless::Function").count();
    assert_eq!(functions, named.len(), "each function names its binary");
    let in_template: BTreeSet<String> = named.iter().cloned().collect();
    assert_eq!(in_template, lambda_binaries());
    // The report's binary also runs the watch (JOB=watch), built once.
    assert_eq!(named.iter().filter(|b| *b == "report").count(), 2);
}

/// The subscriber's grants: describe and put subscription filters only on
/// the chosen prefixes' groups and the Container Insights performance
/// groups, never delete one; its destination is ingest-logs.
#[test]
fn the_subscriber_may_only_put_filters_on_the_chosen_groups() {
    let text = std::fs::read_to_string(template_path()).unwrap();
    let start = text.find("\n  SubscribeLogsFunction:\n").unwrap();
    let end = start
        + text[start + 1..]
            .find("\n  SubscribeLogsErrorsAlarm:")
            .unwrap();
    let block = &text[start..end];
    // No grant to delete a filter, nor any wildcard action on logs.
    let actions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Action: ") || l.starts_with("- logs:"))
        .collect();
    assert!(
        actions
            .iter()
            .any(|a| a.contains("logs:PutSubscriptionFilter"))
    );
    assert!(
        !actions
            .iter()
            .any(|a| a.contains("DeleteSubscriptionFilter") || a.contains("logs:*")),
        "{actions:?}"
    );
    assert!(block.contains("DESTINATION_ARN: !GetAtt IngestLogsFunction.Arn"));
    let put = &block[block.find("- logs:PutSubscriptionFilter").unwrap()..];
    let resource = put
        .lines()
        .find(|l| l.trim_start().starts_with("Resource:"))
        .unwrap();
    assert_eq!(resource.trim(), "Resource: !Split");
    assert!(
        put.contains("Joined: !Join ['*,arn:*:logs:*:*:log-group:', !Ref LogGroupPrefixes]"),
        "{put}"
    );
    assert!(
        put.contains("log-group:/aws/ecs/containerinsights/*/performance*'"),
        "{put}"
    );
    // Only DescribeLogGroups is granted on every group.
    let wide: Vec<&str> = block
        .lines()
        .filter(|l| l.contains(":log-group:*'"))
        .collect();
    assert_eq!(wide.len(), 1, "{wide:?}");
    let describe = block.find("Action: logs:DescribeLogGroups").unwrap();
    assert!(block[describe..].starts_with("Action: logs:DescribeLogGroups\n              Resource: !Sub 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*'"));
    assert!(refuses_an_empty_prefix(&text));
}

/// The grant is joined from the prefixes: an empty prefix would make it
/// `log-group:*`, so both templates refuse one (a CloudFormation rule).
fn refuses_an_empty_prefix(template: &str) -> bool {
    template.contains("\nRules:\n")
        && template.contains("      - Assert: !Not [!Contains [!Ref LogGroupPrefixes, '']]\n")
}

/// A member account's subscriber may subscribe its groups to the central
/// destination: the grant on the destination itself is needed as well as on
/// the groups (CloudWatch Logs' cross-account subscriptions).
#[test]
fn the_member_subscriber_may_put_filters_to_the_central_destination() {
    let text = std::fs::read_to_string(root().join("sam/member.yaml")).unwrap();
    assert!(text.contains("DESTINATION_ARN: !Ref CentralLogsDestinationArn"));
    let grant = "              Action: logs:PutSubscriptionFilter\n              Resource: !Ref CentralLogsDestinationArn";
    assert!(text.contains(grant), "no grant on the destination");
    assert!(text.contains("Binary: subscribe-logs"));
    assert!(refuses_an_empty_prefix(&text));
}

/// Members in another region subscribe to a destination in their region
/// that feeds the central stream: the relay may only put records into the
/// stream it is given, and only the members may subscribe to it.
#[test]
fn the_region_relay_feeds_only_the_central_stream() {
    let text = std::fs::read_to_string(root().join("sam/central-region.yaml")).unwrap();
    assert!(text.contains("      TargetArn: !Ref CentralLogsStreamArn\n"));
    assert!(text.contains(
        "                Action: kinesis:PutRecord\n                Resource: !Ref CentralLogsStreamArn\n"
    ));
    assert_eq!(
        text.matches("Action:").count(),
        2,
        "assume-role and put-record only"
    );
    assert!(text.contains(
        "\"Principal\":{\"AWS\":[\"${Accounts}\"]},\"Action\":\"logs:PutSubscriptionFilter\""
    ));
    let central = std::fs::read_to_string(template_path()).unwrap();
    assert!(central.contains("  MemberLogsStreamArn:\n    Condition: HasMembers\n"));
}

/// `ReportQueryEngine=athena`: the report function is told the engine, the
/// workgroup and the database by the names `report_lambda::athena_settings`
/// reads, may call exactly what `ecs_query_engine::athena::Athena` calls,
/// only in the stack's workgroup, and only then; the workgroup writes its
/// results encrypted under the lake's `_athena/`, which expires.
#[test]
fn the_report_may_run_on_athena_in_the_stacks_workgroup_only() {
    let text = std::fs::read_to_string(template_path()).unwrap();
    let start = text.find("\n  ReportFunction:\n").unwrap();
    let end = start + text[start..].find("\n  ReportErrorsAlarm:").unwrap();
    let block = &text[start..end];
    for setting in [
        "QUERY_ENGINE: !Ref ReportQueryEngine",
        "ATHENA_WORKGROUP: !Ref AthenaWorkGroup",
        "ATHENA_DATABASE: !Ref GlueDatabase",
    ] {
        assert!(block.contains(setting), "{setting}");
    }
    assert!(text.contains("  ReportOnAthena: !Equals [!Ref ReportQueryEngine, athena]\n"));
    let grant = &block[block.find("- athena:StartQueryExecution").unwrap()..];
    let grant = &grant[..grant.find("- !If").unwrap()];
    for call in [
        "StartQueryExecution",
        "GetQueryExecution",
        "GetQueryResults",
        "StopQueryExecution",
    ] {
        assert!(grant.contains(&format!("- athena:{call}\n")), "{call}");
    }
    assert_eq!(block.matches("- athena:").count(), 4, "{grant}");
    assert!(grant.contains(
        "Resource: !Sub 'arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/${AthenaWorkGroup}'"
    ));
    // Every Athena, Glue and results grant is under the condition.
    for needle in ["athena:", "glue:", "/_athena/*"] {
        for (at, _) in block.match_indices(needle) {
            let before = &block[..at];
            let statement = &before[before.rfind("- !If").unwrap()..];
            assert!(
                statement.starts_with("- !If\n              - ReportOnAthena\n")
                    && statement.matches("- Effect").count() == 1,
                "{needle} granted without ReportOnAthena: {statement}"
            );
        }
    }
    assert!(!block.contains("athena:*") && !block.contains("glue:*"));
    let workgroup = &text[text.find("\n  AthenaWorkGroup:\n").unwrap()..];
    let workgroup = &workgroup[..1 + workgroup[1..].find("\n\n").unwrap()];
    for setting in [
        "EnforceWorkGroupConfiguration: true",
        "BytesScannedCutoffPerQuery: !Ref AthenaScanLimitBytes",
        "OutputLocation: !Sub 's3://${LakeBucket}/${LakePrefix}/_athena/'",
        "EncryptionOption: SSE_S3",
    ] {
        assert!(workgroup.contains(setting), "{setting}");
    }
    assert!(text.contains(
        "            Prefix: !Sub '${LakePrefix}/_athena/'\n            ExpirationInDays: 7\n"
    ));
}
