//! Reading back the enums the store wrote as text. An unknown value fails loudly, naming the
//! table, column and value, instead of standing in for a default that would hide corrupt data.

use std::str::FromStr;

use crate::StoreError;

pub fn stored<T: FromStr>(
    table: &'static str,
    column: &'static str,
    value: &str,
) -> Result<T, StoreError> {
    value.parse().map_err(|_| StoreError::Corrupt {
        table,
        column,
        value: value.to_owned(),
    })
}

pub fn stored_opt<T: FromStr>(
    table: &'static str,
    column: &'static str,
    value: Option<&str>,
) -> Result<Option<T>, StoreError> {
    value.map(|v| stored(table, column, v)).transpose()
}

/// A JSON document the store wrote (hours, rules, ids), read back into its type.
pub fn stored_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    column: &'static str,
    value: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(value).map_err(|_| StoreError::Corrupt {
        table,
        column,
        value: value.to_owned(),
    })
}

/// The JSON text of a document the store writes; the types it is used with always serialize.
pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_domain::platform::money::Currency;

    #[test]
    fn a_known_value_reads_back() {
        let currency: Currency = stored("orders", "currency", "EUR").unwrap();
        assert_eq!(currency.as_str(), "EUR");
        assert_eq!(
            stored_opt::<Currency>("orders", "currency", None).unwrap(),
            None
        );
    }

    #[test]
    fn an_unknown_value_names_where_it_was_found() {
        let error = stored::<Currency>("orders", "currency", "euro").unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"corrupt data: orders.currency holds "euro", which is not a known value"#
        );
    }
}
