//! [`TenantTx`]: a transaction bound to one trust. The only way to tenant-owned rows.

use crate::DbError;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    DeleteMany, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Select, Statement,
    TransactionTrait, UpdateMany,
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

/// A platform table: no `tenant_id`, rows keyed by person, shared by the trusts they belong to
/// (row-level security on PostgreSQL limits each trust to its own members' rows).
pub trait PlatformOwned: EntityTrait {}

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

    /// The transaction itself, seen only by this module: everything else reaches the database
    /// through a [`Scoped`] query, the raw-SQL helpers below that bind the trust themselves, or
    /// (for the identity path alone) [`TenantTx::across_trusts`].
    fn conn(&self) -> &DatabaseTransaction {
        &self.tx
    }

    /// The bare transaction, for the identity path's cross-trust reads (ADR 0014) and nothing
    /// else: `apps/db/tests/it/schema.rs` fails if any other module calls it.
    pub(crate) fn across_trusts(&self) -> &DatabaseTransaction {
        &self.tx
    }

    fn scoped<Q>(&self, q: Q) -> Scoped<Q> {
        Scoped { q, tenant: self.tenant }
    }

    /// `SELECT … WHERE tenant_id = <this trust>`.
    pub(crate) fn select<E: TenantScoped>(&self) -> Scoped<Select<E>> {
        self.scoped(E::find().filter(E::tenant_column().eq(self.tenant.as_uuid())))
    }

    /// `SELECT … WHERE tenant_id IN (<this trust>, <the national catalogue>)`: for the shared
    /// content tables, whose national rows every trust may read (and only read).
    pub(crate) fn select_shared<E: TenantScoped>(&self) -> Scoped<Select<E>> {
        self.scoped(E::find().filter(E::tenant_column().is_in([self.tenant.as_uuid(), TenantId::NATIONAL.as_uuid()])))
    }

    /// `SELECT … FROM <a platform table>`: one with no `tenant_id`, keyed by person (their
    /// acceptance of the platform's terms, say); PostgreSQL's policies still show a trust only
    /// its own members' rows.
    pub(crate) fn select_platform<E: PlatformOwned>(&self) -> Scoped<Select<E>> {
        self.scoped(E::find())
    }

    /// Inserts a row of a platform table (see [`PlatformOwned`]).
    pub(crate) async fn insert_platform<A>(&self, model: A) -> Result<(), DbError>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        A::Entity: PlatformOwned,
    {
        <A::Entity as EntityTrait>::insert(model).exec_without_returning(&self.tx).await?;
        Ok(())
    }

    /// SQL for the month (`YYYY-MM`, in UTC) of a timestamp column, on either database.
    pub(crate) fn month_of(&self, column: &str) -> String {
        if self.is_postgres() {
            format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')")
        } else {
            format!("substr({column}, 1, 7)")
        }
    }

    /// Whether this is PostgreSQL.
    pub(crate) fn is_postgres(&self) -> bool {
        self.tx.get_database_backend() == DbBackend::Postgres
    }

    /// `UPDATE … WHERE tenant_id = <this trust>` (add further filters).
    pub(crate) fn update_many<E: TenantScoped>(&self) -> Scoped<UpdateMany<E>> {
        self.scoped(E::update_many().filter(E::tenant_column().eq(self.tenant.as_uuid())))
    }

    /// `DELETE … WHERE tenant_id = <this trust>` (add further filters).
    pub(crate) fn delete_many<E: TenantScoped>(&self) -> Scoped<DeleteMany<E>> {
        self.scoped(E::delete_many().filter(E::tenant_column().eq(self.tenant.as_uuid())))
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

    /// Inserts many rows in one statement, stamping this trust's id on each.
    pub(crate) async fn insert_many<A>(&self, models: impl IntoIterator<Item = A>) -> Result<(), DbError>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        A::Entity: TenantScoped,
    {
        let t = self.tenant.as_uuid();
        let rows: Vec<A> = models
            .into_iter()
            .map(|mut m| {
                m.set(<A::Entity as TenantScoped>::tenant_column(), t.into());
                m
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        <A::Entity as EntityTrait>::insert_many(rows).exec_without_returning(&self.tx).await?;
        Ok(())
    }

    /// Updates a row by its key (which holds `tenant_id`), with this trust's id stamped on it, so
    /// it can only ever change one of this trust's rows.
    pub(crate) async fn update<A>(&self, mut model: A) -> Result<<A::Entity as EntityTrait>::Model, DbError>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        A::Entity: TenantScoped,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        // The key holds tenant_id, so the UPDATE's WHERE names this trust (its SET the same value).
        model.set(<A::Entity as TenantScoped>::tenant_column(), self.tenant.as_uuid().into());
        Ok(model.update(&self.tx).await?)
    }

    /// Runs a raw statement, binding this trust's id as `$1`: `values` are `$2` onwards, and the
    /// SQL must use `$1` (written with PostgreSQL's placeholders; SQLite's are made from them).
    /// This is the only door for raw SQL on a trust's rows, so no statement can forget the trust.
    pub(crate) async fn execute(&self, sql: &str, values: Vec<sea_orm::Value>) -> Result<u64, DbError> {
        Ok(self.conn().execute_raw(self.bound(sql, values)?).await?.rows_affected())
    }

    /// A raw query's rows (see [`TenantTx::execute`]).
    pub(crate) async fn query_all(
        &self,
        sql: &str,
        values: Vec<sea_orm::Value>,
    ) -> Result<Vec<sea_orm::QueryResult>, DbError> {
        Ok(self.conn().query_all_raw(self.bound(sql, values)?).await?)
    }

    /// A raw query's rows as they come from the database, not gathered first (see
    /// [`TenantTx::execute`]): for exports that must not hold a whole trust in memory.
    pub(crate) async fn query_stream<'a>(
        &'a self,
        sql: &str,
        values: Vec<sea_orm::Value>,
    ) -> Result<impl futures_util::Stream<Item = Result<sea_orm::QueryResult, sea_orm::DbErr>> + Send + use<'a>, DbError>
    {
        use sea_orm::StreamTrait;
        Ok(self.conn().stream_raw(self.bound(sql, values)?).await?)
    }

    /// A raw query's first row (see [`TenantTx::execute`]).
    pub(crate) async fn query_one(
        &self,
        sql: &str,
        values: Vec<sea_orm::Value>,
    ) -> Result<Option<sea_orm::QueryResult>, DbError> {
        Ok(self.conn().query_one_raw(self.bound(sql, values)?).await?)
    }

    /// Calls one of the database's own functions (`SELECT trellis_…(…)` or `SELECT … FROM trellis_…(…)`, PostgreSQL's
    /// `SECURITY DEFINER` doors for the identity steps a trust's role may take): they read the
    /// trust from the transaction's setting, so `values` are bound as given. Refuses anything else.
    pub(crate) async fn call(
        &self,
        sql: &str,
        values: Vec<sea_orm::Value>,
    ) -> Result<Vec<sea_orm::QueryResult>, DbError> {
        let calls = sql.trim_start().starts_with("SELECT ") && sql.contains("trellis_") && sql.contains('(');
        if !calls {
            return Err(DbError::Db(sea_orm::DbErr::Custom("only a trellis_ function may be called this way".into())));
        }
        Ok(self.conn().query_all_raw(statement(self.tx.get_database_backend(), sql, values)).await?)
    }

    fn bound(&self, sql: &str, values: Vec<sea_orm::Value>) -> Result<Statement, DbError> {
        if !binds_tenant(sql) {
            return Err(DbError::Db(sea_orm::DbErr::Custom(
                "a raw statement on a trust's rows must use $1, the trust's id".into(),
            )));
        }
        let mut all = Vec::with_capacity(values.len() + 1);
        all.push(self.tenant.as_uuid().into());
        all.extend(values);
        Ok(statement(self.tx.get_database_backend(), sql, all))
    }
}

/// Whether `sql` uses `$1` (and not only `$10`, `$11`, …).
fn binds_tenant(sql: &str) -> bool {
    sql.match_indices("$1").any(|(i, _)| !sql[i + 2..].starts_with(|c: char| c.is_ascii_digit()))
}

/// A query confined to one trust: only [`TenantTx`]'s builders make one, and it runs only in a
/// transaction of that trust. Filters, ordering, columns and joins may be added to it (it is a
/// `QueryFilter`, `QueryOrder` and `QuerySelect` like the query inside); the trust's filter can't
/// be taken off.
#[derive(Clone)]
#[must_use = "a query does nothing until it runs"]
pub(crate) struct Scoped<Q> {
    q: Q,
    tenant: TenantId,
}

impl<Q: QueryFilter> QueryFilter for Scoped<Q> {
    type QueryStatement = Q::QueryStatement;
    fn query(&mut self) -> &mut Self::QueryStatement {
        self.q.query()
    }
}

impl<Q: QueryOrder> QueryOrder for Scoped<Q> {
    type QueryStatement = Q::QueryStatement;
    fn query(&mut self) -> &mut sea_orm::sea_query::SelectStatement {
        QueryOrder::query(&mut self.q)
    }
}

impl<Q: QuerySelect> QuerySelect for Scoped<Q> {
    type QueryStatement = Q::QueryStatement;
    fn query(&mut self) -> &mut sea_orm::sea_query::SelectStatement {
        QuerySelect::query(&mut self.q)
    }
}

impl<Q> Scoped<Q> {
    /// The transaction's connection, once it is known to be this query's trust.
    fn on<'a>(&self, tx: &'a TenantTx) -> Result<&'a DatabaseTransaction, DbErr> {
        if tx.tenant != self.tenant {
            return Err(DbErr::Custom("a query built for one trust was run in another's transaction".into()));
        }
        Ok(tx.conn())
    }

    /// The query reshaped (`into_tuple`, a join, a partial model), its trust kept.
    pub(crate) fn map<R>(self, f: impl FnOnce(Q) -> R) -> Scoped<R> {
        Scoped { q: f(self.q), tenant: self.tenant }
    }
}

impl<E: EntityTrait> Scoped<Select<E>> {
    pub(crate) async fn all(self, tx: &TenantTx) -> Result<Vec<E::Model>, DbErr> {
        let c = self.on(tx)?;
        self.q.all(c).await
    }

    pub(crate) async fn one(self, tx: &TenantTx) -> Result<Option<E::Model>, DbErr> {
        let c = self.on(tx)?;
        self.q.one(c).await
    }

    pub(crate) async fn count(self, tx: &TenantTx) -> Result<u64, DbErr>
    where
        E::Model: Sync,
    {
        let c = self.on(tx)?;
        sea_orm::PaginatorTrait::count(self.q, c).await
    }
}

impl<E: EntityTrait> Scoped<UpdateMany<E>> {
    pub(crate) async fn exec(self, tx: &TenantTx) -> Result<sea_orm::UpdateResult, DbErr> {
        let c = self.on(tx)?;
        self.q.exec(c).await
    }

    /// `SET column = value` (as `UpdateMany::col_expr`).
    pub(crate) fn col_expr<C: sea_orm::sea_query::IntoIden>(
        self,
        col: C,
        expr: sea_orm::sea_query::SimpleExpr,
    ) -> Self {
        self.map(|q| q.col_expr(col, expr))
    }
}

impl<E: EntityTrait> Scoped<DeleteMany<E>> {
    pub(crate) async fn exec(self, tx: &TenantTx) -> Result<sea_orm::DeleteResult, DbErr> {
        let c = self.on(tx)?;
        self.q.exec(c).await
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::binds_tenant;

    #[test]
    fn a_raw_statement_must_use_the_trusts_placeholder() {
        assert!(binds_tenant("SELECT 1 FROM courses WHERE tenant_id = $1"));
        assert!(binds_tenant("SELECT $2 WHERE tenant_id = $1 AND x = $10"));
        assert!(!binds_tenant("SELECT 1 FROM courses WHERE id = $10"));
        assert!(!binds_tenant("SELECT 1 FROM courses"));
        assert!(binds_tenant("VALUES ($1)"));
    }
}
