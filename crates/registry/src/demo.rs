//! A realistic synthetic registry: `uslugi registry demo --persons N --orgs M`, and the
//! small set a newcomer's first run loads.
//!
//! Every identifier has valid control digits and is unique: SNILS, passports and INNs
//! come from affine permutations of the record's index (`a·i + b mod m` with `a` coprime
//! to `m`), so any index range can be generated independently and in parallel, and the
//! same seed gives the same dataset.

use chrono::{Datelike, Duration, NaiveDate};
use domain::ident::{DivisionCode, Inn, Kpp, Ogrn, Ogrnip, Passport, Snils};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::model::{Activity, Head, InvalidPassport, OrgKind, Organization, PersonRecord};
use crate::{EmbeddedRegistry, RegistryError};

const MALE_SURNAMES: &[&str] = &[
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Воробьёв",
    "Сергеев",
    "Кузьмин",
    "Фролов",
    "Александров",
    "Дмитриев",
    "Королёв",
    "Гусев",
    "Киселёв",
    "Ильин",
    "Максимов",
    "Поляков",
    "Сорокин",
    "Виноградов",
    "Ковалёв",
    "Белов",
    "Медведев",
    "Антонов",
    "Тарасов",
    "Жуков",
    "Баранов",
    "Филиппов",
    "Комаров",
    "Давыдов",
    "Беляев",
    "Герасимов",
    "Богданов",
    "Осипов",
    "Сидоров",
    "Матвеев",
    "Титов",
    "Марков",
    "Миронов",
];
const MALE_NAMES: &[&str] = &[
    "Александр",
    "Алексей",
    "Андрей",
    "Артём",
    "Борис",
    "Вадим",
    "Василий",
    "Виктор",
    "Владимир",
    "Владислав",
    "Геннадий",
    "Георгий",
    "Григорий",
    "Денис",
    "Дмитрий",
    "Евгений",
    "Егор",
    "Иван",
    "Игорь",
    "Илья",
    "Кирилл",
    "Константин",
    "Леонид",
    "Максим",
    "Михаил",
    "Никита",
    "Николай",
    "Олег",
    "Павел",
    "Пётр",
    "Роман",
    "Сергей",
    "Степан",
    "Тимофей",
    "Фёдор",
    "Юрий",
    "Ярослав",
];
const FEMALE_NAMES: &[&str] = &[
    "Александра",
    "Алина",
    "Анастасия",
    "Анна",
    "Валентина",
    "Валерия",
    "Вера",
    "Виктория",
    "Галина",
    "Дарья",
    "Екатерина",
    "Елена",
    "Елизавета",
    "Ирина",
    "Ксения",
    "Любовь",
    "Людмила",
    "Марина",
    "Мария",
    "Наталья",
    "Надежда",
    "Нина",
    "Ольга",
    "Полина",
    "Светлана",
    "София",
    "Татьяна",
    "Юлия",
];
/// Fathers' names and their male and female patronymics.
const PATRONYMICS: &[(&str, &str)] = &[
    ("Александрович", "Александровна"),
    ("Алексеевич", "Алексеевна"),
    ("Андреевич", "Андреевна"),
    ("Борисович", "Борисовна"),
    ("Васильевич", "Васильевна"),
    ("Викторович", "Викторовна"),
    ("Владимирович", "Владимировна"),
    ("Дмитриевич", "Дмитриевна"),
    ("Евгеньевич", "Евгеньевна"),
    ("Иванович", "Ивановна"),
    ("Игоревич", "Игоревна"),
    ("Михайлович", "Михайловна"),
    ("Николаевич", "Николаевна"),
    ("Олегович", "Олеговна"),
    ("Павлович", "Павловна"),
    ("Петрович", "Петровна"),
    ("Сергеевич", "Сергеевна"),
    ("Юрьевич", "Юрьевна"),
];
/// Region code (ОКАТО, first digits of passport series and division code), city, and the
/// name used in passport issuing authorities.
const REGIONS: &[(u32, &str, &str)] = &[
    (45, "г. Москва", "г. Москвы"),
    (40, "г. Санкт-Петербург", "г. Санкт-Петербурга"),
    (46, "г. Подольск, Московская обл.", "Московской обл."),
    (52, "г. Новосибирск", "Новосибирской обл."),
    (65, "г. Екатеринбург", "Свердловской обл."),
    (92, "г. Казань", "Республики Татарстан"),
    (22, "г. Нижний Новгород", "Нижегородской обл."),
    (75, "г. Челябинск", "Челябинской обл."),
    (36, "г. Самара", "Самарской обл."),
    (60, "г. Ростов-на-Дону", "Ростовской обл."),
    (80, "г. Уфа", "Республики Башкортостан"),
    (4, "г. Красноярск", "Красноярского края"),
    (57, "г. Пермь", "Пермского края"),
    (20, "г. Воронеж", "Воронежской обл."),
    (18, "г. Волгоград", "Волгоградской обл."),
    (3, "г. Краснодар", "Краснодарского края"),
];
const STREETS: &[&str] = &[
    "ул. Ленина",
    "ул. Мира",
    "ул. Садовая",
    "ул. Советская",
    "ул. Гагарина",
    "ул. Лесная",
    "пр-т Победы",
    "ул. Набережная",
    "ул. Пушкина",
    "ул. Школьная",
    "ул. Молодёжная",
    "ул. Центральная",
    "ул. Октябрьская",
    "ул. Зелёная",
    "ул. Новая",
    "пер. Почтовый",
];
const ORG_WORDS: &[&str] = &[
    "Ромашка",
    "Вектор",
    "Север",
    "Гранит",
    "Меридиан",
    "Восход",
    "Горизонт",
    "Альянс",
    "Надежда",
    "Прогресс",
    "Рассвет",
    "Импульс",
    "Старт",
    "Сфера",
    "Орбита",
    "Парус",
    "Темп",
    "Фаворит",
    "Кедр",
    "Лотос",
];
const ORG_KINDS: &[&str] = &["Строй", "Торг", "Тех", "Софт", "Агро", "Мед", "Транс", "Пром"];
const ACTIVITIES: &[(&str, &str)] = &[
    ("62.01", "Разработка компьютерного программного обеспечения"),
    ("41.20", "Строительство жилых и нежилых зданий"),
    ("47.11", "Торговля розничная преимущественно пищевыми продуктами"),
    ("46.90", "Торговля оптовая неспециализированная"),
    ("49.41", "Деятельность автомобильного грузового транспорта"),
    ("01.11", "Выращивание зерновых культур"),
    ("86.23", "Стоматологическая практика"),
    ("70.22", "Консультирование по вопросам коммерческой деятельности и управления"),
    ("56.10", "Деятельность ресторанов и услуги по доставке продуктов питания"),
    ("68.20", "Аренда и управление собственным или арендованным недвижимым имуществом"),
    ("85.41", "Образование дополнительное детей и взрослых"),
    ("25.62", "Обработка металлических изделий механическая"),
];

fn pick<'a, T>(rng: &mut StdRng, list: &'a [T]) -> &'a T {
    &list[rng.random_range(0..list.len())]
}

/// `a·i + b mod m`: a permutation of `0..m` when `gcd(a, m) = 1`.
fn permute(i: u64, a: u64, b: u64, m: u64) -> u64 {
    ((u128::from(i) * u128::from(a) + u128::from(b)) % u128::from(m)) as u64
}

/// Dates are generated as of this day, so the same seed gives the same dataset.
fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
}

/// A synthetic person: the `i`-th of the dataset with `seed`.
fn person(rng: &mut StdRng, i: u64) -> PersonRecord {
    let female = rng.random_bool(0.53);
    let surname = pick(rng, MALE_SURNAMES);
    let (surname, given_name, patronymic) = if female {
        let (_, p) = pick(rng, PATRONYMICS);
        (format!("{surname}а"), *pick(rng, FEMALE_NAMES), *p)
    } else {
        let (p, _) = pick(rng, PATRONYMICS);
        (surname.to_string(), *pick(rng, MALE_NAMES), *p)
    };
    let age_days = rng.random_range(18 * 365..85 * 365);
    let birth_date = epoch() - Duration::days(age_days);
    // The passport is issued at 14, replaced at 20 and at 45.
    let age = epoch().years_since(birth_date).unwrap_or(18);
    let issue_age = if age >= 45 {
        45
    } else if age >= 20 {
        20
    } else {
        14
    };
    let issued_on = birth_date.with_year(birth_date.year() + issue_age).unwrap_or(birth_date)
        + Duration::days(rng.random_range(3..60));
    let &(region, city, authority) = pick(rng, REGIONS);
    let &(_, birth_city, _) = pick(rng, REGIONS);
    let slot = permute(i, 7_919_000_003, 1_234_567_891, 10_000_000_000);
    let passport = Passport::from_parts(
        &format!("{:04}", slot / 1_000_000),
        &format!("{:06}", slot % 1_000_000),
    )
    .unwrap_or_else(|_| unreachable!("four and six digits"));
    let division_text =
        format!("{region:02}{}-{:03}", rng.random_range(0..3), rng.random_range(1..100));
    let division = DivisionCode::parse(&division_text).unwrap_or_else(|_| unreachable!("NNN-NNN"));
    let snils_body = 2_000_000 + permute(i, 23_757, 98_765_432, 997_000_000);
    let snils = Snils::from_body(u32::try_from(snils_body).unwrap_or(2_000_000));
    let inn = rng.random_bool(0.9).then(|| {
        Inn::person_from_body(1_000_000_000 + permute(i, 7_919, 555_555_555, 9_000_000_000))
    });
    let address = format!(
        "{city}, {}, д. {}, кв. {}",
        pick(rng, STREETS),
        rng.random_range(1..120),
        rng.random_range(1..300)
    );
    PersonRecord {
        surname,
        given_name: given_name.to_owned(),
        patronymic: Some(patronymic.to_owned()),
        birth_date,
        birth_place: birth_city.to_owned(),
        passport,
        passport_issued_on: issued_on,
        passport_issued_by: format!(
            "Отделом УФМС России по {authority} в районе {}",
            pick(rng, ORG_WORDS)
        ),
        passport_division: division,
        snils,
        inn,
        address,
    }
}

/// Persons `start..start + count` of the dataset with `seed`.
pub fn persons(seed: u64, start: u64, count: u64) -> Vec<PersonRecord> {
    (start..start + count).map(|i| person(&mut rng_for(seed, i), i)).collect()
}

/// The generator of record `i`: each record depends on its index only.
fn rng_for(seed: u64, i: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Organizations `start..start + count` of the dataset with `seed`: four in five legal
/// entities, the rest entrepreneurs; a few liquidated or being liquidated.
pub fn organizations(seed: u64, start: u64, count: u64) -> Vec<Organization> {
    (start..start + count)
        .map(|i| {
            let mut rng = rng_for(!seed, i);
            let &(region, city, _) = pick(&mut rng, REGIONS);
            let registered_on = epoch() - Duration::days(rng.random_range(30..25 * 365));
            let yy = u64::try_from(registered_on.year() % 100).unwrap_or(0);
            let serial = permute(i, 7_919, 4_242_424, 10_000_000);
            let main = pick(&mut rng, ACTIVITIES);
            let other = pick(&mut rng, ACTIVITIES);
            let mut activities = vec![Activity { code: main.0.into(), name: main.1.into() }];
            if other.0 != main.0 {
                activities.push(Activity { code: other.0.into(), name: other.1.into() });
            }
            let roll = rng.random_range(0..100);
            let address = format!(
                "{city}, {}, д. {}, офис {}",
                pick(&mut rng, STREETS),
                rng.random_range(1..120),
                rng.random_range(1..50)
            );
            let head_person = person(&mut rng, i);
            let head_name = format!(
                "{} {} {}",
                head_person.surname,
                head_person.given_name,
                head_person.patronymic.unwrap_or_default()
            );
            if i % 5 == 4 {
                let inn = Inn::person_from_body(
                    u64::from(region) * 100_000_000 + permute(i, 7_919, 31_337, 100_000_000),
                );
                let ogrn = Ogrnip::from_body(
                    300_000_000_000_000 / 10
                        + yy * 100_000_000_000
                        + u64::from(region) * 1_000_000_000
                        + serial,
                );
                Organization {
                    kind: OrgKind::Entrepreneur,
                    inn,
                    ogrn: ogrn.as_str().to_owned(),
                    kpp: None,
                    name: format!("Индивидуальный предприниматель {head_name}"),
                    short_name: Some(format!("ИП {head_name}")),
                    status: if roll < 95 {
                        "Действующий"
                    } else {
                        "Прекратил деятельность"
                    }
                    .into(),
                    liquidating: false,
                    registered_on,
                    address,
                    head: None,
                    activities,
                }
            } else {
                let inn = Inn::organization_from_body(
                    u64::from(region) * 10_000_000 + permute(i, 7_919, 271_828, 10_000_000),
                );
                let ogrn = Ogrn::from_body(
                    100_000_000_000 + yy * 1_000_000_000 + u64::from(region) * 10_000_000 + serial,
                );
                let kpp = Kpp::parse(&format!("{}01001", &inn.as_str()[..4]))
                    .unwrap_or_else(|_| unreachable!("nine digits"));
                let word = pick(&mut rng, ORG_WORDS);
                let kind = pick(&mut rng, ORG_KINDS);
                let (status, liquidating) = match roll {
                    0..=89 => ("Действующее", false),
                    90..=94 => ("Действующее", true),
                    _ => ("Ликвидировано", false),
                };
                Organization {
                    kind: OrgKind::Legal,
                    inn,
                    ogrn: ogrn.as_str().to_owned(),
                    kpp: Some(kpp),
                    name: format!(
                        "Общество с ограниченной ответственностью «{kind}{}»",
                        word.to_lowercase()
                    ),
                    short_name: Some(format!("ООО «{kind}{}»", word.to_lowercase())),
                    status: status.into(),
                    liquidating,
                    registered_on,
                    address,
                    head: Some(Head {
                        name: head_name, position: "Генеральный директор".into()
                    }),
                    activities,
                }
            }
        })
        .collect()
}

/// Passports listed as invalid that belong to none of the generated persons (their
/// series start with 99, which the permutation of persons may also produce — the
/// dataset is synthetic; collisions only make a generated person's check fail).
pub fn invalid_passports(seed: u64, count: u64) -> Vec<InvalidPassport> {
    let mut rng = StdRng::seed_from_u64(seed.rotate_left(17));
    const REASONS: &[&str] = &[
        "утрачен",
        "заменён в связи с достижением возраста",
        "заменён в связи с изменением фамилии",
        "признан недействительным",
    ];
    (0..count)
        .map(|i| InvalidPassport {
            passport: Passport::from_parts(
                &format!("99{:02}", i / 1_000_000 % 100),
                &format!("{:06}", i % 1_000_000),
            )
            .unwrap_or_else(|_| unreachable!("four and six digits")),
            reason: (*pick(&mut rng, REASONS)).to_owned(),
            since: Some(epoch() - Duration::days(rng.random_range(1..3_000))),
        })
        .collect()
}

/// Rows generated and loaded per transaction.
const LOAD_BATCH: u64 = 10_000;

/// Generates `persons` persons, `orgs` organizations and one invalid passport per
/// hundred persons with `seed`, and loads them into `registry`. Generation and
/// encryption run on a blocking thread while the previous batch is written, so the
/// database is never idle. `progress(done, total)` follows every batch.
pub async fn load(
    registry: &EmbeddedRegistry,
    seed: u64,
    persons_count: u64,
    orgs_count: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), RegistryError> {
    let total = persons_count + orgs_count;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<store::registry::PersonRow>>(4);
    let sealer = registry.clone();
    let producer = tokio::task::spawn_blocking(move || {
        let mut start = 0;
        while start < persons_count {
            let count = LOAD_BATCH.min(persons_count - start);
            let rows: Vec<_> = persons(seed, start, count).iter().map(|p| sealer.seal(p)).collect();
            if tx.blocking_send(rows).is_err() {
                return;
            }
            start += count;
        }
    });
    let mut done = 0;
    progress(done, total);
    let mut bulk = registry.bulk().await?;
    while let Some(rows) = rx.recv().await {
        bulk.persons(&rows).await?;
        done += rows.len() as u64;
        progress(done, total);
    }
    producer.await.map_err(|e| RegistryError::Corrupt(format!("generator: {e}")))?;
    let mut start = 0;
    while start < orgs_count {
        let count = LOAD_BATCH.min(orgs_count - start);
        bulk.organizations(&organizations(seed, start, count)).await?;
        start += count;
        done += count;
        progress(done, total);
    }
    bulk.invalid_passports(&invalid_passports(seed, persons_count / 100)).await?;
    bulk.finish().await
}

/// The small set a newcomer's first run loads: the demo citizen's documents, a person
/// whose passport was replaced, 200 generated persons and 50 organizations.
pub async fn load_starter(registry: &EmbeddedRegistry) -> Result<(), RegistryError> {
    let (replaced, invalid) = demo_replaced_passport();
    registry.load_persons(&[demo_citizen(), replaced]).await?;
    registry.load_invalid_passports(&[invalid]).await?;
    load(registry, 2026, 200, 50, &mut |_, _| {}).await
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn known(text: &str) -> Passport {
    Passport::parse(text).unwrap_or_else(|_| unreachable!("a valid constant"))
}

/// The documents of the demo citizen (Демидова Мария Ивановна, whose account the first
/// run creates): entering them for a standard account gets «проверено».
pub fn demo_citizen() -> PersonRecord {
    PersonRecord {
        surname: "Демидова".into(),
        given_name: "Мария".into(),
        patronymic: Some("Ивановна".into()),
        birth_date: date(1988, 4, 12),
        birth_place: "г. Москва".into(),
        passport: known("4510 654321"),
        passport_issued_on: date(2008, 4, 25),
        passport_issued_by: "ОВД района Хамовники г. Москвы".into(),
        passport_division: DivisionCode::parse("770-005")
            .unwrap_or_else(|_| unreachable!("a valid constant")),
        snils: Snils::parse("123-456-789 64").unwrap_or_else(|_| unreachable!("a valid constant")),
        inn: Some(Inn::parse("770123456703").unwrap_or_else(|_| unreachable!("a valid constant"))),
        address: "119021, г. Москва, ул. Льва Толстого, д. 16, кв. 5".into(),
    }
}

/// A person whose passport the МВД lists as replaced: checking them shows a refusal.
pub fn demo_replaced_passport() -> (PersonRecord, InvalidPassport) {
    let person = PersonRecord {
        surname: "Петров".into(),
        given_name: "Пётр".into(),
        patronymic: Some("Сергеевич".into()),
        birth_date: date(1975, 2, 1),
        birth_place: "г. Тверь".into(),
        passport: known("4003 111222"),
        passport_issued_on: date(1995, 2, 20),
        passport_issued_by: "Отделом милиции № 3 УВД г. Твери".into(),
        passport_division: DivisionCode::parse("692-003")
            .unwrap_or_else(|_| unreachable!("a valid constant")),
        snils: Snils::parse("234-567-891 00").unwrap_or_else(|_| unreachable!("a valid constant")),
        inn: None,
        address: "170100, г. Тверь, ул. Советская, д. 5, кв. 12".into(),
    };
    let invalid = InvalidPassport {
        passport: person.passport.clone(),
        reason: "заменён в связи с достижением 45 лет".into(),
        since: Some(date(2020, 3, 1)),
    };
    (person, invalid)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn identifiers_are_unique_and_valid_across_batches() {
        let mut all = persons(7, 0, 3_000);
        all.extend(persons(7, 3_000, 3_000));
        let snils: HashSet<_> = all.iter().map(|p| p.snils.clone()).collect();
        let passports: HashSet<_> = all.iter().map(|p| p.passport.clone()).collect();
        let inns: Vec<_> = all.iter().filter_map(|p| p.inn.clone()).collect();
        assert_eq!(snils.len(), all.len());
        assert_eq!(passports.len(), all.len());
        assert_eq!(inns.iter().collect::<HashSet<_>>().len(), inns.len());
        for p in &all {
            assert!(Snils::parse(p.snils.as_str()).is_ok());
            assert!(p.passport_issued_on > p.birth_date);
        }
        assert_eq!(persons(7, 100, 5), persons(7, 100, 5), "same seed, same data");
        assert_eq!(persons(7, 102, 1)[0], all[102], "a record depends on its index only");
    }

    #[test]
    fn organizations_have_valid_numbers_of_their_kind() {
        let orgs = organizations(1, 0, 500);
        assert!(orgs.iter().any(|o| o.kind == OrgKind::Entrepreneur));
        for o in &orgs {
            match o.kind {
                OrgKind::Legal => {
                    assert!(Ogrn::parse(&o.ogrn).is_ok(), "{}", o.ogrn);
                    assert_eq!(o.inn.as_str().len(), 10);
                    assert!(o.kpp.is_some());
                }
                OrgKind::Entrepreneur => {
                    assert!(Ogrnip::parse(&o.ogrn).is_ok(), "{}", o.ogrn);
                    assert_eq!(o.inn.as_str().len(), 12);
                }
            }
        }
        let inns: HashSet<_> = orgs.iter().map(|o| o.inn.clone()).collect();
        assert_eq!(inns.len(), orgs.len());
    }
}
