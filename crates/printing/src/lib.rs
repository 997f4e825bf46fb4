//! Printable PDF documents of the identity service, in Russian.
//!
//! Two documents, each a pure function from data to PDF bytes (no IO, no clock: every
//! date is a parameter):
//!
//! - [`registered_letters`] — **letters with an activation code**, one A4 page per
//!   letter, a whole batch in one PDF for the post office to print, fold in three and
//!   put into DL window envelopes. A citizen who confirms an account by post gets one:
//!   the sender block at the top left, the recipient's address where the envelope window
//!   is (110 mm from the left, 45 mm from the top), and — below the first fold, so that
//!   no window shows it — the code, its expiry date, how to enter it and a warning not
//!   to give it to anyone. Inputs are checked: an address that would not fit the window
//!   or a character the font cannot print is an error, never a silently wrong letter.
//! - [`personal_data_report`] — **«Мои данные»**, everything the service holds about a
//!   citizen (their right under ФЗ-152): key–value sections and tables such as the
//!   journal of events and accesses, with long values wrapped, tables continued across
//!   pages under a repeated header, and «Страница N из M» on every page. It prints any
//!   text: a character the fonts lack becomes U+FFFD «�».
//!
//! Both embed subsets of DejaVu Sans and DejaVu Sans Bold (vendored in `fonts/`, so no
//! system fonts are needed) with a ToUnicode map, so text can be searched and copied.
//! The PDFs are written by krilla; text is measured and placed here, glyph by glyph.

mod canvas;
mod fonts;
mod letter;
mod report;

pub use letter::{Letter, Sender, registered_letters};
pub use report::{Report, Section, Table, personal_data_report};

/// What is wrong with one input value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldProblem {
    /// The value is empty or blank.
    Empty,
    /// The value has a character the bundled fonts cannot print.
    Unprintable(char),
    /// The value does not fit its place on the page.
    TooLong,
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("is empty"),
            Self::Unprintable(ch) => {
                write!(f, "has a character the fonts cannot print (U+{:04X})", u32::from(*ch))
            }
            Self::TooLong => f.write_str("does not fit its place on the page"),
        }
    }
}

/// Why a document could not be produced. The text is for logs: it names fields and
/// positions, never their personal-data values.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The link to print as a QR code is too long for one.
    #[error("the link is too long for a QR code")]
    QrTooLong,
    /// [`registered_letters`] was given no letters: a PDF has at least one page.
    #[error("no letters to print")]
    NoLetters,
    /// A field of the [`Sender`] cannot be printed.
    #[error("sender {field} {problem}")]
    Sender { field: &'static str, problem: FieldProblem },
    /// A field of the letter at `index` (0-based, in the input order) cannot be printed.
    #[error("letter {index}: {field} {problem}")]
    Letter { index: usize, field: &'static str, problem: FieldProblem },
    /// A table row has another number of cells than the table has columns.
    #[error("section {section}, table row {row}: {cells} cells for {columns} columns")]
    TableRow { section: usize, row: usize, cells: usize, columns: usize },
    /// A bundled font could not be read (a broken build).
    #[error("the bundled font {name} cannot be read")]
    Font { name: &'static str },
    /// A page element came out with an impossible geometry (a bug in the layout).
    #[error("page layout produced an impossible geometry")]
    Layout,
    /// The PDF writer refused the document.
    #[error("PDF export failed: {message}")]
    Pdf { message: String },
}
