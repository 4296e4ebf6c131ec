//! Companies (accounts).

use crate::events::outbox;
use crate::platform::query::{sql_text, FixedSql};
use chrono::NaiveDateTime;
use crm_domain::access::permissions::Reach;
use crm_domain::events::catalogue::EventType;
use crm_domain::parties::companies::Tier;
use crm_domain::parties::duplicates::{domain_key, fold, tax_key};
use diesel::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;

use crate::access::users::UserSummary;
use crate::platform::address::Address;
use crate::platform::custom_fields as custom;
use crate::platform::custom_fields::FieldCache;
use crate::platform::db::{natively, read_transaction, DbConnection};
use crate::platform::query::{
    choices, json_text, Column, ColumnKind, Dialect, ListQuery, Listed, Table,
};
use crate::platform::records::{self, Record};
use crate::platform::schema::companies;
use crate::platform::stored::{stored_json, stored_opt};
use crate::{access::users, new_id, now, tag_pattern, tags_from_json, tags_to_json, StoreError};
use crm_domain::platform::custom_fields::{self as custom_values, CustomField, CustomObject};
use crm_domain::platform::filter::{FieldValue, Scalar};
use serde_json::{Map, Value};

sql_text!(CompanyCustomFields: diesel::sql_types::Text = "CAST(companies.custom_fields AS TEXT)");
sql_text!(CompanyLastOrderAt: diesel::sql_types::Nullable<diesel::sql_types::Timestamp> = LAST_ORDER_AT);
sql_text!(CompanyFieldsStamp: diesel::sql_types::Nullable<diesel::sql_types::BigInt> = custom::fields_stamp!("companies"));

// `None` inserts NULL rather than DEFAULT (no column has a default), so that SQLite takes many
// rows in one statement (`create_many`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = companies, treat_none_as_null = true, treat_none_as_default_value = false)]
struct CompanyRow {
    id: String,
    name: String,
    legal_name: Option<String>,
    tax_id: Option<String>,
    billing_line1: Option<String>,
    billing_line2: Option<String>,
    billing_city: Option<String>,
    billing_region: Option<String>,
    billing_postal_code: Option<String>,
    billing_country: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    industry: Option<String>,
    owner_id: Option<String>,
    tier: Option<String>,
    tags: String,
    preferences: String,
    search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
    tier_basis_year: Option<i64>,
    /// The company this one was merged into: it takes no more writes, and its `GET` redirects.
    merged_into_id: Option<String>,
    /// Duplicate keys (`crm_domain::parties::duplicates`), kept on every write.
    tax_key: Option<String>,
    domain_key: Option<String>,
    name_key: Option<String>,
    #[diesel(
        select_expression = FixedSql::<CompanyCustomFields>::new(),
        select_expression_type = FixedSql<CompanyCustomFields>,
        skip_insertion,
        skip_update
    )]
    custom_fields: String,
    /// Read, never written: the newest order's time, one probe of the orders' (company_id,
    /// ordered_at) index.
    #[diesel(
        select_expression = FixedSql::<CompanyLastOrderAt>::new(),
        select_expression_type = FixedSql<CompanyLastOrderAt>,
        skip_insertion,
        skip_update
    )]
    last_order_at: Option<NaiveDateTime>,
}

/// What a client may write.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanyFields {
    pub name: String,
    pub legal_name: Option<String>,
    pub tax_id: Option<String>,
    pub billing_address: Address,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub owner_id: Option<String>,
    pub tags: Vec<String>,
    pub preferences: serde_json::Value,
    /// Stored custom values, in canonical form.
    pub custom_fields: Map<String, Value>,
    /// What the client wrote under `custom_fields`, applied by the write.
    pub custom_written: Option<Value>,
}

impl CompanyFields {
    /// A company known only by its name, with no preferences yet: where every new company starts.
    pub fn named(name: String) -> Self {
        CompanyFields {
            name,
            legal_name: None,
            tax_id: None,
            billing_address: Address::default(),
            email: None,
            phone: None,
            website: None,
            industry: None,
            owner_id: None,
            tags: Vec::new(),
            preferences: serde_json::json!({}),
            custom_fields: Map::new(),
            custom_written: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Company {
    pub id: String,
    /// When the newest order was placed; read-only.
    pub last_order_at: Option<NaiveDateTime>,
    pub fields: CompanyFields,
    /// The custom values clients see.
    pub custom_fields: Map<String, Value>,
    pub tier: Option<Tier>,
    /// The year whose profit the tier was computed from.
    pub tier_basis_year: Option<i64>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
    /// The company this one was merged into.
    pub merged_into_id: Option<String>,
}

impl CompanyRow {
    fn new(id: String, fields: &CompanyFields, at: NaiveDateTime) -> Self {
        let mut row = CompanyRow {
            id,
            name: String::new(),
            legal_name: None,
            tax_id: None,
            billing_line1: None,
            billing_line2: None,
            billing_city: None,
            billing_region: None,
            billing_postal_code: None,
            billing_country: None,
            email: None,
            phone: None,
            website: None,
            industry: None,
            owner_id: None,
            tier: None,
            tags: String::new(),
            preferences: String::new(),
            search_text: String::new(),
            version: 1,
            created_at: at,
            updated_at: at,
            archived_at: None,
            tier_basis_year: None,
            merged_into_id: None,
            tax_key: None,
            domain_key: None,
            name_key: None,
            custom_fields: String::new(),
            last_order_at: None,
        };
        row.set_fields(fields);
        row
    }

    fn set_fields(&mut self, f: &CompanyFields) {
        self.name = f.name.clone();
        self.legal_name = f.legal_name.clone();
        self.tax_id = f.tax_id.clone();
        self.tax_key = f.tax_id.as_deref().and_then(tax_key);
        self.domain_key = f.website.as_deref().and_then(domain_key);
        self.name_key = fold(&f.name);
        self.billing_line1 = f.billing_address.line1.clone();
        self.billing_line2 = f.billing_address.line2.clone();
        self.billing_city = f.billing_address.city.clone();
        self.billing_region = f.billing_address.region.clone();
        self.billing_postal_code = f.billing_address.postal_code.clone();
        self.billing_country = f.billing_address.country.clone();
        self.email = f.email.clone();
        self.phone = f.phone.clone();
        self.website = f.website.clone();
        self.industry = f.industry.clone();
        self.owner_id = f.owner_id.clone();
        self.tags = tags_to_json(&f.tags);
        self.preferences = f.preferences.to_string();
        self.custom_fields = Value::Object(f.custom_fields.clone()).to_string();
        self.search_text = [
            Some(&f.name),
            f.legal_name.as_ref(),
            f.tax_id.as_ref(),
            f.email.as_ref(),
            f.phone.as_ref(),
            f.website.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|s| s.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    }

    fn fields(&self) -> Result<CompanyFields, StoreError> {
        Ok(CompanyFields {
            name: self.name.clone(),
            legal_name: self.legal_name.clone(),
            tax_id: self.tax_id.clone(),
            billing_address: Address {
                line1: self.billing_line1.clone(),
                line2: self.billing_line2.clone(),
                city: self.billing_city.clone(),
                region: self.billing_region.clone(),
                postal_code: self.billing_postal_code.clone(),
                country: self.billing_country.clone(),
            },
            email: self.email.clone(),
            phone: self.phone.clone(),
            website: self.website.clone(),
            industry: self.industry.clone(),
            owner_id: self.owner_id.clone(),
            tags: tags_from_json(&self.tags),
            preferences: stored_json("companies", "preferences", &self.preferences)?,
            custom_fields: custom::stored_values("companies", &self.custom_fields)?,
            custom_written: None,
        })
    }

    fn into_company(self, defs: &[CustomField]) -> Result<Company, StoreError> {
        let fields = self.fields()?;
        Ok(Company {
            last_order_at: self.last_order_at,
            custom_fields: custom_values::visible(defs, &fields.custom_fields, false),
            fields,
            tier: stored_opt("companies", "tier", self.tier.as_deref())?,
            tier_basis_year: self.tier_basis_year,
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
            merged_into_id: self.merged_into_id,
        })
    }

    /// What the filter language reads at `path`.
    fn value(&self, path: &str, defs: &[CustomField]) -> FieldValue {
        match path {
            "id" => FieldValue::text(Some(&self.id)),
            "name" => FieldValue::text(Some(&self.name)),
            "legal_name" => FieldValue::text(self.legal_name.as_deref()),
            "tax_id" => FieldValue::text(self.tax_id.as_deref()),
            "billing_address.city" => FieldValue::text(self.billing_city.as_deref()),
            "billing_address.region" => FieldValue::text(self.billing_region.as_deref()),
            "billing_address.postal_code" => FieldValue::text(self.billing_postal_code.as_deref()),
            "billing_address.country" => FieldValue::text(self.billing_country.as_deref()),
            "email" => FieldValue::text(self.email.as_deref()),
            "phone" => FieldValue::text(self.phone.as_deref()),
            "website" => FieldValue::text(self.website.as_deref()),
            "industry" => FieldValue::text(self.industry.as_deref()),
            "owner_id" => FieldValue::text(self.owner_id.as_deref()),
            "tier" => FieldValue::text(self.tier.as_deref()),
            "created_at" => FieldValue::instant(Some(self.created_at)),
            "updated_at" => FieldValue::instant(Some(self.updated_at)),
            "archived_at" => FieldValue::instant(self.archived_at),
            "last_order_at" => FieldValue::instant(self.last_order_at),
            "tags" => FieldValue::Many(
                tags_from_json(&self.tags)
                    .into_iter()
                    .map(Scalar::Text)
                    .collect(),
            ),
            _ => custom::stored_path_value("companies", &self.custom_fields, path, defs),
        }
    }
}

/// When the newest order was placed.
const LAST_ORDER_AT: &str =
    "(SELECT max(o.ordered_at) FROM orders o WHERE o.company_id = companies.id)";

/// A figure of the company's `customer_facts` row (`analytics::facts`), null without one.
macro_rules! fact {
    ($column:literal) => {
        concat!(
            "(SELECT f.",
            $column,
            " FROM customer_facts f WHERE f.company_id = companies.id)"
        )
    };
}

/// What lists of companies filter and sort on.
pub const TABLE: Table = Table {
    object: "companies",
    joins: &[],
    relations: &[("owner", "owner_id", "users")],
    columns: &[
        Column::ID,
        Column::new("name", "name", ColumnKind::Text)
            .sortable()
            .indexed()
            .not_null()
            .required(),
        Column::new("legal_name", "legal_name", ColumnKind::Text),
        Column::new("tax_id", "tax_id", ColumnKind::Text).indexed(),
        Column::new("billing_address.city", "billing_city", ColumnKind::Text),
        Column::new("billing_address.region", "billing_region", ColumnKind::Text),
        Column::new(
            "billing_address.postal_code",
            "billing_postal_code",
            ColumnKind::Text,
        ),
        Column::new(
            "billing_address.country",
            "billing_country",
            ColumnKind::Text,
        )
        .sortable(),
        Column::new("email", "email", ColumnKind::Text),
        Column::new("phone", "phone", ColumnKind::Text),
        Column::new("website", "website", ColumnKind::Text),
        Column::new("industry", "industry", ColumnKind::Text),
        Column::new("owner_id", "owner_id", ColumnKind::Text).indexed(),
        Column::new(
            "tier",
            "tier",
            ColumnKind::Choice(|| choices(Tier::ALL, |v| v.as_str())),
        )
        .sortable(),
        Column::new("tags", "tags", ColumnKind::Tags).not_null(),
        Column::CREATED_AT,
        Column::UPDATED_AT.indexed(),
        Column::ARCHIVED_AT,
        Column::new("last_order_at", LAST_ORDER_AT, ColumnKind::Instant).sortable(),
        Column::new("order_count", fact!("order_count"), ColumnKind::Integer),
        Column::new(
            "profit_last_12_months.amount_minor",
            fact!("profit_last_12_months_minor"),
            ColumnKind::Integer,
        ),
        Column::new(
            "profit_last_year.amount_minor",
            fact!("profit_last_year_minor"),
            ColumnKind::Integer,
        ),
        Column::new(
            "clv_historical.amount_minor",
            fact!("clv_historical_minor"),
            ColumnKind::Integer,
        ),
        Column::new(
            "clv_predicted_12_months.amount_minor",
            fact!("clv_predicted_12_months_minor"),
            ColumnKind::Integer,
        ),
        Column::new(
            "probability_alive",
            fact!("probability_alive_bp"),
            ColumnKind::Decimal(4),
        ),
        Column::new(
            "value_at_risk.amount_minor",
            fact!("value_at_risk_minor"),
            ColumnKind::Integer,
        ),
    ],
};

/// The built-in names custom field keys may not take.
pub fn built_in_names() -> Vec<&'static str> {
    TABLE
        .columns
        .iter()
        .map(|c| c.path)
        .chain([
            "billing_address",
            "preferences",
            "version",
            "custom_fields",
            "tier_basis_year",
        ])
        .collect()
}

fn check_write(
    conn: &mut DbConnection,
    fields: &mut CompanyFields,
    defs: &[CustomField],
    own_id: &str,
    creating: bool,
) -> Result<(), StoreError> {
    if let Some(owner_id) = &fields.owner_id {
        users::ensure_active(conn, owner_id, "owner_id")?;
    }
    fields.custom_fields = custom_values::apply(
        defs,
        &fields.custom_fields,
        fields.custom_written.take().as_ref(),
        creating,
    )?;
    custom::check_unique(
        conn,
        CustomObject::Companies,
        defs,
        &fields.custom_fields,
        own_id,
    )
}

/// Maps the unique index of a custom field, which the check above cannot see for a concurrent
/// write, to the same conflict.
fn map_write_error(error: diesel::result::Error, defs: &[CustomField]) -> StoreError {
    custom::unique_index_conflict(CustomObject::Companies, defs, &error)
        .unwrap_or_else(|| error.into())
}

pub fn create(conn: &mut DbConnection, mut fields: CompanyFields) -> Result<Company, StoreError> {
    let id = new_id();
    let defs = custom::fields_for_write(conn, CustomObject::Companies)?;
    check_write(conn, &mut fields, &defs, &id, true)?;
    let row = CompanyRow::new(id, &fields, now());
    let custom_fields = json_text(Dialect::of(conn), row.custom_fields.clone());
    diesel::insert_into(companies::table)
        .values((&row, companies::custom_fields.eq(custom_fields)))
        .execute(conn)
        .map_err(|e| map_write_error(e, &defs))?;
    outbox::record(conn, EventType::CompanyCreated, &row.id)?;
    row.into_company(&custom::fields(conn, CustomObject::Companies)?)
}

/// Inserts companies, each created at its own time, with multi-row INSERTs; returns their
/// ids. For bulk loads (`demo`), whose caller has checked the owners.
pub fn create_many(
    conn: &mut DbConnection,
    companies: &[(CompanyFields, NaiveDateTime)],
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<CompanyRow> = companies
        .iter()
        .map(|(fields, at)| CompanyRow::new(new_id(), fields, *at))
        .collect();
    crate::platform::db::insert_batch!(conn, companies::table, rows);
    Ok(rows.into_iter().map(|r| r.id).collect())
}

fn load(conn: &mut DbConnection, id: &str) -> Result<CompanyRow, StoreError> {
    Ok(natively!(conn, |native| companies::table
        .find(id)
        .select(CompanyRow::as_select())
        .first(native))?)
}

/// Reads one company; a customer reaching beyond its own company gets `NotFound`.
pub fn get(
    conn: &mut DbConnection,
    id: &str,
    reach: Reach,
    own_company: Option<&str>,
) -> Result<Company, StoreError> {
    reachable(id, reach, own_company)?;
    let row = load(conn, id)?;
    let defs = custom::fields(conn, CustomObject::Companies)?;
    row.into_company(&readable(&defs, reach == Reach::OwnCompany))
}

/// `NotFound` for a customer reaching beyond its own company.
fn reachable(id: &str, reach: Reach, own_company: Option<&str>) -> Result<(), StoreError> {
    if reach == Reach::OwnCompany && own_company != Some(id) {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// One company with nothing embedded, in one statement while `fields` holds the current
/// definitions; a customer sees only the fields shown in the portal.
fn get_whole(
    conn: &mut DbConnection,
    fields: &FieldCache,
    id: &str,
    customer: bool,
) -> Result<Company, StoreError> {
    fields.read_record(
        conn,
        CustomObject::Companies,
        |conn| {
            Ok(natively!(conn, |native| companies::table
                .find(id)
                .select((
                    CompanyRow::as_select(),
                    FixedSql::<CompanyFieldsStamp>::new()
                ))
                .first(native))?)
        },
        |row, defs| row.into_company(&readable(defs, customer)),
    )
}

/// The fields a caller may read: a customer only those shown in the portal.
fn readable(defs: &[CustomField], customer: bool) -> Cow<'_, [CustomField]> {
    if customer {
        Cow::Owned(defs.iter().filter(|d| d.portal_visible).cloned().collect())
    } else {
        Cow::Borrowed(defs)
    }
}

/// Fails with a violation on `field` unless the company exists and is not archived.
pub fn ensure_active(conn: &mut DbConnection, id: &str, field: &str) -> Result<(), StoreError> {
    let found: Option<Option<NaiveDateTime>> = companies::table
        .find(id)
        .select(companies::archived_at)
        .first(conn)
        .optional()?;
    crate::ensure_live(found, field, "company")
}

/// When each of `ids` that names a company was archived (`None` while it is live), in one
/// query: what [`ensure_active`] checks, for many at once.
pub fn archived_at_of(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<HashMap<String, Option<NaiveDateTime>>, StoreError> {
    Ok(companies::table
        .filter(companies::id.eq_any(ids))
        .select((companies::id, companies::archived_at))
        .load(conn)?
        .into_iter()
        .collect())
}

/// The survivor of a merge takes `fields`; its caller holds the lock.
pub(crate) fn absorb(
    conn: &mut DbConnection,
    id: &str,
    fields: CompanyFields,
) -> Result<Company, StoreError> {
    update(conn, id, None, move |stored| {
        *stored = fields;
        Ok(())
    })
}

pub fn update<F>(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    change: F,
) -> Result<Company, StoreError>
where
    F: FnOnce(&mut CompanyFields) -> Result<(), StoreError>,
{
    // The definitions before the record, in the order a change of definition takes them.
    let defs = custom::fields_for_write(conn, CustomObject::Companies)?;
    let mut row = records::checkout(conn, Record::Company, id, expected_version, load, |r| {
        r.version
    })?;
    records::refuse_merged(row.merged_into_id.as_deref())?;
    let mut fields = row.fields()?;
    change(&mut fields)?;
    check_write(conn, &mut fields, &defs, id, false)?;
    let previous_version = row.version;
    row.set_fields(&fields);
    row.version += 1;
    row.updated_at = now();
    records::update_with_custom_fields!(conn, companies, id, previous_version, &row, |e| {
        map_write_error(e, &defs)
    })?;
    outbox::record(conn, EventType::CompanyUpdated, id)?;
    row.into_company(&custom::fields(conn, CustomObject::Companies)?)
}

/// Archives the company; archiving an archived company changes nothing.
pub fn archive(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = records::checkout(conn, Record::Company, id, expected_version, load, |r| {
        r.version
    })?;
    records::refuse_merged(row.merged_into_id.as_deref())?;
    if row.archived_at.is_none() {
        records::archive(conn, Record::Company, id, row.version)?;
        outbox::record(conn, EventType::CompanyArchived, id)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct CompanyFilter {
    /// Lower-cased text to find in name, legal name, tax id, email, phone or website.
    pub q: Option<String>,
    pub tax_id: Option<String>,
    pub country: Option<String>,
    pub owner_id: Option<String>,
    pub tier: Option<Tier>,
    pub tag: Option<String>,
    pub include_archived: bool,
    /// Set for customer principals: only this company is visible.
    pub only_id: Option<String>,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &CompanyFilter,
    query: &ListQuery,
) -> Result<Listed<Company>, StoreError> {
    let defs = custom::fields(conn, CustomObject::Companies)?;
    let defs = readable(&defs, filter.only_id.is_some());
    list_with(conn, &defs, filter, query)
}

fn list_with(
    conn: &mut DbConnection,
    defs: &[CustomField],
    filter: &CompanyFilter,
    query: &ListQuery,
) -> Result<Listed<Company>, StoreError> {
    let plan = TABLE.plan(Dialect::of(conn), defs, query)?;
    let mut rows = companies::table
        .select(CompanyRow::as_select())
        .into_boxed();
    if !filter.include_archived {
        rows = rows.filter(companies::archived_at.is_null());
    }
    if let Some(q) = &filter.q {
        rows =
            crate::platform::pagination::substring_search!(rows, conn, companies::search_text, q);
    }
    if let Some(tax_id) = &filter.tax_id {
        rows = rows.filter(companies::tax_id.eq(tax_id.clone()));
    }
    if let Some(country) = &filter.country {
        rows = rows.filter(companies::billing_country.eq(country.clone()));
    }
    if let Some(owner_id) = &filter.owner_id {
        rows = rows.filter(companies::owner_id.eq(owner_id.clone()));
    }
    if let Some(tier) = filter.tier {
        rows = rows.filter(companies::tier.eq(tier.as_str()));
    }
    if let Some(tag) = &filter.tag {
        rows = rows.filter(companies::tags.like(tag_pattern(tag)).escape('\\'));
    }
    if let Some(only_id) = &filter.only_id {
        rows = rows.filter(companies::id.eq(only_id.clone()));
    }
    let rows: Vec<CompanyRow> = crate::platform::query::planned!(rows, plan).load(conn)?;
    plan.page(
        rows,
        |row, path| row.value(path, defs),
        |row| row.id.clone(),
    )
    .try_map(|row| row.into_company(defs))
}

/// How many live companies `query`'s filter matches, in one `COUNT(*)`.
pub fn count_live(conn: &mut DbConnection, query: &ListQuery) -> Result<i64, StoreError> {
    let defs = custom::fields(conn, CustomObject::Companies)?;
    let plan = TABLE.plan(Dialect::of(conn), &defs, query)?;
    let mut rows = companies::table
        .filter(companies::archived_at.is_null())
        .into_boxed();
    if let Some(condition) = plan.condition {
        rows = rows.filter(condition);
    }
    Ok(rows.count().get_result(conn)?)
}

/// The companies among `ids`, in one query.
pub fn by_ids(
    conn: &mut DbConnection,
    ids: &[String],
    defs: &[CustomField],
) -> Result<Vec<Company>, StoreError> {
    let rows: Vec<CompanyRow> = companies::table
        .filter(companies::id.eq_any(ids))
        .select(CompanyRow::as_select())
        .load(conn)?;
    rows.into_iter().map(|row| row.into_company(defs)).collect()
}

/// A page of companies with the records it points at.
pub fn list_expanded(
    conn: &mut DbConnection,
    filter: &CompanyFilter,
    query: &ListQuery,
    expand: Expand,
) -> Result<(Listed<Company>, Related), StoreError> {
    let defs = custom::fields(conn, CustomObject::Companies)?;
    let defs = readable(&defs, filter.only_id.is_some());
    let page = list_with(conn, &defs, filter, query)?;
    let owners = page
        .items
        .iter()
        .filter_map(|c| c.fields.owner_id.clone())
        .collect();
    let related = load_related(conn, expand, Vec::new(), owners, &[])?;
    Ok((page, related))
}

/// One company with the records it points at; a customer reaching beyond its own company gets
/// `NotFound`.
pub fn get_expanded(
    conn: &mut DbConnection,
    fields: &FieldCache,
    id: &str,
    reach: Reach,
    own_company: Option<&str>,
    expand: Expand,
) -> Result<(Company, Related), StoreError> {
    if expand == Expand::default() {
        reachable(id, reach, own_company)?;
        let company = get_whole(conn, fields, id, reach == Reach::OwnCompany)?;
        return Ok((company, Related::default()));
    }
    read_transaction(conn, |conn| {
        let company = get(conn, id, reach, own_company)?;
        let related = load_related(
            conn,
            expand,
            Vec::new(),
            company.fields.owner_id.clone().into_iter().collect(),
            &[],
        )?;
        Ok((company, related))
    })
}

/// `NotFound` unless the company exists (archived or not).
pub fn ensure_exists(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    load(conn, id).map(|_| ())
}

/// The live company with exactly this name, if any.
pub fn find_active_by_name(
    conn: &mut DbConnection,
    name: &str,
) -> Result<Option<String>, StoreError> {
    Ok(companies::table
        .filter(companies::name.eq(name))
        .filter(companies::archived_at.is_null())
        .order(companies::created_at.asc())
        .select(companies::id)
        .first(conn)
        .optional()?)
}

/// Writes the tier computed from `basis_year` to each company; those not named are unranked.
/// Records `company.tier_changed` for each company whose tier this changes. Returns how many
/// live companies were tiered.
pub fn set_tiers(
    conn: &mut DbConnection,
    tiers: &[(String, Tier)],
    basis_year: i32,
) -> Result<usize, StoreError> {
    let changed = tiers_changed_by(conn, tiers)?;
    let tiered = diesel::update(companies::table.filter(companies::archived_at.is_null()))
        .set((
            companies::tier.eq(Some(Tier::UNRANKED.as_str())),
            companies::tier_basis_year.eq(Some(i64::from(basis_year))),
        ))
        .execute(conn)?;
    // Everyone is unranked now; the others follow in a few set-wise updates, not one per
    // company.
    for raised in Tier::ALL.iter().copied().filter(|t| *t != Tier::UNRANKED) {
        let ids: Vec<&String> = tiers
            .iter()
            .filter(|(_, tier)| *tier == raised)
            .map(|(id, _)| id)
            .collect();
        for chunk in ids.chunks(500) {
            diesel::update(companies::table.filter(companies::id.eq_any(chunk)))
                .set(companies::tier.eq(Some(raised.as_str())))
                .execute(conn)?;
        }
    }
    for id in &changed {
        outbox::record(conn, EventType::CompanyTierChanged, id)?;
    }
    Ok(tiered)
}

/// The companies, by id, whose tier `set_tiers(tiers)` changes: every live one takes its tier
/// in `tiers` or else unranked, and one named there takes that tier even when archived. Read in
/// one query before the writes.
fn tiers_changed_by(
    conn: &mut DbConnection,
    tiers: &[(String, Tier)],
) -> Result<Vec<String>, StoreError> {
    let next: std::collections::HashMap<&str, Tier> = tiers
        .iter()
        .map(|(id, tier)| (id.as_str(), *tier))
        .collect();
    let stored: Vec<(String, Option<String>, bool)> = companies::table
        .order(companies::id.asc())
        .select((
            companies::id,
            companies::tier,
            companies::archived_at.is_null(),
        ))
        .load(conn)?;
    Ok(stored
        .into_iter()
        .filter(|(id, tier, live)| {
            let to = match next.get(id.as_str()) {
                Some(tier) => *tier,
                None if *live => Tier::UNRANKED,
                None => return false,
            };
            tier.as_deref() != Some(to.as_str())
        })
        .map(|(id, _, _)| id)
        .collect())
}

/// Names of companies, by id.
pub fn names(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<Vec<(String, String, Option<Tier>)>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String, Option<String>)> = companies::table
            .filter(companies::id.eq_any(chunk))
            .select((companies::id, companies::name, companies::tier))
            .load(conn)?;
        for (id, name, tier) in rows {
            let tier = stored_opt("companies", "tier", tier.as_deref())?;
            out.push((id, name, tier));
        }
    }
    Ok(out)
}

// Records shown beside the ids that point at them (`expand=`): one query per relation for a
// whole page.

/// Which relations a read embeds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expand {
    pub company: bool,
    pub owner: bool,
    /// The owner of each embedded company.
    pub company_owner: bool,
}

/// The records a page points at, by id.
#[derive(Debug, Clone, Default)]
pub struct Related {
    pub companies: HashMap<String, Company>,
    pub users: HashMap<String, UserSummary>,
}

/// Loads the companies and users a page points at: the companies in one query, then every user
/// (owners of records and of those companies) in one more.
pub fn load_related(
    conn: &mut DbConnection,
    expand: Expand,
    company_ids: Vec<String>,
    mut user_ids: Vec<String>,
    company_fields: &[CustomField],
) -> Result<Related, StoreError> {
    let mut related = Related::default();
    if expand.company && !company_ids.is_empty() {
        for company in by_ids(conn, &dedup(company_ids), company_fields)? {
            if expand.company_owner {
                user_ids.extend(company.fields.owner_id.clone());
            }
            related.companies.insert(company.id.clone(), company);
        }
    }
    if (expand.owner || expand.company_owner) && !user_ids.is_empty() {
        for user in users::summaries(conn, &dedup(user_ids))? {
            related.users.insert(user.id.clone(), user);
        }
    }
    Ok(related)
}

fn dedup(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids.dedup();
    ids
}
