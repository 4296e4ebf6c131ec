//! Self-billing: under an agreement, the customer issues invoices for its own orders on our
//! behalf, in a dedicated series, and we accept or dispute them.

use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::billing::invoices::{InvoiceKind, InvoiceStatus};
use crm_domain::events::catalogue::EventType;
use crm_domain::Violation;
use diesel::prelude::*;

use crate::billing::invoice_series::{self, SeriesFields};
use crate::billing::invoices::{self, DraftInput, Invoice, VatMentions};
use crate::events::outbox;
use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::self_billing_agreements;
use crate::platform::stored::stored;
use crate::{new_id, now, parties::companies, sales::orders, StoreError};
use crm_domain::billing::agreements::{terminate as terminate_agreement, AgreementStatus};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = self_billing_agreements)]
pub struct Agreement {
    pub id: String,
    pub company_id: String,
    /// Where the customer's self-billed invoices are numbered.
    pub series_id: String,
    /// Where credit notes of those invoices are numbered.
    pub credit_series_id: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    /// Invoices not accepted or disputed within these days are accepted.
    pub auto_accept_days: Option<i64>,
    /// The acceptance terms agreed.
    pub terms: Option<String>,
    /// `active` or `terminated`.
    pub status: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub struct AgreementFields {
    pub company_id: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub auto_accept_days: Option<i64>,
    pub terms: Option<String>,
    /// Prefix of the agreement's series: `{prefix}` for invoices, `{prefix}R` for credit notes.
    pub series_prefix: String,
}

fn overlaps(
    a_from: NaiveDate,
    a_to: Option<NaiveDate>,
    b_from: NaiveDate,
    b_to: Option<NaiveDate>,
) -> bool {
    a_to.is_none_or(|to| to >= b_from) && b_to.is_none_or(|to| to >= a_from)
}

/// Creates an agreement and its two series. A customer has at most one active agreement for
/// any day.
pub fn create(conn: &mut DbConnection, fields: AgreementFields) -> Result<Agreement, StoreError> {
    companies::ensure_active(conn, &fields.company_id, "company_id")?;
    if fields.valid_to.is_some_and(|to| to < fields.valid_from) {
        return Err(Violation::new("valid_to", "must not be before valid_from").into());
    }
    let others: Vec<Agreement> = self_billing_agreements::table
        .filter(self_billing_agreements::company_id.eq(&fields.company_id))
        .filter(self_billing_agreements::status.eq(AgreementStatus::Active.as_str()))
        .select(Agreement::as_select())
        .load(conn)?;
    if let Some(other) = others
        .iter()
        .find(|a| overlaps(a.valid_from, a.valid_to, fields.valid_from, fields.valid_to))
    {
        return Err(StoreError::Conflict {
            message: "the customer already has an active agreement for part of this period".into(),
            existing_id: Some(other.id.clone()),
        });
    }
    let series = invoice_series::create(
        conn,
        SeriesFields {
            code: format!("SB-{}", fields.series_prefix),
            prefix: fields.series_prefix.clone(),
            kind: InvoiceKind::SelfBilled,
            is_default: false,
            yearly_reset: true,
        },
    )?;
    let credit = invoice_series::create(
        conn,
        SeriesFields {
            code: format!("SB-{}-R", fields.series_prefix),
            prefix: format!("{}R", fields.series_prefix),
            kind: InvoiceKind::SelfBilledCreditNote,
            is_default: false,
            yearly_reset: true,
        },
    )?;
    let id = new_id();
    let at = now();
    diesel::insert_into(self_billing_agreements::table)
        .values((
            self_billing_agreements::id.eq(&id),
            self_billing_agreements::company_id.eq(&fields.company_id),
            self_billing_agreements::series_id.eq(&series.id),
            self_billing_agreements::credit_series_id.eq(&credit.id),
            self_billing_agreements::valid_from.eq(fields.valid_from),
            self_billing_agreements::valid_to.eq(fields.valid_to),
            self_billing_agreements::auto_accept_days.eq(fields.auto_accept_days),
            self_billing_agreements::terms.eq(&fields.terms),
            self_billing_agreements::status.eq(AgreementStatus::Active.as_str()),
            self_billing_agreements::version.eq(1_i64),
            self_billing_agreements::created_at.eq(at),
            self_billing_agreements::updated_at.eq(at),
        ))
        .execute(conn)?;
    outbox::record(conn, EventType::SelfBillingAgreementCreated, &id)?;
    get(conn, &id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Agreement, StoreError> {
    Ok(self_billing_agreements::table
        .find(id)
        .select(Agreement::as_select())
        .first(conn)?)
}

/// Ends an agreement; its invoices stay as they are.
pub fn terminate(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<Agreement, StoreError> {
    let agreement = records::checkout(conn, Record::Agreement, id, expected_version, get, |r| {
        r.version
    })?;
    let next = terminate_agreement(stored(
        "self_billing_agreements",
        "status",
        &agreement.status,
    )?)?;
    diesel::update(self_billing_agreements::table.find(id))
        .set((
            self_billing_agreements::status.eq(next.as_str()),
            self_billing_agreements::version.eq(agreement.version + 1),
            self_billing_agreements::updated_at.eq(now()),
        ))
        .execute(conn)?;
    outbox::record(conn, EventType::SelfBillingAgreementTerminated, id)?;
    get(conn, id)
}

pub fn list(
    conn: &mut DbConnection,
    company_id: Option<&str>,
    page: &PageRequest<()>,
) -> Result<Page<Agreement>, StoreError> {
    let mut query = self_billing_agreements::table
        .select(Agreement::as_select())
        .into_boxed();
    if let Some(c) = company_id {
        query = query.filter(self_billing_agreements::company_id.eq(c.to_owned()));
    }
    Ok(page_by_time!(
        conn,
        page,
        query,
        self_billing_agreements::created_at,
        Agreement
    ))
}

/// The company's agreement in force on `today`, or why there is none.
fn in_force(
    conn: &mut DbConnection,
    company_id: &str,
    today: NaiveDate,
) -> Result<Agreement, StoreError> {
    let agreements: Vec<Agreement> = self_billing_agreements::table
        .filter(self_billing_agreements::company_id.eq(company_id))
        .filter(self_billing_agreements::status.eq(AgreementStatus::Active.as_str()))
        .order(self_billing_agreements::valid_from.asc())
        .select(Agreement::as_select())
        .load(conn)?;
    if let Some(a) = agreements
        .iter()
        .find(|a| a.valid_from <= today && a.valid_to.is_none_or(|to| to >= today))
    {
        return Ok(a.clone());
    }
    let message = if let Some(future) = agreements.iter().find(|a| a.valid_from > today) {
        format!(
            "the self-billing agreement only starts on {}",
            future.valid_from
        )
    } else if let Some(past) = agreements.iter().rev().find_map(|a| a.valid_to) {
        format!("the self-billing agreement expired on {past}")
    } else {
        "there is no self-billing agreement with this customer".to_owned()
    };
    Err(Violation::new("agreement", message).into())
}

/// The customer issues, on our behalf, an invoice for its own fulfilled, not yet invoiced
/// orders: numbered in the agreement's series, awaiting our acceptance. An order of another
/// company reads as one that does not exist, so that a customer learns nothing of it.
pub fn issue_for_customer(
    conn: &mut DbConnection,
    company_id: &str,
    order_ids: Vec<String>,
    vat: VatMentions,
    today: NaiveDate,
) -> Result<Invoice, StoreError> {
    if let Some(i) = orders::first_not_of(conn, &order_ids, company_id)? {
        return Err(
            Violation::new(format!("order_ids[{i}]"), "is not an order of your company").into(),
        );
    }
    // Read again once its row is held: a termination that committed meanwhile is seen, and one
    // that comes later waits for this invoice.
    let found = in_force(conn, company_id, today)?.id;
    records::lock(conn, Record::Agreement, &found)?;
    let agreement = in_force(conn, company_id, today)?;
    if order_ids.is_empty() {
        return Err(Violation::new("order_ids", "name at least one order").into());
    }
    let draft = invoices::create_draft_of_kind(
        conn,
        DraftInput {
            company_id: company_id.to_owned(),
            currency: None,
            series_id: Some(agreement.series_id.clone()),
            due_date: None,
            notes: None,
            order_ids,
            lines: Vec::new(),
            vat,
        },
        InvoiceKind::SelfBilled,
        Some(agreement.id.clone()),
        true,
    )?;
    let issued = invoices::issue_as(conn, &draft.id, None, InvoiceStatus::PendingAcceptance)?;
    // Drafted and issued at once: both recorded on the invoice as it now stands.
    outbox::record(conn, EventType::InvoiceCreated, &issued.id)?;
    invoices::record_issued(conn, &issued)?;
    Ok(issued)
}

pub fn accept(
    conn: &mut DbConnection,
    invoice_id: &str,
    expected_version: Option<i64>,
) -> Result<Invoice, StoreError> {
    invoices::decide(conn, invoice_id, expected_version, true, None)
}

pub fn dispute(
    conn: &mut DbConnection,
    invoice_id: &str,
    expected_version: Option<i64>,
    reason: String,
) -> Result<Invoice, StoreError> {
    invoices::decide(conn, invoice_id, expected_version, false, Some(reason))
}

/// Accepts every self-billed invoice whose agreement's acceptance period has run out by
/// `today`; returns how many. Run by the server's maintenance loop and safe to run anywhere,
/// any number of times.
pub fn auto_accept_due(conn: &mut DbConnection, today: NaiveDate) -> Result<usize, StoreError> {
    let mut accepted = 0;
    for pending in invoices::pending_acceptance(conn)? {
        let id = pending.id;
        let (Some(agreement), Some(issued)) = (pending.agreement_id, pending.issue_date) else {
            continue;
        };
        let Some(days) = get(conn, &agreement)?.auto_accept_days else {
            continue;
        };
        if issued + chrono::Duration::days(days) <= today {
            match invoices::decide(conn, &id, None, true, None) {
                Ok(_) => accepted += 1,
                // Decided meanwhile, by the customer or by another node's sweep.
                Err(StoreError::IllegalTransition(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(accepted)
}
