//! Plain-text tables with aligned columns, the form Kafka's command-line tools print: a header
//! row of upper-case names, then one row per item, columns separated by two spaces. Lines carry
//! no trailing blanks, so the last column is not padded.

/// A table being filled row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    header: Vec<String>,
    // invariant: every row has exactly `header.len()` cells.
    rows: Vec<Vec<String>>,
}

/// Between two columns.
const COLUMN_GAP: &str = "  ";

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; it must have one cell per header column.
    pub fn push(&mut self, row: Vec<String>) {
        assert_eq!(
            row.len(),
            self.header.len(),
            "a table row has one cell per column"
        );
        self.rows.push(row);
    }

    /// The header and every row, each line ending in a newline.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
                line.push_str(COLUMN_GAP);
            }
            // Empty trailing cells leave nothing behind either.
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn columns_are_aligned_to_the_widest_cell() {
        let mut table = Table::new(&["TOPIC", "PARTITION", "NEW-OFFSET"]);
        table.push(row(&["orders", "0", "12"]));
        table.push(row(&["a-much-longer-name", "10", "3"]));
        assert_eq!(
            table.render(),
            "TOPIC               PARTITION  NEW-OFFSET\n\
             orders              0          12\n\
             a-much-longer-name  10         3\n"
        );
    }

    #[test]
    fn the_last_column_is_not_padded() {
        let mut table = Table::new(&["A", "LAST"]);
        table.push(row(&["x", "a-long-value"]));
        table.push(row(&["y", ""]));
        let text = table.render();
        assert!(text.lines().all(|line| !line.ends_with(' ')), "{text:?}");
        assert_eq!(text, "A  LAST\nx  a-long-value\ny\n");
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        let mut table = Table::new(&["K", "V"]);
        table.push(row(&["é", "1"]));
        table.push(row(&["ab", "2"]));
        assert_eq!(table.render(), "K   V\né   1\nab  2\n");
    }

    #[test]
    fn an_empty_table_is_its_header() {
        let table = Table::new(&["GROUP", "STATE"]);
        assert_eq!(table.render(), "GROUP  STATE\n");
    }

    #[test]
    #[should_panic(expected = "one cell per column")]
    fn a_short_row_is_a_programmer_error() {
        let mut table = Table::new(&["A", "B"]);
        table.push(row(&["only one"]));
    }
}
