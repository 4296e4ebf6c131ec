//! How the benches print their figures and count rows.

use std::time::Duration;

use diesel::sql_types::BigInt;
use diesel::QueryableByName;

/// The one column of a `SELECT count(*) AS n`.
#[derive(QueryableByName)]
pub struct Count {
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// A duration in milliseconds, with the digits that matter at its size.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// A count with thousands separated by commas: `1,234,567`.
pub fn thousands(n: impl std::fmt::Display) -> String {
    let mut reversed = String::new();
    for (i, c) in n.to_string().chars().rev().enumerate() {
        if i > 0 && i % 3 == 0 {
            reversed.push(',');
        }
        reversed.push(c);
    }
    reversed.chars().rev().collect()
}

/// A size as a table heading: `100k` for whole thousands, else with separators.
pub fn short(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        thousands(n)
    }
}

/// `s` as an SQL string literal.
pub fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_the_tables_print_them() {
        assert_eq!(thousands(1_234_567_u64), "1,234,567");
        assert_eq!(thousands(999_usize), "999");
        assert_eq!(short(100_000), "100k");
        assert_eq!(short(1_500), "1,500");
        assert_eq!(ms(Duration::from_micros(450)), "0.45 ms");
        assert_eq!(ms(Duration::from_micros(4_500)), "4.5 ms");
        assert_eq!(ms(Duration::from_millis(45)), "45 ms");
        assert_eq!(sql_literal("O'Brien"), "'O''Brien'");
    }
}
