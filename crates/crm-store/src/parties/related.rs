//! Records shown beside the ids that point at them (`expand=`): one query per relation for a
//! whole page.

use std::collections::HashMap;

use crm_domain::platform::custom_fields::CustomField;

use crate::access::users::{self, UserSummary};
use crate::parties::companies::{self, Company};
use crate::platform::db::DbConnection;
use crate::StoreError;

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
pub fn load(
    conn: &mut DbConnection,
    expand: Expand,
    company_ids: Vec<String>,
    mut user_ids: Vec<String>,
    company_fields: &[CustomField],
) -> Result<Related, StoreError> {
    let mut related = Related::default();
    if expand.company && !company_ids.is_empty() {
        for company in companies::by_ids(conn, &dedup(company_ids), company_fields)? {
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
