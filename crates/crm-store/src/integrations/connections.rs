//! Shop connections: which shop may push orders, under which channel, signed with which secret.

use chrono::NaiveDateTime;
use crm_domain::integrations::{Platform, ShopSettings};
use diesel::prelude::*;

use crate::platform::db::{lock_key, DbConnection};
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::integration_connections;
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};

/// What an admin sets on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionFields {
    pub name: String,
    /// Shopify's `*.myshopify.com` domain, compared with `X-Shopify-Shop-Domain`.
    pub shop_domain: Option<String>,
    /// WooCommerce's site, compared with `X-WC-Webhook-Source`.
    pub site_url: Option<String>,
    pub prices_include_tax: bool,
    pub default_tax_rate_bp: i64,
    pub accept_test_orders: bool,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub id: String,
    pub platform: Platform,
    /// The channel of the orders it stores; fixed, since their external ids live in it.
    pub channel: String,
    pub fields: ConnectionFields,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Connection {
    pub fn settings(&self) -> ShopSettings {
        ShopSettings {
            prices_include_tax_default: self.fields.prices_include_tax,
            default_tax_rate_bp: self.fields.default_tax_rate_bp,
            accept_test_orders: self.fields.accept_test_orders,
        }
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = integration_connections, treat_none_as_null = true)]
struct ConnectionRow {
    id: String,
    platform: String,
    name: String,
    channel: String,
    secret: String,
    shop_domain: Option<String>,
    site_url: Option<String>,
    prices_include_tax: bool,
    default_tax_rate_bp: i64,
    accept_test_orders: bool,
    enabled: bool,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl ConnectionRow {
    fn fields(&self) -> ConnectionFields {
        ConnectionFields {
            name: self.name.clone(),
            shop_domain: self.shop_domain.clone(),
            site_url: self.site_url.clone(),
            prices_include_tax: self.prices_include_tax,
            default_tax_rate_bp: self.default_tax_rate_bp,
            accept_test_orders: self.accept_test_orders,
            enabled: self.enabled,
        }
    }

    fn into_connection(self) -> Result<Connection, StoreError> {
        Ok(Connection {
            platform: stored("integration_connections", "platform", &self.platform)?,
            fields: self.fields(),
            id: self.id,
            channel: self.channel,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    fn set(&mut self, fields: ConnectionFields) {
        self.name = fields.name;
        self.shop_domain = fields.shop_domain;
        self.site_url = fields.site_url;
        self.prices_include_tax = fields.prices_include_tax;
        self.default_tax_rate_bp = fields.default_tax_rate_bp;
        self.accept_test_orders = fields.accept_test_orders;
        self.enabled = fields.enabled;
    }
}

/// Creates a connection; its channel is taken by no other (`409` naming the one that has it).
pub fn create(
    conn: &mut DbConnection,
    platform: Platform,
    channel: String,
    secret: String,
    fields: ConnectionFields,
) -> Result<Connection, StoreError> {
    lock_key(conn, &format!("integration-channel:{channel}"))?;
    let existing: Option<String> = integration_connections::table
        .filter(integration_connections::channel.eq(&channel))
        .select(integration_connections::id)
        .first(conn)
        .optional()?;
    if let Some(existing_id) = existing {
        return Err(StoreError::Conflict {
            message: format!("channel {channel} belongs to another connection"),
            existing_id: Some(existing_id),
        });
    }
    let at = now();
    let mut row = ConnectionRow {
        id: new_id(),
        platform: platform.as_str().to_owned(),
        name: String::new(),
        channel,
        secret,
        shop_domain: None,
        site_url: None,
        prices_include_tax: false,
        default_tax_rate_bp: 0,
        accept_test_orders: false,
        enabled: true,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    row.set(fields);
    diesel::insert_into(integration_connections::table)
        .values(&row)
        .execute(conn)?;
    row.into_connection()
}

fn load(conn: &mut DbConnection, id: &str) -> Result<ConnectionRow, StoreError> {
    records::load_row(conn, integration_connections::table, id)
}

/// Locks the connection and checks `If-Match`: the start of its every write.
fn checkout(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<ConnectionRow, StoreError> {
    records::checkout(
        conn,
        Record::IntegrationConnection,
        id,
        expected_version,
        load,
        |r| r.version,
    )
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Connection, StoreError> {
    load(conn, id)?.into_connection()
}

/// The connection with the secret its webhooks are signed with.
pub fn with_secret(conn: &mut DbConnection, id: &str) -> Result<(Connection, String), StoreError> {
    let mut row = load(conn, id)?;
    let secret = std::mem::take(&mut row.secret);
    Ok((row.into_connection()?, secret))
}

pub fn list(
    conn: &mut DbConnection,
    _: &(),
    page: &PageRequest<()>,
) -> Result<Page<Connection>, StoreError> {
    page_by_time!(
        conn,
        page,
        integration_connections::created_at,
        ConnectionRow
    )
    .try_map(ConnectionRow::into_connection)
}

/// Changes what `edit` changes, and the secret when one is given.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    secret: Option<String>,
    edit: impl FnOnce(&Platform, &mut ConnectionFields) -> Result<(), StoreError>,
) -> Result<Connection, StoreError> {
    let mut row = checkout(conn, id, expected_version)?;
    let platform = stored("integration_connections", "platform", &row.platform)?;
    let mut fields = row.fields();
    edit(&platform, &mut fields)?;
    row.set(fields);
    if let Some(secret) = secret {
        row.secret = secret;
    }
    records::write_next_version!(conn, integration_connections, id, row)?;
    row.into_connection()
}

/// Deletes the connection and its log; the orders it stored stay, with its id.
pub fn delete(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = checkout(conn, id, expected_version)?;
    records::delete_versioned!(conn, integration_connections, id, row.version)?;
    Ok(())
}
