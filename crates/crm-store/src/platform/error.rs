use crm_domain::platform::transitions::IllegalTransition;
use crm_domain::Violations;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What can go wrong in the store, in terms a caller can act on. The HTTP layer maps each
/// variant to one status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The record changed since the caller read it.
    #[error("version mismatch; current version is {current}")]
    VersionMismatch { current: i64 },
    /// A uniqueness rule was broken; `existing_id` names the record already holding the value.
    #[error("{message}")]
    Conflict {
        message: String,
        existing_id: Option<String>,
    },
    /// The record was merged into another (`merged_into`) and takes no more writes.
    #[error("this record was merged into {merged_into}")]
    Merged { merged_into: String },
    #[error("invalid input: {0}")]
    Invalid(Violations),
    /// An action that the document's state does not allow.
    #[error("{0}")]
    IllegalTransition(IllegalTransition),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Database(DieselError),
    /// A stored value the code does not know: corrupt data, or a migration that did not run.
    #[error("corrupt data: {table}.{column} holds {value:?}, which is not a known value")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        value: String,
    },
}

impl StoreError {
    /// A lock race the database broke by failing one side (a deadlock, or a serialization
    /// failure): the same write, run again alone, may well succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(DieselError::DatabaseError(
                DatabaseErrorKind::SerializationFailure,
                _,
            )) => true,
            StoreError::Database(DieselError::DatabaseError(_, info)) => {
                info.message().contains("deadlock detected")
            }
            _ => false,
        }
    }

    pub fn is_unique_violation(error: &DieselError) -> bool {
        matches!(
            error,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
        )
    }
}

/// What SQLite says when its write lock stayed taken for the whole busy timeout.
const SQLITE_BUSY: &str = "database is locked";

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                StoreError::Unavailable(info.message().to_owned())
            }
            // The store checks the records a write refers to before writing, so a key refusing
            // the write means a concurrent request removed one of them (or started using the
            // one being removed) in between: a conflict to retry, not a fault.
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                StoreError::Conflict {
                    message: "a record this change refers to was removed, or came into use, \
                              by another request meanwhile; read it again and retry"
                        .to_owned(),
                    existing_id: None,
                }
            }
            // SQLite's one writer held its lock past the busy timeout: the database is
            // overloaded, which a client may retry, not broken.
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info.message() == SQLITE_BUSY =>
            {
                StoreError::Unavailable(info.message().to_owned())
            }
            other => StoreError::Database(other),
        }
    }
}

impl From<Violations> for StoreError {
    fn from(violations: Violations) -> Self {
        StoreError::Invalid(violations)
    }
}

impl From<crm_domain::Violation> for StoreError {
    fn from(violation: crm_domain::Violation) -> Self {
        StoreError::Invalid(violation.into())
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}

impl From<IllegalTransition> for StoreError {
    fn from(error: IllegalTransition) -> Self {
        StoreError::IllegalTransition(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_refused_by_a_concurrent_removal_is_a_conflict() {
        let refused = DieselError::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation,
            Box::new("FOREIGN KEY constraint failed".to_owned()),
        );
        assert!(matches!(
            StoreError::from(refused),
            StoreError::Conflict {
                existing_id: None,
                ..
            }
        ));
    }

    #[test]
    fn a_write_lock_held_past_the_busy_timeout_is_unavailable() {
        use diesel::connection::SimpleConnection;
        use diesel::{Connection, SqliteConnection};

        let path = std::env::temp_dir().join(format!("crm-busy-{}.db", uuid::Uuid::now_v7()));
        let url = path.to_string_lossy().into_owned();
        let mut holder = SqliteConnection::establish(&url).unwrap();
        holder
            .batch_execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER); BEGIN IMMEDIATE")
            .unwrap();
        let mut waiter = SqliteConnection::establish(&url).unwrap();
        waiter.batch_execute("PRAGMA busy_timeout = 50").unwrap();
        let refused = waiter
            .batch_execute("INSERT INTO t VALUES (1)")
            .unwrap_err();
        assert!(matches!(
            StoreError::from(refused),
            StoreError::Unavailable(_)
        ));
        holder.batch_execute("ROLLBACK").unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{url}{suffix}"));
        }
    }
}
