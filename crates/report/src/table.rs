//! `Table`: named numeric columns, read from the simulator's `metrics.csv`.
//!
//! The metrics file is a plain numeric table (one header row, one row per day, every cell
//! a number), so a dozen lines of parsing replace a CSV crate. Quoted header names and
//! quoted cells are accepted; an empty cell is a missing value (NaN).

use crate::ReportError;
use crate::format;

/// Named `f64` columns of equal length, in the order they were read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    names: Vec<String>,
    columns: Vec<Vec<f64>>,
    rows: usize,
}

impl Table {
    /// An empty table (no columns, no rows).
    pub fn new() -> Table {
        Table::default()
    }

    /// Builds a table from `(name, values)` pairs; every column must have the same length
    /// and names must be unique.
    pub fn from_columns<I, S>(columns: I) -> Result<Table, ReportError>
    where
        I: IntoIterator<Item = (S, Vec<f64>)>,
        S: Into<String>,
    {
        let mut table = Table::new();
        for (name, values) in columns {
            table.push_column(name, values)?;
        }
        Ok(table)
    }

    /// Appends a column. The first column fixes the number of rows.
    pub fn push_column(&mut self, name: impl Into<String>, values: Vec<f64>) -> Result<(), ReportError> {
        let name = name.into();
        if self.names.contains(&name) {
            return Err(ReportError::Invalid(format!("column `{name}` appears twice in the table")));
        }
        if !self.names.is_empty() && values.len() != self.rows {
            return Err(ReportError::Invalid(format!(
                "column `{name}` has {} values, the table has {} rows",
                values.len(),
                self.rows
            )));
        }
        self.rows = values.len();
        self.names.push(name);
        self.columns.push(values);
        Ok(())
    }

    /// Parses CSV text: a header row of column names, then rows of numbers.
    ///
    /// Errors name the 1-based line (and the column for a bad cell), e.g.
    /// `line 17: expected 44 fields, found 43`.
    pub fn from_csv(text: &str) -> Result<Table, ReportError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line.trim_end_matches('\r')))
            .filter(|(_, line)| !line.trim().is_empty());
        let Some((header_line, header)) = lines.next() else {
            return Err(csv_error(1, "the file is empty: expected a header row of column names"));
        };
        let names: Vec<String> = split_fields(header)
            .map_err(|message| csv_error(header_line, &message))?
            .into_iter()
            .map(|name| name.trim().to_string())
            .collect();
        for (index, name) in names.iter().enumerate() {
            if name.is_empty() {
                return Err(csv_error(header_line, &format!("column {} of the header has no name", index + 1)));
            }
            if names[..index].contains(name) {
                return Err(csv_error(header_line, &format!("column `{name}` appears twice")));
            }
        }
        let mut columns: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        for (line_number, line) in lines {
            let fields = split_fields(line).map_err(|message| csv_error(line_number, &message))?;
            if fields.len() != names.len() {
                return Err(csv_error(
                    line_number,
                    &format!("expected {} fields (as in the header), found {}", names.len(), fields.len()),
                ));
            }
            for ((field, column), name) in fields.iter().zip(&mut columns).zip(&names) {
                let cell = field.trim();
                let value = if cell.is_empty() {
                    f64::NAN
                } else {
                    cell.parse::<f64>()
                        .map_err(|_| csv_error(line_number, &format!("column `{name}`: `{cell}` is not a number")))?
                };
                column.push(value);
            }
        }
        let rows = columns.first().map_or(0, Vec::len);
        Ok(Table { names, columns, rows })
    }

    /// Writes the table as CSV (the inverse of [`Table::from_csv`]; missing values are empty).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.names.iter().map(|n| format::csv_field(n)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in 0..self.rows {
            let cells: Vec<String> = self.columns.iter().map(|column| format::machine(column[row])).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// The values of column `name`, if the table has it.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.names.iter().position(|existing| existing == name).map(|index| self.columns[index].as_slice())
    }

    /// Whether the table has column `name`.
    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|existing| existing == name)
    }

    /// Column names, in file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of rows (days).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The `day` column, or row numbers 0, 1, 2… when the table has none.
    pub fn days(&self) -> Vec<f64> {
        match self.column("day") {
            Some(days) => days.to_vec(),
            None => (0..self.rows).map(|row| row as f64).collect(),
        }
    }
}

fn csv_error(line: usize, message: &str) -> ReportError {
    ReportError::Csv { file: "metrics CSV".to_string(), line, message: message.to_string() }
}

/// Splits one CSV line into fields, honouring double quotes (`""` is a literal quote).
fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut characters = line.chars().peekable();
    while let Some(character) = characters.next() {
        match (quoted, character) {
            (true, '"') if characters.peek() == Some(&'"') => {
                field.push('"');
                characters.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".to_string());
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_named_columns_in_order() {
        let table = Table::from_csv("\u{feff}day,orders,\"gmv\"\n0,3,10.5\n1,4,\n\n").unwrap();
        assert_eq!(table.names(), ["day", "orders", "gmv"]);
        assert_eq!(table.len(), 2);
        assert_eq!(table.column("orders"), Some(&[3.0, 4.0][..]));
        assert!(table.column("gmv").unwrap()[1].is_nan());
        assert_eq!(table.column("absent"), None);
    }

    #[test]
    fn round_trips_through_csv() {
        let table = Table::from_columns([("day", vec![0.0, 1.0]), ("gmv", vec![12.25, 1e20])]).unwrap();
        assert_eq!(Table::from_csv(&table.to_csv()).unwrap(), table);
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let error = Table::from_csv("day,orders\n0,1\n1,x\n").unwrap_err();
        assert_eq!(error.to_string(), "metrics CSV, line 3: column `orders`: `x` is not a number");
        let error = Table::from_csv("day,orders\r\n0,1\r\n1\r\n").unwrap_err();
        assert!(error.to_string().contains("line 3"), "{error}");
        assert!(error.to_string().contains("found 1"), "{error}");
        assert!(Table::from_csv("").is_err());
        assert!(Table::from_csv("day,day\n").is_err());
    }

    #[test]
    fn rejects_ragged_columns() {
        let mut table = Table::new();
        table.push_column("a", vec![1.0]).unwrap();
        assert!(table.push_column("b", vec![1.0, 2.0]).is_err());
        assert!(table.push_column("a", vec![1.0]).is_err());
    }
}
