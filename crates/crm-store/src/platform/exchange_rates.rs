//! Exchange rates into the base currency, by date.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::platform::db::DbConnection;
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
    let at = now();
    let updated = diesel::update(exchange_rates::table.find((currency, date)))
        .set((
            exchange_rates::rate.eq(rate),
            exchange_rates::updated_at.eq(at),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(exchange_rates::table)
            .values((
                exchange_rates::currency.eq(currency),
                exchange_rates::rate_date.eq(date),
                exchange_rates::rate.eq(rate),
                exchange_rates::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    let stored = exchange_rates::table
        .find((currency, date))
        .select(ExchangeRate::as_select())
        .first(conn)?;
    Ok((stored, updated == 0))
}

pub fn delete(conn: &mut DbConnection, currency: &str, date: NaiveDate) -> Result<(), StoreError> {
    let deleted = diesel::delete(exchange_rates::table.find((currency, date))).execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Rates, newest first, optionally of one currency; at most `limit`, starting after `after`
/// (a (date, currency) pair of the previous page).
pub fn list(
    conn: &mut DbConnection,
    currency: Option<&str>,
    limit: i64,
    after: Option<(NaiveDate, String)>,
) -> Result<Vec<ExchangeRate>, StoreError> {
    let mut query = exchange_rates::table
        .select(ExchangeRate::as_select())
        .into_boxed();
    if let Some(c) = currency {
        query = query.filter(exchange_rates::currency.eq(c.to_owned()));
    }
    if let Some((date, code)) = after {
        query = query.filter(
            exchange_rates::rate_date
                .lt(date)
                .or(exchange_rates::rate_date
                    .eq(date)
                    .and(exchange_rates::currency.gt(code))),
        );
    }
    Ok(query
        .order((
            exchange_rates::rate_date.desc(),
            exchange_rates::currency.asc(),
        ))
        .limit(limit + 1)
        .load(conn)?)
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
