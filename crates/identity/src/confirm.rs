//! The confirmed account («подтверждённая»): the one step every confirmation route ends
//! with. A route (service centre, registered letter, bank, qualified signature) proves the
//! person in its own way and then calls [`Identity::confirm_account`] inside its own
//! transaction, so the proof being used up and the level being raised commit together.

use chrono::{DateTime, Utc};
use journal::{ActorKind, Event, Origin, Outcome};
use notify::Template;
use store::documents as rows;

use crate::{Identity, IdentityError};

/// How an account was confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmRoute {
    /// In person, by an operator of a service centre (МФЦ).
    ServiceCenter,
    /// With the code of a registered letter.
    Letter,
    /// With the verified data of a trusted bank.
    Bank,
    /// With a qualified electronic signature.
    Signature,
}

impl ConfirmRoute {
    /// A stable code for the journal and the API.
    pub fn code(self) -> &'static str {
        match self {
            Self::ServiceCenter => "service_center",
            Self::Letter => "letter",
            Self::Bank => "bank",
            Self::Signature => "signature",
        }
    }

    /// The Russian phrase that completes «учётная запись подтверждена …».
    pub fn phrase(self) -> &'static str {
        match self {
            Self::ServiceCenter => "в центре обслуживания",
            Self::Letter => "кодом из заказного письма",
            Self::Bank => "через банк",
            Self::Signature => "квалифицированной электронной подписью",
        }
    }
}

/// Who confirmed: the person themselves (letter, bank, signature) or an operator.
#[derive(Debug, Clone, Copy)]
pub enum Confirmer<'a> {
    Citizen,
    Operator { staff_id: &'a str },
}

impl Identity {
    /// Whether the account may be confirmed now: it must be standard (its documents
    /// verified by the registries) and not yet confirmed.
    pub async fn may_confirm(&self, account_id: &str) -> Result<(), IdentityError> {
        may_confirm_in(&mut *self.db.conn().await?, account_id).await
    }

    /// Raises a standard account to confirmed inside the caller's transaction, journals
    /// the route (with `details`, which must hold no personal data) and tells the person.
    // Every argument is a distinct fact of the confirmation; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub async fn confirm_account(
        &self,
        tx: &mut store::Conn,
        account_id: &str,
        route: ConfirmRoute,
        by: Confirmer<'_>,
        origin: &Origin,
        details: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        may_confirm_in(tx, account_id).await?;
        let contacts = self.confirmed_contacts_in(tx, account_id).await?;
        rows::set_level(tx, account_id, "confirmed", crate::to_micros(now)).await?;
        let (actor, actor_id) = match by {
            Confirmer::Citizen => (ActorKind::Citizen, Some(account_id)),
            Confirmer::Operator { staff_id } => (ActorKind::Operator, Some(staff_id)),
        };
        let mut details = details;
        if let Some(map) = details.as_object_mut() {
            map.insert("route".into(), route.code().into());
        }
        let event = Event {
            at: now,
            actor,
            actor_id,
            subject_id: Some(account_id),
            action: "account.confirmed",
            outcome: Outcome::Ok,
            origin,
            details,
        };
        journal::record(tx, &event).await?;
        self.notify(
            tx,
            &contacts,
            &Template::AccountConfirmed { route: route.phrase().into() },
            now,
        )
        .await?;
        Ok(())
    }
}

async fn may_confirm_in(conn: &mut store::Conn, account_id: &str) -> Result<(), IdentityError> {
    let account = store::identity::account_in(conn, account_id)
        .await?
        .ok_or(IdentityError::RegistrationGone)?;
    match account.level.as_str() {
        "confirmed" => Err(IdentityError::AlreadyConfirmed),
        "standard" => Ok(()),
        _ => Err(IdentityError::NotStandard),
    }
}
