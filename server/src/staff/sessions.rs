//! Staff sessions in the database (both engines), behind tower-sessions' store trait: the
//! crate handles cookies, ids, expiry and id cycling; we keep the records.
//!
//! Only a SHA-256 of each session id is stored, so a copy of the database hands out no live
//! session.

use std::sync::Arc;

use async_trait::async_trait;
use sipas_app::ports::StoreError;
use sipas_app::staff::StaffStore;
use sipas_app::survey::codes::sha256_hex;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

#[derive(Clone)]
pub struct DbSessions(pub Arc<dyn StaffStore>);

impl std::fmt::Debug for DbSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSessions")
    }
}

fn id_hash(id: &Id) -> String {
    sha256_hex(id.to_string().as_bytes())
}

fn backend(err: StoreError) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

fn encode(record: &Record) -> session_store::Result<String> {
    serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

#[async_trait]
impl SessionStore for DbSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A 128-bit random id colliding is next to impossible, but a collision must never hand
        // one person another's session: insert, and draw a new id on a conflict.
        loop {
            match self
                .0
                .session_insert(
                    &id_hash(&record.id),
                    &encode(record)?,
                    record.expiry_date.unix_timestamp(),
                )
                .await
            {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict(_)) => record.id = Id::default(),
                Err(err) => return Err(backend(err)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.0
            .session_save(
                &id_hash(&record.id),
                &encode(record)?,
                record.expiry_date.unix_timestamp(),
            )
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = time::OffsetDateTime::now_utc();
        let Some(data) = self
            .0
            .session_load(&id_hash(id), now.unix_timestamp())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        // The expiry is renewed by the session layer on every request (idle timeout); the
        // record only needs one later than now to be usable.
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date: now + time::Duration::minutes(1),
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.session_delete(&id_hash(id)).await.map_err(backend)
    }
}
