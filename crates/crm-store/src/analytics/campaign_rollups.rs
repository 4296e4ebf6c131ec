//! What each campaign's tagged orders earned, kept in the same transaction as the customer
//! rollups (see [`crate::analytics::rollups`]): the orders' own sales in their month, and their
//! refunds, concessions and credit notes in the month those happened, all keyed by the day the
//! order was placed, which decides whether it falls in the campaign's attribution window.
//! An order's rows follow it: when its campaign or its date changes, the order's write moves
//! them, its returns' and credit notes' included.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::analytics::profit::Figures;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text};
use std::sync::LazyLock;

use crate::analytics::rollup_sql::{add_rows, add_to_rollup_sql};
use crate::platform::db::{DbConnection, BATCH_ROWS};
use crate::platform::schema::{campaign_rollups, orders};
use crate::StoreError;

/// (campaign, the day its order was placed, `YYYY-MM` the money fell in, currency).
pub type CampaignKey = (String, NaiveDate, String, String);

/// The campaign of an order and the day it was placed.
pub(crate) type Tag = (String, NaiveDate);

pub(crate) fn key(tag: &Tag, month: String, currency: &str) -> CampaignKey {
    (tag.0.clone(), tag.1, month, currency.to_owned())
}

/// Adds `delta` to the campaign rollup of `key`.
pub(crate) fn apply(
    conn: &mut DbConnection,
    key: &CampaignKey,
    delta: &Figures,
) -> Result<(), StoreError> {
    if *delta == Figures::default() {
        return Ok(());
    }
    static SQL: LazyLock<String> = LazyLock::new(|| {
        add_to_rollup_sql(
            "campaign_rollups",
            &["campaign_id", "ordered_on", "month", "currency"],
            &[
                "revenue_minor",
                "cost_minor",
                "returns_minor",
                "concessions_minor",
                "orders",
            ],
        )
    });
    let (campaign, ordered_on, month, currency) = key;
    diesel::sql_query(SQL.as_str())
        .bind::<Text, _>(campaign)
        .bind::<Date, _>(ordered_on)
        .bind::<Text, _>(month)
        .bind::<Text, _>(currency)
        .bind::<BigInt, _>(delta.revenue_minor)
        .bind::<BigInt, _>(delta.cost_minor)
        .bind::<BigInt, _>(delta.returns_minor)
        .bind::<BigInt, _>(delta.concessions_minor)
        .bind::<BigInt, _>(delta.orders)
        .execute(conn)?;
    Ok(())
}

/// Adds rows to the stored campaign rollups; returns how many it wrote.
pub(crate) fn add(
    conn: &mut DbConnection,
    campaigns: &BTreeMap<CampaignKey, Figures>,
) -> Result<usize, StoreError> {
    let rows: Vec<_> = campaigns
        .iter()
        .map(|((campaign, ordered_on, month, currency), f)| {
            (
                campaign_rollups::campaign_id.eq(campaign),
                campaign_rollups::ordered_on.eq(ordered_on),
                campaign_rollups::month.eq(month),
                campaign_rollups::currency.eq(currency),
                campaign_rollups::revenue_minor.eq(f.revenue_minor),
                campaign_rollups::cost_minor.eq(f.cost_minor),
                campaign_rollups::returns_minor.eq(f.returns_minor),
                campaign_rollups::concessions_minor.eq(f.concessions_minor),
                campaign_rollups::orders.eq(f.orders),
            )
        })
        .collect();
    Ok(add_rows!(conn, campaign_rollups, rows,
        keys: (campaign_id, ordered_on, month, currency),
        sums: (revenue_minor, cost_minor, returns_minor, concessions_minor, orders)))
}

/// A stored campaign rollup row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = campaign_rollups)]
struct CampaignRow {
    campaign_id: String,
    ordered_on: NaiveDate,
    month: String,
    currency: String,
    revenue_minor: i64,
    cost_minor: i64,
    returns_minor: i64,
    concessions_minor: i64,
    orders: i64,
}

fn figures_of(row: CampaignRow) -> (CampaignKey, Figures) {
    (
        (row.campaign_id, row.ordered_on, row.month, row.currency),
        Figures {
            revenue_minor: row.revenue_minor,
            cost_minor: row.cost_minor,
            returns_minor: row.returns_minor,
            concessions_minor: row.concessions_minor,
            orders: row.orders,
            units_milli: 0,
        },
    )
}

/// Every maintained campaign row.
pub(crate) fn stored(
    conn: &mut DbConnection,
) -> Result<BTreeMap<CampaignKey, Figures>, StoreError> {
    let rows: Vec<CampaignRow> = campaign_rollups::table
        .select(CampaignRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(figures_of).collect())
}

/// The maintained rows of one campaign.
pub fn of_campaign(
    conn: &mut DbConnection,
    campaign_id: &str,
) -> Result<Vec<(CampaignKey, Figures)>, StoreError> {
    let rows: Vec<CampaignRow> = campaign_rollups::table
        .filter(campaign_rollups::campaign_id.eq(campaign_id))
        .select(CampaignRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(figures_of).collect())
}

/// The campaign and day of each of `order_ids` that names a campaign.
pub(crate) fn tags(
    conn: &mut DbConnection,
    order_ids: &[String],
) -> Result<BTreeMap<String, Tag>, StoreError> {
    let mut tags = BTreeMap::new();
    for part in order_ids.chunks(BATCH_ROWS) {
        let rows: Vec<(String, Option<String>, NaiveDateTime)> = orders::table
            .filter(orders::id.eq_any(part))
            .filter(orders::campaign_id.is_not_null())
            .select((orders::id, orders::campaign_id, orders::ordered_at))
            .load(conn)?;
        tags.extend(
            rows.into_iter()
                .filter_map(|(id, campaign, at)| Some((id, (campaign?, at.date())))),
        );
    }
    Ok(tags)
}

/// What credits taken off orders — (order, month, currency, amount), as
/// [`crate::analytics::rollups::credits_of_orders`] gives them — take off their campaigns.
pub(crate) fn of_credits(
    conn: &mut DbConnection,
    credits: Vec<(String, String, String, i64)>,
) -> Result<Vec<(CampaignKey, Figures)>, StoreError> {
    if credits.is_empty() {
        return Ok(Vec::new());
    }
    let orders: Vec<String> = credits.iter().map(|(order, ..)| order.clone()).collect();
    let tags = tags(conn, &orders)?;
    Ok(credits
        .into_iter()
        .filter_map(|(order, month, currency, amount)| {
            let tag = tags.get(&order)?;
            Some((
                key(tag, month, &currency),
                Figures {
                    returns_minor: amount,
                    ..Figures::default()
                },
            ))
        })
        .collect())
}
