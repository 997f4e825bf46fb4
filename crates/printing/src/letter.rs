//! Registered letters with an account activation code, one A4 page each, laid out for
//! a DL window envelope (A4 folded in three, 99 mm a part).
//!
//! Vertical plan, from the top: the sender and the recipient (seen through the window)
//! in the first third; the code and what to do with it below the first fold, where no
//! window shows it; a footer with the request number.

use chrono::{Datelike, NaiveDate};

use crate::canvas::{
    DARK, DocInfo, MM, MUTED, PAGE_WIDTH, Page, Pdf, RULE, SHADE, Style, tracked_width, wrap,
};
use crate::fonts::{Fonts, Weight};
use crate::{FieldProblem, PrintError};

/// The sender printed at the top left of every letter of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// First line, in bold; usually [`Sender::PORTAL`].
    pub name: String,
    /// The return address; lines are separated by `\n`.
    pub address: String,
    /// The portal's address as the citizen types it, e.g. `uslugi.example.ru`: the
    /// instructions say to sign in there.
    pub website: String,
    /// How to reach the support service (a phone number, a web address), printed after
    /// «сообщите в службу поддержки».
    pub support: String,
}

impl Sender {
    /// The usual sender name.
    pub const PORTAL: &str = "Uslugi — портал государственных услуг";
}

/// One letter: a code for one citizen. Its `Debug` leaves out the code and the personal
/// data, so a logged letter leaks neither.
#[derive(Clone, PartialEq, Eq)]
pub struct Letter {
    /// As it goes on the envelope, e.g. «Иванову Ивану Ивановичу».
    pub recipient_name: String,
    /// Street, house, flat, locality, region: lines separated by `\n`; long lines wrap.
    pub postal_address: String,
    /// The six-digit postal index, printed as the last line of the address.
    pub postal_index: Option<String>,
    /// The activation code, e.g. `4K7-PQ2-9XM`.
    pub code: String,
    /// The last day the code is accepted.
    pub expires_on: NaiveDate,
    /// The day the code was issued (the date of the letter).
    pub issued_on: NaiveDate,
    /// The request id, printed small for support and the post office.
    pub reference: String,
}

impl std::fmt::Debug for Letter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Letter")
            .field("reference", &self.reference)
            .field("issued_on", &self.issued_on)
            .field("expires_on", &self.expires_on)
            .finish_non_exhaustive()
    }
}

/// Left margin of the letter.
const LEFT: f32 = 20.0 * MM;
/// Right edge of the text.
const RIGHT: f32 = PAGE_WIDTH - 20.0 * MM;
/// The recipient block: where a right-hand DL envelope window is.
const WINDOW_LEFT: f32 = 110.0 * MM;
const WINDOW_TOP: f32 = 45.0 * MM;
const WINDOW_WIDTH: f32 = 85.0 * MM;
/// At most this many lines (name, address, index) fit the window.
const WINDOW_LINES: usize = 7;
/// The folds of A4 into a DL envelope.
const FOLDS: [f32; 2] = [99.0 * MM, 198.0 * MM];
/// Where the body of the letter starts, below the first fold.
const BODY_TOP: f32 = 112.0 * MM;
/// The footer's baseline.
const FOOTER: f32 = 285.0 * MM;

const SENDER_NAME: Style = Style::new(Weight::Bold, 9.5);
const SENDER_LINE: Style = Style::new(Weight::Regular, 8.5).gray(DARK);
const DETAILS: Style = Style::new(Weight::Regular, 7.5).gray(MUTED);
const RECIPIENT_NAME: Style = Style::new(Weight::Bold, 11.0);
const RECIPIENT_LINE: Style = Style::new(Weight::Regular, 11.0);
const TITLE: Style = Style::new(Weight::Bold, 16.0);
const BODY: Style = Style::new(Weight::Regular, 10.5);
const BODY_BOLD: Style = Style::new(Weight::Bold, 10.5);
const HEADING: Style = Style::new(Weight::Bold, 11.5);
const CODE_LABEL: Style = Style::new(Weight::Regular, 8.5).gray(MUTED);
const FOOTER_TEXT: Style = Style::new(Weight::Regular, 7.0).gray(MUTED);
/// The code's size, and its letter spacing in em: every character stands apart.
const CODE_SIZE: f32 = 28.0;
const CODE_TRACKING: f32 = 0.1;
/// The code may shrink to this size to fit its box; a longer code is refused.
const CODE_MIN_SIZE: f32 = 16.0;

/// Renders a batch of letters into one PDF, one A4 page per letter in the given order.
///
/// Every letter is checked before it is drawn; the first bad field stops the batch
/// ([`PrintError::Letter`] names the letter and the field), since a batch goes to print
/// as a whole.
pub fn registered_letters(sender: &Sender, letters: &[Letter]) -> Result<Vec<u8>, PrintError> {
    if letters.is_empty() {
        return Err(PrintError::NoLetters);
    }
    let fonts = Fonts::load()?;
    let sender_block = sender_block(&fonts, sender)?;
    let mut pdf = Pdf::new(
        &fonts,
        &DocInfo {
            title: "Код подтверждения учётной записи",
            subject: "Заказные письма с кодом подтверждения учётной записи",
        },
    );
    for (index, letter) in letters.iter().enumerate() {
        let page = letter_page(&fonts, sender, &sender_block, letter)
            .map_err(|(field, problem)| PrintError::Letter { index, field, problem })?;
        pdf.page(&page)?;
    }
    pdf.finish()
}

type FieldResult<T> = Result<T, (&'static str, FieldProblem)>;

/// Checks a field: not blank, every character printable.
fn check(fonts: &Fonts, field: &'static str, value: &str) -> FieldResult<()> {
    if value.trim().is_empty() {
        return Err((field, FieldProblem::Empty));
    }
    if let Some(ch) = fonts.missing(value) {
        return Err((field, FieldProblem::Unprintable(ch)));
    }
    Ok(())
}

/// The sender's part of the page, the same on every letter: checked and laid out once.
fn sender_block(fonts: &Fonts, sender: &Sender) -> Result<Page, PrintError> {
    let checked = |field, value: &str, style: Style, max_width: f32| {
        check(fonts, field, value)
            .map_err(|(field, problem)| PrintError::Sender { field, problem })?;
        if fonts.face(style.weight).width(value, style.size) > max_width {
            return Err(PrintError::Sender { field, problem: FieldProblem::TooLong });
        }
        Ok(())
    };
    let column = WINDOW_LEFT - LEFT - 5.0 * MM;
    checked("name", &sender.name, SENDER_NAME, f32::INFINITY)?;
    checked("address", &sender.address, SENDER_LINE, f32::INFINITY)?;
    // Both appear inside sentences of the body; bounded so the body stays on the page.
    checked("website", &sender.website, BODY, 70.0 * MM)?;
    checked("support", &sender.support, BODY, RIGHT - LEFT)?;

    let mut page = Page::default();
    let mut y = 18.0 * MM;
    let name = wrap(fonts, SENDER_NAME, &sender.name, column);
    y = page.lines(LEFT, y, SENDER_NAME, &name);
    let mut address = wrap(fonts, SENDER_LINE, &sender.address, column);
    address.push(fonts.clean(&sender.website));
    y = page.lines(LEFT, y, SENDER_LINE, &address);
    // The sender block ends well above the recipient's window.
    if y > WINDOW_TOP {
        return Err(PrintError::Sender { field: "address", problem: FieldProblem::TooLong });
    }
    for fold in FOLDS {
        page.line((5.0 * MM, fold), (9.0 * MM, fold), 0.5, RULE);
    }
    Ok(page)
}

fn letter_page(fonts: &Fonts, sender: &Sender, base: &Page, letter: &Letter) -> FieldResult<Page> {
    check(fonts, "recipient_name", &letter.recipient_name)?;
    check(fonts, "postal_address", &letter.postal_address)?;
    if let Some(index) = &letter.postal_index {
        check(fonts, "postal_index", index)?;
    }
    check(fonts, "code", &letter.code)?;
    check(fonts, "reference", &letter.reference)?;

    let mut page = base.clone();

    // Under the sender, hidden by the envelope: the date and kind of the letter.
    let mut y = WINDOW_TOP + 3.0 * MM;
    page.text(LEFT, y, DETAILS, "Заказное письмо");
    y += DETAILS.leading();
    page.text(LEFT, y, DETAILS, format!("Дата: {}", russian_date(letter.issued_on)));

    // The recipient, in the window.
    let mut lines = wrap(fonts, RECIPIENT_NAME, &letter.recipient_name, WINDOW_WIDTH);
    let name_lines = lines.len();
    lines.extend(wrap(fonts, RECIPIENT_LINE, &letter.postal_address, WINDOW_WIDTH));
    let index = letter.postal_index.as_deref().map(str::trim).filter(|index| !index.is_empty());
    if let Some(index) = index {
        lines.push(fonts.clean(index));
    }
    if lines.len() > WINDOW_LINES {
        return Err(("postal_address", FieldProblem::TooLong));
    }
    let mut y = WINDOW_TOP + RECIPIENT_LINE.size;
    for (at, line) in lines.iter().enumerate() {
        let last_is_index = index.is_some() && at + 1 == lines.len();
        let style = if at < name_lines || last_is_index { RECIPIENT_NAME } else { RECIPIENT_LINE };
        page.text(WINDOW_LEFT, y, style, line.clone());
        y += RECIPIENT_LINE.leading();
    }

    // The body, below the first fold.
    let width = RIGHT - LEFT;
    let mut y = BODY_TOP;
    page.text(LEFT, y, TITLE, "Код подтверждения учётной записи");
    y += 11.0 * MM;
    page.text(LEFT, y, BODY, "Здравствуйте!");
    y += BODY.leading() * 1.5;
    let intro = format!(
        "По вашему запросу направляем код для подтверждения учётной записи на портале {}.",
        unbreakable(&sender.website)
    );
    y = page.lines(LEFT, y, BODY, &wrap(fonts, BODY, &intro, width));

    // The code in a shaded box, with its expiry date.
    let box_top = y + 1.0 * MM;
    let box_height = 30.0 * MM;
    page.fill(LEFT, box_top, width, box_height, SHADE);
    page.text(LEFT + 4.0 * MM, box_top + 6.0 * MM, CODE_LABEL, "Ваш код");
    let code = fonts.clean(letter.code.trim());
    let code_style = Style::new(Weight::Bold, CODE_SIZE);
    let natural = tracked_width(fonts, code_style, CODE_TRACKING, &code);
    let size = CODE_SIZE.min(CODE_SIZE * (width - 30.0 * MM) / natural);
    if size < CODE_MIN_SIZE {
        return Err(("code", FieldProblem::TooLong));
    }
    let centre = LEFT + width / 2.0;
    let code_style = Style::new(Weight::Bold, size);
    page.text_centred(fonts, centre, box_top + 17.0 * MM, code_style, CODE_TRACKING, code);
    let expiry = format!("Код действителен до {}", russian_date(letter.expires_on));
    page.text_centred(fonts, centre, box_top + 25.5 * MM, BODY_BOLD, 0.0, expiry);
    y = box_top + box_height + 10.0 * MM;

    // How to enter it.
    page.text(LEFT, y, HEADING, "Как ввести код");
    y += HEADING.leading() + 1.5 * MM;
    let steps = [
        format!("Войдите на портал {} под своей учётной записью.", unbreakable(&sender.website)),
        "Откройте «Профиль» → «Подтвердить учётную запись» → «Код из письма».".to_owned(),
        "Введите код из этого письма.".to_owned(),
    ];
    let indent = 6.0 * MM;
    for (number, step) in steps.iter().enumerate() {
        page.text(LEFT, y, BODY, format!("{}.", number + 1));
        y = page.lines(LEFT + indent, y, BODY, &wrap(fonts, BODY, step, width - indent));
        y += 1.0 * MM;
    }

    // The warning, set apart by a bar.
    y += 5.0 * MM;
    let warning = wrap(
        fonts,
        BODY,
        "Код нужен только вам. Сотрудники портала, банков и других организаций никогда не \
         просят его назвать. Тот, кто знает код, может подтвердить учётную запись от вашего \
         имени.",
        width - indent,
    );
    let bar_height = BODY.leading() * (warning.len() as f32 + 1.0) + 1.5 * MM;
    page.fill(LEFT, y - BODY.size, 1.6 * MM, bar_height, DARK);
    page.text(LEFT + indent, y, BODY_BOLD, "Никому не сообщайте код!");
    y = page.lines(LEFT + indent, y + BODY.leading(), BODY, &warning);

    y += 6.0 * MM;
    let unrequested = format!(
        "Если вы не запрашивали код, ничего не делайте и сообщите в службу поддержки: {}.",
        unbreakable(&sender.support)
    );
    page.lines(LEFT, y, BODY, &wrap(fonts, BODY, &unrequested, width));

    // The footer.
    page.line((LEFT, FOOTER - 4.0 * MM), (RIGHT, FOOTER - 4.0 * MM), 0.4, RULE);
    page.text(
        LEFT,
        FOOTER,
        FOOTER_TEXT,
        "Письмо сформировано автоматически, отвечать на него не нужно.",
    );
    let reference = format!("Запрос № {}", fonts.clean(letter.reference.trim()));
    if fonts.face(Weight::Regular).width(&reference, FOOTER_TEXT.size) > width / 2.0 {
        return Err(("reference", FieldProblem::TooLong));
    }
    page.text_right(fonts, RIGHT, FOOTER, FOOTER_TEXT, reference);
    Ok(page)
}

/// `value` with no-break spaces, so that a phone number stays on one line.
fn unbreakable(value: &str) -> String {
    value.trim().replace(' ', "\u{a0}")
}

/// `22.12.2026`.
fn russian_date(date: NaiveDate) -> String {
    format!("{:02}.{:02}.{}", date.day(), date.month(), date.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_code_and_the_address() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 22).unwrap();
        let letter = Letter {
            recipient_name: "Иванову Ивану".into(),
            postal_address: "ул. Ленина, д. 15".into(),
            postal_index: Some("620014".into()),
            code: "4K7-PQ2-9XM".into(),
            expires_on: date,
            issued_on: date,
            reference: "req-1".into(),
        };
        let debug = format!("{letter:?}");
        assert!(debug.contains("req-1"), "{debug}");
        for secret in ["4K7", "Иванову", "Ленина", "620014"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn dates_are_day_month_year_with_zeros() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
        assert_eq!(russian_date(date), "05.03.2026");
    }
}
