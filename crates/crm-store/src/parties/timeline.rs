//! The part of a contact's or a company's timeline that each context reads from its own table.

/// One page of the `$row`s about a timeline subject (by the table's `contact_id` or
/// `company_id`), ordered by a time column and then the id.
macro_rules! subject_page {
    ($conn:expr, $subject:expr, $table:ident :: $column:ident, $row:ty, $page:expr) => {{
        let query = $table::table.select(<$row>::as_select()).into_boxed();
        $crate::parties::timeline::subject_page!(
            $conn,
            $subject,
            query,
            $table::$column,
            $row,
            $page
        )
    }};
    ($conn:expr, $subject:expr, $query:expr, $table:ident :: $column:ident, $row:ty, $page:expr) => {{
        let query = $query;
        let query = match $subject {
            crm_domain::parties::timeline::Subject::Contact(id) => {
                query.filter($table::contact_id.eq(id.clone()))
            }
            crm_domain::parties::timeline::Subject::Company(id) => {
                query.filter($table::company_id.eq(id.clone()))
            }
        };
        let rows: Vec<$row> =
            $crate::platform::pagination::keyset!(query, $table::$column, $table::id, $page, time)
                .load($conn)?;
        rows
    }};
}
pub(crate) use subject_page;
