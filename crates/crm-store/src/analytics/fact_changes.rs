//! What a change to one customer's monthly rollup adds to its facts, in the writer's
//! transaction: the orders to the count, and the gross profit in the base currency to the
//! lifetime value and to each profit window the month falls in. Each statement adds to the
//! stored values, so concurrent writers add up. What this leaves to the loop's next refresh
//! (every five minutes): a company without a facts row yet; a month with no exchange rate yet,
//! a rate changed later and a merge, whose profits are converted or moved afresh; and the
//! predictions and the value at risk, which follow the CLV model.

use std::sync::LazyLock;

use diesel::sql_types::{BigInt, Text};
use diesel::RunQueryDsl;

use crate::platform::db::DbConnection;
use crate::StoreError;

/// Adds `orders` and, when the month converts to the base currency, `gross_profit_minor` (in
/// it) of `company`'s `month` to its facts.
pub(crate) fn add(
    conn: &mut DbConnection,
    company: &str,
    month: &str,
    orders: i64,
    gross_profit_minor: Option<i64>,
) -> Result<(), StoreError> {
    // The parameters come first, in order, in a row of their own: SQLite numbers `$n` by
    // where each first appears.
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let in_window = |from: &str, to: &str| {
            format!(
                "CASE WHEN change.month >= customer_facts.{from} \
                 AND change.month <= customer_facts.{to} THEN change.profit ELSE 0 END"
            )
        };
        format!(
            "UPDATE customer_facts SET \
             order_count = customer_facts.order_count + change.orders, \
             clv_historical_minor = customer_facts.clv_historical_minor + change.profit, \
             profit_last_12_months_minor = customer_facts.profit_last_12_months_minor + {}, \
             profit_last_year_minor = customer_facts.profit_last_year_minor + {} \
             FROM (SELECT $1 AS company, $2 AS orders, $3 AS month, $4 AS profit) AS change \
             WHERE customer_facts.company_id = change.company",
            in_window("recent_from", "recent_to"),
            in_window("last_year_from", "last_year_to"),
        )
    });
    let profit = gross_profit_minor.unwrap_or(0);
    if orders == 0 && profit == 0 {
        return Ok(());
    }
    diesel::sql_query(SQL.as_str())
        .bind::<Text, _>(company)
        .bind::<BigInt, _>(orders)
        .bind::<Text, _>(month)
        .bind::<BigInt, _>(profit)
        .execute(conn)?;
    Ok(())
}
