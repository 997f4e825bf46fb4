//! State registries of Uslugi.
//!
//! A deployment checks a person's documents through СМЭВ: the passport at МВД (valid,
//! and issued to this person), the SNILS at СФР (belongs to this name and birth date),
//! the INN at ФНС; and it looks up organizations and entrepreneurs in ЕГРЮЛ/ЕГРИП. One
//! interface, [`Registry`], has two implementations:
//!
//! * [`EmbeddedRegistry`] (the default): a dataset in our own database, loaded with
//!   `uslugi registry import` or generated with `uslugi registry demo`;
//! * [`HttpRegistry`]: a client of a gateway that speaks the small JSON protocol in
//!   [`http`], with time-outs, retries with back-off and a circuit breaker.
//!
//! An unreachable registry is [`RegistryError::Unavailable`]: callers keep the check
//! waiting and retry later; nothing the person entered is lost.

pub mod demo;
mod embedded;
pub mod http;
pub mod import;
mod model;

pub use embedded::{BulkLoad, EmbeddedRegistry};
pub use http::{HttpRegistry, HttpSettings};
pub use model::{
    Activity, Head, InnVerdict, InvalidPassport, OrgKind, Organization, PersonCheck, PersonQuery,
    PersonRecord, Verdict, name_key,
};

/// Why a registry could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Not reachable now (network, time-out, gateway error, open circuit): retry later.
    #[error("registry unavailable: {0}")]
    Unavailable(String),
    /// Our own database failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A stored record or an answer that cannot be read.
    #[error("corrupt registry data: {0}")]
    Corrupt(String),
}

impl RegistryError {
    /// Worth retrying later (as opposed to a defect).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Store(e) => e.is_unavailable(),
            Self::Corrupt(_) => false,
        }
    }
}

/// The registries as the rest of the system sees them.
#[derive(Debug, Clone)]
pub enum Registry {
    Embedded(EmbeddedRegistry),
    Http(HttpRegistry),
}

impl Registry {
    /// The answers of МВД, СФР and ФНС about a person.
    pub async fn check_person(&self, q: &PersonQuery) -> Result<PersonCheck, RegistryError> {
        match self {
            Self::Embedded(r) => r.check_person(q).await,
            Self::Http(r) => r.check_person(q).await,
        }
    }

    /// An organization or entrepreneur by INN, ОГРН or ОГРНИП.
    pub async fn organization(
        &self,
        inn_or_ogrn: &str,
    ) -> Result<Option<Organization>, RegistryError> {
        match self {
            Self::Embedded(r) => r.organization(inn_or_ogrn).await,
            Self::Http(r) => r.organization(inn_or_ogrn).await,
        }
    }

    /// Which implementation this is, for logs and the status page.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Embedded(_) => "embedded",
            Self::Http(_) => "http",
        }
    }
}
