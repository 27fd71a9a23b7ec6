//! Who may change what: the schema belongs to an owner role that runs `sipas migrate`; the
//! server runs as an application role that may add published records but never change them.
//!
//! The triggers on releases (migrations 0008, 0010, 0016, 0018) refuse UPDATE, DELETE and
//! TRUNCATE from any statement, but a table's owner can disable or drop them. On PostgreSQL only
//! a role that cannot become the owner or a superuser (or a role-creating role), has no UPDATE,
//! DELETE, TRUNCATE or TRIGGER on them, cannot switch triggers off with
//! `session_replication_role`, and creates no objects of its own (temporary tables included,
//! which a function could take for ours) is held to them; [`grant_application_role`] gives the
//! application role exactly that, and [`published_records_guard`] checks it at start-up. SQLite has no roles: whoever can write
//! the file can change anything in it, so there the protection is the file's permissions and
//! its backups (docs/operations.md).

use sqlx::{AnyPool, Row};

use super::{Engine, OpenError};

/// Published records and the history of review decisions: the application adds and reads
/// them, and never changes or removes one.
pub const APPEND_ONLY: [&str; 4] = ["releases", "release_cells", "audit_log", "response_reviews"];

/// Records the application only reads: the figures published elsewhere (a migration writes
/// them) and the migrations' bookkeeping.
pub const READ_ONLY: [&str; 2] = ["published_elsewhere", "_sqlx_migrations"];

/// Whether the running role is held to the published records' immutability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishedRecordsGuard {
    /// PostgreSQL, an application role: no statement of this server can change them.
    Enforced,
    /// PostgreSQL, a role that could: each entry says which table and why.
    Weak(Vec<String>),
    /// SQLite: the triggers hold against the application's statements; the file's owner can
    /// do anything.
    FileOwner,
}

/// A PostgreSQL identifier, quoted.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Gives `role` what the application needs and nothing more: read and write on the working
/// tables, read and add on [`APPEND_ONLY`], read on the migrations' bookkeeping, the sequences
/// the inserts draw ids from. Idempotent (everything is revoked first), so `sipas migrate` runs
/// it after every upgrade and the tables a new migration adds are covered.
pub(super) async fn grant_application_role(pool: &AnyPool, role: &str) -> Result<(), sqlx::Error> {
    let role = quote_ident(role);
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(pool)
        .await?;
    let append_only = APPEND_ONLY.join(", ");
    let read_only = READ_ONLY.join(", ");
    let database = quote_ident(&database);
    let statements = [
        // Nobody but the owner creates objects here: no tables of one's own (PostgreSQL 14
        // and older let everyone create in `public`), no temporary tables that could stand in
        // for ours in a function.
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC".to_owned(),
        format!("REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC"),
        format!("REVOKE TEMPORARY ON DATABASE {database} FROM {role}"),
        format!("GRANT CONNECT ON DATABASE {database} TO {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("REVOKE UPDATE, DELETE ON {append_only} FROM {role}"),
        format!("REVOKE INSERT, UPDATE, DELETE ON {read_only} FROM {role}"),
        format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}"),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
    ];
    let mut tx = pool.begin().await?;
    for statement in &statements {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// What the connected role could do to the published records.
pub(super) async fn published_records_guard(
    pool: &AnyPool,
    engine: Engine,
) -> Result<PublishedRecordsGuard, sqlx::Error> {
    if engine == Engine::Sqlite {
        return Ok(PublishedRecordsGuard::FileOwner);
    }
    // The role itself or any role it can become (`SET ROLE`, whatever INHERIT says).
    let mut weak: Vec<String> = Vec::new();
    let powers: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT rolname::text, rolsuper, rolcreaterole FROM pg_roles \
         WHERE pg_has_role(current_user, oid, 'MEMBER') AND (rolsuper OR rolcreaterole)",
    )
    .fetch_all(pool)
    .await?;
    for (name, superuser, createrole) in powers {
        if superuser {
            weak.push(format!(
                "the role can act as {name}, a superuser: it can change anything"
            ));
        } else if createrole {
            weak.push(format!(
                "the role can act as {name}, which may create and grant roles (the owner's too)"
            ));
        }
    }
    let version: i64 = sqlx::query_scalar("SELECT current_setting('server_version_num')::bigint")
        .fetch_one(pool)
        .await?;
    if version >= 150_000 {
        // PostgreSQL 15 can grant the setting that switches triggers off to a plain role.
        let replica: bool =
            sqlx::query_scalar("SELECT has_parameter_privilege('session_replication_role', 'SET')")
                .fetch_one(pool)
                .await?;
        if replica {
            weak.push(
                "the role may SET session_replication_role, which switches the triggers off"
                    .to_owned(),
            );
        }
    }
    let (temporary, create): (bool, bool) = sqlx::query_as(
        "SELECT has_database_privilege(current_database(), 'TEMPORARY'), \
                has_schema_privilege('public', 'CREATE')",
    )
    .fetch_one(pool)
    .await?;
    if temporary {
        weak.push(
            "the role may create temporary tables (`sipas migrate` takes that right from the \
             application role)"
                .to_owned(),
        );
    }
    if create {
        weak.push("the role may create objects in schema public".to_owned());
    }
    let names = APPEND_ONLY
        .iter()
        .chain(&READ_ONLY)
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    // Ownership through any role the current one can become (MEMBER, not only inherited USAGE).
    let rows = sqlx::query(&format!(
        "SELECT c.relname::text AS name, \
                pg_has_role(c.relowner, 'MEMBER') AS owns, \
                has_table_privilege(c.oid, 'INSERT') AS may_insert, \
                has_table_privilege(c.oid, 'UPDATE') AS may_update, \
                has_table_privilege(c.oid, 'DELETE') AS may_delete, \
                has_table_privilege(c.oid, 'TRUNCATE') AS may_truncate, \
                has_table_privilege(c.oid, 'TRIGGER') AS may_trigger \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relname IN ({names}) ORDER BY c.relname"
    ))
    .fetch_all(pool)
    .await?;
    for row in rows {
        let name: String = row.try_get("name")?;
        if row.try_get::<bool, _>("owns")? {
            weak.push(format!(
                "{name}: the role owns it (it can disable or drop its triggers)"
            ));
            continue;
        }
        let read_only = READ_ONLY.contains(&name.as_str());
        let could: Vec<&str> = [
            ("may_insert", "INSERT"),
            ("may_update", "UPDATE"),
            ("may_delete", "DELETE"),
            ("may_truncate", "TRUNCATE"),
            ("may_trigger", "TRIGGER"),
        ]
        .into_iter()
        .filter(|(column, _)| read_only || *column != "may_insert")
        .filter_map(|(column, privilege)| match row.try_get::<bool, _>(column) {
            Ok(true) => Some(privilege),
            _ => None,
        })
        .collect();
        if !could.is_empty() {
            weak.push(format!("{name}: the role has {}", could.join(", ")));
        }
    }
    Ok(if weak.is_empty() {
        PublishedRecordsGuard::Enforced
    } else {
        PublishedRecordsGuard::Weak(weak)
    })
}

/// PostgreSQL: the application does not migrate (its role cannot); it refuses a schema that is
/// behind this build (run `sipas migrate` as the owner) or ahead of it (a newer release).
pub(super) async fn check_schema_current(
    pool: &AnyPool,
    migrator: &sqlx::migrate::Migrator,
) -> Result<(), OpenError> {
    let applied: Vec<i64> = match sqlx::query_scalar(
        "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
    )
    .fetch_all(pool)
    .await
    {
        Ok(applied) => applied,
        // No bookkeeping table: nothing was ever migrated here.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P01") => Vec::new(),
        Err(err) => return Err(OpenError::Inspect(err)),
    };
    let known: Vec<i64> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .collect();
    if let Some(version) = applied.iter().find(|v| !known.contains(v)) {
        return Err(OpenError::NewerSchema { version: *version });
    }
    let pending = known.iter().filter(|v| !applied.contains(v)).count();
    if pending > 0 {
        return Err(OpenError::NotMigrated { pending });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("sipas_app"), "\"sipas_app\"");
        assert_eq!(quote_ident("a\"; DROP"), "\"a\"\"; DROP\"");
    }
}
