//! Parse speed of every identifier (target: each under 1 µs).

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use domain::ident::*;

fn parsers(c: &mut Criterion) {
    let bik = Bik::parse("049805746").unwrap_or_else(|_| unreachable!());
    let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default();
    let mut g = c.benchmark_group("parse");
    g.bench_function("inn10", |b| b.iter(|| Inn::parse(black_box("7707083893"))));
    g.bench_function("inn12", |b| b.iter(|| Inn::parse(black_box("500100732259"))));
    g.bench_function("snils", |b| b.iter(|| Snils::parse(black_box("112-233-445 95"))));
    g.bench_function("ogrn", |b| b.iter(|| Ogrn::parse(black_box("1027700132195"))));
    g.bench_function("ogrnip", |b| b.iter(|| Ogrnip::parse(black_box("304500116000180"))));
    g.bench_function("kpp", |b| b.iter(|| Kpp::parse(black_box("0108A4934"))));
    g.bench_function("bik", |b| b.iter(|| Bik::parse(black_box("044525225"))));
    g.bench_function("account", |b| {
        b.iter(|| BankAccount::parse_guessing_kind(black_box("40602810700000000025"), &bik))
    });
    g.bench_function("uin25", |b| b.iter(|| Uin::parse(black_box("0321000000000000000000019"))));
    g.bench_function("passport", |b| b.iter(|| Passport::parse(black_box("4510 123456"))));
    g.bench_function("division_code", |b| b.iter(|| DivisionCode::parse(black_box("770-001"))));
    g.bench_function("phone", |b| b.iter(|| Phone::parse(black_box("+7 (916) 123-45-67"))));
    g.bench_function("email", |b| b.iter(|| Email::parse(black_box("ivan.petrov@mail.ru"))));
    g.bench_function("email_idn", |b| b.iter(|| Email::parse(black_box("иван@почта.рф"))));
    g.bench_function("name", |b| b.iter(|| NamePart::parse(black_box("Салтыков-Щедрин"))));
    g.bench_function("birth_date", |b| b.iter(|| BirthDate::parse(black_box("17.05.1990"), today)));
    g.finish();
}

criterion_group!(benches, parsers);
criterion_main!(benches);
