//! Rendering results: aligned table (fitted to the terminal on a TTY),
//! Markdown, CSV, JSON. Renderers write to any `Write`.

use std::io::Write;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use ecs_lake::schema::{DERIVED, PARTITION_COLUMN, TABLES};

use datafusion::prelude::DataFrame;
use ecs_query_engine::lake::{Lake, table_named};
use ecs_query_engine::views::{VIEWS, View};

use crate::cli::Format;
use crate::error::CliError;

/// The cells of `batches` as display strings (NULL as empty), row by row.
fn cells(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, CliError> {
    let options = FormatOptions::default().with_null("");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(datafusion::error::DataFusionError::from)?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    Ok(rows)
}

fn names(schema: &Schema) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

fn is_numeric(schema: &Schema, i: usize) -> bool {
    schema.field(i).data_type().is_numeric()
}

/// Runs a plan and writes its rows in the requested format.
pub async fn frame(df: DataFrame, format: Format, out: &mut dyn Write) -> Result<(), CliError> {
    let schema = df.schema().as_arrow().clone();
    let batches = ecs_query_engine::listing::collect(df).await?;
    self::batches(&schema, &batches, format, out)
}

/// Writes query results in the requested format.
pub fn batches(
    schema: &Schema,
    batches: &[RecordBatch],
    format: Format,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match format {
        Format::Table => {
            let rows = cells(batches)?;
            if rows.is_empty() {
                writeln!(out, "(no rows; columns: {})", names(schema).join(", "))?;
                return Ok(());
            }
            let mut table = comfy_table::Table::new();
            // On a terminal, fit its width (wrapping long cells); piped, never wrap.
            table
                .load_preset(comfy_table::presets::ASCII_FULL_CONDENSED)
                .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
                .set_header(names(schema));
            if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                table.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
            }
            for i in 0..schema.fields().len() {
                if is_numeric(schema, i)
                    && let Some(column) = table.column_mut(i)
                {
                    column.set_cell_alignment(comfy_table::CellAlignment::Right);
                }
            }
            for row in rows {
                table.add_row(row);
            }
            writeln!(out, "{table}")?;
        }
        Format::Markdown => {
            let header = names(schema);
            writeln!(out, "| {} |", header.join(" | "))?;
            let rule: Vec<&str> = (0..header.len())
                .map(|i| if is_numeric(schema, i) { "---:" } else { "---" })
                .collect();
            writeln!(out, "| {} |", rule.join(" | "))?;
            for row in cells(batches)? {
                let row: Vec<String> = row
                    .iter()
                    .map(|c| c.replace('|', "\\|").replace('\n', " "))
                    .collect();
                writeln!(out, "| {} |", row.join(" | "))?;
            }
        }
        Format::Html => {
            use ecs_query_engine::charts::esc;
            write!(out, "<table><tr>")?;
            for name in names(schema) {
                write!(out, "<th>{}</th>", esc(&name))?;
            }
            writeln!(out, "</tr>")?;
            for row in cells(batches)? {
                let row: Vec<String> = row.iter().map(|c| format!("<td>{}</td>", esc(c))).collect();
                writeln!(out, "<tr>{}</tr>", row.concat())?;
            }
            writeln!(out, "</table>")?;
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
    let tables = TABLES
        .iter()
        .map(|t| (t, ""))
        .chain(DERIVED.iter().map(|t| (t, "(derived) ")));
    let width = TABLES
        .iter()
        .chain(DERIVED)
        .map(|t| t.sql_name().len())
        .chain(VIEWS.iter().map(|v| v.name.len()))
        .max()
        .unwrap_or(0);
    for (t, kind) in tables {
        // The doc's first sentence, however it is wrapped.
        let doc = t.doc.split_whitespace().collect::<Vec<_>>().join(" ");
        let first = doc.find(". ").map_or(doc.as_str(), |end| &doc[..=end]);
        writeln!(out, "{:<width$} {kind}{}", t.sql_name(), first)?;
    }
    for v in VIEWS {
        let first = v.doc.find(". ").map_or(v.doc, |end| &v.doc[..=end]);
        writeln!(out, "{:<width$} (view) {}", v.name, first)?;
    }
    Ok(())
}

/// `ecs-query schema [TABLE]`.
pub fn schema(table: Option<&str>, out: &mut dyn Write) -> Result<(), CliError> {
    let selected: Vec<_> = match table {
        Some(name) => vec![table_named(name)?],
        None => TABLES.to_vec(),
    };
    if table.is_none() {
        let views: Vec<&str> = VIEWS.iter().map(|v| v.name).collect();
        writeln!(
            out,
            "views: {} (`ecs-query schema <view>` for their columns)\n",
            views.join(", ")
        )?;
    }
    for (i, t) in selected.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", t.sql_name())?;
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

/// `ecs-query schema <view>`: the view's columns, from its plan.
pub async fn view_schema(lake: &Lake, view: &View, out: &mut dyn Write) -> Result<(), CliError> {
    let df = lake.ctx.table(view.name).await?;
    writeln!(out, "{} (view)", view.name)?;
    let doc = view.doc.split_whitespace().collect::<Vec<_>>().join(" ");
    writeln!(out, "  {doc}")?;
    for f in df.schema().fields() {
        let ty = f.data_type().to_string();
        writeln!(
            out,
            "  {:<26} {}",
            f.name(),
            if f.is_nullable() {
                ty
            } else {
                format!("{ty} NOT NULL")
            }
        )?;
    }
    Ok(())
}
