//! Output formats: aligned text for people, one JSON document for scripts.
//!
//! Every command result implements [`Report`], so `--output json` works the
//! same way everywhere and the human text and the JSON never drift apart.

use clap::ValueEnum;
use serde_json::Value;

/// `--output human|json`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned text for people.
    #[default]
    Human,
    /// One JSON document on stdout.
    Json,
}

/// A command result that can be shown either way.
pub trait Report {
    /// The text shown to people (may span lines; no trailing newline needed).
    fn human(&self) -> String;
    /// The same information as a JSON value.
    fn json(&self) -> Value;
}

/// Prints `report` on stdout in the chosen format.
pub fn print(format: OutputFormat, report: &dyn Report) {
    match format {
        OutputFormat::Human => {
            let text = report.human();
            if !text.is_empty() {
                println!("{}", text.trim_end_matches('\n'));
            }
        }
        OutputFormat::Json => println!("{}", report.json()),
    }
}

/// Bytes as text: UTF-8 when valid, otherwise with invalid bytes replaced.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A plain text table with left-aligned columns separated by two spaces.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table { headers: headers.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    /// Appends a row; missing cells render empty, extra cells are an invariant breach.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let row: Vec<String> = cells.into_iter().map(Into::into).collect();
        assert!(row.len() <= self.headers.len(), "table row has more cells than headers");
        self.rows.push(row);
    }

    /// Renders the table with a header line.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let empty = String::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let cells: Vec<String> = (0..widths.len())
                .map(|i| {
                    let cell = line.get(i).unwrap_or(&empty);
                    format!("{cell:<width$}", width = widths[i])
                })
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_to_the_widest_cell() {
        let mut t = Table::new(["id", "role"]);
        t.row(["1", "leader"]);
        t.row(["10", "follower"]);
        assert_eq!(t.render(), "id  role\n1   leader\n10  follower\n");
    }

    #[test]
    fn short_rows_render_empty_cells() {
        let mut t = Table::new(["a", "b", "c"]);
        t.row(["x"]);
        assert_eq!(t.render(), "a  b  c\nx\n");
    }

    #[test]
    fn invalid_utf8_is_shown_lossily() {
        assert_eq!(text(b"ok\xff"), "ok\u{fffd}");
    }
}
