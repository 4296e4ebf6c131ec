//! Greeting and follow-up rules: configuration the maintenance loop reads on every run. An edit
//! applies from the next run; the tasks a rule made stay, and its occurrence keys keep a rule
//! from making a second task for an occasion it already served.

use chrono::NaiveDateTime;
use crm_domain::engagement::automation::{
    FollowUpTrigger, Occasion, MAX_AFTER_DAYS, MAX_DAYS_BEFORE,
};
use crm_domain::marketing::campaigns::ConsentChannel;
use crm_domain::platform::text::valid_locale;
use crm_domain::{Violation, Violations};
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{follow_up_rules, greeting_rules};
use crate::platform::stored::{stored, stored_json};
use crate::{new_id, now, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreetingRuleFields {
    pub name: String,
    pub occasion: Occasion,
    /// BCP 47 tags; empty takes every contact.
    pub locales: Vec<String>,
    /// Contacts unreachable on it are not greeted.
    pub channel: Option<ConsentChannel>,
    pub days_before: i32,
}

#[derive(Debug, Clone)]
pub struct GreetingRule {
    pub id: String,
    pub fields: GreetingRuleFields,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = greeting_rules, treat_none_as_null = true)]
struct GreetingRuleRow {
    id: String,
    name: String,
    occasion: String,
    locales: String,
    channel: Option<String>,
    days_before: i32,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl GreetingRuleRow {
    fn of(rule: &GreetingRule) -> Self {
        let f = &rule.fields;
        GreetingRuleRow {
            id: rule.id.clone(),
            name: f.name.clone(),
            occasion: f.occasion.to_text(),
            locales: serde_json::to_string(&f.locales).unwrap_or_else(|_| "[]".to_owned()),
            channel: f.channel.map(|c| c.as_str().to_owned()),
            days_before: f.days_before,
            version: rule.version,
            created_at: rule.created_at,
            updated_at: rule.updated_at,
        }
    }

    fn into_rule(self) -> Result<GreetingRule, StoreError> {
        let occasion =
            Occasion::parse("occasion", &self.occasion).map_err(|_| StoreError::Corrupt {
                table: "greeting_rules",
                column: "occasion",
                value: self.occasion.clone(),
            })?;
        Ok(GreetingRule {
            fields: GreetingRuleFields {
                name: self.name,
                occasion,
                locales: stored_json("greeting_rules", "locales", &self.locales)?,
                channel: self
                    .channel
                    .map(|c| stored("greeting_rules", "channel", &c))
                    .transpose()?,
                days_before: self.days_before,
            },
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl GreetingRuleFields {
    pub fn validate(&self) -> Result<(), Violations> {
        let mut violations = Violations::default();
        if !(0..=MAX_DAYS_BEFORE).contains(&self.days_before) {
            violations.push(Violation::new(
                "days_before",
                format!("must be from 0 to {MAX_DAYS_BEFORE}"),
            ));
        }
        for (i, tag) in self.locales.iter().enumerate() {
            if !valid_locale(tag) {
                violations.push(Violation::new(
                    format!("locales[{i}]"),
                    "must be a BCP 47 language tag, such as es or es-ES",
                ));
            }
        }
        violations.into_result()
    }
}

pub fn create_greeting(
    conn: &mut DbConnection,
    fields: GreetingRuleFields,
) -> Result<GreetingRule, StoreError> {
    fields.validate()?;
    let at = now();
    let rule = GreetingRule {
        id: new_id(),
        fields,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    diesel::insert_into(greeting_rules::table)
        .values(GreetingRuleRow::of(&rule))
        .execute(conn)?;
    Ok(rule)
}

fn load_greeting(conn: &mut DbConnection, id: &str) -> Result<GreetingRuleRow, StoreError> {
    records::load_row(conn, greeting_rules::table, id)
}

pub fn get_greeting(conn: &mut DbConnection, id: &str) -> Result<GreetingRule, StoreError> {
    load_greeting(conn, id)?.into_rule()
}

pub fn list_greetings(
    conn: &mut DbConnection,
    _: &(),
    page: &PageRequest<()>,
) -> Result<Page<GreetingRule>, StoreError> {
    page_by_time!(conn, page, greeting_rules::created_at, GreetingRuleRow)
        .try_map(GreetingRuleRow::into_rule)
}

/// Every greeting rule, for a run.
pub(crate) fn all_greetings(conn: &mut DbConnection) -> Result<Vec<GreetingRule>, StoreError> {
    greeting_rules::table
        .select(GreetingRuleRow::as_select())
        .order((greeting_rules::created_at, greeting_rules::id))
        .load(conn)?
        .into_iter()
        .map(GreetingRuleRow::into_rule)
        .collect()
}

/// Changes a greeting rule on the version the caller read.
pub fn update_greeting(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    edit: impl FnOnce(&mut GreetingRuleFields) -> Result<(), StoreError>,
) -> Result<GreetingRule, StoreError> {
    let mut rule = records::checkout(
        conn,
        Record::GreetingRule,
        id,
        expected_version,
        load_greeting,
        |r| r.version,
    )?
    .into_rule()?;
    edit(&mut rule.fields)?;
    rule.fields.validate()?;
    let mut row = GreetingRuleRow::of(&rule);
    records::write_next_version!(conn, greeting_rules, id, row)?;
    row.into_rule()
}

pub fn delete_greeting(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = records::checkout(
        conn,
        Record::GreetingRule,
        id,
        expected_version,
        load_greeting,
        |r| r.version,
    )?;
    records::delete_versioned!(conn, greeting_rules, id, row.version)?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpRuleFields {
    pub name: String,
    pub trigger: FollowUpTrigger,
    pub after_days: i32,
}

impl FollowUpRuleFields {
    pub fn validate(&self) -> Result<(), Violations> {
        if !(1..=MAX_AFTER_DAYS).contains(&self.after_days) {
            return Err(Violation::new(
                "after_days",
                format!("must be from 1 to {MAX_AFTER_DAYS}"),
            )
            .into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct FollowUpRule {
    pub id: String,
    pub fields: FollowUpRuleFields,
    pub version: i64,
    /// Only what happens from this instant on is followed up.
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = follow_up_rules)]
struct FollowUpRuleRow {
    id: String,
    name: String,
    trigger_event: String,
    after_days: i32,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl FollowUpRuleRow {
    fn of(rule: &FollowUpRule) -> Self {
        FollowUpRuleRow {
            id: rule.id.clone(),
            name: rule.fields.name.clone(),
            trigger_event: rule.fields.trigger.as_str().to_owned(),
            after_days: rule.fields.after_days,
            version: rule.version,
            created_at: rule.created_at,
            updated_at: rule.updated_at,
        }
    }

    fn into_rule(self) -> Result<FollowUpRule, StoreError> {
        Ok(FollowUpRule {
            fields: FollowUpRuleFields {
                name: self.name,
                trigger: stored("follow_up_rules", "trigger_event", &self.trigger_event)?,
                after_days: self.after_days,
            },
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A follow-up rule, from `at` (the service clock's now, against which its cutoffs are read).
pub fn create_follow_up(
    conn: &mut DbConnection,
    fields: FollowUpRuleFields,
    at: NaiveDateTime,
) -> Result<FollowUpRule, StoreError> {
    fields.validate()?;
    let rule = FollowUpRule {
        id: new_id(),
        fields,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    diesel::insert_into(follow_up_rules::table)
        .values(FollowUpRuleRow::of(&rule))
        .execute(conn)?;
    Ok(rule)
}

fn load_follow_up(conn: &mut DbConnection, id: &str) -> Result<FollowUpRuleRow, StoreError> {
    records::load_row(conn, follow_up_rules::table, id)
}

pub fn get_follow_up(conn: &mut DbConnection, id: &str) -> Result<FollowUpRule, StoreError> {
    load_follow_up(conn, id)?.into_rule()
}

pub fn list_follow_ups(
    conn: &mut DbConnection,
    _: &(),
    page: &PageRequest<()>,
) -> Result<Page<FollowUpRule>, StoreError> {
    page_by_time!(conn, page, follow_up_rules::created_at, FollowUpRuleRow)
        .try_map(FollowUpRuleRow::into_rule)
}

pub(crate) fn all_follow_ups(conn: &mut DbConnection) -> Result<Vec<FollowUpRule>, StoreError> {
    follow_up_rules::table
        .select(FollowUpRuleRow::as_select())
        .order((follow_up_rules::created_at, follow_up_rules::id))
        .load(conn)?
        .into_iter()
        .map(FollowUpRuleRow::into_rule)
        .collect()
}

/// Changes a follow-up rule on the version the caller read; what it follows up still starts
/// when the rule was created.
pub fn update_follow_up(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    edit: impl FnOnce(&mut FollowUpRuleFields) -> Result<(), StoreError>,
) -> Result<FollowUpRule, StoreError> {
    let mut rule = records::checkout(
        conn,
        Record::FollowUpRule,
        id,
        expected_version,
        load_follow_up,
        |r| r.version,
    )?
    .into_rule()?;
    edit(&mut rule.fields)?;
    rule.fields.validate()?;
    let mut row = FollowUpRuleRow::of(&rule);
    records::write_next_version!(conn, follow_up_rules, id, row)?;
    row.into_rule()
}

pub fn delete_follow_up(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = records::checkout(
        conn,
        Record::FollowUpRule,
        id,
        expected_version,
        load_follow_up,
        |r| r.version,
    )?;
    records::delete_versioned!(conn, follow_up_rules, id, row.version)?;
    Ok(())
}
