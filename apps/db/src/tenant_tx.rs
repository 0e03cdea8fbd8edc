//! [`TenantTx`]: a transaction bound to one trust. The only way to tenant-owned rows.

use crate::DbError;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DeleteMany,
    EntityTrait, IntoActiveModel, QueryFilter, Select, Statement, TransactionTrait, UpdateMany,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;
use trellis_domain::TenantId;

/// The turn to write, on SQLite: one writing transaction at a time, in the order they asked.
///
/// SQLite has one writer; without this, writers from the pool wait for its lock in SQLite's busy
/// handler, which polls with growing sleeps and is not fair: under load some wait past the busy
/// timeout and fail with "database is locked" while later ones get in. Queuing them here first
/// (a fair mutex) means each takes the lock at once when its turn comes. On PostgreSQL it is
/// absent and writers run together.
#[derive(Clone, Default)]
pub(crate) struct Writer(Option<Arc<tokio::sync::Mutex<()>>>);

/// How long a writer waits for its turn before the request fails (SQLite only).
const WRITER_WAIT: Duration = Duration::from_secs(15);

impl Writer {
    /// A writer's queue for `conn` (SQLite), or none (PostgreSQL).
    pub(crate) fn for_conn(conn: &DatabaseConnection) -> Self {
        Self((conn.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(()))))
    }

    /// Waits for this writer's turn (held until the guard drops).
    pub(crate) async fn turn(&self) -> Result<Option<OwnedMutexGuard<()>>, DbError> {
        let Some(m) = &self.0 else { return Ok(None) };
        match tokio::time::timeout(WRITER_WAIT, m.clone().lock_owned()).await {
            Ok(g) => Ok(Some(g)),
            Err(_) => Err(DbError::Db(sea_orm::DbErr::Custom(format!(
                "waited {} s for the SQLite writer's turn",
                WRITER_WAIT.as_secs()
            )))),
        }
    }
}

/// Begins a transaction; on SQLite, when it will write, after its turn (see [`Writer`]) and
/// `IMMEDIATE` (see [`TenantTx::begin_mode`]). The guard must live as long as the transaction.
pub(crate) async fn begin_tx(
    conn: &DatabaseConnection,
    writer: &Writer,
    writes: bool,
) -> Result<(DatabaseTransaction, Option<OwnedMutexGuard<()>>), DbError> {
    if writes && conn.get_database_backend() == DbBackend::Sqlite {
        let turn = writer.turn().await?;
        let opts = sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        Ok((conn.begin_with_options(opts).await?, turn))
    } else {
        Ok((conn.begin().await?, None))
    }
}

/// A raw statement written with PostgreSQL's `$1` placeholders, for either database.
pub(crate) fn statement(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let sql = if backend == DbBackend::Sqlite { sql.replace('$', "?") } else { sql.to_owned() };
    Statement::from_sql_and_values(backend, sql, values)
}

/// A tenant-owned entity: one with a `tenant_id` column.
pub trait TenantScoped: EntityTrait {
    /// The entity's `tenant_id` column.
    fn tenant_column() -> Self::Column;
}

/// Declares an entity tenant-owned, naming its `tenant_id` column.
#[macro_export]
macro_rules! tenant_scoped {
    ($entity:ty, $column:expr) => {
        impl $crate::TenantScoped for $entity {
            fn tenant_column() -> <Self as sea_orm::EntityTrait>::Column {
                $column
            }
        }
    };
}

/// A transaction in which every query is scoped to one trust.
///
/// On PostgreSQL it begins with `set_config('app.tenant_id', $1, true)`, so row-level security
/// applies even to a query that forgot its filter; on both databases the builders here add the
/// filter and stamp the tenant on insert, so forgetting it does not compile.
pub struct TenantTx {
    tx: DatabaseTransaction,
    tenant: TenantId,
    /// SQLite: this writer's turn, released after the transaction (fields drop in order).
    _turn: Option<OwnedMutexGuard<()>>,
}

impl TenantTx {
    pub(crate) async fn begin(conn: &DatabaseConnection, writer: &Writer, tenant: TenantId) -> Result<Self, DbError> {
        Self::begin_mode(conn, writer, tenant, true).await
    }

    /// `writes`: on SQLite, take the write lock at `BEGIN` (`IMMEDIATE`), so a transaction that
    /// reads and then writes cannot fail with SQLITE_BUSY_SNAPSHOT when another connection wrote
    /// in between; read-only transactions stay deferred and run alongside writers.
    pub(crate) async fn begin_mode(
        conn: &DatabaseConnection,
        writer: &Writer,
        tenant: TenantId,
        writes: bool,
    ) -> Result<Self, DbError> {
        let (tx, turn) = begin_tx(conn, writer, writes).await?;
        if tx.get_database_backend() == DbBackend::Postgres {
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config('app.tenant_id', $1, true)",
                [tenant.to_string().into()],
            ))
            .await?;
        }
        Ok(Self { tx, tenant, _turn: turn })
    }

    /// The trust this transaction belongs to.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DbError> {
        Ok(self.tx.commit().await?)
    }

    /// Abandons the transaction.
    pub async fn rollback(self) -> Result<(), DbError> {
        Ok(self.tx.rollback().await?)
    }

    pub(crate) fn conn(&self) -> &DatabaseTransaction {
        &self.tx
    }

    /// `SELECT … WHERE tenant_id = <this trust>`.
    pub(crate) fn select<E: TenantScoped>(&self) -> Select<E> {
        E::find().filter(E::tenant_column().eq(self.tenant.as_uuid()))
    }

    /// `SELECT … WHERE tenant_id IN (<this trust>, <the national catalogue>)`: for the shared
    /// content tables, whose national rows every trust may read (and only read).
    pub(crate) fn select_shared<E: TenantScoped>(&self) -> Select<E> {
        E::find().filter(E::tenant_column().is_in([self.tenant.as_uuid(), TenantId::NATIONAL.as_uuid()]))
    }

    /// Runs a raw statement written with PostgreSQL's `$1` placeholders on either database.
    /// The SQL must filter by `tenant_id` itself: SQLite has no row-level security behind it.
    pub(crate) fn stmt(&self, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
        statement(self.tx.get_database_backend(), sql, values)
    }

    /// Whether this is PostgreSQL.
    pub(crate) fn is_postgres(&self) -> bool {
        self.tx.get_database_backend() == DbBackend::Postgres
    }

    /// `UPDATE … WHERE tenant_id = <this trust>` (add further filters).
    pub(crate) fn update_many<E: TenantScoped>(&self) -> UpdateMany<E> {
        E::update_many().filter(E::tenant_column().eq(self.tenant.as_uuid()))
    }

    /// `DELETE … WHERE tenant_id = <this trust>` (add further filters).
    pub(crate) fn delete_many<E: TenantScoped>(&self) -> DeleteMany<E> {
        E::delete_many().filter(E::tenant_column().eq(self.tenant.as_uuid()))
    }

    /// Inserts a row without reading it back (no `RETURNING`: the identity role may add to the
    /// audit trail and the outbox but never read them), stamping this trust's id.
    pub(crate) async fn insert_only<A>(&self, mut model: A) -> Result<(), DbError>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        A::Entity: TenantScoped,
    {
        model.set(<A::Entity as TenantScoped>::tenant_column(), self.tenant.as_uuid().into());
        <A::Entity as EntityTrait>::insert(model).exec_without_returning(&self.tx).await?;
        Ok(())
    }

    /// Inserts a row, stamping this trust's id over whatever `tenant_id` it carried.
    pub(crate) async fn insert<A>(&self, mut model: A) -> Result<<A::Entity as EntityTrait>::Model, DbError>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        A::Entity: TenantScoped,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        model.set(<A::Entity as TenantScoped>::tenant_column(), self.tenant.as_uuid().into());
        Ok(model.insert(&self.tx).await?)
    }
}

pub(crate) mod sealed {
    /// Implemented only in this crate: the transactions an audit entry or an email may be written in.
    pub trait Trail {
        fn trail(&self) -> &crate::TenantTx;
    }
}

/// A transaction that may write to a trust's audit trail and outbox: the trust's own
/// ([`TenantTx`]) or the identity path's ([`crate::identity::IdentityTx`], which may write nothing else there).
pub trait Trail: sealed::Trail {}

impl sealed::Trail for TenantTx {
    fn trail(&self) -> &TenantTx {
        self
    }
}
impl Trail for TenantTx {}
