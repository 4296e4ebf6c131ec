//! Sales history loaded in bulk (demo data, migrations from another CRM): orders, lines and
//! returns as they were, written with multi-row INSERTs. Rollups are rebuilt afterwards.

use std::collections::BTreeMap;

use chrono::Datelike;

use crate::billing::returns::{ReturnLineRow, ReturnRow};
use crate::platform::counters;
use crate::platform::db::{insert_batch, write_transaction, DbConnection};
use crate::platform::schema::{order_lines, orders, return_lines, returns};
use crate::sales::orders::{OrderLineRow, OrderRow};
use crate::StoreError;
use diesel::RunQueryDsl;

/// Past orders, their lines and their returns, written as they are in one transaction.
#[derive(Default)]
pub struct HistoryBatch {
    pub orders: Vec<OrderRow>,
    pub lines: Vec<OrderLineRow>,
    pub returns: Vec<ReturnRow>,
    pub return_lines: Vec<ReturnLineRow>,
}

impl HistoryBatch {
    /// Numbers the returns, as `returns::open` does (`RMA-YEAR-NNNNNN` from the year's counter),
    /// and inserts everything, in one transaction.
    pub fn write(&mut self, conn: &mut DbConnection) -> Result<(), StoreError> {
        write_transaction(conn, |c| {
            let mut by_year: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
            for (i, r) in self.returns.iter().enumerate() {
                by_year.entry(r.created_at.year()).or_default().push(i);
            }
            for (year, indices) in by_year {
                let count = i64::try_from(indices.len()).unwrap_or(i64::MAX);
                let first = counters::reserve(c, &format!("return:{year}"), count)?;
                for (sequence, i) in (first..).zip(indices) {
                    self.returns[i].number = format!("RMA-{year}-{sequence:06}");
                }
            }
            insert_batch!(c, orders::table, self.orders);
            insert_batch!(c, order_lines::table, self.lines);
            insert_batch!(c, returns::table, self.returns);
            insert_batch!(c, return_lines::table, self.return_lines);
            Ok::<_, StoreError>(())
        })?;
        self.orders.clear();
        self.lines.clear();
        self.returns.clear();
        self.return_lines.clear();
        Ok(())
    }
}
