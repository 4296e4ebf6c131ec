//! The statements every rollup table is written with: values are added to a row, never
//! replaced, so that concurrent writers of one key add up instead of racing.

/// `INSERT ... ON CONFLICT DO UPDATE` adding the new row's values to an existing one, so that
/// concurrent writers of one key add up instead of racing. Callers build it once per table:
/// it runs for every order write. `$n` placeholders number the key columns, then the value
/// columns; SQLite reads them as the same positional parameters.
pub(crate) fn add_to_rollup_sql(table: &str, keys: &[&str], values: &[&str]) -> String {
    let columns: Vec<&str> = keys.iter().chain(values).copied().collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let sums: Vec<String> = values
        .iter()
        .map(|v| format!("{v} = {table}.{v} + excluded.{v}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        placeholders.join(", "),
        keys.join(", "),
        sums.join(", ")
    )
}

/// Adds rows to a rollup table with multi-row `INSERT ... ON CONFLICT DO UPDATE` statements of
/// [`crate::platform::db::BATCH_ROWS`] rows, each value column added to the stored one;
/// evaluates to the rows written.
macro_rules! add_rows {
    ($conn:expr, $table:ident, $rows:expr, keys: ($($key:ident),+), sums: ($($sum:ident),+)) => {{
        let mut written = 0_usize;
        for part in $rows.chunks($crate::platform::db::BATCH_ROWS) {
            macro_rules! statement {
                () => {
                    diesel::insert_into($table::table)
                        .values(part)
                        .on_conflict(($($table::$key),+))
                        .do_update()
                        .set(($($table::$sum.eq($table::$sum + diesel::upsert::excluded($table::$sum))),+))
                };
            }
            written += $crate::platform::db::natively!($conn, |c| statement!().execute(c))?;
        }
        written
    }};
}

pub(crate) use add_rows;
