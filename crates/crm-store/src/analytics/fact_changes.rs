//! What a change to one customer's monthly rollup adds to its facts, in the writer's
//! transaction: the orders to the count, and the gross profit in the base currency to the
//! lifetime value and to each profit window the month falls in. Each statement adds to the
//! stored values, so concurrent writers add up. What this leaves to the loop's next refresh
//! (every five minutes): a company without a facts row yet; a month with no exchange rate yet,
//! a rate changed later and a merge, whose profits are converted or moved afresh; and the
//! predictions and the value at risk, which follow the CLV model.

use std::sync::LazyLock;

use diesel::sql_types::Text;
use diesel::RunQueryDsl;

use crate::platform::db::DbConnection;
use crate::StoreError;

/// What a change to one month of a company's rollup adds to its facts: `orders`, and the gross
/// profit in the base currency when the month converts to it.
pub(crate) struct Change<'a> {
    pub company: &'a str,
    pub month: &'a str,
    pub orders: i64,
    pub gross_profit_minor: Option<i64>,
}

/// Adds changes to their companies' facts, in one statement: the changes travel as one JSON
/// parameter, and each company's row is updated once with its changes summed, each profit in
/// the windows its month falls in.
pub(crate) fn add(conn: &mut DbConnection, changes: &[Change<'_>]) -> Result<(), StoreError> {
    let rows: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| (c, c.gross_profit_minor.unwrap_or(0)))
        .filter(|(c, profit)| c.orders != 0 || *profit != 0)
        .map(|(c, profit)| {
            serde_json::json!({"company": c.company, "month": c.month, "orders": c.orders, "profit": profit})
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let rows = serde_json::Value::Array(rows).to_string();
    static POSTGRES: LazyLock<(String, String)> = LazyLock::new(|| {
        let changes = "jsonb_to_recordset(CAST($1 AS jsonb)) \
                       AS change(company text, orders bigint, month text, profit bigint)";
        // The rows locked in company order first, as every writer of facts takes them.
        let lock = format!(
            "SELECT company_id FROM customer_facts WHERE company_id IN \
             (SELECT change.company FROM {changes}) ORDER BY company_id FOR UPDATE"
        );
        (lock, update_from(changes))
    });
    static SQLITE: LazyLock<String> = LazyLock::new(|| {
        update_from(
            "(SELECT json_extract(value, '$.company') AS company, \
             json_extract(value, '$.orders') AS orders, json_extract(value, '$.month') AS month, \
             json_extract(value, '$.profit') AS profit FROM json_each($1)) AS change",
        )
    });
    match conn {
        DbConnection::Postgres(_) => {
            let (lock, update) = &*POSTGRES;
            diesel::sql_query(lock.as_str())
                .bind::<Text, _>(&rows)
                .execute(conn)?;
            diesel::sql_query(update.as_str())
                .bind::<Text, _>(&rows)
                .execute(conn)?;
        }
        DbConnection::Sqlite(_) => {
            diesel::sql_query(SQLITE.as_str())
                .bind::<Text, _>(&rows)
                .execute(conn)?;
        }
    }
    Ok(())
}

/// The update of the facts by `changes`, a row source of (company, orders, month, profit).
fn update_from(changes: &str) -> String {
    let in_window = |from: &str, to: &str| {
        format!(
            "CAST(SUM(CASE WHEN change.month >= facts.{from} AND change.month <= facts.{to} \
             THEN change.profit ELSE 0 END) AS BIGINT)"
        )
    };
    format!(
        "UPDATE customer_facts SET \
         order_count = customer_facts.order_count + summed.orders, \
         clv_historical_minor = customer_facts.clv_historical_minor + summed.profit, \
         profit_last_12_months_minor = customer_facts.profit_last_12_months_minor + summed.recent, \
         profit_last_year_minor = customer_facts.profit_last_year_minor + summed.last_year \
         FROM (SELECT facts.company_id AS company, CAST(SUM(change.orders) AS BIGINT) AS orders, \
         CAST(SUM(change.profit) AS BIGINT) AS profit, {} AS recent, {} AS last_year \
         FROM {changes} JOIN customer_facts AS facts ON facts.company_id = change.company \
         GROUP BY facts.company_id) AS summed \
         WHERE customer_facts.company_id = summed.company",
        in_window("recent_from", "recent_to"),
        in_window("last_year_from", "last_year_to"),
    )
}
