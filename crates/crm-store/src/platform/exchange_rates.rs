//! Exchange rates into the base currency, by date.

use std::collections::HashMap;

use chrono::{Months, NaiveDate, NaiveDateTime};
use crm_domain::platform::exchange::{convert, Rate};
use crm_domain::platform::money::Currency;
use crm_domain::Violation;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::pagination::{finish, After, KeyValue, Page, PageRequest};
use crate::platform::schema::exchange_rates;
use crate::{now, StoreError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = exchange_rates)]
pub struct ExchangeRate {
    pub currency: String,
    pub rate_date: NaiveDate,
    /// Units of the base currency per unit of `currency`, as an exact decimal string.
    pub rate: String,
    pub updated_at: NaiveDateTime,
}

/// Sets the rate of `currency` on `date`; returns whether it was new.
pub fn put(
    conn: &mut DbConnection,
    currency: &str,
    date: NaiveDate,
    rate: &str,
) -> Result<(ExchangeRate, bool), StoreError> {
    // Insert first, atomically: two first writers of one day then find the row, where an update
    // followed by an insert would let both update nothing and one of the inserts fail.
    let created = put_if_absent(conn, currency, date, rate)?;
    if !created {
        diesel::update(exchange_rates::table.find((currency, date)))
            .set((
                exchange_rates::rate.eq(rate),
                exchange_rates::updated_at.eq(now()),
            ))
            .execute(conn)?;
    }
    let stored = exchange_rates::table
        .find((currency, date))
        .select(ExchangeRate::as_select())
        .first(conn)?;
    Ok((stored, created))
}

/// Sets the rate of `currency` on `date` unless one is stored; returns whether it was new.
pub fn put_if_absent(
    conn: &mut DbConnection,
    currency: &str,
    date: NaiveDate,
    rate: &str,
) -> Result<bool, StoreError> {
    // One conditional INSERT, so that two writers of the same day cannot both find it absent.
    // SQL because diesel's upsert DSL does not reach the two-backend connection.
    let inserted = diesel::sql_query(
        "INSERT INTO exchange_rates (currency, rate_date, rate, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind::<diesel::sql_types::Text, _>(currency)
    .bind::<diesel::sql_types::Date, _>(date)
    .bind::<diesel::sql_types::Text, _>(rate)
    .bind::<diesel::sql_types::Timestamp, _>(now())
    .execute(conn)?;
    Ok(inserted == 1)
}

pub fn delete(conn: &mut DbConnection, currency: &str, date: NaiveDate) -> Result<(), StoreError> {
    let deleted = diesel::delete(exchange_rates::table.find((currency, date))).execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A page of rates, newest date first and by currency within a day, optionally of one
/// currency. A page ends at a (date, currency) pair, its cursor's key and id.
pub fn list(
    conn: &mut DbConnection,
    currency: Option<&str>,
    page: &PageRequest<()>,
) -> Result<Page<ExchangeRate>, StoreError> {
    let mut query = exchange_rates::table
        .select(ExchangeRate::as_select())
        .into_boxed();
    if let Some(c) = currency {
        query = query.filter(exchange_rates::currency.eq(c.to_owned()));
    }
    if let Some(after) = &page.after {
        let KeyValue::Date(date) = after.key else {
            return Err(Violation::new("cursor", "is not a cursor returned by this list").into());
        };
        query = query.filter(
            exchange_rates::rate_date
                .lt(date)
                .or(exchange_rates::rate_date
                    .eq(date)
                    .and(exchange_rates::currency.gt(after.id.clone()))),
        );
    }
    let rows = query
        .order((
            exchange_rates::rate_date.desc(),
            exchange_rates::currency.asc(),
        ))
        .limit(page.limit + 1)
        .load(conn)?;
    Ok(finish(rows, page.limit, |r: &ExchangeRate| After {
        key: KeyValue::Date(r.rate_date),
        id: r.currency.clone(),
    }))
}

/// The latest rate of `currency` on or before `date`.
pub fn rate_on_or_before(
    conn: &mut DbConnection,
    currency: &str,
    date: NaiveDate,
) -> Result<Option<String>, StoreError> {
    Ok(exchange_rates::table
        .filter(exchange_rates::currency.eq(currency))
        .filter(exchange_rates::rate_date.le(date))
        .order(exchange_rates::rate_date.desc())
        .select(exchange_rates::rate)
        .first(conn)
        .optional()?)
}

/// The last day of a `YYYY-MM` month.
fn month_end(month: &str) -> Result<NaiveDate, StoreError> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| {
        StoreError::from(Violation::new("month", format!("`{month}` is not a month")))
    })?;
    Ok((first + Months::new(1)).pred_opt().unwrap_or(first))
}

/// Converts a month's amounts into the base currency at the latest rate on or before the last
/// day of that month; a missing rate is a violation naming the currency and the day. Each rate
/// is looked up once per report.
pub struct ToBase {
    base: Currency,
    rates: HashMap<(String, String), Rate>,
}

impl ToBase {
    pub fn new(base: Currency) -> Self {
        ToBase {
            base,
            rates: HashMap::new(),
        }
    }

    /// A converter of amounts of `currency` earned in `month`, or none for the base currency.
    pub(crate) fn converter(
        &mut self,
        conn: &mut DbConnection,
        currency: &str,
        month: &str,
    ) -> Result<Option<impl Fn(i64) -> Result<i64, Violation>>, StoreError> {
        let from: Currency = currency.parse()?;
        let base = self.base;
        if from == base {
            return Ok(None);
        }
        let rate = self.rate(conn, currency, month)?.ok_or_else(|| {
            StoreError::from(Violation::new(
                "exchange_rate",
                format!(
                    "no {currency} to {base} rate on or before {}",
                    month_end(month).map_or_else(|_| month.to_owned(), |d| d.to_string())
                ),
            ))
        })?;
        Ok(Some(move |amount: i64| convert(amount, from, base, rate)))
    }

    /// Whether amounts of `currency` earned in `month` convert: the base currency always does.
    pub fn converts(
        &mut self,
        conn: &mut DbConnection,
        currency: &str,
        month: &str,
    ) -> Result<bool, StoreError> {
        Ok(currency.parse::<Currency>()? == self.base
            || self.rate(conn, currency, month)?.is_some())
    }

    /// The rate of `currency` for `month`, looked up once per converter.
    fn rate(
        &mut self,
        conn: &mut DbConnection,
        currency: &str,
        month: &str,
    ) -> Result<Option<Rate>, StoreError> {
        let key = (currency.to_owned(), month.to_owned());
        if let Some(rate) = self.rates.get(&key) {
            return Ok(Some(*rate));
        }
        let Some(text) = rate_on_or_before(conn, currency, month_end(month)?)? else {
            return Ok(None);
        };
        let rate = Rate::parse("exchange_rate", &text)?;
        self.rates.insert(key, rate);
        Ok(Some(rate))
    }

    pub fn amount(
        &mut self,
        conn: &mut DbConnection,
        amount_minor: i64,
        currency: &str,
        month: &str,
    ) -> Result<i64, StoreError> {
        match self.converter(conn, currency, month)? {
            Some(c) => Ok(c(amount_minor)?),
            None => Ok(amount_minor),
        }
    }
}
