//! Published releases ([`ReleaseStore`]): one INSERT transaction per version and SELECTs.
//! There is no UPDATE or DELETE here, and the database refuses them (migration 0008).

use async_trait::async_trait;
use sipas_app::i18n::Text;
use sipas_app::ports::{StoreError, StoreResult};
use sipas_app::staff::release::{
    ComparedWith, NewRelease, PublishedElsewhere, ReleaseCell, ReleaseInfo, ReleaseStore,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sql::{SqlStore, db_error, now_rfc3339, parse_geography};

const INFO_COLUMNS: &str = "SELECT year, version, wave_code, geography, title, methodology, \
     questionnaire_code, questionnaire_version, input_digest, software_version, computed_by, \
     approved_by, published_at, changelog, cell_count, compared_year, compared_version, \
     compared_reaggregated, left_out FROM releases";

/// The columns written for every cell (the retired `rank_*_marginal` stay NULL).
const CELL_COLUMNS: [&str; 28] = [
    "domain",
    "subgroup",
    "node",
    "n",
    "df",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "deff",
    "n_eff",
    "cv",
    "flag",
    "note",
    "rank",
    "rank_best",
    "rank_worst",
    "ranked_of",
    "tier",
    "vs_national_difference",
    "vs_national_se",
    "vs_national_p",
    "vs_national_p_holm",
    "change",
    "change_se",
    "change_df",
    "change_p",
    "change_p_holm",
];

/// A release's record read by column name.
fn info_from_row(row: &AnyRow) -> StoreResult<ReleaseInfo> {
    let get_i64 = |name: &str| row.try_get::<i64, _>(name).map_err(db_error);
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(db_error);
    let small = |x: i64| {
        i32::try_from(x).map_err(|_| StoreError::Backend(format!("number out of range: {x}")))
    };
    Ok(ReleaseInfo {
        year: small(get_i64("year")?)?,
        version: small(get_i64("version")?)?,
        wave_code: get_text("wave_code")?,
        geography: parse_geography(&get_text("geography")?)?,
        title: get_text("title")?,
        methodology: get_text("methodology")?,
        questionnaire_code: get_text("questionnaire_code")?,
        questionnaire_version: small(get_i64("questionnaire_version")?)?,
        input_digest: get_text("input_digest")?,
        software_version: get_text("software_version")?,
        computed_by: get_text("computed_by")?,
        approved_by: get_text("approved_by")?,
        published_at: get_text("published_at")?,
        changelog: get_text("changelog")?,
        cell_count: get_i64("cell_count")?,
        compared_with: {
            let year: Option<i64> = row.try_get("compared_year").map_err(db_error)?;
            let version: Option<i64> = row.try_get("compared_version").map_err(db_error)?;
            match (year, version) {
                (Some(y), Some(v)) => Some(ComparedWith {
                    year: small(y)?,
                    version: small(v)?,
                    reaggregated: get_i64("compared_reaggregated")? != 0,
                }),
                _ => None,
            }
        },
        left_out: serde_json::from_str(&get_text("left_out")?)
            .map_err(|e| StoreError::Backend(format!("unreadable left_out: {e}")))?,
    })
}

/// A cell read by column name (a reordered SELECT cannot swap two numbers).
fn cell_from_row(row: &AnyRow) -> StoreResult<ReleaseCell> {
    let real = |name: &str| row.try_get::<Option<f64>, _>(name).map_err(db_error);
    let int = |name: &str| row.try_get::<Option<i64>, _>(name).map_err(db_error);
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db_error);
    Ok(ReleaseCell {
        domain: text("domain")?,
        subgroup: text("subgroup")?,
        node: text("node")?,
        n: real("n")?,
        df: real("df")?,
        estimate: real("estimate")?,
        se: real("se")?,
        ci_low: real("ci_low")?,
        ci_high: real("ci_high")?,
        deff: real("deff")?,
        n_eff: real("n_eff")?,
        cv: real("cv")?,
        flag: text("flag")?,
        note: text("note")?,
        rank: int("rank")?,
        rank_best: int("rank_best")?,
        rank_worst: int("rank_worst")?,
        ranked_of: int("ranked_of")?,
        tier: row.try_get::<Option<String>, _>("tier").map_err(db_error)?,
        vs_national_difference: real("vs_national_difference")?,
        vs_national_se: real("vs_national_se")?,
        vs_national_p: real("vs_national_p")?,
        vs_national_p_holm: real("vs_national_p_holm")?,
        change: real("change")?,
        change_se: real("change_se")?,
        change_df: real("change_df")?,
        change_p: real("change_p")?,
        change_p_holm: real("change_p_holm")?,
    })
}

/// A stored number: NaN and infinities are "undefined" (`NULL`), which both engines agree on.
fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

#[async_trait]
impl ReleaseStore for SqlStore {
    async fn published_elsewhere(&self) -> StoreResult<Vec<PublishedElsewhere>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            year: i64,
            geography: String,
            province_code: String,
            province_name: String,
            sipas_percent: f64,
            rank: Option<i64>,
            ranked_of: Option<i64>,
            note: String,
            source: String,
        }
        let rows = sqlx::query_as::<_, Row>(
            "SELECT year, geography, province_code, province_name, sipas_percent, rank, \
             ranked_of, note, source FROM published_elsewhere \
             ORDER BY year, province_code",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|row| {
                Ok(PublishedElsewhere {
                    year: i32::try_from(row.year)
                        .map_err(|_| StoreError::Backend(format!("year {}", row.year)))?,
                    geography: parse_geography(&row.geography)?,
                    province_code: (!row.province_code.is_empty()).then_some(row.province_code),
                    province_name: row.province_name,
                    sipas_percent: row.sipas_percent,
                    rank: row.rank,
                    ranked_of: row.ranked_of,
                    note: row.note,
                    source: row.source,
                })
            })
            .collect()
    }

    async fn publish_release(
        &self,
        release: &NewRelease,
        audit: &sipas_app::staff::port::AuditOf<'_, i32>,
    ) -> StoreResult<i32> {
        if release.approved_by.trim().to_lowercase() == release.computed_by.trim().to_lowercase() {
            return Err(StoreError::Conflict(Text::new(
                "Công bố cần người thứ hai: người phê duyệt không thể là người đã tính.",
                "A release needs a second person: the approver cannot be the statistician who computed it.",
            )));
        }
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        let latest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM releases WHERE year = $1")
                .bind(i64::from(release.year))
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
        let version = latest.unwrap_or(0) + 1;
        if version > 1 && release.changelog.trim().is_empty() {
            let year = release.year;
            return Err(StoreError::Conflict(Text::new(
                format!(
                    "SIPAS {year} v{version} sửa một phiên bản trước: hãy ghi điều gì thay đổi và vì sao."
                ),
                format!(
                    "SIPAS {year} v{version} corrects an earlier version: say what changed and why."
                ),
            )));
        }
        sqlx::query(
            "INSERT INTO releases (year, version, wave_code, geography, title, methodology, \
             questionnaire_code, questionnaire_version, input_digest, software_version, \
             computed_by, approved_by, published_at, changelog, cell_count, totals, \
             compared_year, compared_version, compared_reaggregated, aggregates, left_out) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21)",
        )
        .bind(i64::from(release.year))
        .bind(version)
        .bind(&release.wave_code)
        .bind(release.geography.key())
        .bind(&release.title)
        .bind(&release.methodology)
        .bind(&release.questionnaire_code)
        .bind(i64::from(release.questionnaire_version))
        .bind(&release.input_digest)
        .bind(&release.software_version)
        .bind(&release.computed_by)
        .bind(&release.approved_by)
        .bind(now_rfc3339()?)
        .bind(release.changelog.trim())
        .bind(release.cells.len() as i64)
        .bind(&release.totals)
        .bind(release.compared_with.map(|c| i64::from(c.year)))
        .bind(release.compared_with.map(|c| i64::from(c.version)))
        .bind(i64::from(
            release.compared_with.is_some_and(|c| c.reaggregated),
        ))
        .bind(&release.aggregates)
        .bind(
            serde_json::to_string(&release.left_out)
                .map_err(|e| StoreError::Backend(e.to_string()))?,
        )
        .execute(&mut *tx)
        .await
        .map_err(|err| match db_error(err) {
            // Two publishers read the same latest version; the second loses the race.
            StoreError::Conflict(_) => StoreError::Conflict(Text::new(
                format!(
                    "SIPAS {} v{version} vừa được người khác công bố: tải lại trang và kiểm tra \
                     trước khi công bố lần nữa.",
                    release.year
                ),
                format!(
                    "SIPAS {} v{version} was published a moment ago by someone else: reload and \
                     check it before publishing again.",
                    release.year
                ),
            )),
            other => other,
        })?;
        let placeholders: Vec<String> = (1..=CELL_COLUMNS.len() + 3)
            .map(|i| format!("${i}"))
            .collect();
        let insert = format!(
            "INSERT INTO release_cells (year, version, position, {}) VALUES ({})",
            CELL_COLUMNS.join(", "),
            placeholders.join(", ")
        );
        // On PostgreSQL, not a cached prepared statement: through sqlx's Any driver a NULL fixes
        // its parameter's type when the statement is first prepared (PostgreSQL then refuses a
        // number in that place: "incorrect binary data format"), and which numbers are
        // undefined differs from cell to cell. SQLite has no such types, and re-parsing the
        // statement for each of tens of thousands of cells would cost minutes there.
        let cached = self.engine_name() == "sqlite";
        for (position, c) in release.cells.iter().enumerate() {
            sqlx::query(&insert)
                .persistent(cached)
                .bind(i64::from(release.year))
                .bind(version)
                .bind(position as i64)
                .bind(&c.domain)
                .bind(&c.subgroup)
                .bind(&c.node)
                .bind(finite(c.n))
                .bind(finite(c.df))
                .bind(finite(c.estimate))
                .bind(finite(c.se))
                .bind(finite(c.ci_low))
                .bind(finite(c.ci_high))
                .bind(finite(c.deff))
                .bind(finite(c.n_eff))
                .bind(finite(c.cv))
                .bind(&c.flag)
                .bind(&c.note)
                .bind(c.rank)
                .bind(c.rank_best)
                .bind(c.rank_worst)
                .bind(c.ranked_of)
                .bind(c.tier.clone())
                .bind(finite(c.vs_national_difference))
                .bind(finite(c.vs_national_se))
                .bind(finite(c.vs_national_p))
                .bind(finite(c.vs_national_p_holm))
                .bind(finite(c.change))
                .bind(finite(c.change_se))
                .bind(finite(c.change_df))
                .bind(finite(c.change_p))
                .bind(finite(c.change_p_holm))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        if let Some(id) = release.computation {
            let marked = sqlx::query(
                "UPDATE computations SET status = 'published', release_year = $1, \
                 release_version = $2 WHERE id = $3 AND status = 'approved' \
                 AND NOT EXISTS (SELECT 1 FROM computations later \
                     WHERE later.wave_code = computations.wave_code \
                     AND later.id > computations.id \
                     AND later.status IN ('draft', 'submitted', 'approved', 'published'))",
            )
            .bind(i64::from(release.year))
            .bind(version)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            if marked.rows_affected() != 1 {
                return Err(StoreError::Conflict(Text::new(
                    "Chỉ công bố được bản nháp đã phê duyệt mà đợt không có lần tính nào mới hơn: \
                     bản nháp đã bị trả lại, vừa được công bố, hoặc đã có lần tính mới hơn; hãy tải lại trang.",
                    "Only an approved draft with no later computation of its wave can be \
                     published: it was returned, published a moment ago, or a newer computation \
                     exists; reload.",
                )));
            }
        }
        let version = i32::try_from(version)
            .map_err(|_| StoreError::Backend("version out of range".into()))?;
        super::audit::record(&mut tx, &audit(&version)).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(version)
    }

    async fn releases(&self) -> StoreResult<Vec<ReleaseInfo>> {
        let rows = sqlx::query(&format!("{INFO_COLUMNS} ORDER BY year DESC, version"))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?;
        rows.iter().map(info_from_row).collect()
    }

    async fn release_totals(&self, year: i32, version: i32) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT totals FROM releases WHERE year = $1 AND version = $2")
            .bind(i64::from(year))
            .bind(i64::from(version))
            .fetch_optional(self.pool())
            .await
            .map_err(db_error)
    }

    async fn release_aggregates(&self, year: i32, version: i32) -> StoreResult<Option<String>> {
        let found: Option<Option<String>> =
            sqlx::query_scalar("SELECT aggregates FROM releases WHERE year = $1 AND version = $2")
                .bind(i64::from(year))
                .bind(i64::from(version))
                .fetch_optional(self.pool())
                .await
                .map_err(db_error)?;
        Ok(found.flatten())
    }

    async fn release(
        &self,
        year: i32,
        version: Option<i32>,
    ) -> StoreResult<Option<(ReleaseInfo, Vec<ReleaseCell>)>> {
        // Without a version: the latest (the highest version of the year).
        let sql = format!(
            "{INFO_COLUMNS} WHERE year = $1 AND ($2 = 0 OR version = $2) \
             ORDER BY version DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(i64::from(year))
            .bind(i64::from(version.unwrap_or(0)))
            .fetch_optional(self.pool())
            .await
            .map_err(db_error)?;
        let Some(row) = row.filter(|_| version.is_none_or(|v| v >= 1)) else {
            return Ok(None);
        };
        let info = info_from_row(&row)?;
        let cells = sqlx::query(&format!(
            "SELECT {} FROM release_cells WHERE year = $1 AND version = $2 \
             ORDER BY position",
            CELL_COLUMNS.join(", ")
        ))
        .bind(i64::from(info.year))
        .bind(i64::from(info.version))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .iter()
        .map(cell_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some((info, cells)))
    }
}
