//! A batch of 1,000 registered letters in one PDF: pages per second (criterion's
//! throughput, one element = one page) and the PDF's size per page.

use chrono::NaiveDate;
use criterion::{Criterion, Throughput};
use printing::{Letter, Sender, registered_letters};

const LETTERS: usize = 1_000;

fn batch() -> Vec<Letter> {
    let date = |month, day| NaiveDate::from_ymd_opt(2026, month, day).unwrap_or_default();
    (0..LETTERS)
        .map(|n| Letter {
            recipient_name: format!("Иванову Ивану Ивановичу {n}"),
            postal_address: format!(
                "ул. Ленина, д. {}, кв. {}\nг. Екатеринбург\nСвердловская обл.",
                n % 200,
                n % 97
            ),
            postal_index: Some(format!("620{:03}", n % 1000)),
            code: format!("{:03X}-PQ2-9XM", n % 4096),
            expires_on: date(12, 22),
            issued_on: date(11, 22),
            reference: format!("0193a1f2-7c4e-7d1b-9a55-{n:012}"),
        })
        .collect()
}

fn main() {
    let sender = Sender {
        name: Sender::PORTAL.to_owned(),
        address: "ул. Тверская, д. 7\nг. Москва, 125009".to_owned(),
        website: "uslugi.example.ru".to_owned(),
        support: "8 800 100-70-10".to_owned(),
    };
    let letters = batch();
    let size = registered_letters(&sender, &letters).map_or(0, |pdf| pdf.len());
    println!(
        "letters/pdf_size            {size} bytes for {LETTERS} pages, {} bytes/page",
        size / LETTERS
    );

    let mut c = Criterion::default().sample_size(10).configure_from_args();
    let mut group = c.benchmark_group("letters");
    group.throughput(Throughput::Elements(LETTERS as u64));
    group.bench_function("registered_letters_1000", |b| {
        b.iter(|| registered_letters(&sender, &letters))
    });
    group.finish();
    c.final_summary();
}
