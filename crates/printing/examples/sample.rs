//! Writes sample documents to the paths given (letters, report), to look at them.

use chrono::NaiveDate;
use printing::{Letter, Report, Section, Sender, Table, personal_data_report, registered_letters};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let letters_path = args.next().unwrap_or_else(|| "letters.pdf".into());
    let report_path = args.next().unwrap_or_else(|| "report.pdf".into());
    let sender = Sender {
        name: Sender::PORTAL.into(),
        address: "ул. Тверская, д. 7\nг. Москва, 125009".into(),
        website: "uslugi.example.ru".into(),
        support: "8 800 100-70-10 (звонок бесплатный)".into(),
    };
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).ok_or("date");
    let letter = Letter {
        recipient_name: "Иванову Ивану Ивановичу".into(),
        postal_address: "ул. Ленина, д. 15, кв. 42\nг. Екатеринбург\nСвердловская обл.".into(),
        postal_index: Some("620014".into()),
        code: "4K7-PQ2-9XM".into(),
        expires_on: date(2026, 12, 22)?,
        issued_on: date(2026, 11, 22)?,
        reference: "0193a1f2-7c4e-7d1b-9a55-3f0c2b8e6d41".into(),
    };
    std::fs::write(&letters_path, registered_letters(&sender, &[letter.clone(), letter])?)?;

    let journal = (1..=120)
        .map(|n| {
            vec![
                format!("{:02}.11.2026 {:02}:{:02}", 1 + n % 28, n % 24, n % 60),
                if n % 3 == 0 {
                    "Вход в личный кабинет".into()
                } else {
                    "Просмотр сведений о налоговой задолженности и начислениях".into()
                },
                format!("Chrome 131 на Windows 10, IP 203.0.113.{n}"),
                if n % 5 == 0 { "ФНС России".into() } else { "Вы".into() },
            ]
        })
        .collect();
    let report = Report {
        title: "Мои данные: сведения о персональных данных".into(),
        generated_at: "22.11.2026 14:05 (МСК)".into(),
        subject_line: "Иванов Иван Иванович, СНИЛС 112-233-445 95".into(),
        sections: vec![
            Section {
                title: "Основные сведения".into(),
                rows: vec![
                    ("Фамилия, имя, отчество".into(), "Иванов Иван Иванович".into()),
                    ("Дата рождения".into(), "01.02.1980".into()),
                    ("Адрес регистрации".into(), "620014, Свердловская область, г. Екатеринбург, ул. Ленина, д. 15, кв. 42 — зарегистрирован с 12.03.2005 по настоящее время".into()),
                    ("Согласия".into(), "На обработку персональных данных: дано 01.11.2026 10:00\nНа получение уведомлений: дано 01.11.2026 10:00".into()),
                ],
                table: None,
            },
            Section {
                title: "Журнал событий и доступа".into(),
                rows: vec![],
                table: Some(Table {
                    columns: vec!["Дата и время".into(), "Событие".into(), "Устройство".into(), "Кто".into()],
                    rows: journal,
                }),
            },
        ],
        letterhead: None,
        qr: None,
    };
    std::fs::write(&report_path, personal_data_report(&report)?)?;
    Ok(())
}
