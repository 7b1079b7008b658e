//! Helpers shared by the core's integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::RecordBatch;
use arrow::util::display::array_value_to_string;
use ecs_lake::input::Quarantined;
use ecs_lake::normalize::{Normalizer, TablePart};

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/fixtures/aws/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub type Row = BTreeMap<String, String>;

pub fn rows(batch: &RecordBatch) -> Vec<Row> {
    (0..batch.num_rows())
        .map(|r| {
            batch
                .schema()
                .fields()
                .iter()
                .zip(batch.columns())
                .filter(|(f, _)| f.name() != "raw")
                .map(|(f, c)| {
                    let v = if c.is_null(r) {
                        "∅".to_owned()
                    } else {
                        array_value_to_string(c, r).unwrap()
                    };
                    (f.name().clone(), v)
                })
                .collect()
        })
        .collect()
}

pub fn check(row: &Row, expected: &[(&str, &str)]) {
    for (k, v) in expected {
        assert_eq!(
            row.get(*k).map(String::as_str),
            Some(*v),
            "column {k} in {row:#?}"
        );
    }
}

/// Finishes a normalizer into rows per table (without `raw`) and the quarantine list.
pub fn finish(n: Normalizer) -> (BTreeMap<&'static str, Vec<Row>>, Vec<Quarantined>) {
    let (parts, quarantined) = n.finish().unwrap();
    let mut tables: BTreeMap<&'static str, Vec<Row>> = BTreeMap::new();
    for TablePart { table, batch, .. } in parts {
        tables.entry(table.name).or_default().extend(rows(&batch));
    }
    (tables, quarantined)
}

/// How many outcomes each input got: 1 when it has rows (or quarantine rows
/// for some of its records) and 1 when it was quarantined whole; an input
/// must get exactly one. Every quarantine must have a reason.
pub fn outcome_counts(
    parts: &[TablePart],
    quarantined: &[Quarantined],
    inputs: usize,
) -> Vec<usize> {
    let mut seen = vec![0; inputs];
    let mut with_rows = BTreeSet::new();
    for p in parts {
        with_rows.extend(p.inputs.iter().copied());
    }
    for q in quarantined {
        assert!(!q.error.reason.is_empty(), "a quarantine has a reason");
        if q.part.is_some() {
            with_rows.insert(q.input);
        } else {
            seen[q.input as usize] += 1;
        }
    }
    for i in with_rows {
        seen[i as usize] += 1;
    }
    seen
}
