//! Rendering results: aligned table, CSV, JSON. Renderers write to any `Write`.

use std::io::Write;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::util::pretty::pretty_format_batches;
use ecs_lake::schema::{PARTITION_COLUMN, TABLES};

use crate::cli::Format;
use crate::error::CliError;
use crate::lake::sql_name;

/// Writes query results in the requested format.
pub fn batches(
    schema: &Schema,
    batches: &[RecordBatch],
    format: Format,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match format {
        Format::Table => {
            if batches.iter().all(|b| b.num_rows() == 0) {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(out, "(no rows; columns: {})", names.join(", "))?;
            } else {
                writeln!(
                    out,
                    "{}",
                    pretty_format_batches(batches)
                        .map_err(datafusion::error::DataFusionError::from)?
                )?;
            }
        }
        Format::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            if batches.is_empty() {
                w.write(&RecordBatch::new_empty(std::sync::Arc::new(schema.clone())))
                    .map_err(datafusion::error::DataFusionError::from)?;
            }
            for b in batches {
                w.write(b)
                    .map_err(datafusion::error::DataFusionError::from)?;
            }
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(&mut *out);
            for b in batches {
                w.write(b)
                    .map_err(datafusion::error::DataFusionError::from)?;
            }
            w.finish()
                .map_err(datafusion::error::DataFusionError::from)?;
            if batches.iter().all(|b| b.num_rows() == 0) {
                write!(out, "[]")?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// `ecs-query tables`.
pub fn tables(out: &mut dyn Write) -> Result<(), CliError> {
    for t in TABLES {
        // The doc's first sentence, however it is wrapped.
        let doc = t.doc.split_whitespace().collect::<Vec<_>>().join(" ");
        let first = doc.find(". ").map_or(doc.as_str(), |end| &doc[..=end]);
        writeln!(out, "{:<18} {}", sql_name(t), first)?;
    }
    for v in crate::views::VIEWS {
        let first = v.doc.find(". ").map_or(v.doc, |end| &v.doc[..=end]);
        writeln!(out, "{:<18} (view) {}", v.name, first)?;
    }
    Ok(())
}

/// `ecs-query schema [TABLE]`.
pub fn schema(table: Option<&str>, out: &mut dyn Write) -> Result<(), CliError> {
    let selected: Vec<_> = match table {
        Some(name) => vec![
            TABLES
                .iter()
                .find(|t| sql_name(t) == name || t.name == name)
                .ok_or_else(|| CliError::NoSuchTable(name.to_owned()))?,
        ],
        None => TABLES.iter().collect(),
    };
    for (i, t) in selected.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", sql_name(t))?;
        for line in t.doc.lines().map(str::trim).filter(|l| !l.is_empty()) {
            writeln!(out, "  {line}")?;
        }
        for c in t.columns {
            let ty = (c.kind.data_type()).to_string();
            writeln!(
                out,
                "  {:<24} {:<28} {}",
                c.name,
                if c.nullable {
                    ty
                } else {
                    format!("{ty} NOT NULL")
                },
                c.doc
            )?;
        }
        writeln!(
            out,
            "  {PARTITION_COLUMN:<24} {:<28} partition: UTC day, YYYY-MM-DD",
            "Utf8 NOT NULL"
        )?;
    }
    Ok(())
}
