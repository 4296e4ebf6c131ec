//! Opportunities: sales in progress, moving through a pipeline's stages, with their history.

use crate::events::outbox;
use crate::platform::query::{sql_text, FixedSql};
use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::events::catalogue::EventType;
use crm_domain::platform::exchange::{convert, Rate};
use crm_domain::platform::money::Currency;
use crm_domain::sales::opportunities::{
    check_loss_reason, effective_probability, forecast as forecast_figures, owner_stats,
    ForecastFigures, ForecastGrouping, ForecastItem, OwnerStats, StageOutcome,
};
use crm_domain::Violation;
use diesel::prelude::*;
use std::collections::BTreeMap;

use crate::marketing::campaigns;
use crate::parties::timeline::subject_page;
use crate::platform::custom_fields as custom;
use crate::platform::db::{natively, DbConnection};
use crate::platform::pagination::PageRequest;
use crate::platform::query::{
    json_text, planned, Column, ColumnKind, Dialect, ListQuery, Listed, Table,
};
use crate::platform::records::{self, Record};
use crate::platform::schema::{opportunities, opportunity_stage_changes};
use crate::sales::pipelines::{self, Stage};
use crate::sales::related::{self, Pointers};
use crate::{
    access::users, new_id, now, parties::companies, parties::contacts, platform::exchange_rates,
    StoreError,
};
use crm_domain::platform::custom_fields::{self as custom_values, CustomField, CustomObject};
use crm_domain::platform::filter::{FieldValue, Scalar};
use serde_json::{Map, Value};

sql_text!(OpportunityCustomFields: diesel::sql_types::Text = "CAST(opportunities.custom_fields AS TEXT)");

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = opportunities, treat_none_as_null = true)]
struct OpportunityRow {
    id: String,
    name: String,
    company_id: String,
    contact_id: Option<String>,
    owner_id: Option<String>,
    pipeline_id: String,
    stage_id: String,
    amount_minor: i64,
    currency: String,
    probability_bp: Option<i64>,
    expected_close_date: NaiveDate,
    lead_id: Option<String>,
    campaign_id: Option<String>,
    next_step: Option<String>,
    loss_reason: Option<String>,
    closed_at: Option<NaiveDateTime>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
    #[diesel(
        select_expression = FixedSql::<OpportunityCustomFields>::new(),
        select_expression_type = FixedSql<OpportunityCustomFields>,
        skip_insertion,
        skip_update
    )]
    custom_fields: String,
}

/// What a client may write. Without `pipeline_id`, the default pipeline; without `stage_id`,
/// its first open stage. `probability_bp` overrides the stage's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpportunityFields {
    pub name: String,
    pub company_id: String,
    pub contact_id: Option<String>,
    pub owner_id: Option<String>,
    pub pipeline_id: Option<String>,
    pub stage_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub probability_bp: Option<i64>,
    pub expected_close_date: NaiveDate,
    pub lead_id: Option<String>,
    pub campaign_id: Option<String>,
    pub next_step: Option<String>,
    pub loss_reason: Option<String>,
    /// Stored custom values, in canonical form.
    pub custom_fields: Map<String, Value>,
    /// What the client wrote under `custom_fields`, applied by the write.
    pub custom_written: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Opportunity {
    pub id: String,
    pub fields: OpportunityFields,
    /// The custom values clients see.
    pub custom_fields: Map<String, Value>,
    pub stage: Stage,
    /// What the forecast counts: the override, else the stage's; won 100%, lost 0%.
    pub probability_bp: i64,
    pub closed_at: Option<NaiveDateTime>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = opportunity_stage_changes)]
pub struct StageChange {
    pub id: String,
    pub opportunity_id: String,
    pub from_stage_id: Option<String>,
    pub to_stage_id: String,
    pub changed_by: Option<String>,
    pub changed_at: NaiveDateTime,
}

impl OpportunityRow {
    fn fields(&self) -> Result<OpportunityFields, StoreError> {
        Ok(OpportunityFields {
            name: self.name.clone(),
            company_id: self.company_id.clone(),
            contact_id: self.contact_id.clone(),
            owner_id: self.owner_id.clone(),
            pipeline_id: Some(self.pipeline_id.clone()),
            stage_id: Some(self.stage_id.clone()),
            amount_minor: self.amount_minor,
            currency: self.currency.clone(),
            probability_bp: self.probability_bp,
            expected_close_date: self.expected_close_date,
            lead_id: self.lead_id.clone(),
            campaign_id: self.campaign_id.clone(),
            next_step: self.next_step.clone(),
            loss_reason: self.loss_reason.clone(),
            custom_fields: custom::stored_values("opportunities", &self.custom_fields)?,
            custom_written: None,
        })
    }

    /// What the filter language reads at `path`.
    fn value(&self, path: &str, defs: &[CustomField]) -> FieldValue {
        match path {
            "id" => FieldValue::text(Some(&self.id)),
            "name" => FieldValue::text(Some(&self.name)),
            "company_id" => FieldValue::text(Some(&self.company_id)),
            "contact_id" => FieldValue::text(self.contact_id.as_deref()),
            "owner_id" => FieldValue::text(self.owner_id.as_deref()),
            "pipeline_id" => FieldValue::text(Some(&self.pipeline_id)),
            "stage_id" => FieldValue::text(Some(&self.stage_id)),
            "amount.amount_minor" => FieldValue::One(Scalar::Integer(self.amount_minor)),
            "amount.currency" => FieldValue::text(Some(&self.currency)),
            "probability_bp" => self
                .probability_bp
                .map_or(FieldValue::Null, |v| FieldValue::One(Scalar::Integer(v))),
            "expected_close_date" => FieldValue::One(Scalar::Date(self.expected_close_date)),
            "lead_id" => FieldValue::text(self.lead_id.as_deref()),
            "campaign_id" => FieldValue::text(self.campaign_id.as_deref()),
            "closed_at" => FieldValue::instant(self.closed_at),
            "created_at" => FieldValue::instant(Some(self.created_at)),
            "updated_at" => FieldValue::instant(Some(self.updated_at)),
            "archived_at" => FieldValue::instant(self.archived_at),
            _ => custom::stored_path_value("opportunities", &self.custom_fields, path, defs),
        }
    }
}

/// What lists of opportunities filter and sort on.
pub const TABLE: Table = Table {
    object: "opportunities",
    joins: &[],
    relations: &[
        ("company", "company_id", "companies"),
        ("contact", "contact_id", "contacts"),
        ("owner", "owner_id", "users"),
    ],
    columns: &[
        Column::ID,
        Column::new("name", "name", ColumnKind::Text)
            .sortable()
            .not_null()
            .required(),
        Column::new("company_id", "company_id", ColumnKind::Text)
            .indexed()
            .not_null()
            .required(),
        Column::new("contact_id", "contact_id", ColumnKind::Text),
        Column::new("owner_id", "owner_id", ColumnKind::Text).indexed(),
        Column::new("pipeline_id", "pipeline_id", ColumnKind::Text)
            .indexed()
            .not_null(),
        Column::new("stage_id", "stage_id", ColumnKind::Text)
            .indexed()
            .not_null(),
        Column::new("amount.amount_minor", "amount_minor", ColumnKind::Integer)
            .sortable()
            .not_null()
            .required(),
        Column::new("amount.currency", "currency", ColumnKind::Text)
            .not_null()
            .required(),
        Column::new("probability_bp", "probability_bp", ColumnKind::Integer).sortable(),
        Column::new(
            "expected_close_date",
            "expected_close_date",
            ColumnKind::Date,
        )
        .sortable()
        .not_null()
        .required(),
        Column::new("lead_id", "lead_id", ColumnKind::Text),
        Column::new("campaign_id", "campaign_id", ColumnKind::Text),
        Column::new("closed_at", "closed_at", ColumnKind::Instant).sortable(),
        Column::CREATED_AT,
        Column::UPDATED_AT,
        Column::ARCHIVED_AT,
    ],
};

/// The built-in names custom field keys may not take.
pub fn built_in_names() -> Vec<&'static str> {
    TABLE
        .columns
        .iter()
        .map(|c| c.path)
        .chain([
            "amount",
            "stage",
            "next_step",
            "loss_reason",
            "version",
            "custom_fields",
        ])
        .collect()
}

fn assemble(
    conn: &mut DbConnection,
    row: OpportunityRow,
    defs: &[CustomField],
) -> Result<Opportunity, StoreError> {
    let stage = pipelines::stage(conn, &row.stage_id)?;
    let fields = row.fields()?;
    Ok(Opportunity {
        custom_fields: custom_values::visible(defs, &fields.custom_fields, false),
        fields,
        probability_bp: effective_probability(
            stage.fields.outcome,
            row.probability_bp,
            stage.fields.probability_bp,
        ),
        stage,
        id: row.id,
        closed_at: row.closed_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        archived_at: row.archived_at,
    })
}

/// Resolves the pipeline and stage, checks references, custom values and the loss rule.
fn resolve(
    conn: &mut DbConnection,
    fields: &mut OpportunityFields,
    defs: &[CustomField],
    own_id: &str,
    creating: bool,
) -> Result<Stage, StoreError> {
    fields.custom_fields = custom_values::apply(
        defs,
        &fields.custom_fields,
        fields.custom_written.take().as_ref(),
        creating,
    )?;
    custom::check_unique(
        conn,
        CustomObject::Opportunities,
        defs,
        &fields.custom_fields,
        own_id,
    )?;
    companies::ensure_active(conn, &fields.company_id, "company_id")?;
    if let Some(id) = &fields.contact_id {
        contacts::ensure_active(conn, id, "contact_id")?;
    }
    if let Some(id) = &fields.owner_id {
        users::ensure_active(conn, id, "owner_id")?;
    }
    if let Some(id) = &fields.campaign_id {
        campaigns::ensure_exists(conn, id, "campaign_id")?;
    }
    let pipeline = match &fields.pipeline_id {
        Some(id) => pipelines::get(conn, id).map_err(|e| match e {
            StoreError::NotFound => Violation::new("pipeline_id", "no such pipeline").into(),
            other => other,
        })?,
        None => pipelines::default_pipeline(conn)?,
    };
    let stage = match &fields.stage_id {
        Some(id) => pipeline
            .stages
            .iter()
            .find(|s| s.id == *id)
            .cloned()
            .ok_or_else(|| {
                StoreError::from(Violation::new("stage_id", "is not a stage of the pipeline"))
            })?,
        None => pipeline.first_open_stage().cloned().ok_or_else(|| {
            StoreError::from(Violation::new("stage_id", "the pipeline has no open stage"))
        })?,
    };
    check_loss_reason(stage.fields.outcome, fields.loss_reason.as_deref())?;
    fields.pipeline_id = Some(pipeline.id);
    fields.stage_id = Some(stage.id.clone());
    Ok(stage)
}

fn record_change(
    conn: &mut DbConnection,
    id: &str,
    from: Option<&str>,
    to: &str,
    by: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(opportunity_stage_changes::table)
        .values((
            opportunity_stage_changes::id.eq(new_id()),
            opportunity_stage_changes::opportunity_id.eq(id),
            opportunity_stage_changes::from_stage_id.eq(from),
            opportunity_stage_changes::to_stage_id.eq(to),
            opportunity_stage_changes::changed_by.eq(by),
            opportunity_stage_changes::changed_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn create(
    conn: &mut DbConnection,
    mut fields: OpportunityFields,
    user_id: Option<&str>,
) -> Result<Opportunity, StoreError> {
    let id = new_id();
    let defs = custom::fields_for_write(conn, CustomObject::Opportunities)?;
    let stage = resolve(conn, &mut fields, &defs, &id, true)?;
    let at = now();
    let row = OpportunityRow {
        id,
        name: fields.name,
        company_id: fields.company_id,
        contact_id: fields.contact_id,
        owner_id: fields.owner_id,
        pipeline_id: fields.pipeline_id.unwrap_or_default(),
        stage_id: stage.id.clone(),
        amount_minor: fields.amount_minor,
        currency: fields.currency,
        probability_bp: fields.probability_bp,
        expected_close_date: fields.expected_close_date,
        lead_id: fields.lead_id,
        campaign_id: fields.campaign_id,
        next_step: fields.next_step,
        loss_reason: fields.loss_reason,
        closed_at: (stage.fields.outcome != StageOutcome::Open).then_some(at),
        version: 1,
        created_at: at,
        updated_at: at,
        archived_at: None,
        custom_fields: Value::Object(fields.custom_fields).to_string(),
    };
    let custom_fields = json_text(Dialect::of(conn), row.custom_fields.clone());
    diesel::insert_into(opportunities::table)
        .values((&row, opportunities::custom_fields.eq(custom_fields)))
        .execute(conn)
        .map_err(|e| map_write_error(e, &defs))?;
    record_change(conn, &row.id, None, &stage.id, user_id, at)?;
    outbox::record(conn, EventType::OpportunityCreated, &row.id)?;
    assemble(conn, row, &defs)
}

/// A concurrent write of a `unique` custom value, which the check cannot see, meets its index.
fn map_write_error(error: diesel::result::Error, defs: &[CustomField]) -> StoreError {
    custom::unique_index_conflict(CustomObject::Opportunities, defs, &error)
        .unwrap_or_else(|| error.into())
}

fn load(conn: &mut DbConnection, id: &str) -> Result<OpportunityRow, StoreError> {
    Ok(natively!(conn, |native| opportunities::table
        .find(id)
        .select(OpportunityRow::as_select())
        .first(native))?)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Opportunity, StoreError> {
    let row = load(conn, id)?;
    let defs = custom::fields(conn, CustomObject::Opportunities)?;
    assemble(conn, row, &defs)
}

pub fn ensure_exists(conn: &mut DbConnection, id: &str, field: &str) -> Result<(), StoreError> {
    match load(conn, id) {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => Err(Violation::new(field, "no such opportunity").into()),
        Err(e) => Err(e),
    }
}

/// The campaign an opportunity came from; none for an unknown opportunity, which the caller
/// refuses on its own terms.
pub fn campaign_of(conn: &mut DbConnection, id: &str) -> Result<Option<String>, StoreError> {
    Ok(opportunities::table
        .find(id)
        .select(opportunities::campaign_id)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Changes the opportunity; a stage change is recorded in its history, with who and when.
pub fn update<F>(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    user_id: Option<&str>,
    change: F,
) -> Result<Opportunity, StoreError>
where
    F: FnOnce(&mut OpportunityFields) -> Result<(), StoreError>,
{
    // The definitions before the record, in the order a change of definition takes them.
    let defs = custom::fields_for_write(conn, CustomObject::Opportunities)?;
    let mut row = records::checkout(conn, Record::Opportunity, id, expected_version, load, |r| {
        r.version
    })?;
    let mut fields = row.fields()?;
    change(&mut fields)?;
    if fields.pipeline_id.as_deref() != Some(row.pipeline_id.as_str())
        && fields.stage_id.as_deref() == Some(row.stage_id.as_str())
    {
        fields.stage_id = None;
    }
    let stage = resolve(conn, &mut fields, &defs, id, false)?;
    let at = now();
    let previous_stage = row.stage_id.clone();
    if stage.id != previous_stage {
        record_change(conn, id, Some(&previous_stage), &stage.id, user_id, at)?;
        row.closed_at = (stage.fields.outcome != StageOutcome::Open).then_some(at);
    }
    let previous_version = row.version;
    row.name = fields.name;
    row.company_id = fields.company_id;
    row.contact_id = fields.contact_id;
    row.owner_id = fields.owner_id;
    row.pipeline_id = fields.pipeline_id.unwrap_or_default();
    row.stage_id = stage.id;
    row.amount_minor = fields.amount_minor;
    row.currency = fields.currency;
    row.probability_bp = fields.probability_bp;
    row.expected_close_date = fields.expected_close_date;
    row.lead_id = fields.lead_id;
    row.campaign_id = fields.campaign_id;
    row.next_step = fields.next_step;
    row.loss_reason = fields.loss_reason;
    row.custom_fields = Value::Object(fields.custom_fields).to_string();
    row.version = previous_version + 1;
    row.updated_at = at;
    records::update_with_custom_fields!(conn, opportunities, id, previous_version, &row, |e| {
        map_write_error(e, &defs)
    })?;
    outbox::record(conn, EventType::OpportunityUpdated, id)?;
    assemble(conn, row, &defs)
}

/// Moves an open opportunity to its pipeline's won stage when the pipeline says accepting a
/// quote wins the sale.
pub fn win_on_quote_accept(
    conn: &mut DbConnection,
    id: &str,
    user_id: Option<&str>,
) -> Result<(), StoreError> {
    // Held before it is read: a concurrent close or move is seen, not overwritten.
    records::lock(conn, Record::Opportunity, id)?;
    let opportunity = get(conn, id)?;
    if opportunity.stage.fields.outcome != StageOutcome::Open {
        return Ok(());
    }
    let pipeline = pipelines::get(conn, &opportunity.stage.pipeline_id)?;
    if let (true, Some(won)) = (pipeline.fields.won_on_quote_accept, pipeline.won_stage()) {
        let won_id = won.id.clone();
        update(conn, id, None, user_id, |f| {
            f.stage_id = Some(won_id);
            Ok(())
        })?;
    }
    Ok(())
}

pub fn history(conn: &mut DbConnection, id: &str) -> Result<Vec<StageChange>, StoreError> {
    load(conn, id)?;
    Ok(opportunity_stage_changes::table
        .filter(opportunity_stage_changes::opportunity_id.eq(id))
        .order((
            opportunity_stage_changes::changed_at.asc(),
            opportunity_stage_changes::id.asc(),
        ))
        .select(StageChange::as_select())
        .load(conn)?)
}

pub fn archive(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = records::checkout(conn, Record::Opportunity, id, expected_version, load, |r| {
        r.version
    })?;
    if row.archived_at.is_none() {
        records::archive(conn, Record::Opportunity, id, row.version)?;
        outbox::record(conn, EventType::OpportunityArchived, id)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct OpportunityFilter {
    pub pipeline_id: Option<String>,
    pub stage_id: Option<String>,
    pub owner_id: Option<String>,
    pub company_id: Option<String>,
    pub close_from: Option<NaiveDate>,
    pub close_to: Option<NaiveDate>,
    /// Only opportunities whose stage has this outcome.
    pub outcome: Option<StageOutcome>,
    pub include_archived: bool,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &OpportunityFilter,
    query: &ListQuery,
) -> Result<Listed<Opportunity>, StoreError> {
    use crate::platform::schema::pipeline_stages;
    let defs = custom::fields(conn, CustomObject::Opportunities)?;
    let plan = TABLE.plan(Dialect::of(conn), &defs, query)?;
    let mut rows = opportunities::table
        .select(OpportunityRow::as_select())
        .into_boxed();
    if !filter.include_archived {
        rows = rows.filter(opportunities::archived_at.is_null());
    }
    if let Some(v) = &filter.pipeline_id {
        rows = rows.filter(opportunities::pipeline_id.eq(v.clone()));
    }
    if let Some(v) = &filter.stage_id {
        rows = rows.filter(opportunities::stage_id.eq(v.clone()));
    }
    if let Some(v) = &filter.owner_id {
        rows = rows.filter(opportunities::owner_id.eq(v.clone()));
    }
    if let Some(v) = &filter.company_id {
        rows = rows.filter(opportunities::company_id.eq(v.clone()));
    }
    if let Some(v) = filter.close_from {
        rows = rows.filter(opportunities::expected_close_date.ge(v));
    }
    if let Some(v) = filter.close_to {
        rows = rows.filter(opportunities::expected_close_date.le(v));
    }
    if let Some(outcome) = filter.outcome {
        rows = rows.filter(
            opportunities::stage_id.eq_any(
                pipeline_stages::table
                    .filter(pipeline_stages::outcome.eq(outcome.as_str()))
                    .select(pipeline_stages::id),
            ),
        );
    }
    let rows: Vec<OpportunityRow> = planned!(rows, plan).load(conn)?;
    plan.page(
        rows,
        |row, path| row.value(path, &defs),
        |row| row.id.clone(),
    )
    .try_map(|row| assemble(conn, row, &defs))
}

impl related::PointsAt for Opportunity {
    fn point(&self, pointers: &mut Pointers) {
        pointers.add(
            Some(&self.fields.company_id),
            self.fields.contact_id.as_deref(),
            self.fields.owner_id.as_deref(),
        );
    }
}

/// Converts an amount into the base currency at the latest rate on or before `on`; a missing
/// rate is a violation naming the currency and the date, never a guess.
fn to_base(
    conn: &mut DbConnection,
    amount: i64,
    currency: &str,
    base: Currency,
    on: NaiveDate,
) -> Result<i64, StoreError> {
    let from: Currency = currency.parse()?;
    if from == base {
        return Ok(amount);
    }
    let rate = exchange_rates::rate_on_or_before(conn, currency, on)?.ok_or_else(|| {
        Violation::new(
            "exchange_rate",
            format!("no {currency} to {base} rate on or before {on}"),
        )
    })?;
    let rate = Rate::parse("exchange_rate", &rate)?;
    Ok(convert(amount, from, base, rate)?)
}

/// A sales forecast over whole months, in the base currency.
pub struct Forecast {
    /// Figures per group, by key.
    pub groups: BTreeMap<String, ForecastFigures>,
    pub total: ForecastFigures,
    /// Win rate and sales cycle per owner.
    pub owners: BTreeMap<String, OwnerStats>,
}

/// The forecast over `from..=to`, grouped as asked, with the record of each owner.
pub fn forecast(
    conn: &mut DbConnection,
    (from, to): (NaiveDate, NaiveDate),
    grouping: ForecastGrouping,
    base: Currency,
    today: NaiveDate,
) -> Result<Forecast, StoreError> {
    let items = forecast_items(conn, from, to, base, today)?;
    let (groups, total) = forecast_figures(&items, from, to, grouping)?;
    Ok(Forecast {
        groups,
        total,
        owners: owner_stats(&items, from, to),
    })
}

/// The live opportunities that matter to a forecast over `from..=to`, in the base currency:
/// open ones expected to close in the period (at the latest rate on or before `today`), and
/// those won or lost in it (at the rate of their closing day).
fn forecast_items(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    base: Currency,
    today: NaiveDate,
) -> Result<Vec<ForecastItem>, StoreError> {
    let start = from.and_hms_opt(0, 0, 0).unwrap_or_default();
    let end = to
        .succ_opt()
        .unwrap_or(to)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    let rows: Vec<OpportunityRow> = opportunities::table
        .filter(opportunities::archived_at.is_null())
        .filter(
            opportunities::expected_close_date
                .between(from, to)
                .or(opportunities::closed_at
                    .ge(start)
                    .and(opportunities::closed_at.lt(end))),
        )
        .select(OpportunityRow::as_select())
        .load(conn)?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let opportunity = assemble(conn, row, &[])?;
        let outcome = opportunity.stage.fields.outcome;
        let closed_on = opportunity.closed_at.map(|t| t.date());
        let rate_day = match (outcome, closed_on) {
            (StageOutcome::Open, _) | (_, None) => today,
            (_, Some(day)) => day,
        };
        items.push(ForecastItem {
            outcome,
            amount_minor: to_base(
                conn,
                opportunity.fields.amount_minor,
                &opportunity.fields.currency,
                base,
                rate_day,
            )?,
            probability_bp: opportunity.probability_bp,
            expected_close: opportunity.fields.expected_close_date,
            closed_on,
            created_on: opportunity.created_at.date(),
            owner_id: opportunity.fields.owner_id,
            pipeline_id: opportunity.stage.pipeline_id,
        });
    }
    Ok(items)
}

/// The opportunities of a contact or company as timeline entries, newest first.
pub(crate) fn timeline_page(
    conn: &mut DbConnection,
    subject: &crm_domain::parties::timeline::Subject,
    page: &PageRequest<()>,
) -> Result<Vec<crm_domain::parties::timeline::TimelineEntry>, StoreError> {
    let live = opportunities::table
        .select(OpportunityRow::as_select())
        .filter(opportunities::archived_at.is_null())
        .into_boxed();
    let rows = subject_page!(
        conn,
        subject,
        live,
        opportunities::created_at,
        OpportunityRow,
        page
    );
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let stage = pipelines::stage(conn, &row.stage_id)?;
        entries.push(crm_domain::parties::timeline::TimelineEntry {
            kind: crm_domain::parties::timeline::TimelineKind::Opportunity,
            summary: format!("Opportunity {}", row.name),
            detail: Some(stage.fields.name),
            id: row.id,
            at: row.created_at,
            contact_id: row.contact_id,
            company_id: Some(row.company_id),
            user_id: row.owner_id,
        });
    }
    Ok(entries)
}
