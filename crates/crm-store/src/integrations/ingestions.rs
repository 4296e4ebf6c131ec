//! The ingestion log: one row per webhook a connection received, newest first.

use chrono::NaiveDateTime;
use crm_domain::integrations::IngestionStatus;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::schema::integration_ingestions;
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};

/// One webhook as the shop sent it: who, which delivery, which topic.
#[derive(Debug, Clone)]
pub struct Received {
    pub connection_id: String,
    pub webhook_id: String,
    pub topic: String,
}

/// What one webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: IngestionStatus,
    pub order_id: Option<String>,
    pub unknown_skus: Vec<String>,
    /// Why it was rejected or ignored, or what was odd about what it applied.
    pub problem: Option<String>,
}

impl Outcome {
    pub fn of(status: IngestionStatus) -> Self {
        Outcome {
            status,
            order_id: None,
            unknown_skus: Vec::new(),
            problem: None,
        }
    }

    pub fn because(mut self, problem: impl Into<String>) -> Self {
        self.problem = Some(problem.into());
        self
    }
}

#[derive(Debug, Clone)]
pub struct Ingestion {
    pub id: String,
    pub webhook_id: String,
    pub topic: String,
    pub outcome: Outcome,
    pub received_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = integration_ingestions)]
struct IngestionRow {
    id: String,
    connection_id: String,
    webhook_id: String,
    topic: String,
    status: String,
    order_id: Option<String>,
    unknown_skus: String,
    problem: Option<String>,
    received_at: NaiveDateTime,
}

impl IngestionRow {
    fn into_ingestion(self) -> Result<Ingestion, StoreError> {
        let unknown_skus =
            serde_json::from_str(&self.unknown_skus).map_err(|_| StoreError::Corrupt {
                table: "integration_ingestions",
                column: "unknown_skus",
                value: self.unknown_skus.clone(),
            })?;
        Ok(Ingestion {
            outcome: Outcome {
                status: stored("integration_ingestions", "status", &self.status)?,
                order_id: self.order_id,
                unknown_skus,
                problem: self.problem,
            },
            id: self.id,
            webhook_id: self.webhook_id,
            topic: self.topic,
            received_at: self.received_at,
        })
    }
}

/// Whether the webhook was already taken: logged in any way but as a repeat or a refusal, which
/// the shop may send again once what was wrong is fixed.
pub(crate) fn already_taken(
    conn: &mut DbConnection,
    received: &Received,
) -> Result<bool, StoreError> {
    let found: Option<String> = integration_ingestions::table
        .filter(integration_ingestions::connection_id.eq(&received.connection_id))
        .filter(integration_ingestions::webhook_id.eq(&received.webhook_id))
        .filter(integration_ingestions::status.ne_all([
            IngestionStatus::Duplicate.as_str(),
            IngestionStatus::Rejected.as_str(),
        ]))
        .select(integration_ingestions::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

pub(crate) fn log(
    conn: &mut DbConnection,
    received: &Received,
    outcome: &Outcome,
) -> Result<(), StoreError> {
    diesel::insert_into(integration_ingestions::table)
        .values(IngestionRow {
            id: new_id(),
            connection_id: received.connection_id.clone(),
            webhook_id: received.webhook_id.clone(),
            topic: received.topic.clone(),
            status: outcome.status.as_str().to_owned(),
            order_id: outcome.order_id.clone(),
            unknown_skus: serde_json::Value::from(outcome.unknown_skus.clone()).to_string(),
            problem: outcome.problem.clone(),
            received_at: now(),
        })
        .execute(conn)?;
    Ok(())
}

/// The webhooks of one connection, newest first.
pub fn list(
    conn: &mut DbConnection,
    connection_id: &str,
    page: &PageRequest<()>,
) -> Result<Page<Ingestion>, StoreError> {
    crate::integrations::connections::get(conn, connection_id)?;
    let query = integration_ingestions::table
        .filter(integration_ingestions::connection_id.eq(connection_id))
        .select(IngestionRow::as_select())
        .into_boxed();
    page_by_time!(
        conn,
        page,
        query,
        integration_ingestions::received_at,
        IngestionRow
    )
    .try_map(IngestionRow::into_ingestion)
}
