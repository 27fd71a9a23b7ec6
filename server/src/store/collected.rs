//! What was collected ([`CollectedStore`]): paper forms keyed in (all or nothing), answers
//! for computing and exports, in keyset pages.

use async_trait::async_trait;
use sipas_app::domain::Wave;
use sipas_app::i18n::Text;
use sipas_app::ports::StoreResult;
use sipas_app::staff::keying::{Keyed, KeyedForm};
use sipas_app::staff::port::{
    AnswersRow, AuditOf, CollectedStore, ExportRow, PaperRecord, PaperTarget, PsuCompletes,
    RowOutcome,
};
use sipas_app::staff::quality::{LeftOut, NewDecision, QueueRow, ReviewedResponse};
use sipas_app::survey::codes::sha256_hex;
use sipas_stats::quality::{Flag, QualityThresholds};
use sqlx::AnyConnection;

use super::audit::record;
use super::field::province_param;
use super::sql::{
    SqlStore, WAVE_COLUMNS, answers_json, db_error, now_rfc3339, parse_answers, parse_version,
    wave_from_row,
};
use super::submissions::vietnam_date;

/// What one import call looks up once instead of per form: the frame's PSUs (province and
/// stratum) and the paper batches it has added to (id → forms added).
pub(super) struct ImportContext {
    pub(super) places: std::collections::HashMap<String, (String, String)>,
    /// Ordered: concurrent imports update the batch rows in the same order (no deadlock).
    batches: std::collections::BTreeMap<String, i64>,
}

impl ImportContext {
    pub(super) async fn load(conn: &mut AnyConnection, wave_code: &str) -> StoreResult<Self> {
        let places = sqlx::query_as::<_, (String, String, String)>(
            "SELECT psu, province_code, stratum FROM frame_psus WHERE wave_code = $1",
        )
        .bind(wave_code)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|(psu, province, stratum)| (psu, (province, stratum)))
        .collect();
        Ok(Self {
            places,
            batches: std::collections::BTreeMap::new(),
        })
    }

    /// The batch of a province's paper forms without a code, counting one more form. The
    /// paper codes of a wave and province form one batch, which grows with each import: its row
    /// is made when an import first needs it, and its size added to once at the end.
    async fn batch(
        &mut self,
        conn: &mut AnyConnection,
        wave_code: &str,
        province_code: &str,
        now: &str,
    ) -> StoreResult<String> {
        let id = format!("paper-{wave_code}-{province_code}");
        if !self.batches.contains_key(&id) {
            sqlx::query(
                "INSERT INTO invitation_batches (id, wave_code, province_code, scope, size, \
                 issued_by, issued_at) VALUES ($1, $2, $3, 'paper forms without a code', 0, \
                 'paper-import', $4) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&id)
            .bind(wave_code)
            .bind(province_code)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
        }
        *self.batches.entry(id.clone()).or_default() += 1;
        Ok(id)
    }

    /// Adds the forms of this import to their batches' sizes.
    pub(super) async fn finish(&self, conn: &mut AnyConnection) -> StoreResult<()> {
        for (id, added) in &self.batches {
            sqlx::query("UPDATE invitation_batches SET size = size + $1 WHERE id = $2")
                .bind(*added)
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }
}

/// Stores one paper response against a code already claimed in this transaction.
async fn insert_paper_response(
    conn: &mut AnyConnection,
    record: &PaperRecord,
    code_hash: &str,
    questionnaire: (&str, u32),
    import_key: Option<&str>,
    now: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO responses (receipt, submission_id, code_hash, wave_code, geography, \
         province_code, stratum, psu, sample_kind, questionnaire_code, questionnaire_version, \
         answers, content_hash, language, mode, started_at, submitted_at, channel, \
         duration_secs, submitted_on, export_id, import_key, answered_items, no_answer_items, \
         straight_line) \
         SELECT $1, $2, code_hash, wave_code, geography, province_code, stratum, psu, \
         sample_kind, $3, $4, $5, $6, $7, 'paper', NULL, $8, 'paper', NULL, $9, $10, $11, \
         $13, $14, $15 FROM invitation_codes WHERE code_hash = $12",
    )
    .bind(&record.receipt)
    .bind(format!("paper-{}", &code_hash[..code_hash.len().min(40)]))
    .bind(questionnaire.0)
    .bind(i64::from(questionnaire.1))
    .bind(answers_json(&record.answers)?)
    .bind(&record.content_hash)
    .bind(&record.language)
    .bind(now)
    .bind(vietnam_date(now))
    .bind(&record.export_id)
    .bind(import_key)
    .bind(code_hash)
    .bind(record.measures.answered_items)
    .bind(record.measures.no_answer_items)
    .bind(record.measures.straight_line)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    // Browsers that saved drafts of it are no longer of interest (paper has no device count).
    super::submissions::forget_devices(conn, code_hash).await?;
    super::quality::mark_twins(conn, &record.receipt).await
}

/// A row that cannot be stored; `(vi, en)`.
fn problem(column: &str, (vi, en): (impl Into<String>, impl Into<String>)) -> RowOutcome {
    RowOutcome::Problem {
        column: column.to_owned(),
        message: Text::new(vi, en),
    }
}

/// Checks (and unless `dry_run` stores) one paper form. `Err` is a database failure.
pub(super) async fn import_one(
    conn: &mut AnyConnection,
    context: &mut ImportContext,
    wave: &Wave,
    province: Option<&str>,
    record: &PaperRecord,
    dry_run: bool,
    now: &str,
) -> StoreResult<RowOutcome> {
    let Some(questionnaire) = wave.questionnaire.as_ref() else {
        return Ok(problem(
            "",
            ("đợt này chưa có bảng hỏi", "the wave has no questionnaire"),
        ));
    };
    let q = (questionnaire.code.as_str(), questionnaire.version);
    match &record.target {
        PaperTarget::Code { code_hash } => {
            #[derive(sqlx::FromRow)]
            struct CodeState {
                wave_code: String,
                province_code: String,
                used_at: Option<String>,
                voided_at: Option<String>,
                channel: Option<String>,
                content_hash: Option<String>,
                submitted_on: Option<String>,
            }
            let row = sqlx::query_as::<_, CodeState>(
                "SELECT c.wave_code, c.province_code, c.used_at, c.voided_at, r.channel, \
                 r.content_hash, r.submitted_on FROM invitation_codes c \
                 LEFT JOIN responses r ON r.code_hash = c.code_hash WHERE c.code_hash = $1",
            )
            .bind(code_hash)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
            let Some(CodeState {
                wave_code,
                province_code: code_province,
                used_at,
                voided_at,
                channel,
                content_hash: content,
                submitted_on: day,
            }) = row
            else {
                return Ok(problem(
                    "code",
                    (
                        "không có mã mời này (gõ nhầm?)",
                        "no such invitation code (mistyped?)",
                    ),
                ));
            };
            if wave_code != wave.code {
                return Ok(problem(
                    "code",
                    ("mã này thuộc đợt khác", "this code belongs to another wave"),
                ));
            }
            if province.is_some_and(|p| p != code_province) {
                return Ok(problem(
                    "code",
                    (
                        "mã này thuộc tỉnh khác",
                        "this code belongs to another province",
                    ),
                ));
            }
            if used_at.is_some() {
                return Ok(match (channel.as_deref(), content) {
                    (Some("paper"), Some(content)) if content == record.content_hash => {
                        RowOutcome::AlreadyImported
                    }
                    (Some("paper"), _) => RowOutcome::Conflict(Text::new(
                        "mã này đã được nhập trước đây với câu trả lời khác",
                        "this code was imported before with other answers",
                    )),
                    _ => {
                        let day = day.unwrap_or_default();
                        RowOutcome::Conflict(Text::new(
                            format!("mã này đã được trả lời trực tuyến ngày {day}"),
                            format!("this code was answered online on {day}"),
                        ))
                    }
                });
            }
            if voided_at.is_some() {
                return Ok(problem(
                    "code",
                    ("lô của mã này đã bị hủy", "this code's batch was voided"),
                ));
            }
            if !dry_run {
                let claimed = sqlx::query(
                    "UPDATE invitation_codes SET used_at = $1 \
                     WHERE code_hash = $2 AND used_at IS NULL AND voided_at IS NULL",
                )
                .bind(now)
                .bind(code_hash)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?
                .rows_affected();
                if claimed == 0 {
                    // Answered online between the check above and now.
                    return Ok(RowOutcome::Conflict(Text::new(
                        "mã này vừa được trả lời trực tuyến",
                        "this code was just answered online",
                    )));
                }
                insert_paper_response(conn, record, code_hash, q, None, now).await?;
            }
            Ok(RowOutcome::New)
        }
        PaperTarget::Point { psu, form_id } => {
            let Some((psu_province, stratum)) = context.places.get(psu).cloned() else {
                return Ok(problem(
                    "psu",
                    (
                        format!("{psu:?} không phải PSU trong dàn mẫu của đợt này"),
                        format!("{psu:?} is not a PSU of this wave's frame"),
                    ),
                ));
            };
            if province.is_some_and(|p| p != psu_province) {
                return Ok(problem(
                    "psu",
                    (
                        "PSU này thuộc tỉnh khác",
                        "this PSU belongs to another province",
                    ),
                ));
            }
            let import_key =
                sha256_hex(format!("{}\u{1f}{psu}\u{1f}{form_id}", wave.code).as_bytes());
            let existing: Option<String> =
                sqlx::query_scalar("SELECT content_hash FROM responses WHERE import_key = $1")
                    .bind(&import_key)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_error)?;
            match existing {
                Some(content) if content == record.content_hash => {
                    return Ok(RowOutcome::AlreadyImported);
                }
                Some(_) => {
                    return Ok(RowOutcome::Conflict(Text::new(
                        format!(
                            "phiếu {form_id:?} của PSU {psu} đã được nhập trước đây với câu trả lời khác"
                        ),
                        format!(
                            "form {form_id:?} of PSU {psu} was imported before with other answers"
                        ),
                    )));
                }
                None => {}
            }
            if !dry_run {
                let batch = context.batch(conn, &wave.code, &psu_province, now).await?;
                // The form has no code: it gets a code row of its own (never printed, so its
                // "hash" is derived from the import key and cannot be typed in).
                let code_hash = sha256_hex(format!("paper\u{1f}{import_key}").as_bytes());
                sqlx::query(
                    "INSERT INTO invitation_codes (code_hash, wave_code, geography, \
                     province_code, stratum, psu, batch, created_at, used_at, sample_kind) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 'probability')",
                )
                .bind(&code_hash)
                .bind(&wave.code)
                .bind(wave.geography.key())
                .bind(&psu_province)
                .bind(&stratum)
                .bind(psu)
                .bind(&batch)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
                insert_paper_response(conn, record, &code_hash, q, Some(&import_key), now).await?;
            }
            Ok(RowOutcome::New)
        }
    }
}

#[async_trait]
impl CollectedStore for SqlStore {
    async fn import_paper(
        &self,
        wave_code: &str,
        province: Option<&str>,
        records: &[PaperRecord],
        dry_run: bool,
        audit: &AuditOf<'_, [RowOutcome]>,
    ) -> StoreResult<Vec<RowOutcome>> {
        let wave_row =
            sqlx::query_as::<_, super::sql::WaveRow>(&format!("{WAVE_COLUMNS} WHERE code = $1"))
                .bind(wave_code)
                .fetch_one(self.pool())
                .await
                .map_err(db_error)?;
        let wave = wave_from_row(wave_row)?;
        let now = now_rfc3339()?;
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        super::sql::lock_wave(&mut tx, self.engine_kind(), wave_code).await?;
        let mut outcomes = Vec::with_capacity(records.len());
        let mut context = ImportContext::load(&mut tx, wave_code).await?;
        for record in records {
            outcomes.push(
                import_one(
                    &mut tx,
                    &mut context,
                    &wave,
                    province,
                    record,
                    dry_run,
                    &now,
                )
                .await?,
            );
        }
        let refused = outcomes
            .iter()
            .any(|o| matches!(o, RowOutcome::Problem { .. }));
        if dry_run || refused {
            tx.rollback().await.map_err(db_error)?;
        } else {
            context.finish(&mut tx).await?;
            record(&mut tx, &audit(&outcomes)).await?;
            tx.commit().await.map_err(db_error)?;
        }
        Ok(outcomes)
    }

    async fn answers_page(
        &self,
        wave_code: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AnswersRow>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            export_id: String,
            province_code: String,
            stratum: String,
            psu: String,
            answers: String,
        }
        let rows = sqlx::query_as::<_, Row>(&format!(
            "SELECT r.export_id, r.province_code, r.stratum, r.psu, r.answers FROM responses r \
             WHERE r.wave_code = $1 AND r.sample_kind = 'probability' AND r.export_id > $2 \
             AND {} ORDER BY r.export_id LIMIT $3",
            super::quality::COUNTS
        ))
        .bind(wave_code)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|row| AnswersRow {
                export_id: row.export_id,
                province_code: row.province_code,
                stratum: row.stratum,
                psu: row.psu,
                answers: row.answers,
            })
            .collect())
    }

    async fn completes(&self, wave_code: &str) -> StoreResult<Vec<PsuCompletes>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            province_code: String,
            stratum: String,
            psu: String,
            n: i64,
        }
        // `responses_reviewed_completes` covers it: the wide rows (the answers) are not read.
        Ok(sqlx::query_as::<_, Row>(&format!(
            "SELECT r.province_code, r.stratum, r.psu, COUNT(*) AS n FROM responses r \
             WHERE r.wave_code = $1 AND r.sample_kind = 'probability' AND {} \
             GROUP BY r.province_code, r.stratum, r.psu \
             ORDER BY r.province_code, r.stratum, r.psu",
            super::quality::COUNTS
        ))
        .bind(wave_code)
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|row| PsuCompletes {
            province_code: row.province_code,
            stratum: row.stratum,
            psu: row.psu,
            completes: row.n,
        })
        .collect())
    }

    async fn key_form(
        &self,
        wave_code: &str,
        province: Option<&str>,
        record: &PaperRecord,
        clerk: i64,
        audit: &AuditOf<'_, Keyed>,
    ) -> StoreResult<Keyed> {
        self.key(wave_code, province, record, clerk, audit).await
    }

    async fn keyed_forms(
        &self,
        wave_code: &str,
        province: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<KeyedForm>> {
        self.forms(wave_code, province, limit).await
    }

    async fn keyed_form(&self, wave_code: &str, id: i64) -> StoreResult<KeyedForm> {
        self.form(wave_code, id).await
    }

    async fn resolve_form(
        &self,
        wave_code: &str,
        id: i64,
        record: &PaperRecord,
        supervisor: i64,
        audit: &AuditOf<'_, Keyed>,
    ) -> StoreResult<Keyed> {
        self.resolve(wave_code, id, record, supervisor, audit).await
    }

    async fn mark_twins(&self, wave_code: &str) -> StoreResult<()> {
        self.mark_all_twins(wave_code).await
    }

    async fn quality_queue(
        &self,
        wave_code: &str,
        quality: &QualityThresholds,
        province: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<QueueRow>> {
        self.queue(wave_code, quality, province, limit).await
    }

    async fn reviewed_response(
        &self,
        wave_code: &str,
        export_id: &str,
    ) -> StoreResult<ReviewedResponse> {
        self.reviewed(wave_code, export_id).await
    }

    async fn decide(
        &self,
        wave_code: &str,
        export_id: &str,
        decision: &NewDecision,
        audit: &AuditOf<'_, QueueRow>,
    ) -> StoreResult<()> {
        self.record_decision(wave_code, export_id, decision, audit)
            .await
    }

    async fn review_summary(
        &self,
        wave_code: &str,
        quality: &QualityThresholds,
    ) -> StoreResult<Vec<LeftOut>> {
        self.review_summary(wave_code, quality).await
    }

    async fn last_decision(&self, wave_code: &str) -> StoreResult<i64> {
        self.last_decision(wave_code).await
    }

    async fn decide_all(
        &self,
        wave_code: &str,
        province: Option<&str>,
        flag: Flag,
        quality: &QualityThresholds,
        decision: &NewDecision,
        audit: &AuditOf<'_, i64>,
    ) -> StoreResult<i64> {
        self.decide_all(wave_code, province, flag, quality, decision, audit)
            .await
    }

    async fn export_page(
        &self,
        wave_code: &str,
        quality: &QualityThresholds,
        province: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ExportRow>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            export_id: String,
            province_code: String,
            stratum: String,
            psu: String,
            sample_kind: String,
            questionnaire_version: i64,
            mode: String,
            channel: String,
            language: String,
            submitted_on: Option<String>,
            duration_secs: Option<i64>,
            devices: Option<i64>,
            answers: String,
            population: Option<i64>,
            psus_in_population: Option<i64>,
            quality: String,
            name_vi: Option<String>,
            psu_name: Option<String>,
        }
        let rows = sqlx::query_as::<_, Row>(&format!(
            "SELECT r.export_id, r.province_code, r.stratum, r.psu, r.sample_kind, \
             r.questionnaire_version, r.mode, r.channel, r.language, r.submitted_on, \
             r.duration_secs, r.devices, r.answers, s.population, s.psus_in_population, u.name_vi, \
             COALESCE(p.name, c.name_vi) AS psu_name, \
             CASE WHEN r.review = 'excluded' \
               THEN 'excluded:' || COALESCE(r.review_reason, 'other') \
               WHEN r.review IS NULL AND {} THEN 'awaiting_review' ELSE 'counted' END AS quality \
             FROM responses r \
             LEFT JOIN admin_units u ON u.geography = r.geography AND u.code = r.province_code \
             LEFT JOIN frame_psus p ON p.wave_code = r.wave_code AND p.psu = r.psu \
             LEFT JOIN communes c ON r.geography = '2025' AND c.code = r.psu \
             LEFT JOIN frame_strata s ON s.wave_code = r.wave_code \
               AND s.province_code = r.province_code AND s.stratum = r.stratum \
             WHERE r.wave_code = $1 AND ($2 = '' OR r.province_code = $2) AND r.export_id > $3 \
             ORDER BY r.export_id LIMIT $4",
            super::quality::flagged(quality)
        ))
        .bind(wave_code)
        .bind(province_param(province))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.clamp(1, 10_000)))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(ExportRow {
                    export_id: r.export_id,
                    province_code: r.province_code,
                    province_name: r.name_vi.unwrap_or_default(),
                    stratum: r.stratum,
                    psu: r.psu,
                    psu_name: r.psu_name.unwrap_or_default(),
                    sample_kind: r.sample_kind,
                    questionnaire_version: parse_version(r.questionnaire_version)?,
                    mode: r.mode,
                    channel: r.channel,
                    language: r.language,
                    submitted_on: r.submitted_on.unwrap_or_default(),
                    duration_secs: r.duration_secs,
                    devices: r.devices,
                    answers: parse_answers(&r.answers)?,
                    stratum_population: r.population,
                    stratum_psus: r.psus_in_population,
                    quality: r.quality,
                })
            })
            .collect()
    }
}
