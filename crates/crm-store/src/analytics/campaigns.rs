//! What a campaign earned: its attributed orders under the customer-profit rule, less what it
//! cost, in the base currency.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use crm_domain::analytics::profit::Figures;
use crm_domain::marketing::campaigns::MemberStatus;
use crm_domain::marketing::report::{campaign_return, CampaignMoney, CampaignReturn};
use crm_domain::platform::money::Currency;
use crm_domain::sales::orders::OrderStatus;
use diesel::prelude::*;

use crate::analytics::rollups::{self, month_of};
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

type TaggedOrder = (
    String,
    Option<String>,
    Option<String>,
    NaiveDateTime,
    String,
    String,
    i64,
    i64,
    i64,
);

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

/// The report of a campaign the caller may see. A missing exchange rate is a `422` naming the
/// currency and the day.
pub fn report(
    conn: &mut DbConnection,
    campaign_id: &str,
    visible: &Visible,
    base: Currency,
) -> Result<CampaignReport, StoreError> {
    let campaign = campaigns::get(conn, campaign_id, visible)?;
    let tagged: Vec<TaggedOrder> = orders::table
        .filter(orders::campaign_id.eq(campaign_id))
        .select((
            orders::id,
            orders::company_id,
            orders::contact_id,
            orders::ordered_at,
            orders::currency,
            orders::status,
            orders::subtotal_minor,
            orders::discount_minor,
            orders::cost_minor,
        ))
        .load(conn)?;
    let mut by_month = ByMonth::new();
    let mut attributed = Vec::new();
    let mut buyers = BTreeSet::new();
    let mut outside_window_orders = 0;
    for (id, company, contact, ordered_at, currency, status, subtotal, discount, cost) in tagged {
        if stored::<OrderStatus>("orders", "status", &status)? == OrderStatus::Cancelled {
            continue;
        }
        if !campaign.fields.schedule.counts(ordered_at.date()) {
            outside_window_orders += 1;
            continue;
        }
        let figures = Figures {
            revenue_minor: subtotal - discount,
            cost_minor: cost,
            orders: 1,
            ..Figures::default()
        };
        add(
            &mut by_month,
            month_of(ordered_at.date()),
            &currency,
            &figures,
        )?;
        buyers.insert(company.or(contact).unwrap_or_else(|| id.clone()));
        attributed.push(id);
    }
    for ((_, month, currency), figures) in rollups::returns_of_orders(conn, &attributed)? {
        add(&mut by_month, month, &currency, &figures)?;
    }
    for (_, month, currency, amount) in rollups::credits_of_orders(conn, &attributed)? {
        let credit = Figures {
            returns_minor: amount,
            ..Figures::default()
        };
        add(&mut by_month, month, &currency, &credit)?;
    }
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
        conversions: i64::try_from(buyers.len()).unwrap_or(i64::MAX),
    };
    Ok(CampaignReport {
        campaign_id: campaign.id,
        currency: base,
        members: i64::try_from(statuses.len()).unwrap_or(i64::MAX),
        responders,
        attributed_orders: i64::try_from(attributed.len()).unwrap_or(i64::MAX),
        outside_window_orders,
        figures: campaign_return(&money),
        money,
    })
}
