//! Finding the customer of an incoming order or lead, or creating it, without duplicates.

use crm_domain::parties::contacts::{email_key, LifecycleStage};

use crate::parties::companies::{self, CompanyFields};
use crate::parties::contacts::{self, ContactFields};
use crate::platform::db::lock_key;
use crate::platform::db::DbConnection;
use crate::StoreError;

/// The person (and company) an order or lead names. `phone` is already E.164.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerRef {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
}

/// Who was matched or created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matched {
    pub contact_id: Option<String>,
    pub contact_created: bool,
    pub company_id: Option<String>,
    pub company_created: bool,
}

/// The live company of that exact name, or a new one.
pub fn company_by_name(conn: &mut DbConnection, name: &str) -> Result<(String, bool), StoreError> {
    lock_key(conn, &format!("company-name:{}", name.to_lowercase()))?;
    if let Some(id) = companies::find_active_by_name(conn, name)? {
        return Ok((id, false));
    }
    let company = companies::create(conn, CompanyFields::named(name.to_owned()))?;
    Ok((company.id, true))
}

/// Matches the customer by email (then, when `match_phone`, by phone) to a live contact, or
/// creates one; links or creates the company. With `stage`, the contact moves to that
/// lifecycle stage.
pub fn match_or_create(
    conn: &mut DbConnection,
    customer: &CustomerRef,
    company_id: Option<String>,
    match_phone: bool,
    stage: Option<LifecycleStage>,
) -> Result<Matched, StoreError> {
    let mut matched = Matched::default();
    if let Some(id) = &company_id {
        companies::ensure_active(conn, id, "company_id")?;
        matched.company_id = Some(id.clone());
    } else if let Some(name) = &customer.company_name {
        let (id, created) = company_by_name(conn, name)?;
        matched.company_id = Some(id);
        matched.company_created = created;
    }
    if let Some(email) = &customer.email {
        lock_key(conn, &format!("contact-email:{}", email_key(email)))?;
    }
    let existing = match (&customer.email, &customer.phone) {
        (Some(email), _) => contacts::find_active_by_email(conn, email)?,
        _ => None,
    };
    let existing = match (existing, &customer.phone) {
        (None, Some(phone)) if match_phone => contacts::find_active_by_phone(conn, phone)?,
        (found, _) => found,
    };
    if let Some(contact) = existing {
        let mut company_of_contact = contact.fields.company_id.clone();
        let may_link = contact.fields.company_id.is_none() && matched.company_id.is_some();
        let may_stage = stage.is_some_and(|s| contact.fields.lifecycle_stage != s);
        if may_link || may_stage {
            let company = matched.company_id.clone();
            // Decided again on the contact as locked, so that a concurrent edit is kept.
            let updated = contacts::update(conn, &contact.id, None, |fields| {
                if fields.company_id.is_none() {
                    fields.company_id = company;
                }
                if let Some(stage) = stage {
                    fields.lifecycle_stage = stage;
                }
                Ok(())
            })?;
            company_of_contact = updated.fields.company_id;
        }
        if matched.company_id.is_none() {
            matched.company_id = company_of_contact;
        }
        matched.contact_id = Some(contact.id);
        return Ok(matched);
    }
    if customer.email.is_none() && customer.phone.is_none() && customer.last_name.is_none() {
        return Ok(matched);
    }
    let last_name = customer
        .last_name
        .clone()
        .or_else(|| customer.email.clone())
        .or_else(|| customer.phone.clone())
        .unwrap_or_default();
    let contact = contacts::create(
        conn,
        ContactFields {
            company_id: matched.company_id.clone(),
            first_name: customer.first_name.clone(),
            last_name,
            email: customer.email.clone(),
            phone: customer.phone.clone(),
            lifecycle_stage: stage.unwrap_or_default(),
            ..ContactFields::default()
        },
    )?;
    matched.contact_id = Some(contact.id);
    matched.contact_created = true;
    Ok(matched)
}
