//! Companies (accounts).

use crate::events::outbox;
use chrono::NaiveDateTime;
use crm_domain::access::permissions::Reach;
use crm_domain::events::catalogue::EventType;
use crm_domain::parties::companies::Tier;
use diesel::prelude::*;

use crate::platform::address::Address;
use crate::platform::db::DbConnection;
use crate::platform::pagination::{finish, keyset, After, KeyValue, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::companies;
use crate::platform::stored::stored_opt;
use crate::{access::users, new_id, now, tag_pattern, tags_from_json, tags_to_json, StoreError};

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
        }
    }
}

#[derive(Debug, Clone)]
pub struct Company {
    pub id: String,
    pub fields: CompanyFields,
    pub tier: Option<Tier>,
    /// The year whose profit the tier was computed from.
    pub tier_basis_year: Option<i64>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
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
        };
        row.set_fields(fields);
        row
    }

    fn set_fields(&mut self, f: &CompanyFields) {
        self.name = f.name.clone();
        self.legal_name = f.legal_name.clone();
        self.tax_id = f.tax_id.clone();
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

    fn fields(&self) -> CompanyFields {
        CompanyFields {
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
            preferences: serde_json::from_str(&self.preferences).unwrap_or_default(),
        }
    }

    fn into_company(self) -> Result<Company, StoreError> {
        Ok(Company {
            fields: self.fields(),
            tier: stored_opt("companies", "tier", self.tier.as_deref())?,
            tier_basis_year: self.tier_basis_year,
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
        })
    }
}

fn check_references(conn: &mut DbConnection, fields: &CompanyFields) -> Result<(), StoreError> {
    if let Some(owner_id) = &fields.owner_id {
        users::ensure_active(conn, owner_id, "owner_id")?;
    }
    Ok(())
}

pub fn create(conn: &mut DbConnection, fields: CompanyFields) -> Result<Company, StoreError> {
    check_references(conn, &fields)?;
    let row = CompanyRow::new(new_id(), &fields, now());
    diesel::insert_into(companies::table)
        .values(&row)
        .execute(conn)?;
    outbox::record(conn, EventType::CompanyCreated, &row.id)?;
    row.into_company()
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
    Ok(companies::table
        .find(id)
        .select(CompanyRow::as_select())
        .first(conn)?)
}

/// Reads one company; a customer reaching beyond its own company gets `NotFound`.
pub fn get(
    conn: &mut DbConnection,
    id: &str,
    reach: Reach,
    own_company: Option<&str>,
) -> Result<Company, StoreError> {
    if reach == Reach::OwnCompany && own_company != Some(id) {
        return Err(StoreError::NotFound);
    }
    load(conn, id)?.into_company()
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

pub fn update<F>(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    change: F,
) -> Result<Company, StoreError>
where
    F: FnOnce(&mut CompanyFields) -> Result<(), StoreError>,
{
    let mut row = records::checkout(conn, Record::Company, id, expected_version, load, |r| {
        r.version
    })?;
    let mut fields = row.fields();
    change(&mut fields)?;
    check_references(conn, &fields)?;
    let previous_version = row.version;
    row.set_fields(&fields);
    row.version += 1;
    row.updated_at = now();
    records::written(
        diesel::update(
            companies::table
                .filter(companies::id.eq(id))
                .filter(companies::version.eq(previous_version)),
        )
        .set(&row)
        .execute(conn)?,
        previous_version,
    )?;
    outbox::record(conn, EventType::CompanyUpdated, id)?;
    row.into_company()
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
    if row.archived_at.is_none() {
        let at = now();
        diesel::update(companies::table.filter(companies::id.eq(id)))
            .set((
                companies::archived_at.eq(Some(at)),
                companies::updated_at.eq(at),
                companies::version.eq(row.version + 1),
            ))
            .execute(conn)?;
        outbox::record(conn, EventType::CompanyArchived, id)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanySort {
    CreatedAt,
    UpdatedAt,
    Name,
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
    page: &PageRequest<CompanySort>,
) -> Result<Page<Company>, StoreError> {
    let mut query = companies::table
        .select(CompanyRow::as_select())
        .into_boxed();
    if !filter.include_archived {
        query = query.filter(companies::archived_at.is_null());
    }
    if let Some(q) = &filter.q {
        query =
            crate::platform::pagination::substring_search!(query, conn, companies::search_text, q);
    }
    if let Some(tax_id) = &filter.tax_id {
        query = query.filter(companies::tax_id.eq(tax_id.clone()));
    }
    if let Some(country) = &filter.country {
        query = query.filter(companies::billing_country.eq(country.clone()));
    }
    if let Some(owner_id) = &filter.owner_id {
        query = query.filter(companies::owner_id.eq(owner_id.clone()));
    }
    if let Some(tier) = filter.tier {
        query = query.filter(companies::tier.eq(tier.as_str()));
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(companies::tags.like(tag_pattern(tag)).escape('\\'));
    }
    if let Some(only_id) = &filter.only_id {
        query = query.filter(companies::id.eq(only_id.clone()));
    }
    let rows: Vec<CompanyRow> = match page.sort {
        CompanySort::CreatedAt => {
            keyset!(query, companies::created_at, companies::id, page, time).load(conn)?
        }
        CompanySort::UpdatedAt => {
            keyset!(query, companies::updated_at, companies::id, page, time).load(conn)?
        }
        CompanySort::Name => {
            keyset!(query, companies::name, companies::id, page, text).load(conn)?
        }
    };
    let sort = page.sort;
    finish(rows, page.limit, |row| After {
        key: match sort {
            CompanySort::CreatedAt => KeyValue::Time(row.created_at),
            CompanySort::UpdatedAt => KeyValue::Time(row.updated_at),
            CompanySort::Name => KeyValue::Text(row.name.clone()),
        },
        id: row.id.clone(),
    })
    .try_map(CompanyRow::into_company)
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
