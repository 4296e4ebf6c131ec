//! Products: the catalogue, with a unique SKU.

use crate::events::outbox;
use chrono::NaiveDateTime;
use crm_domain::events::catalogue::EventType;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::pagination::{finish, keyset, After, KeyValue, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::products;
use crate::{new_id, now, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = products, treat_none_as_null = true)]
struct ProductRow {
    id: String,
    sku: String,
    name: String,
    description: Option<String>,
    currency: String,
    unit_price_minor: i64,
    unit_cost_minor: Option<i64>,
    tax_rate_bp: i64,
    active: bool,
    search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
}

/// What a client may write. `currency` is an ISO 4217 code, already checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFields {
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub currency: String,
    pub unit_price_minor: i64,
    pub unit_cost_minor: Option<i64>,
    pub tax_rate_bp: i64,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    pub fields: ProductFields,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
}

impl ProductRow {
    fn set_fields(&mut self, f: &ProductFields) {
        self.sku = f.sku.clone();
        self.name = f.name.clone();
        self.description = f.description.clone();
        self.currency = f.currency.clone();
        self.unit_price_minor = f.unit_price_minor;
        self.unit_cost_minor = f.unit_cost_minor;
        self.tax_rate_bp = f.tax_rate_bp;
        self.active = f.active;
        self.search_text = format!("{} {}", f.sku, f.name).to_lowercase();
    }

    fn fields(&self) -> ProductFields {
        ProductFields {
            sku: self.sku.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            currency: self.currency.clone(),
            unit_price_minor: self.unit_price_minor,
            unit_cost_minor: self.unit_cost_minor,
            tax_rate_bp: self.tax_rate_bp,
            active: self.active,
        }
    }

    fn into_product(self) -> Product {
        Product {
            fields: self.fields(),
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
        }
    }
}

fn check_sku(conn: &mut DbConnection, sku: &str, own_id: &str) -> Result<(), StoreError> {
    let existing: Option<String> = products::table
        .filter(products::sku.eq(sku))
        .filter(products::id.ne(own_id))
        .select(products::id)
        .first(conn)
        .optional()?;
    match existing {
        Some(existing_id) => Err(StoreError::Conflict {
            message: format!("a product with SKU {sku} already exists"),
            existing_id: Some(existing_id),
        }),
        None => Ok(()),
    }
}

fn map_write_error(error: diesel::result::Error) -> StoreError {
    if StoreError::is_unique_violation(&error) {
        StoreError::Conflict {
            message: "a product with this SKU already exists".into(),
            existing_id: None,
        }
    } else {
        error.into()
    }
}

pub fn create(conn: &mut DbConnection, fields: ProductFields) -> Result<Product, StoreError> {
    let id = new_id();
    check_sku(conn, &fields.sku, &id)?;
    let at = now();
    let mut row = ProductRow {
        id,
        sku: String::new(),
        name: String::new(),
        description: None,
        currency: String::new(),
        unit_price_minor: 0,
        unit_cost_minor: None,
        tax_rate_bp: 0,
        active: true,
        search_text: String::new(),
        version: 1,
        created_at: at,
        updated_at: at,
        archived_at: None,
    };
    row.set_fields(&fields);
    diesel::insert_into(products::table)
        .values(&row)
        .execute(conn)
        .map_err(map_write_error)?;
    outbox::record(conn, EventType::ProductCreated, &row.id)?;
    Ok(row.into_product())
}

fn load(conn: &mut DbConnection, id: &str) -> Result<ProductRow, StoreError> {
    records::load_row(conn, products::table, id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Product, StoreError> {
    load(conn, id).map(ProductRow::into_product)
}

/// The products among `ids`, in one query.
pub fn by_ids(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<Product>, StoreError> {
    let rows: Vec<ProductRow> = products::table
        .filter(products::id.eq_any(ids))
        .select(ProductRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(ProductRow::into_product).collect())
}

/// The products whose SKU is among `skus`, in one query.
pub fn by_skus(conn: &mut DbConnection, skus: &[String]) -> Result<Vec<Product>, StoreError> {
    let rows: Vec<ProductRow> = products::table
        .filter(products::sku.eq_any(skus))
        .select(ProductRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(ProductRow::into_product).collect())
}

pub fn find_by_sku(conn: &mut DbConnection, sku: &str) -> Result<Option<Product>, StoreError> {
    let row: Option<ProductRow> = products::table
        .filter(products::sku.eq(sku))
        .select(ProductRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(ProductRow::into_product))
}

pub fn update<F>(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    change: F,
) -> Result<Product, StoreError>
where
    F: FnOnce(&mut ProductFields) -> Result<(), StoreError>,
{
    let mut row = records::checkout(conn, Record::Product, id, expected_version, load, |r| {
        r.version
    })?;
    let mut fields = row.fields();
    change(&mut fields)?;
    check_sku(conn, &fields.sku, id)?;
    let previous_version = row.version;
    row.set_fields(&fields);
    row.version += 1;
    row.updated_at = now();
    records::written(
        diesel::update(
            products::table
                .filter(products::id.eq(id))
                .filter(products::version.eq(previous_version)),
        )
        .set(&row)
        .execute(conn)
        .map_err(map_write_error)?,
        previous_version,
    )?;
    outbox::record(conn, EventType::ProductUpdated, id)?;
    Ok(row.into_product())
}

/// Archives the product: it stays on the documents that name it and leaves the catalogue.
pub fn archive(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = records::checkout(conn, Record::Product, id, expected_version, load, |r| {
        r.version
    })?;
    if row.archived_at.is_none() {
        let at = now();
        diesel::update(products::table.filter(products::id.eq(id)))
            .set((
                products::archived_at.eq(Some(at)),
                products::active.eq(false),
                products::updated_at.eq(at),
                products::version.eq(row.version + 1),
            ))
            .execute(conn)?;
        outbox::record(conn, EventType::ProductArchived, id)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductSort {
    CreatedAt,
    Name,
}

#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Lower-cased text to find in the SKU or name.
    pub q: Option<String>,
    pub active: Option<bool>,
    pub include_archived: bool,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &ProductFilter,
    page: &PageRequest<ProductSort>,
) -> Result<Page<Product>, StoreError> {
    let mut query = products::table.select(ProductRow::as_select()).into_boxed();
    if !filter.include_archived {
        query = query.filter(products::archived_at.is_null());
    }
    if let Some(q) = &filter.q {
        query =
            crate::platform::pagination::substring_search!(query, conn, products::search_text, q);
    }
    if let Some(active) = filter.active {
        query = query.filter(products::active.eq(active));
    }
    let rows: Vec<ProductRow> = match page.sort {
        ProductSort::CreatedAt => {
            keyset!(query, products::created_at, products::id, page, time).load(conn)?
        }
        ProductSort::Name => keyset!(query, products::name, products::id, page, text).load(conn)?,
    };
    let sort = page.sort;
    Ok(finish(rows, page.limit, |row| After {
        key: match sort {
            ProductSort::CreatedAt => KeyValue::Time(row.created_at),
            ProductSort::Name => KeyValue::Text(row.name.clone()),
        },
        id: row.id.clone(),
    })
    .map(ProductRow::into_product))
}

/// (id, SKU, name) of each of `ids` that exists.
pub fn names(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String, String)> = products::table
            .filter(products::id.eq_any(chunk))
            .select((products::id, products::sku, products::name))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}
