//! The query layer shared by both engines. Queries are runtime-checked, written in the SQL that
//! SQLite and PostgreSQL both accept, with `$N` placeholders; the conformance suite
//! (`tests/store_conformance.rs`) runs every method on both engines.

use async_trait::async_trait;
use sipas_app::domain::{
    CrosswalkLink, Geography, Invitation, Province, QuestionnaireRef, SampleKind, SamplePoint,
    UnitKind, Wave,
};
use sipas_app::i18n::Text;
use sipas_app::ports::{Store, StoreError, StoreResult};
use sipas_app::survey::questionnaire::{Answers, Questionnaire};
use sipas_app::survey::response::{Draft, NewResponse, Receipt, StoreOutcome, StoredResponse};
use sqlx::AnyPool;
use sqlx::migrate::Migrator;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::submissions::{CountedDevices, GroupCommit, Write, Written, store_batch};
use super::{Engine, OpenError, migrate_error};

pub struct SqlStore {
    pool: AnyPool,
    engine: Engine,
    migrator: &'static Migrator,
    /// The group-commit writer of submissions; `None` commits each on its own.
    submissions: Option<GroupCommit>,
    /// Devices this server has counted (a speed-up of draft saves; `submissions`).
    counted_devices: Arc<CountedDevices>,
    /// Published questionnaire versions never change, so each is parsed once per process.
    questionnaires: RwLock<HashMap<(String, u32), Questionnaire>>,
}

impl SqlStore {
    pub(super) fn new(
        pool: AnyPool,
        engine: Engine,
        migrator: &'static Migrator,
        group_commit: bool,
    ) -> Self {
        let counted_devices = Arc::new(CountedDevices::default());
        Self {
            submissions: group_commit
                .then(|| GroupCommit::start(pool.clone(), counted_devices.clone())),
            counted_devices,
            pool,
            engine,
            migrator,
            questionnaires: RwLock::default(),
        }
    }

    /// Applies pending migrations; refuses a database that has migrations this build lacks.
    pub async fn migrate(&self) -> Result<(), OpenError> {
        self.migrator.run(&self.pool).await.map_err(migrate_error)
    }

    /// PostgreSQL: refuses a schema behind or ahead of this build (the application's role
    /// does not migrate).
    pub(super) async fn check_schema_current(&self) -> Result<(), OpenError> {
        super::roles::check_schema_current(&self.pool, self.migrator).await
    }

    /// Whether this server's role is held to the published records' immutability
    /// (checked by `sipas serve` at start-up).
    pub async fn published_records_guard(
        &self,
    ) -> Result<super::PublishedRecordsGuard, sqlx::Error> {
        super::roles::published_records_guard(&self.pool, self.engine).await
    }

    /// How many migrations the database has (0 before the first).
    pub(super) async fn applied_migrations(&self) -> usize {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_or(0, |n| usize::try_from(n).unwrap_or(0))
    }

    pub fn engine_kind(&self) -> Engine {
        self.engine
    }

    pub fn engine_name(&self) -> &'static str {
        self.engine.name()
    }

    /// Closes every connection (used before a restart and by tests).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Performs a survey write through the group-commit writer, or in its own transaction.
    async fn write(&self, write: Write) -> StoreResult<Written> {
        match &self.submissions {
            Some(writer) => writer.write(write).await,
            None => store_batch(&self.pool, &[&write], &self.counted_devices)
                .await
                .pop()
                .unwrap_or(Err(StoreError::NotFound)),
        }
    }

    /// Direct access for tests and maintenance commands.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Begins a transaction that will write. SQLite: `BEGIN IMMEDIATE`, which takes the write lock
/// at the start (waiting `busy_timeout` for it). A deferred transaction that reads first and
/// writes later fails at once, without waiting, when another connection committed in between
/// (SQLITE_BUSY_SNAPSHOT): an import or a batch of submissions would fail because another one
/// was quicker. PostgreSQL: an ordinary BEGIN (rows are locked as they are written).
pub(super) async fn begin_write(
    pool: &AnyPool,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    if pool.connect_options().database_url.scheme() == "sqlite" {
        pool.begin_with("BEGIN IMMEDIATE").await
    } else {
        pool.begin().await
    }
}

/// Serialises the transactions that change a wave's sample points (a new frame, codes issued,
/// paper forms imported) on PostgreSQL, by locking the wave's row until the transaction ends: a
/// frame replaced while codes were being issued for it would otherwise leave codes for communes
/// it no longer has. SQLite's write transactions are serial already (`begin_write`).
pub(super) async fn lock_wave(
    conn: &mut sqlx::AnyConnection,
    engine: Engine,
    wave_code: &str,
) -> StoreResult<()> {
    if engine == Engine::Postgres {
        sqlx::query("SELECT code FROM waves WHERE code = $1 FOR UPDATE")
            .bind(wave_code)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Maps a database error: uniqueness breaches become a user-facing conflict, the rest stays
/// internal (the application layer logs it once).
pub(super) fn db_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(Text::new(
            "Bản ghi này đã có.",
            "This record already exists.",
        )),
        _ => StoreError::Database(Box::new(err)),
    }
}

/// Rows are read by column name into these structs (a reordered SELECT cannot swap fields).
#[derive(sqlx::FromRow)]
struct UnitRow {
    geography: String,
    code: String,
    name_vi: String,
    kind: String,
}

fn province_from_row(row: UnitRow) -> StoreResult<Province> {
    let geography = Geography::parse(&row.geography)
        .ok_or_else(|| StoreError::Backend(format!("unknown geography {:?}", row.geography)))?;
    let kind = UnitKind::parse(&row.kind)
        .ok_or_else(|| StoreError::Backend(format!("unknown unit kind {:?}", row.kind)))?;
    Ok(Province {
        geography,
        code: row.code,
        name_vi: row.name_vi,
        kind,
    })
}

#[derive(sqlx::FromRow)]
pub(super) struct WaveRow {
    pub(super) code: String,
    pub(super) title: String,
    pub(super) year: i64,
    pub(super) geography: String,
    pub(super) questionnaire_code: Option<String>,
    pub(super) questionnaire_version: Option<i64>,
    pub(super) open_link: i64,
    pub(super) closed_at: Option<String>,
    pub(super) closes_on: Option<String>,
}

pub(super) const WAVE_COLUMNS: &str = "SELECT code, title, year, geography, questionnaire_code, \
     questionnaire_version, open_link, closed_at, closes_on FROM waves";

pub(super) fn wave_from_row(row: WaveRow) -> StoreResult<Wave> {
    let WaveRow {
        code,
        title,
        year,
        geography,
        questionnaire_code: q_code,
        questionnaire_version: q_version,
        open_link,
        closed_at,
        closes_on,
    } = row;
    let closed = closed_at.is_some()
        || closes_on.is_some_and(|last_day| last_day < sipas_app::api::today_iso());
    let questionnaire = match (q_code, q_version) {
        (Some(code), Some(version)) => Some(QuestionnaireRef {
            code,
            version: parse_version(version)?,
        }),
        _ => None,
    };
    Ok(Wave {
        code,
        title,
        year: i32::try_from(year).map_err(|_| StoreError::Backend(format!("bad year {year}")))?,
        geography: parse_geography(&geography)?,
        questionnaire,
        open_link: open_link != 0,
        closed,
    })
}

pub(super) fn parse_geography(key: &str) -> StoreResult<Geography> {
    Geography::parse(key).ok_or_else(|| StoreError::Backend(format!("unknown geography {key:?}")))
}

pub(super) fn parse_version(version: i64) -> StoreResult<u32> {
    u32::try_from(version)
        .map_err(|_| StoreError::Backend(format!("bad questionnaire version {version}")))
}

/// The sample point columns shared by invitation codes and responses.
fn sample_point(
    wave_code: String,
    geography: &str,
    province_code: String,
    stratum: String,
    psu: String,
) -> StoreResult<SamplePoint> {
    Ok(SamplePoint {
        wave_code,
        geography: parse_geography(geography)?,
        province_code,
        stratum,
        psu,
    })
}

fn parse_kind(key: &str) -> StoreResult<SampleKind> {
    SampleKind::parse(key)
        .ok_or_else(|| StoreError::Backend(format!("unknown sample kind {key:?}")))
}

pub(super) fn parse_answers(json: &str) -> StoreResult<Answers> {
    serde_json::from_str(json).map_err(|err| StoreError::Backend(format!("stored answers: {err}")))
}

pub(super) fn answers_json(answers: &Answers) -> StoreResult<String> {
    serde_json::to_string(answers).map_err(|err| StoreError::Backend(err.to_string()))
}

/// A random identifier of 16 hex digits (64 bits): export row ids, batch ids.
pub(crate) fn random_id() -> StoreResult<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|err| StoreError::Backend(err.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// 128 random bits as 32 hex digits (form tokens); empty only if the generator fails.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn now_rfc3339() -> StoreResult<String> {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|err| StoreError::Backend(err.to_string()))
}

#[derive(sqlx::FromRow)]
struct ResponseRow {
    receipt: String,
    submitted_at: String,
    wave_code: String,
    geography: String,
    province_code: String,
    stratum: String,
    psu: String,
    sample_kind: String,
    questionnaire_code: String,
    questionnaire_version: i64,
    answers: String,
    language: String,
    mode: String,
    started_at: Option<String>,
}

const RESPONSE_COLUMNS: &str = "SELECT receipt, submitted_at, wave_code, geography, \
     province_code, stratum, psu, sample_kind, questionnaire_code, questionnaire_version, answers, \
     language, mode, started_at FROM responses";

fn response_from_row(row: ResponseRow) -> StoreResult<StoredResponse> {
    let ResponseRow {
        receipt: number,
        submitted_at,
        wave_code,
        geography,
        province_code,
        stratum,
        psu,
        sample_kind: kind,
        questionnaire_code: q_code,
        questionnaire_version: q_version,
        answers,
        language,
        mode,
        started_at,
    } = row;
    Ok(StoredResponse {
        receipt: Receipt {
            number,
            submitted_at,
        },
        sample: sample_point(wave_code, &geography, province_code, stratum, psu)?,
        kind: parse_kind(&kind)?,
        questionnaire: QuestionnaireRef {
            code: q_code,
            version: parse_version(q_version)?,
        },
        answers: parse_answers(&answers)?,
        language,
        mode,
        started_at,
    })
}

const UNIT_COLUMNS: &str = "SELECT geography, code, name_vi, kind FROM admin_units";

#[async_trait]
impl Store for SqlStore {
    fn engine(&self) -> &'static str {
        self.engine.name()
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn provinces(&self, geography: Geography) -> StoreResult<Vec<Province>> {
        let sql = format!("{UNIT_COLUMNS} WHERE geography = $1 ORDER BY code");
        sqlx::query_as::<_, UnitRow>(&sql)
            .bind(geography.key())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(province_from_row)
            .collect()
    }

    async fn communes(&self) -> StoreResult<Vec<sipas_app::domain::Commune>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT province_code, code, name_vi, kind FROM communes ORDER BY province_code, code",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|(province_code, code, name_vi, kind)| {
                let kind = sipas_app::domain::CommuneKind::parse(&kind)
                    .ok_or_else(|| StoreError::Backend(format!("unknown commune kind {kind:?}")))?;
                Ok(sipas_app::domain::Commune {
                    province_code,
                    code,
                    name_vi,
                    kind,
                })
            })
            .collect()
    }

    async fn provinces_on(&self, iso_date: &str) -> StoreResult<Vec<Province>> {
        // ISO dates compare correctly as text on both engines.
        let sql = format!(
            "{UNIT_COLUMNS} WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to >= $1) \
             ORDER BY code"
        );
        sqlx::query_as::<_, UnitRow>(&sql)
            .bind(iso_date)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(province_from_row)
            .collect()
    }

    async fn province(&self, geography: Geography, code: &str) -> StoreResult<Province> {
        let sql = format!("{UNIT_COLUMNS} WHERE geography = $1 AND code = $2");
        let row = sqlx::query_as::<_, UnitRow>(&sql)
            .bind(geography.key())
            .bind(code)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        province_from_row(row)
    }

    async fn crosswalk(&self) -> StoreResult<Vec<CrosswalkLink>> {
        #[derive(sqlx::FromRow)]
        struct Link {
            old_code: String,
            new_code: String,
        }
        let rows = sqlx::query_as::<_, Link>(
            "SELECT old_code, new_code FROM admin_crosswalk ORDER BY old_code, new_code",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|link| CrosswalkLink {
                old_code: link.old_code,
                new_code: link.new_code,
            })
            .collect())
    }

    async fn wave(&self, code: &str) -> StoreResult<Wave> {
        let row = sqlx::query_as::<_, WaveRow>(&format!("{WAVE_COLUMNS} WHERE code = $1"))
            .bind(code)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        wave_from_row(row)
    }

    async fn waves(&self) -> StoreResult<Vec<Wave>> {
        sqlx::query_as::<_, WaveRow>(&format!("{WAVE_COLUMNS} ORDER BY year DESC, code"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(wave_from_row)
            .collect()
    }

    async fn questionnaire(&self, code: &str, version: u32) -> StoreResult<Questionnaire> {
        let key = (code.to_owned(), version);
        if let Some(cached) = self
            .questionnaires
            .read()
            .ok()
            .and_then(|cache| cache.get(&key).cloned())
        {
            return Ok(cached);
        }
        let definition: String = sqlx::query_scalar(
            "SELECT definition FROM questionnaires WHERE code = $1 AND version = $2",
        )
        .bind(code)
        .bind(i64::from(version))
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        let questionnaire: Questionnaire = serde_json::from_str(&definition)
            .map_err(|err| StoreError::Backend(err.to_string()))?;
        if let Ok(mut cache) = self.questionnaires.write() {
            cache.insert(key, questionnaire.clone());
        }
        Ok(questionnaire)
    }

    async fn add_invitations(
        &self,
        sample: &SamplePoint,
        kind: SampleKind,
        batch: &str,
        code_hashes: &[String],
    ) -> StoreResult<()> {
        let created_at = now_rfc3339()?;
        let mut tx = begin_write(&self.pool).await.map_err(db_error)?;
        for hash in code_hashes {
            sqlx::query(
                "INSERT INTO invitation_codes (code_hash, wave_code, geography, province_code, \
                 stratum, psu, batch, created_at, sample_kind) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(hash)
            .bind(&sample.wave_code)
            .bind(sample.geography.key())
            .bind(&sample.province_code)
            .bind(&sample.stratum)
            .bind(&sample.psu)
            .bind(batch)
            .bind(&created_at)
            .bind(kind.key())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        // Codes issued outside the staff pages (the CLI, the open link) are listed as batches too.
        let size = i64::try_from(code_hashes.len()).unwrap_or(i64::MAX);
        let issued_by = match kind {
            SampleKind::Probability => "cli",
            SampleKind::Open => "open-link",
        };
        // A batch id reused in another wave or province is refused: voiding a batch must never
        // reach another province's codes.
        let recorded = sqlx::query(
            "INSERT INTO invitation_batches (id, wave_code, province_code, scope, size, \
             issued_by, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET size = invitation_batches.size + excluded.size \
             WHERE invitation_batches.wave_code = excluded.wave_code \
             AND invitation_batches.province_code = excluded.province_code",
        )
        .bind(batch)
        .bind(&sample.wave_code)
        .bind(&sample.province_code)
        .bind(format!("psu {}", sample.psu))
        .bind(size)
        .bind(issued_by)
        .bind(&created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if recorded == 0 {
            return Err(StoreError::Conflict(Text::new(
                format!("lô {batch:?} thuộc đợt hoặc tỉnh khác: hãy chọn tên khác"),
                format!(
                    "batch {batch:?} belongs to another wave or province: choose another label"
                ),
            )));
        }
        tx.commit().await.map_err(db_error)
    }

    async fn codes_issued_since(
        &self,
        wave_code: &str,
        kind: SampleKind,
        since: &str,
    ) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM invitation_codes \
             WHERE wave_code = $1 AND sample_kind = $2 AND created_at >= $3",
        )
        .bind(wave_code)
        .bind(kind.key())
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn invitation(&self, code_hash: &str) -> StoreResult<Invitation> {
        #[derive(sqlx::FromRow)]
        struct Row {
            wave_code: String,
            geography: String,
            province_code: String,
            stratum: String,
            psu: String,
            sample_kind: String,
            batch: String,
            used_at: Option<String>,
        }
        let Row {
            wave_code,
            geography,
            province_code,
            stratum,
            psu,
            sample_kind: kind,
            batch,
            used_at,
        } = sqlx::query_as::<_, Row>(
            "SELECT wave_code, geography, province_code, stratum, psu, sample_kind, batch, \
             used_at FROM invitation_codes WHERE code_hash = $1 AND voided_at IS NULL",
        )
        .bind(code_hash)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(Invitation {
            sample: sample_point(wave_code, &geography, province_code, stratum, psu)?,
            kind: parse_kind(&kind)?,
            batch,
            used: used_at.is_some(),
        })
    }

    async fn draft(&self, code_hash: &str) -> StoreResult<Option<Draft>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            answers: String,
            step: i64,
            started_at: String,
            revision: i64,
        }
        let row = sqlx::query_as::<_, Row>(
            "SELECT answers, step, started_at, revision FROM survey_drafts WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|row| {
            Ok(Draft {
                answers: parse_answers(&row.answers)?,
                step: u32::try_from(row.step).unwrap_or(0),
                started_at: row.started_at,
                revision: u64::try_from(row.revision).unwrap_or(0),
            })
        })
        .transpose()
    }

    async fn save_draft(
        &self,
        code_hash: &str,
        draft: &Draft,
        device: Option<&str>,
    ) -> StoreResult<sipas_app::survey::response::DraftSaved> {
        // Through the writer task, like submissions (see `submissions`).
        let write = Write::Draft {
            code_hash: code_hash.to_owned(),
            draft: draft.clone(),
            device: device.map(str::to_owned),
        };
        match self.write(write).await? {
            Written::Draft(saved) => Ok(saved),
            Written::Submission(_) => {
                Err(StoreError::Backend("a draft saved as a submission".into()))
            }
        }
    }

    async fn store_response(&self, response: &NewResponse) -> StoreResult<StoreOutcome> {
        // See `submissions`: acknowledged only after a durable commit.
        match self.write(Write::Submission(response.clone())).await? {
            Written::Submission(outcome) => {
                let acknowledged = match outcome {
                    StoreOutcome::Stored(_) => Some(crate::metrics::Acknowledged::new),
                    StoreOutcome::Repeated(_) => Some(crate::metrics::Acknowledged::repeated),
                    StoreOutcome::CodeUsed => None,
                };
                if let Some(outcome) = acknowledged {
                    crate::metrics::METRICS
                        .submissions
                        .get_or_create(&crate::metrics::AcknowledgedLabel { outcome })
                        .inc();
                }
                Ok(outcome)
            }
            Written::Draft(_) => Err(StoreError::Backend("a submission saved as a draft".into())),
        }
    }

    async fn responses(&self, wave_code: &str) -> StoreResult<Vec<StoredResponse>> {
        let sql = format!("{RESPONSE_COLUMNS} WHERE wave_code = $1 ORDER BY submitted_at, receipt");
        sqlx::query_as::<_, ResponseRow>(&sql)
            .bind(wave_code)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(response_from_row)
            .collect()
    }

    async fn response(&self, receipt_number: &str) -> StoreResult<StoredResponse> {
        let sql = format!("{RESPONSE_COLUMNS} WHERE receipt = $1");
        let row = sqlx::query_as::<_, ResponseRow>(&sql)
            .bind(receipt_number)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        response_from_row(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_driver_failure_keeps_its_cause() {
        let err = db_error(sqlx::Error::PoolTimedOut);
        assert!(matches!(err, StoreError::Database(_)));
        let cause = std::error::Error::source(&err).expect("the driver's error");
        assert!(cause.downcast_ref::<sqlx::Error>().is_some());
        assert!(err.to_string().contains("pool timed out"), "{err}");
        assert!(matches!(
            db_error(sqlx::Error::RowNotFound),
            StoreError::NotFound
        ));
    }
}
