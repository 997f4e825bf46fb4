//! The embedded registry: the dataset lives in our own database.
//!
//! Person records are personal data: each is encrypted by the vault as one compact JSON
//! array, and found through blind indexes of the SNILS, passport and INN truncated to
//! 64 bits (a million records would otherwise spend 200 MB on index keys). A look-up
//! decrypts what the index finds and compares the document exactly, so a collision of
//! truncated indexes costs one extra decryption, never a wrong answer.

use std::sync::Arc;

use domain::ident::{Inn, Passport, Snils};
use store::Db;
use store::registry::{self as rows, PersonKey};
use store::vault::Vault;

use crate::RegistryError;
use crate::model::{
    InvalidPassport, Organization, PersonCheck, PersonQuery, PersonRecord, inn_verdict,
    passport_verdict, snils_verdict,
};

const RECORD_CONTEXT: &str = "registry_persons.data";

/// The registry over our database.
#[derive(Debug, Clone)]
pub struct EmbeddedRegistry {
    db: Db,
    vault: Arc<Vault>,
}

type Stored = (
    String,
    String,
    Option<String>,
    chrono::NaiveDate,
    String,
    Passport,
    chrono::NaiveDate,
    String,
    domain::ident::DivisionCode,
    Snils,
    Option<Inn>,
    String,
);

impl EmbeddedRegistry {
    pub fn new(db: Db, vault: Arc<Vault>) -> Self {
        Self { db, vault }
    }

    fn index(&self, kind: &str, value: &str) -> String {
        let mut full = self.vault.blind_index(kind, value);
        full.truncate(16);
        full
    }

    fn snils_index(&self, snils: &Snils) -> String {
        self.index("registry/snils", &snils.digits())
    }

    fn passport_index(&self, passport: &Passport) -> String {
        self.index("registry/passport", passport.as_str())
    }

    fn inn_index(&self, inn: &Inn) -> String {
        self.index("registry/inn", inn.as_str())
    }

    /// The stored form of a record: its indexes and the encrypted record.
    pub fn seal(&self, r: &PersonRecord) -> rows::PersonRow {
        let stored = (
            &r.surname,
            &r.given_name,
            &r.patronymic,
            r.birth_date,
            &r.birth_place,
            &r.passport,
            r.passport_issued_on,
            &r.passport_issued_by,
            &r.passport_division,
            &r.snils,
            &r.inn,
            &r.address,
        );
        // Serializing plain strings and dates cannot fail.
        let json = serde_json::to_string(&stored).unwrap_or_default();
        rows::PersonRow {
            snils_index: self.snils_index(&r.snils),
            passport_index: self.passport_index(&r.passport),
            inn_index: r.inn.as_ref().map(|i| self.inn_index(i)),
            data: self.vault.encrypt(&json, RECORD_CONTEXT),
        }
    }

    fn open(&self, data: &str) -> Result<PersonRecord, RegistryError> {
        let json = self
            .vault
            .decrypt(data, RECORD_CONTEXT)
            .map_err(|e| RegistryError::Corrupt(format!("registry record: {e}")))?;
        let s: Stored = serde_json::from_str(&json)
            .map_err(|e| RegistryError::Corrupt(format!("registry record: {e}")))?;
        Ok(PersonRecord {
            surname: s.0,
            given_name: s.1,
            patronymic: s.2,
            birth_date: s.3,
            birth_place: s.4,
            passport: s.5,
            passport_issued_on: s.6,
            passport_issued_by: s.7,
            passport_division: s.8,
            snils: s.9,
            inn: s.10,
            address: s.11,
        })
    }

    /// The record whose `key` index is `index` and whose document equals `matches` (the
    /// index is truncated, so the decrypted record is compared exactly).
    async fn find(
        &self,
        key: PersonKey,
        index: &str,
        matches: impl Fn(&PersonRecord) -> bool,
    ) -> Result<Option<PersonRecord>, RegistryError> {
        for data in rows::persons_by(&self.db, key, index).await? {
            let record = self.open(&data)?;
            if matches(&record) {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    /// The person with this SNILS.
    pub async fn person_by_snils(
        &self,
        snils: &Snils,
    ) -> Result<Option<PersonRecord>, RegistryError> {
        self.find(PersonKey::Snils, &self.snils_index(snils), |r| &r.snils == snils).await
    }

    /// The person with this passport.
    pub async fn person_by_passport(
        &self,
        passport: &Passport,
    ) -> Result<Option<PersonRecord>, RegistryError> {
        self.find(PersonKey::Passport, &self.passport_index(passport), |r| &r.passport == passport)
            .await
    }

    /// The answers of МВД, СФР and ФНС about `q`.
    pub async fn check_person(&self, q: &PersonQuery) -> Result<PersonCheck, RegistryError> {
        let by_passport = self.person_by_passport(&q.passport).await?;
        let by_snils = self.person_by_snils(&q.snils).await?;
        let by_inn = match &q.inn {
            Some(inn) => {
                self.find(PersonKey::Inn, &self.inn_index(inn), |r| r.inn.as_ref() == Some(inn))
                    .await?
            }
            None => None,
        };
        let invalid = rows::invalid_passport(&self.db, q.passport.as_str()).await?.map(|row| {
            InvalidPassport {
                passport: q.passport.clone(),
                reason: row.reason,
                since: row.since.and_then(|d| d.parse().ok()),
            }
        });
        Ok(PersonCheck {
            passport: passport_verdict(q, by_passport.as_ref(), invalid.as_ref()),
            snils: snils_verdict(q, by_snils.as_ref()),
            inn: inn_verdict(q, by_inn.as_ref(), by_passport.as_ref()),
        })
    }

    /// The organization or entrepreneur with this INN, ОГРН or ОГРНИП.
    pub async fn organization(
        &self,
        inn_or_ogrn: &str,
    ) -> Result<Option<Organization>, RegistryError> {
        rows::organization(&self.db, inn_or_ogrn.trim())
            .await?
            .map(|data| {
                serde_json::from_str(&data)
                    .map_err(|e| RegistryError::Corrupt(format!("registry organization: {e}")))
            })
            .transpose()
    }

    /// Starts a bulk load: batches go into long transactions with a large page cache.
    pub async fn bulk(&self) -> Result<BulkLoad<'_>, RegistryError> {
        let mut tx = self.db.begin().await?;
        rows::set_cache_mib(&self.db, &mut tx, BULK_CACHE_MIB).await?;
        Ok(BulkLoad { registry: self, tx: Some(tx), in_tx: 0 })
    }

    /// Loads person records (a batch must not repeat a SNILS) in one transaction.
    pub async fn load_persons(&self, records: &[PersonRecord]) -> Result<(), RegistryError> {
        let sealed: Vec<_> = records.iter().map(|r| self.seal(r)).collect();
        let mut bulk = self.bulk().await?;
        bulk.persons(&sealed).await?;
        bulk.finish().await
    }

    pub async fn load_invalid_passports(
        &self,
        list: &[InvalidPassport],
    ) -> Result<(), RegistryError> {
        let mut bulk = self.bulk().await?;
        bulk.invalid_passports(list).await?;
        bulk.finish().await
    }

    pub async fn load_organizations(&self, orgs: &[Organization]) -> Result<(), RegistryError> {
        let mut bulk = self.bulk().await?;
        bulk.organizations(orgs).await?;
        bulk.finish().await
    }

    /// Persons, invalid passports and organizations held.
    pub async fn counts(&self) -> Result<(i64, i64, i64), RegistryError> {
        Ok(rows::counts(&self.db).await?)
    }
}

/// Page cache during bulk loads: the three indexes of a million persons fit.
const BULK_CACHE_MIB: i64 = 512;
/// Rows per commit in a bulk load. Each commit writes every index page it touched, and
/// random keys touch most of them, so few large commits write far less than many small.
const ROWS_PER_COMMIT: usize = 250_000;

/// A bulk load in progress; [`BulkLoad::finish`] commits the rest. Dropped unfinished,
/// the open transaction rolls back (committed batches stay).
#[derive(Debug)]
pub struct BulkLoad<'a> {
    registry: &'a EmbeddedRegistry,
    tx: Option<store::Tx>,
    in_tx: usize,
}

impl BulkLoad<'_> {
    async fn tx(&mut self, rows: usize) -> Result<&mut store::Tx, RegistryError> {
        if self.in_tx >= ROWS_PER_COMMIT
            && let Some(tx) = self.tx.take()
        {
            tx.commit().await.map_err(store::StoreError::from)?;
            self.in_tx = 0;
        }
        if self.tx.is_none() {
            self.tx = Some(self.registry.db.begin().await?);
        }
        self.in_tx += rows;
        self.tx.as_mut().ok_or_else(|| RegistryError::Corrupt("no transaction".into()))
    }

    /// Adds sealed person rows (see [`EmbeddedRegistry::seal`]).
    pub async fn persons(&mut self, sealed: &[rows::PersonRow]) -> Result<(), RegistryError> {
        let tx = self.tx(sealed.len()).await?;
        Ok(rows::upsert_persons(tx, sealed).await?)
    }

    pub async fn invalid_passports(
        &mut self,
        list: &[InvalidPassport],
    ) -> Result<(), RegistryError> {
        let rows: Vec<_> = list
            .iter()
            .map(|p| rows::InvalidPassportRow {
                passport: p.passport.as_str().to_owned(),
                reason: p.reason.clone(),
                since: p.since.map(|d| d.to_string()),
            })
            .collect();
        let tx = self.tx(rows.len()).await?;
        Ok(rows::upsert_invalid_passports(tx, &rows).await?)
    }

    pub async fn organizations(&mut self, orgs: &[Organization]) -> Result<(), RegistryError> {
        let rows: Vec<_> = orgs
            .iter()
            .map(|o| rows::OrganizationRow {
                inn: o.inn.as_str().to_owned(),
                ogrn: o.ogrn.clone(),
                kind: o.kind.as_str().to_owned(),
                data: serde_json::to_string(o).unwrap_or_default(),
            })
            .collect();
        let tx = self.tx(rows.len()).await?;
        Ok(rows::upsert_organizations(tx, &rows).await?)
    }

    /// Commits what is left and gives the connection its usual page cache back.
    pub async fn finish(mut self) -> Result<(), RegistryError> {
        let mut tx = match self.tx.take() {
            Some(tx) => tx,
            None => self.registry.db.begin().await?,
        };
        rows::set_cache_mib(&self.registry.db, &mut tx, 64).await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(())
    }
}
