//! Writing a run: `metrics.csv`, `metrics.parquet`, `ledger.parquet`, `summary.json`.

use crate::metrics::{self, Cell};
use crate::simulation::Simulation;
use parquet::basic::{Compression, Repetition, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io { path: path.to_path_buf(), source }
}

fn pq(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> OutputError + '_ {
    move |source| OutputError::Parquet { path: path.to_path_buf(), source }
}

/// A column to write to Parquet.
pub enum Column {
    Int(String, Vec<i64>),
    Float(String, Vec<f64>),
    Text(String, Vec<String>),
    /// Text from a small fixed set (dictionary-encoded in the file).
    Label(String, Vec<&'static str>),
}

impl Column {
    fn name(&self) -> &str {
        match self {
            Column::Int(n, _) | Column::Float(n, _) | Column::Text(n, _) | Column::Label(n, _) => n,
        }
    }
}

/// Writes columns as one Parquet row group (snappy-compressed).
pub fn write_parquet(path: &Path, columns: Vec<Column>) -> Result<(), OutputError> {
    let fields = columns
        .iter()
        .map(|c| {
            let physical = match c {
                Column::Int(..) => PhysicalType::INT64,
                Column::Float(..) => PhysicalType::DOUBLE,
                Column::Text(..) | Column::Label(..) => PhysicalType::BYTE_ARRAY,
            };
            let mut builder = Type::primitive_type_builder(c.name(), physical).with_repetition(Repetition::REQUIRED);
            if matches!(c, Column::Text(..) | Column::Label(..)) {
                builder = builder.with_logical_type(Some(parquet::basic::LogicalType::String));
            }
            builder.build().map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(pq(path))?;
    let schema = Arc::new(Type::group_type_builder("xinyong").with_fields(fields).build().map_err(pq(path))?);
    let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
    let file = File::create(path).map_err(io(path))?;
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(pq(path))?;
    let mut row_group = writer.next_row_group().map_err(pq(path))?;
    for column in columns {
        let mut col = row_group.next_column().map_err(pq(path))?.expect("one writer per schema column");
        match column {
            Column::Int(_, v) => {
                col.typed::<Int64Type>().write_batch(&v, None, None).map_err(pq(path))?;
            }
            Column::Float(_, v) => {
                col.typed::<DoubleType>().write_batch(&v, None, None).map_err(pq(path))?;
            }
            Column::Text(_, v) => {
                let bytes: Vec<ByteArray> = v.into_iter().map(|s| ByteArray::from(s.into_bytes())).collect();
                col.typed::<ByteArrayType>().write_batch(&bytes, None, None).map_err(pq(path))?;
            }
            Column::Label(_, v) => {
                // One shared buffer per distinct label: cheap to clone per row.
                let mut cache: Vec<(&'static str, ByteArray)> = Vec::new();
                let mut bytes = Vec::with_capacity(v.len());
                for label in v {
                    let b = match cache.iter().find(|(l, _)| *l == label) {
                        Some((_, b)) => b.clone(),
                        None => {
                            let b = ByteArray::from(label);
                            cache.push((label, b.clone()));
                            b
                        }
                    };
                    bytes.push(b);
                }
                col.typed::<ByteArrayType>().write_batch(&bytes, None, None).map_err(pq(path))?;
            }
        }
        col.close().map_err(pq(path))?;
    }
    row_group.close().map_err(pq(path))?;
    writer.close().map_err(pq(path))?;
    Ok(())
}

/// The metrics as Parquet columns (same names and values as the CSV).
pub fn metrics_columns(sim: &Simulation) -> Vec<Column> {
    let tiers = sim.tier_names();
    let rows = sim.metrics();
    let Some(first) = rows.first() else { return Vec::new() };
    let template = first.columns(&tiers);
    let mut columns: Vec<Column> = template
        .iter()
        .map(|(name, cell)| match cell {
            Cell::Int(_) => Column::Int(name.clone(), Vec::with_capacity(rows.len())),
            Cell::Float(..) | Cell::Money(_) => Column::Float(name.clone(), Vec::with_capacity(rows.len())),
        })
        .collect();
    for row in rows {
        for (column, (_, cell)) in columns.iter_mut().zip(row.columns(&tiers)) {
            match (column, cell) {
                (Column::Int(_, v), Cell::Int(x)) => v.push(x),
                (Column::Float(_, v), c) => v.push(c.as_f64()),
                _ => unreachable!("a column keeps its type"),
            }
        }
    }
    columns
}

/// Every ledger entry, one row each, in (day, citizen) order. The incident behind each
/// entry is given by its natural key (incident_day, offender, incident_seq).
pub fn ledger_columns(sim: &Simulation) -> Vec<Column> {
    let entries = sim.engine().ledger().entries();
    let order = ledger_order(entries);
    let n = entries.len();
    let (mut day, mut citizen, mut delta, mut requested) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut cause, mut incident_day, mut offender, mut incident_seq, mut innocent) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for &i in &order {
        let e = &entries[i as usize];
        // Entries not about an incident (a rejected report) carry -1 in the incident columns.
        let incident = e.cause.incident();
        day.push(e.day as i64);
        citizen.push(e.citizen.0 as i64);
        delta.push(e.delta as i64);
        requested.push(e.requested as i64);
        cause.push(e.cause.kind());
        incident_day.push(incident.map_or(-1, |i| i.day as i64));
        offender.push(incident.map_or(-1, |i| i.citizen.0 as i64));
        incident_seq.push(incident.map_or(-1, |i| i.seq as i64));
        innocent.push(i64::from(incident.is_some_and(|i| sim.was_false(i))));
    }
    vec![
        Column::Int("day".into(), day),
        Column::Int("citizen".into(), citizen),
        Column::Int("delta".into(), delta),
        Column::Int("requested".into(), requested),
        Column::Label("cause".into(), cause),
        Column::Int("incident_day".into(), incident_day),
        Column::Int("offender".into(), offender),
        Column::Int("incident_seq".into(), incident_seq),
        Column::Int("incident_was_false".into(), innocent),
    ]
}

/// The order of a run's ledger files: by day, citizen, incident, report and cause (indices
/// into `entries`). Entries are recorded day by day already; a stable sort orders each day.
pub fn ledger_order(entries: &[xinyong_engine::LedgerEntry]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..entries.len() as u32).collect();
    order.sort_by_key(|&i| {
        let e = &entries[i as usize];
        (e.day, e.citizen, e.cause.incident(), e.cause.report(), e.cause.kind())
    });
    order
}

/// What `write_run` wrote.
pub struct Written {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
}

/// Writes metrics.csv, metrics.parquet, summary.json and (when the ledger was kept)
/// ledger.parquet into `dir`.
pub fn write_run(sim: &Simulation, dir: &Path, summary: &serde_json::Value) -> Result<Written, OutputError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut files = Vec::new();
    let csv = dir.join("metrics.csv");
    std::fs::write(&csv, metrics::to_csv(sim.metrics(), &sim.tier_names())).map_err(io(&csv))?;
    files.push(csv);
    let parquet = dir.join("metrics.parquet");
    write_parquet(&parquet, metrics_columns(sim))?;
    files.push(parquet);
    if sim.engine().ledger().mode() == xinyong_engine::LedgerMode::Full {
        let ledger = dir.join("ledger.parquet");
        write_parquet(&ledger, ledger_columns(sim))?;
        files.push(ledger);
    }
    let json = dir.join("summary.json");
    let text = serde_json::to_string_pretty(summary).expect("a summary serializes");
    std::fs::write(&json, text + "\n").map_err(io(&json))?;
    files.push(json);
    Ok(Written { dir: dir.to_path_buf(), files })
}
