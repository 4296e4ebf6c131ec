//! What a campaign earned: its attributed orders under the customer-profit rule, less what it
//! cost, in the base currency. The money comes from the campaign rollups, a few rows per
//! campaign; the buyers are counted from its orders through their campaign index.

use std::collections::BTreeMap;

use chrono::NaiveTime;
use crm_domain::analytics::profit::Figures;
use crm_domain::marketing::campaigns::{MemberStatus, Schedule};
use crm_domain::marketing::report::{campaign_return, CampaignMoney, CampaignReturn};
use crm_domain::platform::money::Currency;
use crm_domain::sales::orders::OrderStatus;
use diesel::prelude::*;

use crate::analytics::campaign_rollups;
use crate::analytics::rollups::month_of;
use crate::marketing::campaigns::{self, Visible};
use crate::platform::db::DbConnection;
use crate::platform::exchange_rates::ToBase;
use crate::platform::schema::{campaign_costs, campaign_members, orders};
use crate::platform::stored::stored;
use crate::StoreError;

#[derive(Debug, Clone)]
pub struct CampaignReport {
    pub campaign_id: String,
    pub currency: Currency,
    pub members: i64,
    /// Members who responded or converted.
    pub responders: i64,
    pub attributed_orders: i64,
    /// Orders naming the campaign placed before it started or after its window.
    pub outside_window_orders: i64,
    pub money: CampaignMoney,
    pub figures: CampaignReturn,
}

/// Sums of one currency in one month, converted once, as the profit series converts.
type ByMonth = BTreeMap<(String, String), Figures>;

fn add(
    by_month: &mut ByMonth,
    month: String,
    currency: &str,
    figures: &Figures,
) -> Result<(), StoreError> {
    by_month
        .entry((month, currency.to_owned()))
        .or_default()
        .add(figures)?;
    Ok(())
}

/// The distinct buyers (company, else contact) of the campaign's orders placed in its window,
/// cancelled orders aside.
fn buyers(
    conn: &mut DbConnection,
    campaign_id: &str,
    schedule: &Schedule,
) -> Result<i64, StoreError> {
    let mut query = orders::table
        .filter(orders::campaign_id.eq(campaign_id))
        .filter(orders::status.ne(OrderStatus::Cancelled.as_str()))
        .filter(orders::ordered_at.ge(schedule.starts_on.and_time(NaiveTime::MIN)))
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "COUNT(DISTINCT COALESCE(orders.company_id, orders.contact_id, orders.id))",
        ))
        .into_boxed();
    if let Some(after) = schedule.last_counted_day().succ_opt() {
        query = query.filter(orders::ordered_at.lt(after.and_time(NaiveTime::MIN)));
    }
    Ok(query.first(conn)?)
}

/// The report of a campaign the caller may see. A missing exchange rate is a `422` naming the
/// currency and the day.
pub fn report(
    conn: &mut DbConnection,
    campaign_id: &str,
    visible: &Visible,
    base: Currency,
) -> Result<CampaignReport, StoreError> {
    let campaign = campaigns::get(conn, campaign_id, visible)?;
    let schedule = &campaign.fields.schedule;
    let mut by_month = ByMonth::new();
    let mut attributed_orders = 0;
    let mut outside_window_orders = 0;
    for ((_, ordered_on, month, currency), figures) in
        campaign_rollups::of_campaign(conn, campaign_id)?
    {
        if schedule.counts(ordered_on) {
            attributed_orders += figures.orders;
            add(&mut by_month, month, &currency, &figures)?;
        } else {
            outside_window_orders += figures.orders;
        }
    }
    let conversions = buyers(conn, campaign_id, schedule)?;
    let mut to_base = ToBase::new(base);
    let mut total = Figures::default();
    for ((month, currency), figures) in &by_month {
        total.add(&to_base.figures(conn, figures, currency, month)?)?;
    }
    let spent: Vec<(i64, String, chrono::NaiveDate)> = campaign_costs::table
        .filter(campaign_costs::campaign_id.eq(campaign_id))
        .select((
            campaign_costs::amount_minor,
            campaign_costs::currency,
            campaign_costs::incurred_on,
        ))
        .load(conn)?;
    let mut costs: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (amount, currency, day) in spent {
        let entry = costs.entry((month_of(day), currency)).or_default();
        *entry = crm_domain::platform::money::add_minor("campaign_cost", *entry, amount)?;
    }
    let mut campaign_cost_minor: i64 = 0;
    for ((month, currency), amount) in &costs {
        let converted = to_base.amount(conn, *amount, currency, month)?;
        campaign_cost_minor = crm_domain::platform::money::add_minor(
            "campaign_cost",
            campaign_cost_minor,
            converted,
        )?;
    }
    let statuses: Vec<String> = campaign_members::table
        .filter(campaign_members::campaign_id.eq(campaign_id))
        .select(campaign_members::status)
        .load(conn)?;
    let mut responders = 0;
    for status in &statuses {
        let status: MemberStatus = stored("campaign_members", "status", status)?;
        if matches!(status, MemberStatus::Responded | MemberStatus::Converted) {
            responders += 1;
        }
    }
    let money = CampaignMoney {
        revenue_minor: total.revenue_minor,
        cost_of_goods_minor: total.cost_minor,
        returns_and_credits_minor: total.returns_minor,
        concessions_minor: total.concessions_minor,
        campaign_cost_minor,
        conversions,
    };
    Ok(CampaignReport {
        campaign_id: campaign.id,
        currency: base,
        members: i64::try_from(statuses.len()).unwrap_or(i64::MAX),
        responders,
        attributed_orders,
        outside_window_orders,
        figures: campaign_return(&money),
        money,
    })
}
