//! `uslugi registry import FILE`: loading persons, invalid passports and organizations
//! from CSV or JSON into the embedded registry.
//!
//! **CSV** (UTF-8, comma-separated, first line is the header; the header says what the
//! file holds):
//!
//! * persons: `surname,given_name,patronymic,birth_date,birth_place,passport,
//!   passport_issued_on,passport_issued_by,passport_division,snils,inn,address`;
//! * invalid passports: `passport,reason,since`;
//! * organizations: `kind,inn,ogrn,kpp,name,short_name,status,liquidating,registered_on,
//!   address,head_name,head_position,activities` — `kind` is `legal` or `entrepreneur`,
//!   `activities` is `код название; код название` with the main one first.
//!
//! Dates are `ДД.ММ.ГГГГ` or `ГГГГ-ММ-ДД`; a passport is `NNNN NNNNNN`.
//!
//! **JSON**: `{"persons": [...], "invalid_passports": [...], "organizations": [...]}`,
//! each item an object with the same names as the CSV columns.
//!
//! Every row is checked field by field; a bad row is rejected with its line (CSV) or item
//! number (JSON), the field and the reason, and the rest are loaded. A SNILS, passport or
//! INN repeated within the file is rejected on its second appearance.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

use chrono::NaiveDate;
use domain::FieldError;
use domain::ident::{
    DivisionCode, Inn, InnKind, Kpp, NamePart, Ogrn, Ogrnip, Passport, Snils, free_text,
    parse_past_date,
};

use crate::model::{Activity, Head, InvalidPassport, OrgKind, Organization, PersonRecord};
use crate::{EmbeddedRegistry, RegistryError};

/// Rows loaded per transaction.
const BATCH: usize = 5_000;
/// The longest free-text value (address, issuing authority, names of organizations).
const TEXT_MAX: usize = 500;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Persons,
    InvalidPassports,
    Organizations,
}

impl Kind {
    fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Persons => &[
                "surname",
                "given_name",
                "patronymic",
                "birth_date",
                "birth_place",
                "passport",
                "passport_issued_on",
                "passport_issued_by",
                "passport_division",
                "snils",
                "inn",
                "address",
            ],
            Self::InvalidPassports => &["passport", "reason", "since"],
            Self::Organizations => &[
                "kind",
                "inn",
                "ogrn",
                "kpp",
                "name",
                "short_name",
                "status",
                "liquidating",
                "registered_on",
                "address",
                "head_name",
                "head_position",
                "activities",
            ],
        }
    }

    /// The kind whose required columns a header has.
    fn of_header(header: &[String]) -> Option<Self> {
        let has = |c: &str| header.iter().any(|h| h == c);
        if has("snils") {
            Some(Self::Persons)
        } else if has("ogrn") {
            Some(Self::Organizations)
        } else if has("reason") {
            Some(Self::InvalidPassports)
        } else {
            None
        }
    }
}

/// The Russian name of a column, for the report.
fn label(column: &str) -> &'static str {
    match column {
        "surname" => "Фамилия",
        "given_name" => "Имя",
        "patronymic" => "Отчество",
        "birth_date" => "Дата рождения",
        "birth_place" => "Место рождения",
        "passport" => "Серия и номер паспорта",
        "passport_issued_on" => "Дата выдачи паспорта",
        "passport_issued_by" => "Кем выдан паспорт",
        "passport_division" => "Код подразделения",
        "snils" => "СНИЛС",
        "inn" => "ИНН",
        "address" => "Адрес",
        "reason" => "Причина",
        "since" => "Дата",
        "kind" => "Вид",
        "ogrn" => "ОГРН/ОГРНИП",
        "kpp" => "КПП",
        "name" => "Наименование",
        "short_name" => "Сокращённое наименование",
        "status" => "Статус",
        "liquidating" => "В стадии ликвидации",
        "registered_on" => "Дата регистрации",
        "head_name" => "Руководитель",
        "head_position" => "Должность руководителя",
        "activities" => "ОКВЭД",
        _ => "запись",
    }
}

/// A rejected row: where, which field, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// CSV line (the header is line 1) or JSON item number (from 1).
    pub line: u64,
    /// The field's Russian name.
    pub field: &'static str,
    pub reason: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "строка {}, поле «{}»: {}", self.line, self.field, self.reason)
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub persons: u64,
    pub invalid_passports: u64,
    pub organizations: u64,
    pub rejected: Vec<Rejected>,
}

/// How far an import is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub bytes_read: u64,
    pub total_bytes: u64,
    pub loaded: u64,
    pub rejected: u64,
}

/// Why a file could not be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("не удалось прочитать {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Format(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// One parsed row, ready to load.
enum Item {
    Person(PersonRecord),
    Invalid(InvalidPassport),
    Org(Organization),
}

/// Values by column name.
type Fields = BTreeMap<String, String>;

/// Checks rows and remembers identifiers already seen in the file.
struct Checker {
    today: NaiveDate,
    seen: HashSet<String>,
}

impl Checker {
    fn check(&mut self, kind: Kind, line: u64, f: &Fields) -> Result<Item, Vec<Rejected>> {
        let mut errors = Vec::new();
        let item = match kind {
            Kind::Persons => self.person(line, f, &mut errors).map(Item::Person),
            Kind::InvalidPassports => self.invalid(line, f, &mut errors).map(Item::Invalid),
            Kind::Organizations => self.org(line, f, &mut errors).map(Item::Org),
        };
        match item {
            Some(item) if errors.is_empty() => Ok(item),
            _ => Err(errors),
        }
    }

    fn person(
        &mut self,
        line: u64,
        f: &Fields,
        errors: &mut Vec<Rejected>,
    ) -> Option<PersonRecord> {
        let mut e = Errors { line, errors };
        let surname = e.field(f, "surname", |v| NamePart::parse(v).map(|n| n.as_str().to_owned()));
        let given_name =
            e.field(f, "given_name", |v| NamePart::parse(v).map(|n| n.as_str().to_owned()));
        let patronymic =
            e.optional(f, "patronymic", |v| NamePart::parse(v).map(|n| n.as_str().to_owned()));
        let today = self.today;
        let birth_date = e.field(f, "birth_date", |v| parse_past_date(v, today));
        let birth_place = e.field(f, "birth_place", text);
        let passport = e.field(f, "passport", Passport::parse);
        let issued_on = e.field(f, "passport_issued_on", |v| parse_past_date(v, today));
        let issued_by = e.field(f, "passport_issued_by", text);
        let division = e.field(f, "passport_division", DivisionCode::parse);
        let snils = e.field(f, "snils", Snils::parse);
        let inn = e.optional(f, "inn", Inn::parse_person);
        let address = e.field(f, "address", text);
        if let (Some(b), Some(i)) = (birth_date, issued_on)
            && i < b
        {
            e.reject("passport_issued_on", "паспорт выдан раньше даты рождения".into());
        }
        if let Some(s) = &snils {
            e.unique(&mut self.seen, "snils", format!("snils {}", s.digits()));
        }
        if let Some(p) = &passport {
            e.unique(&mut self.seen, "passport", format!("passport {p}"));
        }
        if let Some(Some(i)) = &inn {
            e.unique(&mut self.seen, "inn", format!("inn {i}"));
        }
        Some(PersonRecord {
            surname: surname?,
            given_name: given_name?,
            patronymic: patronymic?,
            birth_date: birth_date?,
            birth_place: birth_place?,
            passport: passport?,
            passport_issued_on: issued_on?,
            passport_issued_by: issued_by?,
            passport_division: division?,
            snils: snils?,
            inn: inn?,
            address: address?,
        })
    }

    fn invalid(
        &mut self,
        line: u64,
        f: &Fields,
        errors: &mut Vec<Rejected>,
    ) -> Option<InvalidPassport> {
        let mut e = Errors { line, errors };
        let today = self.today;
        let passport = e.field(f, "passport", Passport::parse);
        let reason = e.field(f, "reason", text);
        let since = e.optional(f, "since", |v| parse_past_date(v, today));
        if let Some(p) = &passport {
            e.unique(&mut self.seen, "passport", format!("invalid {p}"));
        }
        Some(InvalidPassport { passport: passport?, reason: reason?, since: since? })
    }

    fn org(&mut self, line: u64, f: &Fields, errors: &mut Vec<Rejected>) -> Option<Organization> {
        let mut e = Errors { line, errors };
        let today = self.today;
        let kind = e.field(f, "kind", |v| match v.trim() {
            "legal" | "юл" | "ЮЛ" => Ok(OrgKind::Legal),
            "entrepreneur" | "ип" | "ИП" => Ok(OrgKind::Entrepreneur),
            _ => Err(FieldError::Format { expected: "legal или entrepreneur" }),
        });
        let inn = e.field(f, "inn", Inn::parse);
        let ogrn = e.field(f, "ogrn", |v| match kind {
            Some(OrgKind::Entrepreneur) => Ogrnip::parse(v).map(|o| o.as_str().to_owned()),
            _ => Ogrn::parse(v).map(|o| o.as_str().to_owned()),
        });
        let kpp = e.optional(f, "kpp", Kpp::parse);
        let name = e.field(f, "name", text);
        let short_name = e.optional(f, "short_name", text);
        let status = e.field(f, "status", text);
        let liquidating = e.optional(f, "liquidating", |v| match v.trim() {
            "true" | "1" | "да" => Ok(true),
            "false" | "0" | "нет" => Ok(false),
            _ => Err(FieldError::Format { expected: "true или false" }),
        });
        let registered_on = e.field(f, "registered_on", |v| parse_past_date(v, today));
        let address = e.field(f, "address", text);
        let head_name = e.optional(f, "head_name", text);
        let head_position = e.optional(f, "head_position", text);
        let activities = e.optional(f, "activities", activities);
        if let (Some(k), Some(i)) = (kind, &inn) {
            let expected = match k {
                OrgKind::Legal => InnKind::Organization,
                OrgKind::Entrepreneur => InnKind::Person,
            };
            if i.kind() != expected {
                let reason = match k {
                    OrgKind::Legal => "у организации ИНН из 10 цифр",
                    OrgKind::Entrepreneur => "у предпринимателя ИНН из 12 цифр",
                };
                e.reject("inn", reason.into());
            }
            e.unique(&mut self.seen, "inn", format!("org {i}"));
        }
        if kind == Some(OrgKind::Legal) && matches!(kpp, Some(None)) {
            e.reject("kpp", "у организации должен быть КПП".into());
        }
        let head = match (head_name?, head_position?) {
            (Some(name), Some(position)) => Some(Head { name, position }),
            (Some(name), None) => Some(Head { name, position: "Руководитель".into() }),
            _ => None,
        };
        Some(Organization {
            kind: kind?,
            inn: inn?,
            ogrn: ogrn?,
            kpp: kpp?,
            name: name?,
            short_name: short_name?,
            status: status?,
            liquidating: liquidating?.unwrap_or(false),
            registered_on: registered_on?,
            address: address?,
            head,
            activities: activities?.unwrap_or_default(),
        })
    }
}

/// Collects the errors of one row.
struct Errors<'a> {
    line: u64,
    errors: &'a mut Vec<Rejected>,
}

impl Errors<'_> {
    fn reject(&mut self, column: &str, reason: String) {
        self.errors.push(Rejected { line: self.line, field: label(column), reason });
    }

    /// A required value, parsed.
    fn field<T>(
        &mut self,
        f: &Fields,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        match parse(f.get(column).map_or("", String::as_str)) {
            Ok(v) => Some(v),
            Err(e) => {
                self.reject(column, e.to_string());
                None
            }
        }
    }

    /// An optional value: `Some(None)` when empty, `None` when present and wrong.
    fn optional<T>(
        &mut self,
        f: &Fields,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<Option<T>> {
        match f.get(column).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Some(None),
            Some(v) => self.field(f, column, |_| parse(v)).map(Some),
        }
    }

    fn unique(&mut self, seen: &mut HashSet<String>, column: &str, key: String) {
        if !seen.insert(key) {
            self.reject(column, "значение уже встречалось в файле выше".into());
        }
    }
}

fn text(v: &str) -> Result<String, FieldError> {
    free_text(v, TEXT_MAX)
}

fn activities(v: &str) -> Result<Vec<Activity>, FieldError> {
    v.split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            let (code, name) = a.split_once(' ').unwrap_or((a, ""));
            let shape = !code.is_empty()
                && code.split('.').all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
                && code.split('.').count() <= 3;
            if shape {
                Ok(Activity { code: code.to_owned(), name: name.trim().to_owned() })
            } else {
                Err(FieldError::Format {
                    expected: "«код название; …», код вида 62.01"
                })
            }
        })
        .collect()
}

/// Buffers parsed rows and loads them in batches.
struct Loader<'a> {
    registry: &'a EmbeddedRegistry,
    persons: Vec<PersonRecord>,
    invalid: Vec<InvalidPassport>,
    orgs: Vec<Organization>,
    summary: Summary,
}

impl Loader<'_> {
    async fn push(&mut self, item: Item) -> Result<(), RegistryError> {
        match item {
            Item::Person(p) => self.persons.push(p),
            Item::Invalid(p) => self.invalid.push(p),
            Item::Org(o) => self.orgs.push(o),
        }
        if self.persons.len() + self.invalid.len() + self.orgs.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), RegistryError> {
        let sealed: Vec<_> = self.persons.iter().map(|p| self.registry.seal(p)).collect();
        let mut bulk = self.registry.bulk().await?;
        bulk.persons(&sealed).await?;
        bulk.invalid_passports(&self.invalid).await?;
        bulk.organizations(&self.orgs).await?;
        bulk.finish().await?;
        self.summary.persons += self.persons.len() as u64;
        self.summary.invalid_passports += self.invalid.len() as u64;
        self.summary.organizations += self.orgs.len() as u64;
        self.persons.clear();
        self.invalid.clear();
        self.orgs.clear();
        Ok(())
    }

    fn loaded(&self) -> u64 {
        let s = &self.summary;
        s.persons + s.invalid_passports + s.organizations
    }
}

/// Counts bytes as a reader is consumed.
struct Counting<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Imports `path` (CSV or JSON, told by the extension or, failing that, the first
/// character) into `registry`. `today` bounds dates; `progress` is called now and then.
pub async fn import_file(
    registry: &EmbeddedRegistry,
    path: &Path,
    today: NaiveDate,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, ImportError> {
    let io = |source| ImportError::Io { path: path.display().to_string(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let total_bytes = file.metadata().map_err(io)?.len();
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut reader = std::io::BufReader::new(Counting { inner: file, read: read.clone() });
    let json = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => true,
        Some(e) if e.eq_ignore_ascii_case("csv") => false,
        _ => {
            use std::io::BufRead;
            let head = reader.fill_buf().map_err(io)?;
            head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        }
    };
    let mut checker = Checker { today, seen: HashSet::new() };
    let mut loader = Loader {
        registry,
        persons: Vec::new(),
        invalid: Vec::new(),
        orgs: Vec::new(),
        summary: Summary::default(),
    };
    let mut report = |loader: &Loader<'_>| {
        progress(Progress {
            bytes_read: read.load(std::sync::atomic::Ordering::Relaxed),
            total_bytes,
            loaded: loader.loaded(),
            rejected: loader.summary.rejected.len() as u64,
        });
    };
    if json {
        let value: serde_json::Value = serde_json::from_reader(&mut reader)
            .map_err(|e| ImportError::Format(format!("файл не является корректным JSON: {e}")))?;
        let serde_json::Value::Object(root) = value else {
            return Err(ImportError::Format(
                "ожидается объект {\"persons\": [...], \"invalid_passports\": [...], \
                 \"organizations\": [...]}"
                    .into(),
            ));
        };
        for (key, kind) in [
            ("persons", Kind::Persons),
            ("invalid_passports", Kind::InvalidPassports),
            ("organizations", Kind::Organizations),
        ] {
            let Some(items) = root.get(key) else { continue };
            let Some(items) = items.as_array() else {
                return Err(ImportError::Format(format!("«{key}» должен быть массивом")));
            };
            for (i, item) in items.iter().enumerate() {
                let line = i as u64 + 1;
                match json_fields(item)
                    .map_err(|reason| vec![Rejected { line, field: "запись", reason }])
                    .and_then(|f| checker.check(kind, line, &f))
                {
                    Ok(item) => loader.push(item).await?,
                    Err(mut rejected) => loader.summary.rejected.append(&mut rejected),
                }
                if line.is_multiple_of(1_000) {
                    report(&loader);
                }
            }
        }
    } else {
        let mut csv =
            csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(reader);
        let header: Vec<String> = csv
            .headers()
            .map_err(|e| ImportError::Format(format!("не удалось прочитать заголовок CSV: {e}")))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
            .collect();
        let kind = Kind::of_header(&header).ok_or_else(|| {
            ImportError::Format(
                "по заголовку не понять, что в файле: нужен столбец snils (граждане), ogrn \
                 (организации) или reason (недействительные паспорта)"
                    .into(),
            )
        })?;
        let unknown: Vec<_> =
            header.iter().filter(|h| !kind.columns().contains(&h.as_str())).cloned().collect();
        if !unknown.is_empty() {
            return Err(ImportError::Format(format!(
                "неизвестные столбцы: {}; ожидаются: {}",
                unknown.join(", "),
                kind.columns().join(", ")
            )));
        }
        let mut record = csv::StringRecord::new();
        loop {
            let more = match csv.read_record(&mut record) {
                Ok(more) => more,
                Err(e) => {
                    let line = e.position().map_or(0, csv::Position::line);
                    loader.summary.rejected.push(Rejected {
                        line,
                        field: "запись",
                        reason: format!("строка не читается как CSV: {e}"),
                    });
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        break;
                    }
                    continue;
                }
            };
            if !more {
                break;
            }
            let line = record.position().map_or(0, csv::Position::line);
            let fields: Fields =
                header.iter().cloned().zip(record.iter().map(str::to_owned)).collect();
            if record.len() != header.len() {
                loader.summary.rejected.push(Rejected {
                    line,
                    field: "запись",
                    reason: format!(
                        "в строке {} значений, а в заголовке {}",
                        record.len(),
                        header.len()
                    ),
                });
                continue;
            }
            match checker.check(kind, line, &fields) {
                Ok(item) => loader.push(item).await?,
                Err(mut rejected) => loader.summary.rejected.append(&mut rejected),
            }
            if line.is_multiple_of(1_000) {
                report(&loader);
            }
        }
    }
    loader.flush().await?;
    report(&loader);
    Ok(loader.summary)
}

/// A JSON item as column values: strings as they are, numbers and booleans as text.
fn json_fields(item: &serde_json::Value) -> Result<Fields, String> {
    let serde_json::Value::Object(map) = item else {
        return Err("запись должна быть объектом".into());
    };
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return Err(format!("поле «{}»: ожидается строка", label(k))),
            };
            Ok((k.clone(), text))
        })
        .collect()
}
