//! The two documents, read back from the PDF bytes with lopdf: page counts, the texts a
//! reader sees (through the fonts' ToUnicode maps, as copy-paste does), and the errors
//! for input that cannot be printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::NaiveDate;
use lopdf::{Document, Object};
use printing::{
    FieldProblem, Letter, PrintError, Report, Section, Sender, Table, personal_data_report,
    registered_letters,
};

/// A produced PDF, parsed: the text of every page, with no-break spaces as spaces.
struct Parsed {
    document: Document,
    pages: Vec<String>,
}

impl Parsed {
    fn new(bytes: &[u8]) -> Self {
        assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
        let document = Document::load_mem(bytes).expect("the PDF parses");
        let count = document.get_pages().len() as u32;
        let pages = (1..=count)
            .map(|page| {
                document.extract_text(&[page]).expect("text extracts").replace('\u{a0}', " ")
            })
            .collect();
        Self { document, pages }
    }

    /// All pages' text as one line of words: wrapping and page breaks do not matter.
    fn words(&self) -> String {
        self.pages.join(" ").split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The composite fonts and whether each has a ToUnicode map.
    fn fonts(&self) -> Vec<(String, bool)> {
        self.document
            .objects
            .values()
            .filter_map(|object| object.as_dict().ok())
            .filter(|dict| dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Type0"))
            .map(|dict| {
                let name = dict.get(b"BaseFont").and_then(Object::as_name).unwrap_or_default();
                (String::from_utf8_lossy(name).into_owned(), dict.has(b"ToUnicode"))
            })
            .collect()
    }
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

fn sender() -> Sender {
    Sender {
        name: Sender::PORTAL.to_owned(),
        address: "ул. Тверская, д. 7\nг. Москва, 125009".to_owned(),
        website: "uslugi.example.ru".to_owned(),
        support: "8 800 100-70-10".to_owned(),
    }
}

fn letter(name: &str, code: &str) -> Letter {
    Letter {
        recipient_name: name.to_owned(),
        postal_address: "ул. Ленина, д. 15, кв. 42\nг. Екатеринбург\nСвердловская обл.".to_owned(),
        postal_index: Some("620014".to_owned()),
        code: code.to_owned(),
        expires_on: date(2026, 12, 22),
        issued_on: date(2026, 11, 22),
        reference: "0193a1f2-7c4e-7d1b-9a55-3f0c2b8e6d41".to_owned(),
    }
}

#[test]
fn a_letter_carries_the_sender_recipient_code_expiry_and_instructions() {
    let pdf = Parsed::new(
        &registered_letters(&sender(), &[letter("Иванову Ивану Ивановичу", "4K7-PQ2-9XM")])
            .unwrap(),
    );

    assert_eq!(pdf.pages.len(), 1);
    let text = &pdf.pages[0];
    for expected in [
        "Uslugi — портал государственных услуг",
        "ул. Тверская, д. 7",
        "Иванову Ивану Ивановичу",
        "ул. Ленина, д. 15, кв. 42",
        "г. Екатеринбург",
        "Свердловская обл.",
        "620014",
        "Код подтверждения учётной записи",
        "4K7-PQ2-9XM",
        "Код действителен до 22.12.2026",
        "Дата: 22.11.2026",
        "«Профиль» → «Подтвердить учётную запись» → «Код из письма»",
        "Никому не сообщайте код",
        "0193a1f2-7c4e-7d1b-9a55-3f0c2b8e6d41",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    let words = pdf.words();
    for expected in [
        "Войдите на портал uslugi.example.ru",
        "Введите код",
        "Если вы не запрашивали код, ничего не делайте и сообщите в службу поддержки: 8 800 100-70-10.",
    ] {
        assert!(words.contains(expected), "{expected:?} missing from:\n{words}");
    }
}

#[test]
fn a_batch_has_one_page_per_letter_in_order() {
    let letters: Vec<Letter> = (0..25)
        .map(|n| letter(&format!("Получателю Номер{n:02}"), &format!("AB{n:02}-XYZ")))
        .collect();
    let pdf = Parsed::new(&registered_letters(&sender(), &letters).unwrap());

    assert_eq!(pdf.pages.len(), 25);
    for (n, page) in pdf.pages.iter().enumerate() {
        assert!(page.contains(&format!("Получателю Номер{n:02}")), "page {n}:\n{page}");
        assert!(page.contains(&format!("AB{n:02}-XYZ")), "page {n}:\n{page}");
        assert_eq!(page.matches("Получателю").count(), 1, "one letter a page");
    }
}

#[test]
fn fonts_are_embedded_subsets_with_unicode_maps() {
    let bytes =
        registered_letters(&sender(), &[letter("Иванову Ивану Ивановичу", "4K7-PQ2-9XM")]).unwrap();
    let fonts = Parsed::new(&bytes).fonts();

    assert_eq!(fonts.len(), 2, "{fonts:?}");
    for (name, to_unicode) in &fonts {
        assert!(name.contains("DejaVuSans"), "{name}");
        // A subset's name has a six-letter tag: ABCDEF+DejaVuSans.
        assert_eq!(name.find('+'), Some(6), "{name} is not a subset");
        assert!(to_unicode, "{name} has no ToUnicode map");
    }
    // The two whole fonts are 1.4 MB; their subsets are a small fraction of that.
    assert!(bytes.len() < 80_000, "{} bytes", bytes.len());
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let letters = [letter("Иванову Ивану Ивановичу", "4K7-PQ2-9XM")];
    assert_eq!(
        registered_letters(&sender(), &letters).unwrap(),
        registered_letters(&sender(), &letters).unwrap()
    );
}

#[test]
fn a_letter_without_an_index_ends_the_address_with_its_last_line() {
    let mut without = letter("Петровой Анне Сергеевне", "4K7-PQ2-9XM");
    without.postal_index = None;
    let pdf = Parsed::new(&registered_letters(&sender(), &[without]).unwrap());
    assert!(pdf.pages[0].contains("Свердловская обл."));
    assert!(!pdf.pages[0].contains("620014"));
}

#[test]
fn letters_that_cannot_be_printed_right_are_refused_by_position_and_field() {
    let good = letter("Иванову Ивану Ивановичу", "4K7-PQ2-9XM");
    let error = |bad: Letter| registered_letters(&sender(), &[good.clone(), bad]).unwrap_err();
    let refused = |error: PrintError| match error {
        PrintError::Letter { index, field, problem } => (index, field, problem),
        other => panic!("unexpected {other:?}"),
    };

    let long_address =
        Letter { postal_address: "строка адреса\n".repeat(8), ..good.clone() };
    assert_eq!(refused(error(long_address)), (1, "postal_address", FieldProblem::TooLong));

    let chinese = Letter { recipient_name: "王小明".to_owned(), ..good.clone() };
    assert_eq!(refused(error(chinese)), (1, "recipient_name", FieldProblem::Unprintable('王')));

    let blank_code = Letter { code: "  ".to_owned(), ..good.clone() };
    assert_eq!(refused(error(blank_code)), (1, "code", FieldProblem::Empty));

    let long_code = Letter { code: "X".repeat(60), ..good.clone() };
    assert_eq!(refused(error(long_code)), (1, "code", FieldProblem::TooLong));

    // The message is for logs: it names the field, never the value.
    let message = error(Letter { recipient_name: "王小明".to_owned(), ..good.clone() }).to_string();
    assert!(!message.contains('王') && message.contains("recipient_name"), "{message}");
}

#[test]
fn an_empty_batch_or_a_bad_sender_is_refused() {
    assert!(matches!(registered_letters(&sender(), &[]), Err(PrintError::NoLetters)));

    let letters = [letter("Иванову Ивану Ивановичу", "4K7-PQ2-9XM")];
    let long_site = Sender { website: "uslugi.example.ru/".repeat(10), ..sender() };
    assert!(matches!(
        registered_letters(&long_site, &letters),
        Err(PrintError::Sender { field: "website", problem: FieldProblem::TooLong })
    ));
    let no_support = Sender { support: String::new(), ..sender() };
    assert!(matches!(
        registered_letters(&no_support, &letters),
        Err(PrintError::Sender { field: "support", problem: FieldProblem::Empty })
    ));
}

fn journal(rows: usize) -> Table {
    Table {
        columns: vec!["Дата и время".into(), "Событие".into(), "Кто".into()],
        rows: (1..=rows)
            .map(|n| {
                vec![
                    format!("{:02}.11.2026 10:{:02}", 1 + n % 28, n % 60),
                    format!("Просмотр сведений запись-{n:04}"),
                    if n % 4 == 0 { "ФНС России".into() } else { "Вы".into() },
                ]
            })
            .collect(),
    }
}

fn report(sections: Vec<Section>) -> Report {
    Report {
        title: "Мои данные".to_owned(),
        generated_at: "22.11.2026 14:05 (МСК)".to_owned(),
        subject_line: "Иванов Иван Иванович, СНИЛС 112-233-445 95".to_owned(),
        sections,
        letterhead: None,
        qr: None,
    }
}

fn basic_section() -> Section {
    Section {
        title: "Основные сведения".to_owned(),
        rows: vec![
            ("Фамилия, имя, отчество".into(), "Иванов Иван Иванович".into()),
            ("Телефон".into(), "+79161234567".into()),
        ],
        table: None,
    }
}

#[test]
fn a_short_report_is_one_page_with_its_sections_and_numbering() {
    let section =
        Section {
            title: "Журнал событий и доступа".into(), rows: vec![], table: Some(journal(3))
        };
    let pdf = Parsed::new(&personal_data_report(&report(vec![basic_section(), section])).unwrap());

    assert_eq!(pdf.pages.len(), 1);
    let text = &pdf.pages[0];
    for expected in [
        "Мои данные",
        "Иванов Иван Иванович, СНИЛС 112-233-445 95",
        "Сформировано: 22.11.2026 14:05 (МСК)",
        "Основные сведения",
        "Фамилия, имя, отчество",
        "+79161234567",
        "Журнал событий и доступа",
        "Дата и время",
        "запись-0003",
        "Страница 1 из 1",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
}

#[test]
fn a_long_table_continues_on_numbered_pages_under_its_header() {
    let rows = 200;
    let section = Section {
        title: "Журнал событий и доступа".into(),
        rows: vec![],
        table: Some(journal(rows)),
    };
    let pdf = Parsed::new(&personal_data_report(&report(vec![basic_section(), section])).unwrap());

    let total = pdf.pages.len();
    assert!(total >= 3, "{total} pages");
    for (at, page) in pdf.pages.iter().enumerate() {
        assert!(page.contains(&format!("Страница {} из {total}", at + 1)), "page {at}:\n{page}");
        // The header is on every page the table is on.
        assert!(page.contains("Дата и время") && page.contains("Событие"), "page {at}:\n{page}");
        if at > 0 {
            assert!(page.contains("Журнал событий и доступа (продолжение)"), "page {at}:\n{page}");
        }
    }
    assert!(
        pdf.pages[total - 1].contains(&format!("запись-{rows:04}")),
        "the last row is on the last page"
    );
    // Every row is printed once, in order, across the page breaks.
    let words = pdf.words();
    let mut from = 0;
    for n in 1..=rows {
        let row = format!("запись-{n:04}");
        assert_eq!(words.matches(&row).count(), 1, "{row}");
        let at = words.find(&row).unwrap();
        assert!(at > from, "{row} out of order");
        from = at;
    }
}

#[test]
fn long_values_wrap_and_break_across_pages_without_losing_a_word() {
    let long_value: Vec<String> = (1..=1200).map(|n| format!("слово{n:04}")).collect();
    let unbroken = "x".repeat(400);
    let section = Section {
        title: "Сведения".into(),
        rows: vec![
            ("Длинное значение".into(), long_value.join(" ")),
            ("Без пробелов".into(), unbroken.clone()),
            ("Последнее".into(), "значение в конце".into()),
        ],
        table: None,
    };
    let pdf = Parsed::new(&personal_data_report(&report(vec![section])).unwrap());

    assert!(pdf.pages.len() >= 2, "{} pages", pdf.pages.len());
    assert!(pdf.pages[1].contains("Сведения (продолжение)"));
    let words = pdf.words();
    for word in &long_value {
        assert_eq!(words.matches(word.as_str()).count(), 1, "{word}");
    }
    let letters: String = words.chars().filter(|ch| !ch.is_whitespace()).collect();
    assert!(letters.contains(&unbroken), "the unbroken word is all there");
    assert!(pdf.pages.last().unwrap().contains("значение в конце"));
}

#[test]
fn a_report_prints_any_text_and_refuses_a_ragged_table() {
    let section = Section {
        title: "Разное".into(),
        rows: vec![("Подпись".into(), "Привет 王 🙂\tконец".into())],
        table: Some(Table { columns: vec!["Пусто".into()], rows: vec![] }),
    };
    let pdf = Parsed::new(&personal_data_report(&report(vec![section])).unwrap());
    assert!(pdf.pages[0].contains("Привет \u{fffd} \u{fffd} конец"), "{}", pdf.pages[0]);
    assert!(pdf.pages[0].contains("Нет записей"));

    let mut ragged = journal(3);
    ragged.rows[2].pop();
    let section = Section { title: "Журнал".into(), rows: vec![], table: Some(ragged) };
    let error = personal_data_report(&report(vec![basic_section(), section])).unwrap_err();
    assert!(
        matches!(error, PrintError::TableRow { section: 1, row: 2, cells: 2, columns: 3 }),
        "{error:?}"
    );
}

#[test]
fn a_wide_table_with_a_page_long_cell_is_split_under_repeated_headers() {
    let columns: Vec<String> =
        (1..=10).map(|n| format!("Колонка с длинным названием {n}")).collect();
    let mut rows: Vec<Vec<String>> =
        (1..=30).map(|r| (1..=10).map(|c| format!("р{r:02}к{c:02}")).collect()).collect();
    let essay: Vec<String> = (1..=900).map(|n| format!("эссе{n:03}")).collect();
    rows[10][3] = essay.join(" ");
    let section = Section {
        title: "Широкая таблица".into(),
        rows: vec![],
        table: Some(Table { columns, rows }),
    };
    let pdf = Parsed::new(&personal_data_report(&report(vec![section])).unwrap());

    assert!(pdf.pages.len() >= 3, "{} pages", pdf.pages.len());
    let words = pdf.words();
    for word in &essay {
        assert_eq!(words.matches(word.as_str()).count(), 1, "{word}");
    }
    for r in 1..=30 {
        for c in 1..=10 {
            if (r, c) != (11, 4) {
                assert_eq!(words.matches(&format!("р{r:02}к{c:02}")).count(), 1, "р{r:02}к{c:02}");
            }
        }
    }
    for (at, page) in pdf.pages.iter().enumerate() {
        let compact: String = page.split_whitespace().collect();
        assert!(compact.contains("Колонкасдлиннымназванием10"), "header on page {at}:\n{page}");
    }
}

#[test]
fn an_official_document_has_its_issuer_and_a_qr_code() {
    let mut r = report(vec![basic_section()]);
    r.letterhead = Some("Федеральная налоговая служба, ИНН 7707329152".into());
    r.qr = Some("http://127.0.0.1:8080/verify/2026-0000001-R".into());
    let bytes = personal_data_report(&r).unwrap();
    let pdf = Parsed::new(&bytes);
    assert_eq!(pdf.pages.len(), 1);
    assert!(
        pdf.words().contains("Федеральная налоговая служба, ИНН 7707329152"),
        "{}",
        pdf.words()
    );
    // The QR code is drawn as filled squares: many more fill operations than without it.
    let plain = personal_data_report(&report(vec![basic_section()])).unwrap();
    assert!(bytes.len() > plain.len() + 2000, "{} vs {}", bytes.len(), plain.len());
    let mut long = r.clone();
    long.qr = Some("x".repeat(5000));
    assert!(matches!(personal_data_report(&long), Err(PrintError::QrTooLong)));
}
