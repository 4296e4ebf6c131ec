//! Each customer's figures per calendar year in the base currency, beside the monthly rollups,
//! so that the ranking and the tiers of a year read one row per customer, in profit order, from
//! an index.
//!
//! A year is the sum of its months, each converted at its own rate, exactly as the monthly
//! reports convert them. A write to a month adds the change of that month's converted figures
//! (converted after minus converted before), so the year stays exact to the cent while orders
//! come and go. A month that cannot be converted (no rate yet), or a row kept in another base
//! currency, leaves the year incomplete: its reads fall back to the monthly rollups until the
//! year is folded again from its months, which a rate change, a merge, the maintenance loop and
//! a rebuild do.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::NaiveDate;
use crm_domain::analytics::profit::{Figures, RankOrder, RankPosition};
use crm_domain::platform::money::Currency;
use diesel::sql_types::{BigInt, Bool, Integer, Text};
use diesel::{BoolExpressionMethods, ExpressionMethods, QueryDsl, QueryableByName, RunQueryDsl};

use crate::platform::db::{insert_batch, natively, try_lock_key, DbConnection, BATCH_ROWS};
use crate::platform::exchange_rates::{self, ExchangeRate, ToBase};
use crate::platform::schema::{customer_rollups, customer_year_rollups};
use crate::StoreError;

static BASE_CURRENCY: OnceLock<Currency> = OnceLock::new();

/// Sets the base currency the yearly rollups are kept in: the configured one, once per process.
pub fn install_base_currency(base: Currency) {
    let _ = BASE_CURRENCY.set(base);
}

/// The base currency the yearly rollups are kept in.
pub fn base_currency() -> Currency {
    BASE_CURRENCY.get().copied().unwrap_or(Currency::EUR)
}

/// (company, year).
pub type YearKey = (String, i32);

/// A monthly rollup's key: (company, month, currency).
pub(crate) type MonthKey = (String, String, String);

/// A year's figures, or `None` where a month of it did not convert.
pub type YearFigures = Option<Figures>;

fn year_of(month: &str) -> Result<i32, StoreError> {
    month
        .get(..4)
        .and_then(|year| year.parse().ok())
        .ok_or_else(|| StoreError::Corrupt {
            table: "customer_rollups",
            column: "month",
            value: month.to_owned(),
        })
}

fn difference(after: &Figures, before: &Figures) -> Figures {
    Figures {
        revenue_minor: after.revenue_minor - before.revenue_minor,
        cost_minor: after.cost_minor - before.cost_minor,
        returns_minor: after.returns_minor - before.returns_minor,
        concessions_minor: after.concessions_minor - before.concessions_minor,
        orders: after.orders - before.orders,
        units_milli: after.units_milli - before.units_milli,
    }
}

/// Adds to each company's year, and to its facts, what changing its months' rollup rows from
/// `before` to `after` changed in the base currency; the years in one multi-row upsert, in
/// key order.
pub(crate) fn months_changed(
    conn: &mut DbConnection,
    months: &[(&MonthKey, Figures, Figures)],
) -> Result<(), StoreError> {
    let base = base_currency();
    let mut to_base = ToBase::new(base);
    // Per (company, year): the change, and whether every month of it converted.
    let mut years: BTreeMap<(&str, i32), (Figures, bool)> = BTreeMap::new();
    let mut facts = Vec::with_capacity(months.len());
    for ((company, month, currency), before, after) in months {
        let change = if to_base.converts(conn, currency, month)? {
            let after = to_base.figures(conn, after, currency, month)?;
            let before = to_base.figures(conn, before, currency, month)?;
            Some(difference(&after, &before))
        } else {
            None
        };
        facts.push(crate::analytics::fact_changes::Change {
            company,
            month,
            orders: after.orders - before.orders,
            gross_profit_minor: change.map(|c| c.gross_profit_minor()),
        });
        let year = years
            .entry((company.as_str(), year_of(month)?))
            .or_insert((Figures::default(), true));
        year.0.add(&change.unwrap_or_default())?;
        year.1 &= change.is_some();
    }
    crate::analytics::fact_changes::add(conn, &facts)?;
    let rows: Vec<_> = years
        .into_iter()
        .map(|((company, year), (f, complete))| {
            (
                customer_year_rollups::company_id.eq(company),
                customer_year_rollups::year.eq(year),
                customer_year_rollups::base_currency.eq(base.to_string()),
                customer_year_rollups::revenue_minor.eq(f.revenue_minor),
                customer_year_rollups::cost_minor.eq(f.cost_minor),
                customer_year_rollups::returns_minor.eq(f.returns_minor),
                customer_year_rollups::concessions_minor.eq(f.concessions_minor),
                customer_year_rollups::orders.eq(f.orders),
                customer_year_rollups::units_milli.eq(f.units_milli),
                customer_year_rollups::gross_profit_minor.eq(f.gross_profit_minor()),
                customer_year_rollups::complete.eq(complete),
            )
        })
        .collect();
    for part in rows.chunks(BATCH_ROWS) {
        use customer_year_rollups as y;
        use diesel::upsert::excluded;
        // A year stays complete only while every change to it converted, in its base.
        macro_rules! statement {
            () => {
                diesel::insert_into(y::table)
                    .values(part)
                    .on_conflict((y::company_id, y::year))
                    .do_update()
                    .set((
                        y::revenue_minor.eq(y::revenue_minor + excluded(y::revenue_minor)),
                        y::cost_minor.eq(y::cost_minor + excluded(y::cost_minor)),
                        y::returns_minor.eq(y::returns_minor + excluded(y::returns_minor)),
                        y::concessions_minor
                            .eq(y::concessions_minor + excluded(y::concessions_minor)),
                        y::orders.eq(y::orders + excluded(y::orders)),
                        y::units_milli.eq(y::units_milli + excluded(y::units_milli)),
                        y::gross_profit_minor
                            .eq(y::gross_profit_minor + excluded(y::gross_profit_minor)),
                        y::complete.eq(y::complete
                            .and(excluded(y::complete))
                            .and(y::base_currency.eq(excluded(y::base_currency)))),
                    ))
            };
        }
        natively!(conn, |c| statement!().execute(c))?;
    }
    Ok(())
}

/// The figures of a customer rollup row, as SQL reads them.
#[derive(diesel::QueryableByName)]
pub(crate) struct StoredFigures {
    #[diesel(sql_type = BigInt)]
    revenue_minor: i64,
    #[diesel(sql_type = BigInt)]
    cost_minor: i64,
    #[diesel(sql_type = BigInt)]
    returns_minor: i64,
    #[diesel(sql_type = BigInt)]
    concessions_minor: i64,
    #[diesel(sql_type = BigInt)]
    orders: i64,
    #[diesel(sql_type = BigInt)]
    units_milli: i64,
}

impl From<&StoredFigures> for Figures {
    fn from(row: &StoredFigures) -> Self {
        Figures {
            revenue_minor: row.revenue_minor,
            cost_minor: row.cost_minor,
            returns_minor: row.returns_minor,
            concessions_minor: row.concessions_minor,
            orders: row.orders,
            units_milli: row.units_milli,
        }
    }
}

/// A monthly rollup row as [`MonthColumns`] reads it.
pub(crate) type MonthTuple = (String, String, String, i64, i64, i64, i64, i64, i64);

/// The columns of a monthly rollup row, for the months and for their years; select them with
/// `MonthColumns::default()`.
pub(crate) type MonthColumns = (
    customer_rollups::company_id,
    customer_rollups::month,
    customer_rollups::currency,
    customer_rollups::revenue_minor,
    customer_rollups::cost_minor,
    customer_rollups::returns_minor,
    customer_rollups::concessions_minor,
    customer_rollups::orders,
    customer_rollups::units_milli,
);

impl From<MonthTuple> for MonthRow {
    fn from(
        (company_id, month, currency, revenue, cost, returns, concessions, orders, units): MonthTuple,
    ) -> Self {
        MonthRow {
            company_id,
            month,
            currency,
            figures: StoredFigures {
                revenue_minor: revenue,
                cost_minor: cost,
                returns_minor: returns,
                concessions_minor: concessions,
                orders,
                units_milli: units,
            },
        }
    }
}

#[derive(diesel::QueryableByName)]
struct MonthRow {
    #[diesel(sql_type = Text)]
    company_id: String,
    #[diesel(sql_type = Text)]
    month: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(embed)]
    figures: StoredFigures,
}

/// Whose years to fold.
#[derive(Clone, Copy)]
pub enum Companies<'a> {
    All,
    /// Every company from the first id to the last, both included.
    Between(&'a str, &'a str),
    These(&'a [String]),
}

/// The years of `companies` folded from their monthly rollups: each month converted at its
/// rate, then summed.
pub fn from_months(
    conn: &mut DbConnection,
    companies: Companies<'_>,
) -> Result<BTreeMap<YearKey, YearFigures>, StoreError> {
    const COLUMNS: &str = "company_id, month, currency, revenue_minor, cost_minor, \
                           returns_minor, concessions_minor, orders, units_milli";
    let rows: Vec<MonthRow> = match companies {
        Companies::All => {
            diesel::sql_query(format!("SELECT {COLUMNS} FROM customer_rollups")).load(conn)?
        }
        Companies::Between(first, last) => diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM customer_rollups WHERE company_id >= $1 AND company_id <= $2"
        ))
        .bind::<Text, _>(first)
        .bind::<Text, _>(last)
        .load(conn)?,
        Companies::These(ids) => {
            let mut rows = Vec::new();
            for part in ids.chunks(BATCH_ROWS) {
                let found: Vec<MonthTuple> = customer_rollups::table
                    .filter(customer_rollups::company_id.eq_any(part))
                    .select(MonthColumns::default())
                    .load(conn)?;
                rows.extend(found.into_iter().map(MonthRow::from));
            }
            rows
        }
    };
    let mut to_base = ToBase::new(base_currency());
    let mut years: BTreeMap<YearKey, YearFigures> = BTreeMap::new();
    for row in rows {
        let figures = Figures::from(&row.figures);
        let converted = if to_base.converts(conn, &row.currency, &row.month)? {
            Some(to_base.figures(conn, &figures, &row.currency, &row.month)?)
        } else {
            None
        };
        let year = years
            .entry((row.company_id, year_of(&row.month)?))
            .or_insert_with(|| Some(Figures::default()));
        *year = match (year.take(), converted) {
            (Some(mut sum), Some(month)) => {
                sum.add(&month)?;
                Some(sum)
            }
            _ => None,
        };
    }
    Ok(years)
}

#[derive(diesel::QueryableByName)]
struct YearRow {
    #[diesel(sql_type = Text)]
    company_id: String,
    #[diesel(sql_type = Integer)]
    year: i32,
    #[diesel(embed)]
    figures: StoredFigures,
    #[diesel(sql_type = Bool)]
    complete: bool,
    #[diesel(sql_type = Text)]
    base_currency: String,
}

const YEAR_COLUMNS: &str = "company_id, year, revenue_minor, cost_minor, returns_minor, \
                            concessions_minor, orders, units_milli, complete, base_currency";

/// The maintained years, `None` where incomplete or kept in another base currency.
pub fn stored(conn: &mut DbConnection) -> Result<BTreeMap<YearKey, YearFigures>, StoreError> {
    let rows: Vec<YearRow> =
        diesel::sql_query(format!("SELECT {YEAR_COLUMNS} FROM customer_year_rollups"))
            .load(conn)?;
    let base = base_currency().to_string();
    Ok(rows
        .into_iter()
        .map(|row| {
            let usable = row.complete && row.base_currency == base;
            (
                (row.company_id, row.year),
                usable.then(|| Figures::from(&row.figures)),
            )
        })
        .collect())
}

/// A year row as inserted.
#[derive(diesel::Insertable)]
#[diesel(table_name = customer_year_rollups)]
struct NewYear<'a> {
    company_id: &'a str,
    year: i32,
    base_currency: &'a str,
    revenue_minor: i64,
    cost_minor: i64,
    returns_minor: i64,
    concessions_minor: i64,
    orders: i64,
    units_milli: i64,
    gross_profit_minor: i64,
    complete: bool,
}

/// Folds the years of `companies` (sorted) again from their months, replacing what was kept.
/// The years are deleted first: the delete locks each row (waiting for a concurrent order
/// write to commit), and a write that comes after it waits on the deleted row and then adds
/// its change to the folded one. Either way the months read next hold every committed change.
pub fn refold(conn: &mut DbConnection, companies: &[String]) -> Result<usize, StoreError> {
    for part in companies.chunks(BATCH_ROWS) {
        diesel::delete(
            customer_year_rollups::table.filter(customer_year_rollups::company_id.eq_any(part)),
        )
        .execute(conn)?;
    }
    let folded = from_months(conn, Companies::These(companies))?;
    write_years(conn, &folded)
}

/// Inserts folded years, many rows a statement.
fn write_years(
    conn: &mut DbConnection,
    folded: &BTreeMap<YearKey, YearFigures>,
) -> Result<usize, StoreError> {
    let base = base_currency().to_string();
    let rows: Vec<NewYear> = folded
        .iter()
        .map(|((company, year), figures)| {
            let sum = figures.unwrap_or_default();
            NewYear {
                company_id: company,
                year: *year,
                base_currency: &base,
                revenue_minor: sum.revenue_minor,
                cost_minor: sum.cost_minor,
                returns_minor: sum.returns_minor,
                concessions_minor: sum.concessions_minor,
                orders: sum.orders,
                units_milli: sum.units_milli,
                gross_profit_minor: sum.gross_profit_minor(),
                complete: figures.is_some(),
            }
        })
        .collect();
    Ok(insert_batch!(conn, customer_year_rollups::table, rows))
}

#[derive(diesel::QueryableByName)]
struct CompanyId {
    #[diesel(sql_type = Text)]
    company_id: String,
}

/// After a rate of `currency` on `date` was set or removed: folds again the years of every
/// company with sales in that currency from that month on, which that rate converts.
pub fn rate_changed(
    conn: &mut DbConnection,
    currency: &str,
    date: NaiveDate,
) -> Result<usize, StoreError> {
    let companies: Vec<CompanyId> = diesel::sql_query(
        "SELECT DISTINCT company_id FROM customer_rollups WHERE currency = $1 AND month >= $2 \
         ORDER BY company_id",
    )
    .bind::<Text, _>(currency)
    .bind::<Text, _>(date.format("%Y-%m").to_string())
    .load(conn)?;
    let ids: Vec<String> = companies.into_iter().map(|c| c.company_id).collect();
    refold(conn, &ids)
}

/// Sets the rate of `currency` on `date` and folds again the years it converts; returns the
/// rate and whether it was new.
pub fn put_rate(
    conn: &mut DbConnection,
    currency: &str,
    date: NaiveDate,
    rate: &str,
) -> Result<(ExchangeRate, bool), StoreError> {
    let put = exchange_rates::put(conn, currency, date, rate)?;
    rate_changed(conn, currency, date)?;
    Ok(put)
}

/// Removes the rate of `currency` on `date` and folds again the years it converted.
pub fn delete_rate(
    conn: &mut DbConnection,
    currency: &str,
    date: NaiveDate,
) -> Result<(), StoreError> {
    exchange_rates::delete(conn, currency, date)?;
    rate_changed(conn, currency, date)?;
    Ok(())
}

/// Companies a rebuild folds at a time.
const REBUILD_BATCH: i64 = 5_000;

/// Companies folded per transaction by [`fold_other_bases`].
const FOLD_BATCH: i64 = 500;

/// Folds again, a batch at a time, the years kept in another base currency than this node's,
/// or never folded (history from before the yearly rollups); returns how many years it wrote.
/// One node of a cluster folds at a time.
pub fn fold_other_bases(conn: &mut DbConnection) -> Result<usize, StoreError> {
    let mut folded = 0;
    loop {
        let batch = crate::platform::db::write_transaction(conn, |c| {
            if !try_lock_key(c, "customer-years:fold")? {
                return Ok::<_, StoreError>(None);
            }
            let companies: Vec<CompanyId> = diesel::sql_query(
                "SELECT DISTINCT company_id FROM customer_year_rollups \
                 WHERE base_currency <> $1 ORDER BY company_id LIMIT $2",
            )
            .bind::<Text, _>(base_currency().to_string())
            .bind::<BigInt, _>(FOLD_BATCH)
            .load(c)?;
            let ids: Vec<String> = companies.into_iter().map(|c| c.company_id).collect();
            Ok(Some((ids.len(), refold(c, &ids)?)))
        })?;
        match batch {
            Some((companies, years)) if companies > 0 => folded += years,
            _ => return Ok(folded),
        }
    }
}

/// Drops every year and folds them all again from the months, a range of companies at a time,
/// so that memory holds one range's months.
pub fn rebuild(conn: &mut DbConnection) -> Result<usize, StoreError> {
    diesel::sql_query("DELETE FROM customer_year_rollups").execute(conn)?;
    let mut after = String::new();
    let mut folded = 0;
    loop {
        let companies: Vec<CompanyId> = diesel::sql_query(
            "SELECT DISTINCT company_id FROM customer_rollups WHERE company_id > $1 \
             ORDER BY company_id LIMIT $2",
        )
        .bind::<Text, _>(&after)
        .bind::<BigInt, _>(REBUILD_BATCH)
        .load(conn)?;
        let (Some(first), Some(last)) = (companies.first(), companies.last()) else {
            return Ok(folded);
        };
        let years = from_months(
            conn,
            Companies::Between(&first.company_id, &last.company_id),
        )?;
        folded += write_years(conn, &years)?;
        after = last.company_id.clone();
    }
}

/// Whether the yearly rollups can answer for `year` in `base`: every row of the year is
/// complete and kept in `base`. Three probes of at most one row each, on indexes.
pub fn usable(conn: &mut DbConnection, year: i32, base: Currency) -> Result<bool, StoreError> {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = BigInt)]
        found: i64,
    }
    let probe = |condition: &str| {
        format!(
            "(SELECT COUNT(*) FROM (SELECT 1 AS x FROM customer_year_rollups \
             WHERE year = $1 AND {condition} LIMIT 1) probe)"
        )
    };
    let unusable: Found = diesel::sql_query(format!(
        "SELECT {} + {} + {} AS found",
        probe("NOT complete"),
        probe("base_currency < $2"),
        probe("base_currency > $2")
    ))
    .bind::<Integer, _>(year)
    .bind::<Text, _>(base.to_string())
    .get_result(conn)?;
    Ok(unusable.found == 0)
}

#[derive(diesel::QueryableByName)]
struct Totals {
    #[diesel(sql_type = BigInt)]
    customers: i64,
    #[diesel(sql_type = BigInt)]
    positive: i64,
}

/// A ranked year row: its company and figures, and where it stands.
#[derive(diesel::QueryableByName)]
struct Positioned {
    #[diesel(sql_type = Text)]
    company_id: String,
    #[diesel(embed)]
    figures: StoredFigures,
    #[diesel(sql_type = BigInt)]
    profit_rank: i64,
    #[diesel(sql_type = BigInt)]
    volume_rank: i64,
    #[diesel(sql_type = BigInt)]
    positive_above: i64,
}

/// Positive profit, summed in SQL on both backends.
const POSITIVE: &str = "CAST(COALESCE(SUM(CASE WHEN gross_profit_minor > 0 \
                        THEN gross_profit_minor ELSE 0 END), 0) AS BIGINT)";

/// How many customers rank above `p` by `column` (descending, ties by id): an index range.
fn above(column: &str) -> String {
    format!(
        "(SELECT COUNT(*) FROM customer_year_rollups v WHERE v.year = p.year AND v.{column} > \
         p.{column}) + (SELECT COUNT(*) FROM customer_year_rollups v WHERE v.year = p.year \
         AND v.{column} = p.{column} AND v.company_id < p.company_id)"
    )
}

/// One page of `year`'s ranking in `order`, each customer with where it stands in the whole
/// year; the year's positive profit, and how many customers it ranks. Reads the page from an
/// index, and for each customer on it counts those above it, on an index too.
pub fn ranking_page(
    conn: &mut DbConnection,
    year: i32,
    order: RankOrder,
    (offset, limit): (usize, usize),
) -> Result<(Vec<RankPosition>, i128, usize), StoreError> {
    let totals: Totals = diesel::sql_query(format!(
        "SELECT COUNT(*) AS customers, {POSITIVE} AS positive FROM customer_year_rollups \
         WHERE year = $1"
    ))
    .bind::<Integer, _>(year)
    .get_result(conn)?;
    let (offset, limit) = (
        i64::try_from(offset).unwrap_or(i64::MAX),
        i64::try_from(limit).unwrap_or(i64::MAX),
    );
    let columns = "p.company_id, p.revenue_minor, p.cost_minor, p.returns_minor, \
                   p.concessions_minor, p.orders, p.units_milli";
    let profit_above = format!(
        "(SELECT {POSITIVE} FROM customer_year_rollups v WHERE v.year = p.year AND \
         (v.gross_profit_minor > p.gross_profit_minor OR (v.gross_profit_minor = \
         p.gross_profit_minor AND v.company_id < p.company_id)))"
    );
    let (sort, profit_rank, volume_rank, positive_above) = match order {
        // In profit order the ranks follow the page, and the profit above each customer is
        // what was above the page plus the page so far: added up below.
        RankOrder::Profit => (
            "gross_profit_minor DESC, company_id",
            "CAST(0 AS BIGINT)".to_owned(),
            above("orders") + " + 1",
            "CAST(0 AS BIGINT)".to_owned(),
        ),
        RankOrder::Volume => (
            "orders DESC, company_id",
            above("gross_profit_minor") + " + 1",
            "CAST(0 AS BIGINT)".to_owned(),
            profit_above,
        ),
    };
    let rows: Vec<Positioned> = diesel::sql_query(format!(
        "SELECT {columns}, {profit_rank} AS profit_rank, {volume_rank} AS volume_rank, \
         {positive_above} AS positive_above FROM (SELECT * FROM customer_year_rollups \
         WHERE year = $1 ORDER BY {sort} LIMIT $2 OFFSET $3) p ORDER BY {sort}"
    ))
    .bind::<Integer, _>(year)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)?;
    let mut running = match order {
        RankOrder::Profit if offset > 0 => {
            #[derive(diesel::QueryableByName)]
            struct Above {
                #[diesel(sql_type = BigInt)]
                positive: i64,
            }
            let above: Above = diesel::sql_query(format!(
                "SELECT {POSITIVE} AS positive FROM (SELECT gross_profit_minor FROM \
                 customer_year_rollups WHERE year = $1 ORDER BY gross_profit_minor DESC, \
                 company_id LIMIT $2) above"
            ))
            .bind::<Integer, _>(year)
            .bind::<BigInt, _>(offset)
            .get_result(conn)?;
            i128::from(above.positive)
        }
        _ => 0,
    };
    let positions = (offset + 1..)
        .zip(rows)
        .map(|(place, row)| {
            let figures = Figures::from(&row.figures);
            let position = match order {
                RankOrder::Profit => RankPosition {
                    company_id: row.company_id,
                    figures,
                    profit_rank: place,
                    volume_rank: row.volume_rank,
                    positive_profit_above: running,
                },
                RankOrder::Volume => RankPosition {
                    company_id: row.company_id,
                    figures,
                    profit_rank: row.profit_rank,
                    volume_rank: place,
                    positive_profit_above: i128::from(row.positive_above),
                },
            };
            running += i128::from(figures.gross_profit_minor().max(0));
            position
        })
        .collect();
    Ok((
        positions,
        i128::from(totals.positive),
        usize::try_from(totals.customers).unwrap_or(0),
    ))
}

/// Each customer's gross profit in `year`.
pub fn profits(conn: &mut DbConnection, year: i32) -> Result<Vec<(String, i64)>, StoreError> {
    #[derive(diesel::QueryableByName)]
    struct Profit {
        #[diesel(sql_type = Text)]
        company_id: String,
        #[diesel(sql_type = BigInt)]
        gross_profit_minor: i64,
    }
    let rows: Vec<Profit> = diesel::sql_query(
        "SELECT company_id, gross_profit_minor FROM customer_year_rollups WHERE year = $1",
    )
    .bind::<Integer, _>(year)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.company_id, r.gross_profit_minor))
        .collect())
}
