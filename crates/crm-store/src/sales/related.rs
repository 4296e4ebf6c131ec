//! The parties, users and products a page of leads, opportunities or orders points at, for
//! `expand=`.

use std::collections::HashMap;

use crm_domain::platform::custom_fields::CustomObject;

use crate::access::users::{self, UserSummary};
use crate::parties::companies::{self, Company};
use crate::parties::contacts::{self, Contact};
use crate::platform::custom_fields as custom;
use crate::platform::db::DbConnection;
use crate::platform::query::{ListQuery, Listed};
use crate::sales::products::{self, Product};
use crate::StoreError;

/// Which kinds of record to embed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Embed {
    pub companies: bool,
    pub contacts: bool,
    pub users: bool,
    /// The products of the lines.
    pub products: bool,
}

/// The ids a page points at, by kind.
#[derive(Debug, Clone, Default)]
pub struct Pointers {
    pub companies: Vec<String>,
    pub contacts: Vec<String>,
    pub users: Vec<String>,
    pub products: Vec<String>,
}

impl Pointers {
    /// Adds one record's ids.
    pub fn add(&mut self, company: Option<&str>, contact: Option<&str>, user: Option<&str>) {
        self.companies.extend(company.map(str::to_owned));
        self.contacts.extend(contact.map(str::to_owned));
        self.users.extend(user.map(str::to_owned));
    }
}

/// A record whose parties, users or products `expand=` can embed.
pub trait PointsAt {
    /// Adds the ids this record points at.
    fn point(&self, pointers: &mut Pointers);
}

/// One record, read by `get`, with the records `embed` asks for.
pub fn get_expanded<T: PointsAt>(
    conn: &mut DbConnection,
    id: &str,
    embed: Embed,
    get: fn(&mut DbConnection, &str) -> Result<T, StoreError>,
) -> Result<(T, Embedded), StoreError> {
    let record = get(conn, id)?;
    let mut pointers = Pointers::default();
    record.point(&mut pointers);
    Ok((record, load(conn, embed, pointers)?))
}

/// A page, read by `list`, with the records `embed` asks for.
pub fn list_expanded<F, T: PointsAt>(
    conn: &mut DbConnection,
    filter: &F,
    query: &ListQuery,
    embed: Embed,
    list: fn(&mut DbConnection, &F, &ListQuery) -> Result<Listed<T>, StoreError>,
) -> Result<(Listed<T>, Embedded), StoreError> {
    let page = list(conn, filter, query)?;
    let mut pointers = Pointers::default();
    for record in &page.items {
        record.point(&mut pointers);
    }
    Ok((page, load(conn, embed, pointers)?))
}

/// The embedded records, by id.
#[derive(Debug, Clone, Default)]
pub struct Embedded {
    pub companies: HashMap<String, Company>,
    pub contacts: HashMap<String, Contact>,
    pub users: HashMap<String, UserSummary>,
    pub products: Vec<Product>,
}

/// Loads what `embed` asks for: one query per kind, and one for the custom fields of the
/// parties embedded.
pub fn load(
    conn: &mut DbConnection,
    embed: Embed,
    pointers: Pointers,
) -> Result<Embedded, StoreError> {
    let mut embedded = Embedded::default();
    let mut objects = Vec::new();
    if embed.companies && !pointers.companies.is_empty() {
        objects.push(CustomObject::Companies);
    }
    if embed.contacts && !pointers.contacts.is_empty() {
        objects.push(CustomObject::Contacts);
    }
    let mut fields = if objects.is_empty() {
        HashMap::new()
    } else {
        custom::fields_of(conn, &objects)?
    };
    if objects.contains(&CustomObject::Companies) {
        let defs = fields.remove(&CustomObject::Companies).unwrap_or_default();
        for company in companies::by_ids(conn, &distinct(pointers.companies), &defs)? {
            embedded.companies.insert(company.id.clone(), company);
        }
    }
    if objects.contains(&CustomObject::Contacts) {
        let defs = fields.remove(&CustomObject::Contacts).unwrap_or_default();
        for contact in contacts::by_ids(conn, &distinct(pointers.contacts), &defs)? {
            embedded.contacts.insert(contact.id.clone(), contact);
        }
    }
    if embed.users && !pointers.users.is_empty() {
        for user in users::summaries(conn, &distinct(pointers.users))? {
            embedded.users.insert(user.id.clone(), user);
        }
    }
    if embed.products && !pointers.products.is_empty() {
        embedded.products = products::by_ids(conn, &distinct(pointers.products))?;
    }
    Ok(embedded)
}

fn distinct(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids.dedup();
    ids
}
