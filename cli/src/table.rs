//! Terminal tables that fit the terminal's width. Optional columns give way
//! first; then the widest column that may shrink is cut with "…", one column
//! at a time, as `gh` does; a wrapping column continues on the next lines.
//! Cells are text already made terminal-safe.

use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};

/// Spaces between columns.
const GAP: usize = 2;
/// A shrinking column is cut no narrower than this (or its header).
const MIN_SHRUNK: usize = 8;

/// What a column does when the line is too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Always shown in full: ids, statuses, times.
    Keep,
    /// Cut with "…", the widest such column first.
    Shrink,
    /// Continued on the following lines.
    Wrap,
    /// Shown in full, or left out when the line would not fit without it.
    Optional,
}

pub struct Column {
    header: &'static str,
    fit: Fit,
}

pub const fn column(header: &'static str, fit: Fit) -> Column {
    Column { header, fit }
}

/// A cell's text, and a shorter form to show when the text does not fit.
pub struct Cell {
    text: String,
    short: Option<String>,
}

impl Cell {
    pub fn with_short(text: String, short: String) -> Self {
        Self {
            text,
            short: Some(short),
        }
    }

    /// The form the width decisions start from: the short one, if any.
    fn compact(&self) -> &str {
        self.short.as_deref().unwrap_or(&self.text)
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self { text, short: None }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::from(text.to_owned())
    }
}

pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
    headers: bool,
}

impl Table {
    pub fn new(columns: Vec<Column>) -> Self {
        Self {
            columns,
            rows: vec![],
            headers: true,
        }
    }

    /// A table of `field value` lines: no header line.
    pub fn without_headers(mut self) -> Self {
        self.headers = false;
        self
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    fn header_width(&self, i: usize) -> usize {
        if self.headers {
            self.columns[i].header.width()
        } else {
            0
        }
    }

    /// Each column's width with every cell's text as `pick` chooses it.
    fn natural(&self, pick: impl Fn(&Cell) -> &str) -> Vec<usize> {
        (0..self.columns.len())
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(i))
                    .map(|cell| pick(cell).width())
                    .chain([self.header_width(i)])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Column widths from `full` that fit `width`: the widest shrinking
    /// column cut first; when even that is not enough, the last columns
    /// left out, so none shows cut in the middle.
    fn layout(
        &self,
        full: &[usize],
        mut shown: Vec<bool>,
        width: usize,
    ) -> (Vec<usize>, Vec<bool>) {
        let fits: Vec<Fit> = self.columns.iter().map(|c| c.fit).collect();
        let floor: Vec<usize> = (0..full.len())
            .map(|i| match fits[i] {
                Fit::Shrink | Fit::Wrap => full[i].min(MIN_SHRUNK.max(self.header_width(i))),
                Fit::Keep | Fit::Optional => full[i],
            })
            .collect();
        let mut widths = shrunk(full, &floor, &fits, &shown, width);
        while line_width(&widths, &shown) > width && shown.iter().filter(|s| **s).count() > 1 {
            if let Some(last) = shown.iter().rposition(|s| *s) {
                shown[last] = false;
            }
            widths = shrunk(full, &floor, &fits, &shown, width);
        }
        (widths, shown)
    }

    /// The table in lines no wider than `width`.
    pub fn render(&self, width: usize) -> String {
        let n = self.columns.len();
        let fits: Vec<Fit> = self.columns.iter().map(|c| c.fit).collect();
        let mut shown = vec![true; n];
        // Optional columns give way, the last first, while the others do
        // not fit even in their short forms.
        let compact = self.natural(Cell::compact);
        for i in (0..n).rev() {
            if line_width(&compact, &shown) <= width {
                break;
            }
            if fits[i] == Fit::Optional {
                shown[i] = false;
            }
        }
        let full = self.natural(|cell| &cell.text);
        let (widths, shown) = self.layout(&full, shown, width);
        // A cell too long for its column shows its short form; then the
        // columns are laid out again for what they now hold, so the room a
        // short form frees goes to the others.
        let chosen: Vec<Vec<&str>> = self
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(i, cell)| match &cell.short {
                        Some(short) if cell.text.width() > widths[i] => short.as_str(),
                        _ => cell.text.as_str(),
                    })
                    .collect()
            })
            .collect();
        let held: Vec<usize> = (0..n)
            .map(|i| {
                chosen
                    .iter()
                    .filter_map(|row| row.get(i))
                    .map(|text| text.width())
                    .chain([self.header_width(i)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let (widths, shown) = self.layout(&held, shown, width);

        let mut out = String::new();
        let mut emit = |cells: Vec<&str>| {
            let lines: Vec<Vec<String>> = cells
                .iter()
                .enumerate()
                .filter(|(i, _)| shown[*i])
                .map(|(i, text)| match fits[i] {
                    Fit::Wrap => wrap(text, widths[i]),
                    _ => vec![truncate(text, widths[i])],
                })
                .collect();
            let visible: Vec<usize> = (0..n).filter(|&i| shown[i]).collect();
            let height = lines.iter().map(Vec::len).max().unwrap_or(1);
            for k in 0..height {
                let mut line = String::new();
                for (j, cell_lines) in lines.iter().enumerate() {
                    let text = cell_lines.get(k).map(String::as_str).unwrap_or("");
                    if j > 0 {
                        line.push_str(&" ".repeat(GAP));
                    }
                    line.push_str(text);
                    let pad = widths[visible[j]].saturating_sub(text.width());
                    line.push_str(&" ".repeat(pad));
                }
                // Narrower than the first column alone: cut the line itself.
                out.push_str(&truncate(line.trim_end(), width));
                out.push('\n');
            }
        };
        if self.headers {
            emit(self.columns.iter().map(|c| c.header).collect());
        }
        for row in chosen {
            emit(row);
        }
        out
    }
}

/// The widths from `full` with the widest shrinking column cut by one,
/// again and again, until the line fits `width` or none can shrink further.
fn shrunk(
    full: &[usize],
    floor: &[usize],
    fits: &[Fit],
    shown: &[bool],
    width: usize,
) -> Vec<usize> {
    let mut widths = full.to_vec();
    while line_width(&widths, shown) > width {
        let widest = (0..widths.len())
            .filter(|&i| shown[i] && widths[i] > floor[i])
            .filter(|&i| matches!(fits[i], Fit::Shrink | Fit::Wrap))
            .max_by_key(|&i| widths[i]);
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
    widths
}

/// The width of a line of the `shown` columns at `widths`.
fn line_width(widths: &[usize], shown: &[bool]) -> usize {
    let visible: Vec<usize> = widths
        .iter()
        .zip(shown)
        .filter(|(_, s)| **s)
        .map(|(w, _)| *w)
        .collect();
    visible.iter().sum::<usize>() + GAP * visible.len().saturating_sub(1)
}

/// `text` cut to `width` columns, ending in "…" when cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `text` in lines of at most `width` columns, broken between words; a word
/// longer than a line is broken inside.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = vec![];
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = if line.is_empty() {
            word.width()
        } else {
            line.width() + 1 + word.width()
        };
        if needed <= width {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            let w = c.width().unwrap_or(0);
            if line.width() + w > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}
