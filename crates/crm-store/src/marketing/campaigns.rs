//! Campaigns: what a campaign is, what it costs, and the state it is in.

use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::marketing::campaigns::{
    code_key, transition, CampaignAction, CampaignChannel, CampaignStatus, ConsentChannel, Schedule,
};
use diesel::prelude::*;

use crate::events::outbox;
use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{campaign_costs, campaigns, segments};
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};
use crm_domain::events::catalogue::EventType;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignFields {
    pub name: String,
    pub code: String,
    pub channel: CampaignChannel,
    /// The consent a member needs; none reaches everyone.
    pub consent_channel: Option<ConsentChannel>,
    pub schedule: Schedule,
    /// Planned spend: minor units and currency.
    pub budget: Option<(i64, String)>,
    pub owner_id: Option<String>,
    /// The segment whose members activation adds.
    pub target_segment_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub fields: CampaignFields,
    pub status: CampaignStatus,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = campaigns, treat_none_as_null = true)]
struct CampaignRow {
    id: String,
    name: String,
    code: String,
    code_key: String,
    channel: String,
    consent_channel: Option<String>,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    attribution_window_days: i32,
    budget_minor: Option<i64>,
    budget_currency: Option<String>,
    owner_id: Option<String>,
    status: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    target_segment_id: Option<String>,
}

impl CampaignRow {
    fn new(
        id: String,
        fields: &CampaignFields,
        status: CampaignStatus,
        version: i64,
        created_at: NaiveDateTime,
    ) -> Self {
        CampaignRow {
            id,
            name: fields.name.clone(),
            code: fields.code.clone(),
            code_key: code_key(&fields.code),
            channel: fields.channel.as_str().to_owned(),
            consent_channel: fields.consent_channel.map(|c| c.as_str().to_owned()),
            starts_on: fields.schedule.starts_on,
            ends_on: fields.schedule.ends_on,
            attribution_window_days: fields.schedule.attribution_window_days,
            budget_minor: fields.budget.as_ref().map(|(minor, _)| *minor),
            budget_currency: fields.budget.as_ref().map(|(_, currency)| currency.clone()),
            owner_id: fields.owner_id.clone(),
            target_segment_id: fields.target_segment_id.clone(),
            status: status.as_str().to_owned(),
            version,
            created_at,
            updated_at: now(),
        }
    }

    fn into_campaign(self) -> Result<Campaign, StoreError> {
        Ok(Campaign {
            fields: CampaignFields {
                channel: stored("campaigns", "channel", &self.channel)?,
                consent_channel: self
                    .consent_channel
                    .as_deref()
                    .map(|c| stored("campaigns", "consent_channel", c))
                    .transpose()?,
                schedule: Schedule {
                    starts_on: self.starts_on,
                    ends_on: self.ends_on,
                    attribution_window_days: self.attribution_window_days,
                },
                budget: self.budget_minor.zip(self.budget_currency),
                owner_id: self.owner_id,
                target_segment_id: self.target_segment_id,
                name: self.name,
                code: self.code,
            },
            status: stored("campaigns", "status", &self.status)?,
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Which campaigns a caller sees: all, or only those one salesperson owns.
#[derive(Debug, Clone, Default)]
pub struct Visible {
    pub owned_by: Option<String>,
}

impl Visible {
    /// A record owned by `owner` is not found by a caller who sees only their own.
    /// Who owns a record the caller creates: a caller who sees only their own owns it; others
    /// name an owner, or own it themselves.
    pub fn owner_for(&self, requested: Option<String>, caller: Option<&str>) -> Option<String> {
        match (&self.owned_by, requested) {
            (Some(own), _) => Some(own.clone()),
            (None, Some(owner)) => Some(owner),
            (None, None) => caller.map(str::to_owned),
        }
    }

    pub(crate) fn allows(&self, owner: Option<&str>) -> Result<(), StoreError> {
        match &self.owned_by {
            Some(own) if owner != Some(own.as_str()) => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CampaignFilter {
    pub visible: Visible,
    pub status: Option<CampaignStatus>,
    pub channel: Option<CampaignChannel>,
    pub owner_id: Option<String>,
}

/// The code is free among campaigns (`409` naming the holder), and the owner is active staff.
fn check(conn: &mut DbConnection, fields: &CampaignFields, own_id: &str) -> Result<(), StoreError> {
    fields.schedule.validate()?;
    if let Some(owner) = &fields.owner_id {
        crate::access::users::ensure_staff(conn, owner, "owner_id")?;
    }
    if let Some(segment) = &fields.target_segment_id {
        let found: Option<String> = segments::table
            .find(segment)
            .select(segments::id)
            .first(conn)
            .optional()?;
        if found.is_none() {
            return Err(crm_domain::Violation::new("target_segment_id", "no such segment").into());
        }
    }
    let holder: Option<String> = campaigns::table
        .filter(campaigns::code_key.eq(code_key(&fields.code)))
        .filter(campaigns::id.ne(own_id))
        .select(campaigns::id)
        .first(conn)
        .optional()?;
    match holder {
        Some(existing_id) => Err(code_taken(Some(existing_id))),
        None => Ok(()),
    }
}

fn code_taken(existing_id: Option<String>) -> StoreError {
    StoreError::Conflict {
        message: "a campaign with this code already exists".to_owned(),
        existing_id,
    }
}

/// A concurrent writer of the same code loses at the unique index.
fn map_write_error(error: diesel::result::Error) -> StoreError {
    if StoreError::is_unique_violation(&error) {
        code_taken(None)
    } else {
        error.into()
    }
}

pub fn create(conn: &mut DbConnection, fields: CampaignFields) -> Result<Campaign, StoreError> {
    let id = new_id();
    check(conn, &fields, &id)?;
    let row = CampaignRow::new(id, &fields, CampaignStatus::Planned, 1, now());
    diesel::insert_into(campaigns::table)
        .values(&row)
        .execute(conn)
        .map_err(map_write_error)?;
    outbox::record(conn, EventType::CampaignCreated, &row.id)?;
    row.into_campaign()
}

fn load(conn: &mut DbConnection, id: &str) -> Result<CampaignRow, StoreError> {
    records::load_row(conn, campaigns::table, id)
}

/// A campaign the caller may see; another salesperson's is not found.
pub fn get(conn: &mut DbConnection, id: &str, visible: &Visible) -> Result<Campaign, StoreError> {
    let campaign = load(conn, id)?.into_campaign()?;
    visible.allows(campaign.fields.owner_id.as_deref())?;
    Ok(campaign)
}

/// The campaign an order names: a `422` naming `field` when there is none.
pub fn ensure_exists(conn: &mut DbConnection, id: &str, field: &str) -> Result<(), StoreError> {
    let found: Option<String> = campaigns::table
        .find(id)
        .select(campaigns::id)
        .first(conn)
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(crm_domain::Violation::new(field, "no such campaign").into()),
    }
}

/// The campaign whose code is `code`, case ignored (a shop's `utm_campaign`).
pub fn id_by_code(conn: &mut DbConnection, code: &str) -> Result<Option<String>, StoreError> {
    Ok(campaigns::table
        .filter(campaigns::code_key.eq(code_key(code)))
        .select(campaigns::id)
        .first(conn)
        .optional()?)
}

/// When orders count for the campaign.
pub fn schedule(conn: &mut DbConnection, id: &str) -> Result<Schedule, StoreError> {
    let (starts_on, ends_on, attribution_window_days) = campaigns::table
        .find(id)
        .select((
            campaigns::starts_on,
            campaigns::ends_on,
            campaigns::attribution_window_days,
        ))
        .first(conn)?;
    Ok(Schedule {
        starts_on,
        ends_on,
        attribution_window_days,
    })
}

pub fn list(
    conn: &mut DbConnection,
    filter: &CampaignFilter,
    page: &PageRequest<()>,
) -> Result<Page<Campaign>, StoreError> {
    let mut query = campaigns::table
        .select(CampaignRow::as_select())
        .into_boxed();
    if let Some(owner) = &filter.visible.owned_by {
        query = query.filter(campaigns::owner_id.eq(owner.clone()));
    }
    if let Some(owner) = &filter.owner_id {
        query = query.filter(campaigns::owner_id.eq(owner.clone()));
    }
    if let Some(status) = filter.status {
        query = query.filter(campaigns::status.eq(status.as_str()));
    }
    if let Some(channel) = filter.channel {
        query = query.filter(campaigns::channel.eq(channel.as_str()));
    }
    page_by_time!(conn, page, query, campaigns::created_at, CampaignRow)
        .try_map(CampaignRow::into_campaign)
}

/// Locks a campaign the caller may see and checks `If-Match`.
pub(crate) fn checkout(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
) -> Result<Campaign, StoreError> {
    // Read once, under the lock: visibility first, so that another salesperson's campaign
    // is a 404 whatever `If-Match` says.
    let campaign = records::checkout(conn, Record::Campaign, id, None, load, |r| r.version)?
        .into_campaign()?;
    visible.allows(campaign.fields.owner_id.as_deref())?;
    records::expect_version(expected_version, campaign.version)?;
    Ok(campaign)
}

fn write(
    conn: &mut DbConnection,
    current: &Campaign,
    fields: &CampaignFields,
    status: CampaignStatus,
) -> Result<Campaign, StoreError> {
    let row = CampaignRow::new(
        current.id.clone(),
        fields,
        status,
        current.version + 1,
        current.created_at,
    );
    records::written(
        diesel::update(
            campaigns::table
                .filter(campaigns::id.eq(&current.id))
                .filter(campaigns::version.eq(current.version)),
        )
        .set(&row)
        .execute(conn)
        .map_err(map_write_error)?,
        current.version,
    )?;
    row.into_campaign()
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
    edit: impl FnOnce(&mut CampaignFields) -> Result<(), StoreError>,
) -> Result<Campaign, StoreError> {
    let current = checkout(conn, id, expected_version, visible)?;
    let mut fields = current.fields.clone();
    edit(&mut fields)?;
    check(conn, &fields, id)?;
    let campaign = write(conn, &current, &fields, current.status)?;
    outbox::record(conn, EventType::CampaignUpdated, id)?;
    Ok(campaign)
}

/// Activates, completes or cancels a campaign.
pub fn act(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
    action: CampaignAction,
) -> Result<Campaign, StoreError> {
    let current = checkout(conn, id, expected_version, visible)?;
    let status = transition(current.status, action).map_err(StoreError::IllegalTransition)?;
    let campaign = write(conn, &current, &current.fields.clone(), status)?;
    let event = match action {
        CampaignAction::Activate => EventType::CampaignActivated,
        CampaignAction::Complete => EventType::CampaignCompleted,
        CampaignAction::Cancel => EventType::CampaignCancelled,
    };
    outbox::record(conn, event, id)?;
    Ok(campaign)
}

/// One amount spent on a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostFields {
    pub amount_minor: i64,
    pub currency: String,
    pub incurred_on: NaiveDate,
    pub description: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaign_costs)]
pub struct Cost {
    pub id: String,
    pub campaign_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub incurred_on: NaiveDate,
    pub description: String,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Appends a cost to a campaign the caller may see. Costs are never changed: a correction is
/// another cost, negative.
pub fn add_cost(
    conn: &mut DbConnection,
    campaign_id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
    cost: CostFields,
    created_by: Option<String>,
) -> Result<Cost, StoreError> {
    checkout(conn, campaign_id, expected_version, visible)?;
    let row = Cost {
        id: new_id(),
        campaign_id: campaign_id.to_owned(),
        amount_minor: cost.amount_minor,
        currency: cost.currency,
        incurred_on: cost.incurred_on,
        description: cost.description,
        created_by,
        created_at: now(),
    };
    diesel::insert_into(campaign_costs::table)
        .values(&row)
        .execute(conn)?;
    outbox::record(conn, EventType::CampaignCostAdded, campaign_id)?;
    Ok(row)
}

pub fn list_costs(
    conn: &mut DbConnection,
    campaign_id: &(String, Visible),
    page: &PageRequest<()>,
) -> Result<Page<Cost>, StoreError> {
    let (campaign_id, visible) = campaign_id;
    get(conn, campaign_id, visible)?;
    let query = campaign_costs::table
        .filter(campaign_costs::campaign_id.eq(campaign_id.clone()))
        .select(Cost::as_select())
        .into_boxed();
    Ok(page_by_time!(
        conn,
        page,
        query,
        campaign_costs::created_at,
        Cost
    ))
}
