//! redb's and tokio's errors as the port reports them: kept whole as the
//! source of a [`StoreError::Failed`], so a fault's cause is logged.

use crate::store::StoreError;

macro_rules! failed_from {
    ($($error:ty),* $(,)?) => {
        $(
            impl From<$error> for StoreError {
                fn from(e: $error) -> Self {
                    StoreError::Failed(Box::new(e))
                }
            }
        )*
    };
}

failed_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError,
    tokio::task::JoinError,
    postcard::Error,
);
