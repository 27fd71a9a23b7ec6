//! The field ([`FieldStore`]): waves, frames, invitation batches and monitoring (GROUP BY
//! queries in the database).

use async_trait::async_trait;
use sipas_app::domain::Wave;
use sipas_app::i18n::Text;
use sipas_app::ports::{StoreError, StoreResult};
use sipas_app::staff::design::DrawRecord;
use sipas_app::staff::frame::{Frame, FramePsu, FrameStratum};
use sipas_app::staff::port::{
    AuditEntry, AuditOf, BatchSummary, ChannelCounts, FieldStore, Monitoring, NewBatch,
    ProvinceProgress, PsuProgress, WaveDetails, WaveSchedule,
};
use sipas_app::survey::questionnaire::Questionnaire;

use super::audit::record;
use super::sql::{SqlStore, db_error, now_rfc3339, parse_version, wave_from_row};

/// `''` stands for "every province" in the queries' `($N = '' OR province_code = $N)`.
pub(super) fn province_param(province: Option<&str>) -> &str {
    province.unwrap_or("")
}

#[derive(sqlx::FromRow)]
struct DetailsRow {
    #[sqlx(flatten)]
    wave: super::sql::WaveRow,
    opens_on: Option<String>,
    methodology_version: Option<String>,
    created_at: String,
}

const DETAILS_COLUMNS: &str = "SELECT code, title, year, geography, questionnaire_code, \
     questionnaire_version, open_link, closed_at, closes_on, opens_on, methodology_version, \
     created_at FROM waves";

fn details_from_row(row: DetailsRow) -> StoreResult<WaveDetails> {
    let schedule = WaveSchedule {
        opens_on: row.opens_on,
        closes_on: row.wave.closes_on.clone(),
        closed_at: row.wave.closed_at.clone(),
        methodology_version: row.methodology_version,
    };
    Ok(WaveDetails {
        wave: wave_from_row(row.wave)?,
        schedule,
        created_at: row.created_at,
    })
}

#[derive(sqlx::FromRow)]
struct BatchRow {
    id: String,
    wave_code: String,
    province_code: String,
    scope: String,
    size: i64,
    issued_by: String,
    issued_at: String,
    voided_at: Option<String>,
    used: i64,
    drafts: i64,
}

/// Batches with their codes' fates, counted in one GROUP BY.
const BATCH_QUERY: &str = "SELECT b.id, b.wave_code, b.province_code, b.scope, b.size, \
     b.issued_by, b.issued_at, b.voided_at, COALESCE(u.used, 0) AS used, \
     COALESCE(u.drafts, 0) AS drafts \
     FROM invitation_batches b LEFT JOIN ( \
       SELECT c.batch AS batch, \
         SUM(CASE WHEN c.used_at IS NOT NULL THEN 1 ELSE 0 END) AS used, \
         SUM(CASE WHEN c.used_at IS NULL AND c.voided_at IS NULL AND d.code_hash IS NOT NULL \
             THEN 1 ELSE 0 END) AS drafts \
       FROM invitation_codes c LEFT JOIN survey_drafts d ON d.code_hash = c.code_hash \
       WHERE c.wave_code = $1 GROUP BY c.batch) u ON u.batch = b.id";

fn batch_from_row(row: BatchRow) -> BatchSummary {
    BatchSummary {
        id: row.id,
        wave_code: row.wave_code,
        province_code: row.province_code,
        scope: row.scope,
        size: row.size,
        issued_by: row.issued_by,
        issued_at: row.issued_at,
        voided_at: row.voided_at,
        used: row.used,
        in_progress: row.drafts,
    }
}

#[async_trait]
impl FieldStore for SqlStore {
    async fn create_wave_scheduled(
        &self,
        wave: &Wave,
        schedule: &WaveSchedule,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let created_at = now_rfc3339()?;
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO waves (code, title, year, geography, questionnaire_code, \
             questionnaire_version, open_link, created_at, opens_on, closes_on, \
             methodology_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&wave.code)
        .bind(&wave.title)
        .bind(i64::from(wave.year))
        .bind(wave.geography.key())
        .bind(wave.questionnaire.as_ref().map(|q| q.code.clone()))
        .bind(wave.questionnaire.as_ref().map(|q| i64::from(q.version)))
        .bind(i64::from(wave.open_link))
        .bind(created_at)
        .bind(schedule.opens_on.as_deref())
        .bind(schedule.closes_on.as_deref())
        .bind(schedule.methodology_version.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(|err| match db_error(err) {
            StoreError::Conflict(_) => StoreError::Conflict(Text::new(
                format!("đã có đợt khảo sát mã {:?}", wave.code),
                format!("a wave with code {:?} already exists", wave.code),
            )),
            other => other,
        })?;
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn wave_details(&self, code: &str) -> StoreResult<WaveDetails> {
        let row = sqlx::query_as::<_, DetailsRow>(&format!("{DETAILS_COLUMNS} WHERE code = $1"))
            .bind(code)
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        details_from_row(row)
    }

    async fn wave_list(&self) -> StoreResult<Vec<WaveDetails>> {
        sqlx::query_as::<_, DetailsRow>(&format!("{DETAILS_COLUMNS} ORDER BY year DESC, code"))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(details_from_row)
            .collect()
    }

    async fn close_wave(&self, code: &str, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        let changed =
            sqlx::query("UPDATE waves SET closed_at = $1 WHERE code = $2 AND closed_at IS NULL")
                .bind(now_rfc3339()?)
                .bind(code)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
        if changed == 1 {
            record(&mut tx, audit).await?;
            return tx.commit().await.map_err(db_error);
        }
        drop(tx);
        // Nothing changed: no such wave, or closed already.
        let _: String = sqlx::query_scalar("SELECT code FROM waves WHERE code = $1")
            .bind(code)
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        Err(StoreError::Conflict(Text::new(
            "Đợt này đã đóng.",
            "The wave is closed already.",
        )))
    }

    async fn publish_questionnaire(
        &self,
        questionnaire: &Questionnaire,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let definition = serde_json::to_string(questionnaire)
            .map_err(|err| StoreError::Backend(err.to_string()))?;
        let version = i64::from(questionnaire.version);
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT definition FROM questionnaires WHERE code = $1 AND version = $2",
        )
        .bind(&questionnaire.code)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        match existing {
            Some(stored) if stored == definition => return Ok(false),
            Some(_) => {
                let (code, version) = (&questionnaire.code, questionnaire.version);
                return Err(StoreError::Conflict(Text::new(
                    format!(
                        "bảng hỏi {code} phiên bản {version} đã được đăng với nội dung khác; hãy \
                         đăng một phiên bản mới"
                    ),
                    format!(
                        "questionnaire {code} version {version} is already published with \
                         different content; publish a new version instead"
                    ),
                )));
            }
            None => {}
        }
        sqlx::query(
            "INSERT INTO questionnaires (code, version, definition, published_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&questionnaire.code)
        .bind(version)
        .bind(definition)
        .bind(now_rfc3339()?)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn questionnaire_versions(&self) -> StoreResult<Vec<(String, u32)>> {
        #[derive(sqlx::FromRow)]
        struct Version {
            code: String,
            version: i64,
        }
        sqlx::query_as::<_, Version>(
            "SELECT code, version FROM questionnaires ORDER BY code, version",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|row| Ok((row.code, parse_version(row.version)?)))
        .collect()
    }

    async fn replace_frame(
        &self,
        wave_code: &str,
        frame: &Frame,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        self.write_frame(wave_code, frame, None, audit).await
    }

    async fn replace_frame_drawn(
        &self,
        wave_code: &str,
        frame: &Frame,
        draw: &DrawRecord,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        self.write_frame(wave_code, frame, Some(draw), audit).await
    }

    async fn frame_draw(&self, wave_code: &str) -> StoreResult<Option<DrawRecord>> {
        let record: Option<String> =
            sqlx::query_scalar("SELECT record FROM frame_draws WHERE wave_code = $1")
                .bind(wave_code)
                .fetch_optional(self.pool())
                .await
                .map_err(db_error)?;
        record
            .map(|json| {
                serde_json::from_str(&json)
                    .map_err(|err| StoreError::Backend(format!("a stored draw: {err}")))
            })
            .transpose()
    }

    async fn frame(&self, wave_code: &str, province: Option<&str>) -> StoreResult<Frame> {
        #[derive(sqlx::FromRow)]
        struct StratumRow {
            province_code: String,
            stratum: String,
            population: i64,
            psus_in_population: i64,
        }
        #[derive(sqlx::FromRow)]
        struct PsuRow {
            province_code: String,
            stratum: String,
            psu: String,
            name: String,
            target: i64,
        }
        let strata = sqlx::query_as::<_, StratumRow>(
            "SELECT province_code, stratum, population, psus_in_population FROM frame_strata \
             WHERE wave_code = $1 AND ($2 = '' OR province_code = $2) \
             ORDER BY province_code, stratum",
        )
        .bind(wave_code)
        .bind(province_param(province))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|row| FrameStratum {
            province_code: row.province_code,
            stratum: row.stratum,
            population: row.population,
            psus_in_population: row.psus_in_population,
        })
        .collect();
        let psus = sqlx::query_as::<_, PsuRow>(
            "SELECT province_code, stratum, psu, name, target FROM frame_psus \
             WHERE wave_code = $1 AND ($2 = '' OR province_code = $2) \
             ORDER BY province_code, stratum, psu",
        )
        .bind(wave_code)
        .bind(province_param(province))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|row| FramePsu {
            province_code: row.province_code,
            stratum: row.stratum,
            psu: row.psu,
            name: row.name,
            target: row.target,
        })
        .collect();
        Ok(Frame { strata, psus })
    }

    async fn issue_batch(&self, batch: &NewBatch, audit: &AuditEntry) -> StoreResult<()> {
        let now = now_rfc3339()?;
        let geography: String = sqlx::query_scalar("SELECT geography FROM waves WHERE code = $1")
            .bind(&batch.wave_code)
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        super::sql::lock_wave(&mut tx, self.engine_kind(), &batch.wave_code).await?;
        // The codes were shared over the frame as it was read before this transaction: every
        // sample point must still be in it (a frame replaced meanwhile may have dropped one).
        let places: std::collections::HashSet<(String, String, String)> =
            sqlx::query_as::<_, (String, String, String)>(
                "SELECT province_code, stratum, psu FROM frame_psus WHERE wave_code = $1",
            )
            .bind(&batch.wave_code)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?
            .into_iter()
            .collect();
        if let Some((gone, _)) = batch.codes.iter().find(|(psu, _)| {
            !places.contains(&(
                psu.province_code.clone(),
                psu.stratum.clone(),
                psu.psu.clone(),
            ))
        }) {
            return Err(StoreError::Conflict(Text::new(
                format!(
                    "Dàn mẫu đã thay đổi khi đang chuẩn bị lô mã: PSU {} (tỉnh {}, tầng {}) không \
                     còn trong dàn mẫu. Hãy phát lại lô.",
                    gone.psu, gone.province_code, gone.stratum
                ),
                format!(
                    "The sample frame changed while the batch was being prepared: PSU {} \
                     (province {}, stratum {}) is no longer in it. Issue the batch again.",
                    gone.psu, gone.province_code, gone.stratum
                ),
            )));
        }
        sqlx::query(
            "INSERT INTO invitation_batches (id, wave_code, province_code, scope, size, \
             issued_by, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&batch.id)
        .bind(&batch.wave_code)
        .bind(&batch.province_code)
        .bind(&batch.scope)
        .bind(i64::try_from(batch.codes.len()).unwrap_or(i64::MAX))
        .bind(&batch.issued_by)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(|err| match db_error(err) {
            StoreError::Conflict(_) => StoreError::Conflict(Text::new(
                "Lô này đã được phát.",
                "This batch was issued already.",
            )),
            other => other,
        })?;
        // Many rows a statement (a batch may hold 5,000 codes): one round trip per chunk
        // instead of per code, within both engines' limits on parameters.
        const ROWS_PER_INSERT: usize = 500;
        // Each code's number in the batch (1, 2, …) is printed on its card.
        for (chunk_index, chunk) in batch.codes.chunks(ROWS_PER_INSERT).enumerate() {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = i * 10;
                    let places: Vec<String> = (1..=10).map(|k| format!("${}", p + k)).collect();
                    format!("({})", places.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO invitation_codes (code_hash, wave_code, geography, province_code, \
                 stratum, psu, batch, created_at, sample_kind, serial) VALUES {}",
                rows.join(", ")
            );
            let mut insert = sqlx::query(&sql);
            for (i, (psu, hash)) in chunk.iter().enumerate() {
                let serial = i64::try_from(chunk_index * ROWS_PER_INSERT + i + 1).unwrap_or(0);
                insert = insert
                    .bind(hash)
                    .bind(&batch.wave_code)
                    .bind(&geography)
                    .bind(&psu.province_code)
                    .bind(&psu.stratum)
                    .bind(&psu.psu)
                    .bind(&batch.id)
                    .bind(&now)
                    .bind(batch.kind.key())
                    .bind(serial);
            }
            insert.execute(&mut *tx).await.map_err(db_error)?;
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn batches(
        &self,
        wave_code: &str,
        province: Option<&str>,
    ) -> StoreResult<Vec<BatchSummary>> {
        let sql = format!(
            "{BATCH_QUERY} WHERE b.wave_code = $1 AND ($2 = '' OR b.province_code = $2) \
             ORDER BY b.issued_at DESC, b.id"
        );
        Ok(sqlx::query_as::<_, BatchRow>(&sql)
            .bind(wave_code)
            .bind(province_param(province))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(batch_from_row)
            .collect())
    }

    async fn batch(&self, id: &str) -> StoreResult<BatchSummary> {
        let wave_code: String =
            sqlx::query_scalar("SELECT wave_code FROM invitation_batches WHERE id = $1")
                .bind(id)
                .fetch_one(self.pool())
                .await
                .map_err(db_error)?;
        let sql = format!("{BATCH_QUERY} WHERE b.id = $2");
        let row = sqlx::query_as::<_, BatchRow>(&sql)
            .bind(wave_code)
            .bind(id)
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        Ok(batch_from_row(row))
    }

    async fn void_batch(&self, id: &str, by: &str, audit: &AuditOf<'_, i64>) -> StoreResult<i64> {
        let now = now_rfc3339()?;
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        let marked = sqlx::query(
            "UPDATE invitation_batches SET voided_at = $1, voided_by = $2 \
             WHERE id = $3 AND voided_at IS NULL",
        )
        .bind(&now)
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if marked == 0 {
            return Err(StoreError::Conflict(Text::new(
                "Lô này đã bị hủy (hoặc không có).",
                "The batch is voided already (or unknown).",
            )));
        }
        let voided = sqlx::query(
            "UPDATE invitation_codes SET voided_at = $1 \
             WHERE batch = $2 AND used_at IS NULL AND voided_at IS NULL \
             AND province_code = (SELECT province_code FROM invitation_batches WHERE id = $2)",
        )
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let voided = i64::try_from(voided).unwrap_or(i64::MAX);
        record(&mut tx, &audit(&voided)).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(voided)
    }

    async fn forget_stale_devices(&self, today: &str) -> StoreResult<u64> {
        // One statement, no transaction of its own needed: a row it misses (a save racing it)
        // goes in the next run.
        Ok(sqlx::query(
            "DELETE FROM code_devices WHERE code_hash IN (SELECT c.code_hash \
             FROM invitation_codes c JOIN waves w ON w.code = c.wave_code \
             WHERE c.used_at IS NOT NULL OR c.voided_at IS NOT NULL \
             OR w.closed_at IS NOT NULL OR w.closes_on < $1)",
        )
        .bind(today)
        .execute(self.pool())
        .await
        .map_err(db_error)?
        .rows_affected())
    }

    async fn monitoring(&self, wave_code: &str, province: Option<&str>) -> StoreResult<Monitoring> {
        // Two shapes of each query (every province, or one): a `($2 = '' OR ...)` filter
        // leaves PostgreSQL's generic plans unable to drop the condition.
        let only = |column: &str| match province {
            Some(_) => format!("AND {column} = $2"),
            None => String::new(),
        };
        macro_rules! with_province {
            ($query:expr) => {
                match province {
                    Some(code) => $query.bind(code),
                    None => $query,
                }
            };
        }
        #[derive(sqlx::FromRow)]
        struct PsuRow {
            province_code: String,
            stratum: String,
            psu: String,
            name: String,
            target: i64,
            issued: i64,
            used: i64,
            completes: i64,
            drafts: i64,
        }
        let sql = format!(
            "SELECT p.province_code, p.stratum, p.psu, p.name, p.target, \
               COALESCE(i.n, 0) AS issued, COALESCE(i.u, 0) AS used, \
               COALESCE(r.n, 0) AS completes, COALESCE(d.n, 0) AS drafts \
             FROM frame_psus p \
             LEFT JOIN (SELECT province_code, psu, COUNT(*) AS n, \
                   SUM(CASE WHEN used_at IS NOT NULL THEN 1 ELSE 0 END) AS u \
                 FROM invitation_codes WHERE wave_code = $1 AND voided_at IS NULL \
                 AND batch NOT LIKE 'paper-%' GROUP BY province_code, psu) i \
               ON i.province_code = p.province_code AND i.psu = p.psu \
             LEFT JOIN (SELECT province_code, psu, COUNT(*) AS n FROM responses \
                 WHERE wave_code = $1 GROUP BY province_code, psu) r \
               ON r.province_code = p.province_code AND r.psu = p.psu \
             LEFT JOIN (SELECT c.province_code, c.psu, COUNT(*) AS n FROM survey_drafts d \
                 JOIN invitation_codes c ON c.code_hash = d.code_hash \
                 WHERE c.wave_code = $1 AND c.used_at IS NULL AND c.voided_at IS NULL \
                 GROUP BY c.province_code, c.psu) d \
               ON d.province_code = p.province_code AND d.psu = p.psu \
             WHERE p.wave_code = $1 {} \
             ORDER BY p.province_code, p.stratum, p.psu",
            only("p.province_code")
        );
        let psus = with_province!(sqlx::query_as::<_, PsuRow>(&sql).bind(wave_code))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|row| PsuProgress {
                province_code: row.province_code,
                stratum: row.stratum,
                psu: row.psu,
                name: row.name,
                target: row.target,
                issued: row.issued,
                used: row.used,
                completes: row.completes,
                drafts: row.drafts,
            })
            .collect();
        let sql = format!(
            "SELECT province_code, channel, COUNT(*) AS n FROM responses \
             WHERE wave_code = $1 {} \
             GROUP BY province_code, channel ORDER BY province_code",
            only("province_code")
        );
        #[derive(sqlx::FromRow)]
        struct ChannelRow {
            province_code: String,
            channel: String,
            n: i64,
        }
        let channels = with_province!(sqlx::query_as::<_, ChannelRow>(&sql).bind(wave_code))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?;
        // The median of each province's web completion times: the middle row (or the two middle
        // rows' mean) by window functions, so no duration leaves the database.
        let sql = format!(
            "SELECT province_code, CAST(AVG(duration_secs) AS DOUBLE PRECISION) AS median FROM ( \
               SELECT province_code, duration_secs, \
                 ROW_NUMBER() OVER (PARTITION BY province_code ORDER BY duration_secs) AS rn, \
                 COUNT(*) OVER (PARTITION BY province_code) AS cnt \
               FROM responses WHERE wave_code = $1 {} \
                 AND duration_secs IS NOT NULL AND channel <> 'paper') t \
             WHERE rn IN ((cnt + 1) / 2, (cnt + 2) / 2) GROUP BY province_code",
            only("province_code")
        );
        #[derive(sqlx::FromRow)]
        struct MedianRow {
            province_code: String,
            median: f64,
        }
        let medians = with_province!(sqlx::query_as::<_, MedianRow>(&sql).bind(wave_code))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?;
        let mut provinces: Vec<ProvinceProgress> = Vec::new();
        for ChannelRow {
            province_code: code,
            channel,
            n,
        } in channels
        {
            if provinces.last().is_none_or(|p| p.province_code != code) {
                provinces.push(ProvinceProgress {
                    province_code: code.clone(),
                    channels: ChannelCounts::default(),
                    median_duration_secs: medians
                        .iter()
                        .find(|m| m.province_code == code)
                        .map(|m| m.median),
                });
            }
            if let Some(p) = provinces.last_mut() {
                match channel.as_str() {
                    "online" => p.channels.online += n,
                    "form" => p.channels.form += n,
                    "outbox" => p.channels.outbox += n,
                    _ => p.channels.paper += n,
                }
            }
        }
        let sql = format!(
            "SELECT submitted_on, COUNT(*) AS n FROM responses \
             WHERE wave_code = $1 {} AND submitted_on IS NOT NULL \
             GROUP BY submitted_on ORDER BY submitted_on",
            only("province_code")
        );
        #[derive(sqlx::FromRow)]
        struct DayRow {
            submitted_on: String,
            n: i64,
        }
        let per_day = with_province!(sqlx::query_as::<_, DayRow>(&sql).bind(wave_code))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|day| (day.submitted_on, day.n))
            .collect();
        let sql = format!(
            "SELECT COUNT(*) FROM responses r WHERE r.wave_code = $1 {} \
             AND NOT EXISTS (SELECT 1 FROM frame_psus p WHERE p.wave_code = r.wave_code \
             AND p.psu = r.psu AND p.province_code = r.province_code)",
            only("r.province_code")
        );
        let outside_frame: i64 = with_province!(sqlx::query_scalar(&sql).bind(wave_code))
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        Ok(Monitoring {
            psus,
            provinces,
            per_day,
            outside_frame,
        })
    }
}

impl SqlStore {
    /// A new frame for the wave, with how it was drawn when it was (a file's frame has no
    /// draw: an earlier record goes with the frame it described).
    async fn write_frame(
        &self,
        wave_code: &str,
        frame: &Frame,
        draw: Option<&DrawRecord>,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        super::sql::lock_wave(&mut tx, self.engine_kind(), wave_code).await?;
        // PSUs that already have codes must keep their place in the design.
        #[derive(sqlx::FromRow)]
        struct Placed {
            psu: String,
            province_code: String,
            stratum: String,
        }
        let with_codes = sqlx::query_as::<_, Placed>(
            "SELECT p.psu, p.province_code, p.stratum FROM frame_psus p WHERE p.wave_code = $1 \
             AND EXISTS (SELECT 1 FROM invitation_codes c WHERE c.wave_code = p.wave_code \
             AND c.psu = p.psu AND c.province_code = p.province_code)",
        )
        .bind(wave_code)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        for Placed {
            psu,
            province_code: province,
            stratum,
        } in with_codes
        {
            let kept = frame
                .psus
                .iter()
                .any(|p| p.psu == psu && p.province_code == province && p.stratum == stratum);
            if !kept {
                return Err(StoreError::Conflict(Text::new(
                    format!(
                        "PSU {psu} (tỉnh {province}, tầng {stratum}) đã có mã mời: dàn mẫu mới \
                         phải giữ PSU này trong cùng tỉnh và tầng"
                    ),
                    format!(
                        "PSU {psu} (province {province}, stratum {stratum}) already has invitation \
                         codes: the new frame must keep it in the same province and stratum"
                    ),
                )));
            }
        }
        for table in ["frame_draws", "frame_psus", "frame_strata"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE wave_code = $1"))
                .bind(wave_code)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        for s in &frame.strata {
            sqlx::query(
                "INSERT INTO frame_strata (wave_code, province_code, stratum, population, \
                 psus_in_population) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(wave_code)
            .bind(&s.province_code)
            .bind(&s.stratum)
            .bind(s.population)
            .bind(s.psus_in_population)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        for p in &frame.psus {
            sqlx::query(
                "INSERT INTO frame_psus (wave_code, psu, province_code, stratum, name, target) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(wave_code)
            .bind(&p.psu)
            .bind(&p.province_code)
            .bind(&p.stratum)
            .bind(&p.name)
            .bind(p.target)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        if let Some(draw) = draw {
            let json = serde_json::to_string(draw)
                .map_err(|err| StoreError::Backend(format!("the draw as JSON: {err}")))?;
            sqlx::query(
                "INSERT INTO frame_draws (wave_code, record, drawn_by, drawn_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(wave_code)
            .bind(json)
            .bind(&audit.actor)
            .bind(now_rfc3339()?)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }
}
