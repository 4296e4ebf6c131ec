//! The permission matrix: which role may do what, as one table.
//!
//! API keys act as the `integration` role, further narrowed to the scopes they were given
//! (`contacts:read`, `contacts:write`, ...). `write` includes `read`.
//!
//! Merging contacts or companies (`merge`) is more than writing them: it rewrites the history
//! of other records. Admins and managers may; an API key needs its own `contacts:merge` or
//! `companies:merge` scope, which `write` does not imply.

use std::fmt;
use std::str::FromStr;

use crate::access::roles::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Companies,
    Contacts,
    Interactions,
    Leads,
    Products,
    Quotes,
    Orders,
    Opportunities,
    Pipelines,
    ExchangeRates,
    Invoices,
    Returns,
    Settings,
    Portal,
    Analytics,
    Users,
    ApiKeys,
    Events,
    Webhooks,
    Integrations,
    Cases,
    KnowledgeBase,
    ServiceSettings,
    Campaigns,
    CampaignCosts,
    Consents,
    Segments,
    Tasks,
    VisitPlans,
    AutomationRules,
}

impl Resource {
    pub const ALL: [Resource; 30] = [
        Resource::Companies,
        Resource::Contacts,
        Resource::Interactions,
        Resource::Leads,
        Resource::Products,
        Resource::Quotes,
        Resource::Orders,
        Resource::Opportunities,
        Resource::Pipelines,
        Resource::ExchangeRates,
        Resource::Invoices,
        Resource::Returns,
        Resource::Settings,
        Resource::Portal,
        Resource::Analytics,
        Resource::Users,
        Resource::ApiKeys,
        Resource::Events,
        Resource::Webhooks,
        Resource::Integrations,
        Resource::Cases,
        Resource::KnowledgeBase,
        Resource::ServiceSettings,
        Resource::Campaigns,
        Resource::CampaignCosts,
        Resource::Consents,
        Resource::Segments,
        Resource::Tasks,
        Resource::VisitPlans,
        Resource::AutomationRules,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Companies => "companies",
            Resource::Contacts => "contacts",
            Resource::Interactions => "interactions",
            Resource::Leads => "leads",
            Resource::Products => "products",
            Resource::Quotes => "quotes",
            Resource::Orders => "orders",
            Resource::Opportunities => "opportunities",
            Resource::Pipelines => "pipelines",
            Resource::ExchangeRates => "exchange_rates",
            Resource::Invoices => "invoices",
            Resource::Returns => "returns",
            Resource::Settings => "settings",
            Resource::Portal => "portal",
            Resource::Analytics => "analytics",
            Resource::Users => "users",
            Resource::ApiKeys => "api_keys",
            Resource::Events => "events",
            Resource::Webhooks => "webhooks",
            Resource::Integrations => "integrations",
            Resource::Cases => "cases",
            Resource::KnowledgeBase => "knowledge_base",
            Resource::ServiceSettings => "service_settings",
            Resource::Campaigns => "campaigns",
            Resource::CampaignCosts => "campaign_costs",
            Resource::Consents => "consents",
            Resource::Segments => "segments",
            Resource::Tasks => "tasks",
            Resource::VisitPlans => "visit_plans",
            Resource::AutomationRules => "automation_rules",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
    /// Submitting web-form leads: a narrow, rate-limited channel of its own, which `write`
    /// does not imply for API keys.
    Intake,
    /// Merging duplicates of contacts or companies into one record.
    Merge,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Intake => "intake",
            Access::Merge => "merge",
        }
    }
}

/// The resources whose duplicates can be merged.
const MERGEABLE: [Resource; 2] = [Resource::Contacts, Resource::Companies];

/// The roles that may merge, besides integrations through their `merge` scope.
const MERGERS: [Role; 3] = [Role::Admin, Role::Manager, Role::Integration];

/// What one role may do with one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    None,
    Read,
    /// Read and write (create, update, delete, actions).
    Write,
    /// Read only the records of the principal's own company.
    ReadOwnCompany,
    /// Read and act on only the records of the principal's own company.
    WriteOwnCompany,
}

use Grant::{None as No, Read as R, Write as W, WriteOwnCompany as OwnW};

/// Rows: resources. Columns: admin, manager, sales, support, integration, customer
/// (the order of [`Role::ALL`]).
const MATRIX: [(Resource, [Grant; 6]); 30] = [
    (Resource::Companies, [W, W, W, R, W, No]),
    (Resource::Contacts, [W, W, W, W, W, No]),
    (Resource::Interactions, [W, W, W, W, W, No]),
    (Resource::Leads, [W, W, W, R, W, No]),
    (Resource::Products, [W, W, R, R, W, No]),
    (Resource::Quotes, [W, W, W, R, W, No]),
    (Resource::Orders, [W, W, W, R, W, No]),
    (Resource::Opportunities, [W, W, W, R, W, No]),
    (Resource::Pipelines, [W, R, R, R, R, No]),
    (Resource::ExchangeRates, [W, W, R, R, R, No]),
    (Resource::Invoices, [W, W, R, R, R, No]),
    (Resource::Returns, [W, W, W, W, W, No]),
    (Resource::Settings, [W, R, R, R, R, No]),
    (Resource::Portal, [No, No, No, No, No, OwnW]),
    (Resource::Analytics, [W, W, R, R, R, No]),
    (Resource::Users, [W, R, No, No, No, No]),
    (Resource::ApiKeys, [W, No, No, No, No, No]),
    (Resource::Events, [W, R, No, No, R, No]),
    (Resource::Webhooks, [W, R, No, No, W, No]),
    // Shop connections hold the secrets that let a shop write orders: admins only.
    (Resource::Integrations, [W, No, No, No, No, No]),
    // Customers use the portal's case routes instead.
    (Resource::Cases, [W, W, W, W, W, No]),
    (Resource::KnowledgeBase, [W, W, R, W, R, No]),
    // Calendars, SLA policies, teams and the desk's settings.
    (Resource::ServiceSettings, [W, W, R, R, R, No]),
    // Sales see only the campaigns they own (the store narrows).
    (Resource::Campaigns, [W, W, W, R, W, No]),
    // What campaigns cost, and the figures built on it: support staff read campaigns, not
    // their money.
    (Resource::CampaignCosts, [W, W, W, No, W, No]),
    // Whoever talks to customers records what they agreed to.
    (Resource::Consents, [W, W, W, W, W, No]),
    // Sales see only the segments they own (the store narrows).
    (Resource::Segments, [W, W, W, R, R, No]),
    // Sales and support see the tasks assigned to them (the store narrows).
    (Resource::Tasks, [W, W, W, W, W, No]),
    // Sales see the visit plans they own.
    (Resource::VisitPlans, [W, W, W, R, W, No]),
    // Greeting and follow-up rules: what the maintenance loop turns into tasks for everyone.
    (Resource::AutomationRules, [W, W, R, R, R, No]),
];

/// Whether a role sees what campaigns cost (their budget too).
pub fn sees_campaign_costs(role: Role) -> bool {
    authorize(role, Resource::CampaignCosts, Access::Read).is_ok()
}

/// Whether a role sees only the tasks assigned to it.
pub fn sees_own_tasks_only(role: Role) -> bool {
    matches!(role, Role::Sales | Role::Support)
}

/// Whether a role sees only the campaigns it owns.
pub fn sees_own_campaigns_only(role: Role) -> bool {
    role == Role::Sales
}

pub fn grant(role: Role, resource: Resource) -> Grant {
    let column = Role::ALL.iter().position(|r| *r == role).unwrap_or(0);
    MATRIX
        .iter()
        .find(|(r, _)| *r == resource)
        .map_or(Grant::None, |(_, grants)| grants[column])
}

/// How far an allowed access reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    All,
    /// Only records that belong to the principal's own company.
    OwnCompany,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("role `{role}` may not {} {}", access.as_str(), resource.as_str())]
pub struct Denied {
    pub role: Role,
    pub resource: Resource,
    pub access: Access,
}

/// Decides whether `role` may perform `access` on `resource`, and over which records.
pub fn authorize(role: Role, resource: Resource, access: Access) -> Result<Reach, Denied> {
    let denied = Denied {
        role,
        resource,
        access,
    };
    match (grant(role, resource), access) {
        (Grant::Write, Access::Intake) if resource == Resource::Leads => Ok(Reach::All),
        (Grant::Write, Access::Merge)
            if MERGEABLE.contains(&resource) && MERGERS.contains(&role) =>
        {
            Ok(Reach::All)
        }
        (Grant::Write, Access::Read | Access::Write) | (Grant::Read, Access::Read) => {
            Ok(Reach::All)
        }
        (Grant::ReadOwnCompany, Access::Read)
        | (Grant::WriteOwnCompany, Access::Read | Access::Write) => Ok(Reach::OwnCompany),
        _ => Err(denied),
    }
}

/// A permission an API key can carry, such as `contacts:write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope {
    pub resource: Resource,
    pub access: Access,
}

impl Scope {
    /// Every scope an API key may be given: what the integration role may do.
    pub fn all() -> Vec<Scope> {
        let mut scopes = Vec::new();
        for resource in Resource::ALL {
            for access in [Access::Read, Access::Write, Access::Intake, Access::Merge] {
                if authorize(Role::Integration, resource, access).is_ok() {
                    scopes.push(Scope { resource, access });
                }
            }
        }
        scopes
    }

    /// A `write` scope also grants `read`, but not `intake` or `merge`.
    pub fn covers(self, resource: Resource, access: Access) -> bool {
        self.resource == resource
            && (self.access == access || (self.access == Access::Write && access == Access::Read))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource.as_str(), self.access.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::all()
            .into_iter()
            .find(|scope| scope.to_string() == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// The matrix as a Markdown table, for the README and the API description.
pub fn markdown_table() -> String {
    let mut out = String::from("| resource |");
    for role in Role::ALL {
        out.push_str(&format!(" {role} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Role::ALL.len()));
    out.push('\n');
    for (resource, grants) in MATRIX {
        out.push_str(&format!("| {} |", resource.as_str()));
        for g in grants {
            out.push_str(match g {
                Grant::None => " - |",
                Grant::Read => " read |",
                Grant::Write => " write |",
                Grant::ReadOwnCompany => " read own company |",
                Grant::WriteOwnCompany => " write own company |",
            });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_may_not_list_contacts() {
        assert!(authorize(Role::Customer, Resource::Contacts, Access::Read).is_err());
    }

    /// A company carries its tier, owner and preferences, which are internal: a customer reads
    /// its own company through the portal's fiscal data instead.
    #[test]
    fn customers_read_their_company_only_through_the_portal() {
        assert!(authorize(Role::Customer, Resource::Companies, Access::Read).is_err());
        assert_eq!(
            authorize(Role::Customer, Resource::Portal, Access::Read),
            Ok(Reach::OwnCompany)
        );
    }

    #[test]
    fn write_implies_read() {
        assert_eq!(
            authorize(Role::Sales, Resource::Contacts, Access::Read),
            Ok(Reach::All)
        );
        let scope: Scope = "contacts:write".parse().unwrap();
        assert!(scope.covers(Resource::Contacts, Access::Read));
        assert!(!scope.covers(Resource::Companies, Access::Read));
    }

    #[test]
    fn only_admins_manage_api_keys() {
        for role in Role::ALL.iter().copied() {
            let allowed = authorize(role, Resource::ApiKeys, Access::Write).is_ok();
            assert_eq!(allowed, role == Role::Admin, "{role}");
        }
    }

    #[test]
    fn api_keys_cannot_be_scoped_to_user_administration() {
        assert!("users:read".parse::<Scope>().is_err());
        assert!("api_keys:write".parse::<Scope>().is_err());
        assert!("interactions:read".parse::<Scope>().is_ok());
    }

    #[test]
    fn intake_is_its_own_scope() {
        let intake: Scope = "leads:intake".parse().unwrap();
        assert!(intake.covers(Resource::Leads, Access::Intake));
        assert!(!intake.covers(Resource::Leads, Access::Read));
        let write: Scope = "leads:write".parse().unwrap();
        assert!(!write.covers(Resource::Leads, Access::Intake));
        assert!("contacts:intake".parse::<Scope>().is_err());
    }

    #[test]
    fn customers_reach_no_sales_documents() {
        for resource in [
            Resource::Products,
            Resource::Quotes,
            Resource::Orders,
            Resource::Leads,
        ] {
            assert!(authorize(Role::Customer, resource, Access::Read).is_err());
        }
    }

    #[test]
    fn only_admins_managers_and_merge_scoped_keys_merge() {
        for role in Role::ALL.iter().copied() {
            let allowed = authorize(role, Resource::Contacts, Access::Merge).is_ok();
            let expected = matches!(role, Role::Admin | Role::Manager | Role::Integration);
            assert_eq!(allowed, expected, "{role}");
        }
        assert!(authorize(Role::Sales, Resource::Companies, Access::Merge).is_err());
        assert!(authorize(Role::Admin, Resource::Orders, Access::Merge).is_err());
        let merge: Scope = "contacts:merge".parse().unwrap();
        assert!(merge.covers(Resource::Contacts, Access::Merge));
        assert!(!merge.covers(Resource::Contacts, Access::Write));
        let write: Scope = "contacts:write".parse().unwrap();
        assert!(!write.covers(Resource::Contacts, Access::Merge));
        assert!("companies:merge".parse::<Scope>().is_ok());
        assert!("orders:merge".parse::<Scope>().is_err());
    }

    #[test]
    fn table_has_a_row_per_resource() {
        let table = markdown_table();
        assert_eq!(table.lines().count(), 2 + Resource::ALL.len());
        assert!(table.contains("| companies | write | write | write | read | write | - |"));
    }
}
