//! `expand=` on leads, opportunities and orders: the companies, contacts, users and products
//! they point at, embedded beside their ids.

use crm_domain::access::permissions::{Access, Resource};
use crm_store::sales::related::{Embed, Embedded};
use serde_json::Value;

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::shape::{embed, Shape, Shaped};
use crate::sales::documents::embed_products;

/// What a relation embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Company,
    Contact,
    /// A user, as `id`, `email` and `role`.
    User,
}

/// A relation `expand=` may name: the key it is embedded under, what it embeds, and the key of
/// the record that holds its id.
#[derive(Debug, Clone, Copy)]
pub struct Relation {
    pub name: &'static str,
    pub kind: Kind,
    pub via: &'static str,
}

/// The path that embeds each line's product.
pub const LINE_PRODUCTS: &str = "lines.product";

/// The names `expand=` takes for `relations`, and `lines.product` when the record has lines.
pub fn names(relations: &[Relation], lines: bool) -> Vec<&'static str> {
    relations
        .iter()
        .map(|r| r.name)
        .chain(lines.then_some(LINE_PRODUCTS))
        .collect()
}

/// What the store loads for `shape`: an embedded company or contact is read as the record
/// itself would be, so it needs the caller's read of it.
pub fn embed_of(
    principal: &Principal,
    shape: &Shape,
    relations: &[Relation],
) -> Result<Embed, ApiError> {
    let asks = |kind: Kind| {
        relations
            .iter()
            .any(|r| r.kind == kind && shape.expands(r.name))
    };
    let embed = Embed {
        companies: asks(Kind::Company),
        contacts: asks(Kind::Contact),
        users: asks(Kind::User),
        products: shape.expands(LINE_PRODUCTS),
    };
    if embed.companies {
        principal.authorize(Resource::Companies, Access::Read)?;
    }
    if embed.contacts {
        principal.authorize(Resource::Contacts, Access::Read)?;
    }
    Ok(embed)
}

/// A record's body with the asked relations embedded, then cut down to the asked fields.
pub fn shaped<T: serde::Serialize>(
    record: T,
    shape: &Shape,
    relations: &[Relation],
    embedded: &Embedded,
) -> Shaped<T> {
    shape.apply(record, |value| {
        for relation in relations.iter().filter(|r| shape.expands(r.name)) {
            let id = value[relation.via].as_str().map(str::to_owned);
            let found = id.and_then(|id| match relation.kind {
                Kind::Company => embedded.companies.get(&id).map(|c| {
                    serde_json::to_value(crate::parties::companies::Company::from(c.clone()))
                        .unwrap_or(Value::Null)
                }),
                Kind::Contact => embedded.contacts.get(&id).map(|c| {
                    serde_json::to_value(crate::parties::contacts::Contact::from(c.clone()))
                        .unwrap_or(Value::Null)
                }),
                Kind::User => embedded
                    .users
                    .get(&id)
                    .map(crate::parties::companies::user_summary),
            });
            embed(value, relation.name, found);
        }
        if shape.expands(LINE_PRODUCTS) {
            embed_products(value, &embedded.products, false);
        }
    })
}
