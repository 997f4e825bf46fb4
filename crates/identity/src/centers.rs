//! The directory of service centres (МФЦ, client offices of the Social Fund, tax offices,
//! post offices) where a person confirms their identity in person. The list ships as
//! `data/centers.toml`, compiled in; every start loads it into the database (added and
//! updated by id, centres no longer listed hidden), so the pages, the API and staff
//! accounts (an operator belongs to a centre) read one table.

use chrono::{DateTime, Utc};
use domain::ident::Phone;
use serde::{Deserialize, Serialize};
use store::Db;
use store::staff::{self as rows, CenterRow};

/// The shipped list.
const BUILTIN: &str = include_str!("../data/centers.toml");

/// What a centre is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CenterKind {
    /// A multifunctional centre «Мои документы».
    Mfc,
    /// A client office of the Social Fund (СФР).
    Sfr,
    /// A tax office (ФНС).
    Fns,
    /// A post office (Почта России).
    Post,
}

impl CenterKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Mfc => "mfc",
            Self::Sfr => "sfr",
            Self::Fns => "fns",
            Self::Post => "post",
        }
    }

    /// The Russian name of the kind.
    pub fn label(self) -> &'static str {
        match self {
            Self::Mfc => "МФЦ «Мои документы»",
            Self::Sfr => "Клиентская служба СФР",
            Self::Fns => "Инспекция ФНС",
            Self::Post => "Почта России",
        }
    }

    fn parse(code: &str) -> Option<Self> {
        [Self::Mfc, Self::Sfr, Self::Fns, Self::Post].into_iter().find(|k| k.code() == code)
    }
}

/// A service centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Center {
    pub id: String,
    pub name: String,
    pub kind: CenterKind,
    pub region: String,
    pub city: String,
    pub address: String,
    pub phone: String,
    /// Monday to Sunday: `"08:00-20:00"`, or `""` for a day off.
    pub hours: [String; 7],
}

/// The Russian short names of the weekdays, Monday first.
pub const WEEKDAYS: [&str; 7] = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"];

impl Center {
    fn row(&self) -> CenterRow {
        CenterRow {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: self.kind.code().to_owned(),
            region: self.region.clone(),
            city: self.city.clone(),
            address: self.address.clone(),
            phone: self.phone.clone(),
            hours: serde_json::to_string(&self.hours).unwrap_or_else(|_| "[]".into()),
            search: search_key(&format!(
                "{} {} {} {}",
                self.name,
                self.city,
                self.address,
                self.kind.label()
            )),
        }
    }

    fn from_row(r: CenterRow) -> Option<Self> {
        Some(Self {
            kind: CenterKind::parse(&r.kind)?,
            hours: serde_json::from_str(&r.hours).ok()?,
            id: r.id,
            name: r.name,
            region: r.region,
            city: r.city,
            address: r.address,
            phone: r.phone,
        })
    }
}

/// Lower case, «ё» as «е», single spaces: how the text filter compares.
pub fn search_key(text: &str) -> String {
    text.to_lowercase().replace('ё', "е").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A centres file that does not parse or breaks a rule; names the centre and the field.
#[derive(Debug, thiserror::Error)]
#[error("centres file: {0}")]
pub struct CentersError(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    center: Vec<Center>,
}

fn hours_ok(h: &str) -> bool {
    if h.is_empty() {
        return true;
    }
    let time =
        |t: &str| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok().filter(|_| t.len() == 5);
    match h.split_once('-') {
        Some((from, to)) => matches!((time(from), time(to)), (Some(a), Some(b)) if a < b),
        None => false,
    }
}

/// Parses and checks a centres file: unique ids of `a-z0-9-`, text fields filled, phones
/// Russian, hours `ЧЧ:ММ-ЧЧ:ММ` or empty.
pub fn parse(text: &str) -> Result<Vec<Center>, CentersError> {
    let file: File = toml::from_str(text).map_err(|e| CentersError(e.to_string()))?;
    let mut seen = std::collections::HashSet::new();
    for c in &file.center {
        let bad = |field: &str, why: &str| CentersError(format!("{}: {field}: {why}", c.id));
        if c.id.is_empty()
            || !c.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad("id", "только латинские строчные буквы, цифры и дефис"));
        }
        if !seen.insert(c.id.as_str()) {
            return Err(bad("id", "повторяется"));
        }
        for (field, value) in
            [("name", &c.name), ("region", &c.region), ("city", &c.city), ("address", &c.address)]
        {
            if value.trim().is_empty() {
                return Err(bad(field, "не заполнено"));
            }
        }
        Phone::parse(&c.phone).map_err(|e| bad("phone", &e.to_string()))?;
        if let Some(h) = c.hours.iter().find(|h| !hours_ok(h)) {
            return Err(bad("hours", &format!("«{h}»: ожидается ЧЧ:ММ-ЧЧ:ММ или пусто")));
        }
    }
    Ok(file.center)
}

/// The shipped list.
pub fn builtin() -> Result<Vec<Center>, CentersError> {
    parse(BUILTIN)
}

/// What a sync changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Synced {
    pub loaded: usize,
    pub hidden: u64,
}

/// Loads `centers` into the database in one transaction: each is added or updated, and
/// every centre not among them is hidden from the directory.
pub async fn sync(
    db: &Db,
    centers: &[Center],
    now: DateTime<Utc>,
) -> Result<Synced, store::StoreError> {
    let now_us = store::to_micros(now);
    let mut tx = db.begin().await?;
    for c in centers {
        rows::upsert_center(&mut tx, &c.row(), now_us).await?;
    }
    let hidden = rows::deactivate_centers_before(&mut tx, now_us).await?;
    tx.commit().await?;
    Ok(Synced { loaded: centers.len(), hidden })
}

/// The directory's filter: a city (exact, from the list) and free text.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CenterFilter {
    pub city: String,
    pub q: String,
}

/// Centres that match the filter, by city and name.
pub async fn find(db: &Db, filter: &CenterFilter) -> Result<Vec<Center>, store::StoreError> {
    let city = filter.city.trim();
    let q = search_key(&filter.q);
    let rows = rows::find_centers(
        db,
        (!city.is_empty()).then_some(city),
        (!q.is_empty()).then_some(q.as_str()),
    )
    .await?;
    Ok(rows.into_iter().filter_map(Center::from_row).collect())
}

/// The cities the directory offers in its filter.
pub async fn cities(db: &Db) -> Result<Vec<String>, store::StoreError> {
    rows::center_cities(db).await
}

/// One centre by id (hidden ones too: staff may still belong to them).
pub async fn get(conn: &mut store::Conn, id: &str) -> Result<Option<Center>, store::StoreError> {
    Ok(rows::center_by_id(conn, id).await?.and_then(Center::from_row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_parses() {
        let list = builtin().unwrap();
        assert!(list.len() >= 10, "{}", list.len());
        assert!(list.iter().any(|c| c.kind == CenterKind::Sfr));
        assert!(list.iter().any(|c| c.id == "mfc-moskva-tverskoy"));
    }

    #[test]
    fn bad_entries_are_named() {
        let base = r#"[[center]]
id = "x-1"
name = "МФЦ"
kind = "mfc"
region = "Москва"
city = "Москва"
address = "ул. Тверская, д. 1"
phone = "+7 495 555-01-10"
hours = ["08:00-20:00", "", "", "", "", "", ""]
"#;
        assert_eq!(parse(base).unwrap().len(), 1);
        let e = parse(&base.replace("08:00-20:00", "20:00-08:00")).unwrap_err();
        assert!(e.to_string().contains("x-1: hours"), "{e}");
        let e = parse(&base.replace("+7 495 555-01-10", "12")).unwrap_err();
        assert!(e.to_string().contains("x-1: phone"), "{e}");
        let e = parse(&base.replace("x-1", "X 1")).unwrap_err();
        assert!(e.to_string().contains("id"), "{e}");
        assert!(parse(&base.replace("mfc", "bank")).is_err());
    }

    #[test]
    fn search_ignores_case_and_yo() {
        assert_eq!(search_key("  Трёхсвятская   УЛ. "), "трехсвятская ул.");
    }
}
