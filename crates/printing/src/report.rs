//! The personal data report «Мои данные»: a title block, sections of label–value rows
//! and tables, flowing over as many A4 pages as needed.
//!
//! Layout is done in full before anything is drawn, so every page can say «Страница N
//! из M». A row or a table row that does not fit the rest of a page moves to the next
//! one; one taller than half a page (a very long value) is split between lines instead.
//! A section or table continued on a new page repeats its title with «(продолжение)»,
//! and a table its header.

use crate::PrintError;
use crate::canvas::{
    DARK, DocInfo, MM, MUTED, PAGE_HEIGHT, PAGE_WIDTH, Page, Pdf, RULE, SHADE, Style, wrap,
};
use crate::fonts::{Fonts, Weight};
use crate::letter::Sender;

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// E.g. «Мои данные: сведения о персональных данных».
    pub title: String,
    /// When the data was taken, already formatted in Moscow time, e.g. «22.11.2026 14:05 МСК».
    pub generated_at: String,
    /// Whose data it is, e.g. «Иванов Иван Иванович, СНИЛС 112-233-445 95».
    pub subject_line: String,
    /// In print order.
    pub sections: Vec<Section>,
    /// The issuer printed above the title (an agency's full name); the portal's when
    /// `None`.
    pub letterhead: Option<String>,
    /// A link printed as a QR code at the top right of the first page (where anyone can
    /// check the document).
    pub qr: Option<String>,
}

/// A titled part of the report: label–value rows, then optionally a table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// E.g. «Контактные данные»; repeated with «(продолжение)» on a following page.
    pub title: String,
    /// (label, value); a value may be long or hold `\n` line breaks.
    pub rows: Vec<(String, String)>,
    /// Printed after the rows.
    pub table: Option<Table>,
}

/// A table such as the journal of events and accesses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// Column headings; widths follow the content.
    pub columns: Vec<String>,
    /// Each row has exactly one cell per column.
    pub rows: Vec<Vec<String>>,
}

const LEFT: f32 = 20.0 * MM;
const RIGHT: f32 = PAGE_WIDTH - 15.0 * MM;
const WIDTH: f32 = RIGHT - LEFT;
/// Where the content of a page starts and must end.
const TOP: f32 = 22.0 * MM;
const BOTTOM: f32 = PAGE_HEIGHT - 22.0 * MM;
/// The running header (pages after the first) and footer baselines.
const HEADER: f32 = 12.0 * MM;
const FOOTER: f32 = PAGE_HEIGHT - 12.0 * MM;

const LETTERHEAD: Style = Style::new(Weight::Regular, 8.5).gray(MUTED);
const TITLE: Style = Style::new(Weight::Bold, 16.0);
const META: Style = Style::new(Weight::Regular, 9.0).gray(DARK);
const SUBJECT: Style = Style::new(Weight::Bold, 10.5);
const SECTION: Style = Style::new(Weight::Bold, 12.0);
const LABEL: Style = Style::new(Weight::Regular, 9.0).gray(DARK);
const VALUE: Style = Style::new(Weight::Regular, 9.0);
const TABLE_HEAD: Style = Style::new(Weight::Bold, 8.0);
const TABLE_CELL: Style = Style::new(Weight::Regular, 8.0);
const MARGINALIA: Style = Style::new(Weight::Regular, 7.5).gray(MUTED);

/// The label column of label–value rows.
const LABEL_WIDTH: f32 = 55.0 * MM;
const GUTTER: f32 = 4.0 * MM;
/// Padding above and below the text of a row, and left and right in a table cell.
const ROW_PAD: f32 = 1.3 * MM;
const CELL_PAD: f32 = 1.5 * MM;

/// The side of the QR code.
const QR_SIZE: f32 = 28.0 * MM;

/// Draws `link` as a QR code in the top right corner of `page`.
fn draw_qr(page: &mut Page, link: &str) -> Result<(), PrintError> {
    let code = qrcode::QrCode::new(link.as_bytes()).map_err(|_| PrintError::QrTooLong)?;
    let n = code.width();
    let module = QR_SIZE / n as f32;
    let (x0, y0) = (RIGHT - QR_SIZE, TOP - 4.0 * MM);
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (row, col) = (i / n, i % n);
            page.fill(x0 + col as f32 * module, y0 + row as f32 * module, module, module, 0);
        }
    }
    Ok(())
}

/// Renders the report as an A4 PDF.
///
/// Any text prints (a character the fonts lack becomes U+FFFD «�»); the only refused input is a
/// table row whose number of cells differs from the number of columns.
pub fn personal_data_report(report: &Report) -> Result<Vec<u8>, PrintError> {
    for (section_at, section) in report.sections.iter().enumerate() {
        if let Some(table) = &section.table {
            for (row_at, row) in table.rows.iter().enumerate() {
                if row.len() != table.columns.len() {
                    return Err(PrintError::TableRow {
                        section: section_at,
                        row: row_at,
                        cells: row.len(),
                        columns: table.columns.len(),
                    });
                }
            }
        }
    }
    let fonts = Fonts::load()?;
    let mut flow = Flow::new(&fonts, report);
    flow.title_block();
    for section in &report.sections {
        flow.section(section);
    }
    let pages = flow.pages;

    let mut pages = pages;
    if let (Some(link), Some(first)) = (&report.qr, pages.first_mut()) {
        draw_qr(first, link)?;
    }
    let mut pdf =
        Pdf::new(&fonts, &DocInfo { title: &report.title, subject: &report.subject_line });
    let total = pages.len();
    let generated = fonts.clean(&format!("Сформировано: {}", report.generated_at));
    let title = fonts.clean(&report.title);
    for (number, mut page) in pages.into_iter().enumerate() {
        if number > 0 {
            page.text(LEFT, HEADER, MARGINALIA, title.clone());
            page.line((LEFT, HEADER + 2.0 * MM), (RIGHT, HEADER + 2.0 * MM), 0.3, RULE);
        }
        page.line((LEFT, FOOTER - 4.0 * MM), (RIGHT, FOOTER - 4.0 * MM), 0.3, RULE);
        page.text(LEFT, FOOTER, MARGINALIA, generated.clone());
        let numbering = format!("Страница {} из {}", number + 1, total);
        page.text_right(&fonts, RIGHT, FOOTER, MARGINALIA, numbering);
        pdf.page(&page)?;
    }
    pdf.finish()
}

/// One cell of a row: where its text starts and its wrapped lines.
#[derive(Debug)]
struct Cell {
    x: f32,
    style: Style,
    lines: Vec<String>,
}

/// What to draw at the top of a page when a section goes on there.
#[derive(Debug, Clone, Copy)]
enum Resume<'r> {
    Nothing,
    Section(&'r Section),
    Table(&'r Section, &'r [f32]),
}

/// The layout state: finished pages, the page being filled, and how far down it is.
#[derive(Debug)]
struct Flow<'a> {
    fonts: &'a Fonts,
    report: &'a Report,
    pages: Vec<Page>,
    y: f32,
    /// Nothing but headings is on the current page yet: a row must start here, even
    /// if it does not fit, or layout would add empty pages forever.
    fresh: bool,
}

impl<'a> Flow<'a> {
    fn new(fonts: &'a Fonts, report: &'a Report) -> Self {
        Self { fonts, report, pages: vec![Page::default()], y: TOP, fresh: true }
    }

    fn page(&mut self) -> &mut Page {
        if self.pages.is_empty() {
            self.pages.push(Page::default());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn room(&self) -> f32 {
        BOTTOM - self.y
    }

    fn new_page(&mut self, resume: Resume<'_>) {
        self.pages.push(Page::default());
        self.y = TOP;
        self.fresh = true;
        match resume {
            Resume::Nothing => {}
            Resume::Section(section) => self.section_title(section, true),
            Resume::Table(section, widths) => {
                self.section_title(section, true);
                self.table_header(section, widths);
            }
        }
    }

    fn title_block(&mut self) {
        let report = self.report;
        let fonts = self.fonts;
        let mut y = self.y;
        // The QR code takes the top right corner: the title block wraps before it.
        let width = if report.qr.is_some() { WIDTH - QR_SIZE - 6.0 * MM } else { WIDTH };
        let letterhead = report.letterhead.as_deref().unwrap_or(Sender::PORTAL);
        for line in wrap(fonts, LETTERHEAD, letterhead, width) {
            self.page().text(LEFT, y, LETTERHEAD, line);
            y += LETTERHEAD.leading();
        }
        y += 9.0 * MM - LETTERHEAD.leading();
        let title = wrap(fonts, TITLE, &report.title, width);
        y = self.page().lines(LEFT, y, TITLE, &title);
        y += 1.0 * MM;
        let subject = wrap(fonts, SUBJECT, &report.subject_line, width);
        y = self.page().lines(LEFT, y, SUBJECT, &subject);
        let generated = wrap(fonts, META, &format!("Сформировано: {}", report.generated_at), width);
        y = self.page().lines(LEFT, y, META, &generated);
        if report.qr.is_some() {
            y = y.max(TOP + QR_SIZE);
        }
        y += 1.0 * MM;
        self.page().line((LEFT, y), (RIGHT, y), 0.8, DARK);
        self.y = y + 4.0 * MM;
    }

    fn section_title(&mut self, section: &Section, continued: bool) {
        let text = if continued {
            format!("{} (продолжение)", section.title)
        } else {
            section.title.clone()
        };
        let lines = wrap(self.fonts, SECTION, &text, WIDTH);
        let y = self.y + SECTION.size;
        let y = self.page().lines(LEFT, y, SECTION, &lines);
        self.y = y - SECTION.leading() + 3.5 * MM;
    }

    fn section(&mut self, section: &'a Section) {
        let title_height =
            wrap(self.fonts, SECTION, &section.title, WIDTH).len() as f32 * SECTION.leading();
        // Keep the title with at least a few lines of what follows.
        self.y += 4.0 * MM;
        if self.room() < title_height + 12.0 * MM {
            self.new_page(Resume::Nothing);
        }
        self.section_title(section, false);

        let empty_table = section.table.as_ref().is_none_or(|table| table.columns.is_empty());
        if section.rows.is_empty() && empty_table {
            self.row(&[self.single_cell("Нет данных", LABEL)], false, Resume::Section(section));
        }
        for (label, value) in &section.rows {
            let cells = [
                Cell { x: LEFT, style: LABEL, lines: wrap(self.fonts, LABEL, label, LABEL_WIDTH) },
                Cell {
                    x: LEFT + LABEL_WIDTH + GUTTER,
                    style: VALUE,
                    lines: wrap(self.fonts, VALUE, value, WIDTH - LABEL_WIDTH - GUTTER),
                },
            ];
            self.row(&cells, true, Resume::Section(section));
        }
        if let Some(table) = section.table.as_ref().filter(|table| !table.columns.is_empty()) {
            if !section.rows.is_empty() {
                self.y += 3.0 * MM;
            }
            self.table(section, table);
        }
    }

    fn single_cell(&self, text: &str, style: Style) -> Cell {
        Cell { x: LEFT, style, lines: wrap(self.fonts, style, text, WIDTH) }
    }

    fn table(&mut self, section: &'a Section, table: &'a Table) {
        let widths = column_widths(self.fonts, table);
        // The header and one line of the first row stay together.
        let header_height = self.header_height(table, &widths);
        if self.room() < header_height + TABLE_CELL.leading() + 2.0 * ROW_PAD {
            self.new_page(Resume::Section(section));
        }
        self.table_header(section, &widths);
        if table.rows.is_empty() {
            self.row(&[self.single_cell("Нет записей", LABEL)], true, Resume::Nothing);
        }
        let widths = widths.as_slice();
        for row in &table.rows {
            let cells = self.table_cells(row, TABLE_CELL, widths);
            self.row(&cells, true, Resume::Table(section, widths));
        }
    }

    fn table_cells(&self, texts: &[String], style: Style, widths: &[f32]) -> Vec<Cell> {
        let mut x = LEFT;
        texts
            .iter()
            .zip(widths)
            .map(|(text, width)| {
                let cell = Cell {
                    x: x + CELL_PAD,
                    style,
                    lines: wrap(self.fonts, style, text, width - 2.0 * CELL_PAD),
                };
                x += width;
                cell
            })
            .collect()
    }

    fn header_height(&self, table: &Table, widths: &[f32]) -> f32 {
        let cells = self.table_cells(&table.columns, TABLE_HEAD, widths);
        let lines = cells.iter().map(|cell| cell.lines.len()).max().unwrap_or(1).max(1);
        lines as f32 * TABLE_HEAD.leading() + 2.0 * ROW_PAD
    }

    fn table_header(&mut self, section: &Section, widths: &[f32]) {
        let Some(table) = &section.table else { return };
        let height = self.header_height(table, widths);
        let cells = self.table_cells(&table.columns, TABLE_HEAD, widths);
        let y = self.y;
        self.page().fill(LEFT, y, WIDTH, height, SHADE);
        self.draw_lines(&cells, 0, usize::MAX);
        self.y += height;
    }

    /// Draws lines `from..to` of every cell on the current page, one row of text after
    /// another, starting at `self.y`. Returns how many lines it drew (the tallest cell).
    fn draw_lines(&mut self, cells: &[Cell], from: usize, to: usize) -> usize {
        let top = self.y + ROW_PAD;
        let mut drawn = 0;
        for cell in cells {
            let leading = cell.style.leading();
            let lines = cell.lines.get(from..to.min(cell.lines.len())).unwrap_or_default();
            let mut y = top + baseline(cell.style);
            for line in lines {
                self.page().text(cell.x, y, cell.style, line.clone());
                y += leading;
            }
            drawn = drawn.max(lines.len());
        }
        drawn
    }

    /// Places one row: on this page if it fits, else on the next; a row taller than half a
    /// page is split between lines. `ruled` draws a hairline under it.
    fn row(&mut self, cells: &[Cell], ruled: bool, resume: Resume<'_>) {
        let total = cells.iter().map(|cell| cell.lines.len()).max().unwrap_or(0).max(1);
        let leading = cells.iter().map(|cell| cell.style.leading()).fold(0.0, f32::max);
        let height = |lines: usize| lines as f32 * leading + 2.0 * ROW_PAD;
        let half_page = (BOTTOM - TOP) / 2.0;
        let mut from = 0;
        while from < total {
            let rest = total - from;
            let fits = ((self.room() - 2.0 * ROW_PAD) / leading).floor().max(0.0) as usize;
            if fits < rest && !self.fresh && (height(rest) <= half_page || fits < 3) {
                self.new_page(resume);
                continue;
            }
            let to = from + fits.clamp(1, rest);
            let count = to - from;
            self.draw_lines(cells, from, to);
            self.fresh = false;
            self.y += height(count);
            if ruled {
                let y = self.y;
                self.page().line((LEFT, y), (RIGHT, y), 0.3, RULE);
            }
            from = to;
            if from < total {
                self.new_page(resume);
            }
        }
    }
}

/// Baseline of a row's first line below the row's text top: caps sit in the middle of
/// the line.
fn baseline(style: Style) -> f32 {
    (style.leading() + 0.73 * style.size) / 2.0
}

/// Column widths that add up to the page width. Every column gets at least its longest
/// word (capped at 40 % of the table, longer words break); the space left is poured in
/// like water: columns that need little more for their longest line get it in full, the
/// others share the rest equally. Space beyond every column's need is shared in
/// proportion to need.
fn column_widths(fonts: &Fonts, table: &Table) -> Vec<f32> {
    let count = table.columns.len();
    let pad = 2.0 * CELL_PAD;
    let available = WIDTH - pad * count as f32;
    let mut longest_line = vec![0.0_f32; count];
    let mut longest_word = vec![0.0_f32; count];
    let texts = std::iter::once((&table.columns, TABLE_HEAD))
        .chain(table.rows.iter().map(|row| (row, TABLE_CELL)));
    for (texts, style) in texts {
        let face = fonts.face(style.weight);
        for ((text, line_max), word_max) in
            texts.iter().zip(longest_line.iter_mut()).zip(longest_word.iter_mut())
        {
            for line in text.split('\n') {
                *line_max = line_max.max(face.width(line, style.size));
                for word in line.split(' ') {
                    *word_max = word_max.max(face.width(word, style.size));
                }
            }
        }
    }
    let cap = available * 0.4;
    let mut widths: Vec<f32> = longest_word.iter().map(|width| width.min(cap)).collect();
    let min_total: f32 = widths.iter().sum();
    if min_total >= available || min_total <= 0.0 {
        // Even the longest words do not fit: shrink them all alike (they break).
        let scale = if min_total > 0.0 { available / min_total } else { 0.0 };
        return widths
            .iter()
            .map(|width| if scale > 0.0 { width * scale } else { available / count as f32 } + pad)
            .collect();
    }
    let needs: Vec<f32> =
        longest_line.iter().zip(&widths).map(|(line, min)| (line - min).max(0.0)).collect();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by(|a, b| needs[*a].total_cmp(&needs[*b]));
    let mut left = available - min_total;
    for (done, &column) in order.iter().enumerate() {
        let share = left / (count - done) as f32;
        let given = needs[column].min(share);
        widths[column] += given;
        left -= given;
    }
    if left > 0.0 {
        let total: f32 = widths.iter().sum();
        for width in &mut widths {
            *width += left * *width / total;
        }
    }
    widths.into_iter().map(|width| width + pad).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[&str], row: &[&str]) -> Table {
        Table {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: vec![row.iter().map(|c| (*c).to_owned()).collect()],
        }
    }

    #[test]
    fn columns_fill_the_width_and_short_columns_keep_their_lines() {
        let fonts = Fonts::load().unwrap();
        let long = "очень длинное описание события ".repeat(10);
        let table = table(&["Дата", "Событие", "Кто"], &["22.11.2026 14:05", &long, "ФНС России"]);
        let widths = column_widths(&fonts, &table);
        assert!((widths.iter().sum::<f32>() - WIDTH).abs() < 0.01, "{widths:?}");
        let face = fonts.face(Weight::Regular);
        // The date and the agency fit on one line; the long text takes the rest.
        assert!(widths[0] - 2.0 * CELL_PAD >= face.width("22.11.2026 14:05", TABLE_CELL.size));
        assert!(widths[2] - 2.0 * CELL_PAD >= face.width("ФНС России", TABLE_CELL.size));
        assert!(widths[1] > widths[0] && widths[1] > widths[2]);
    }
}
