//! Creating a wave, as the staff's new-wave form and `sipas wave` both do (one set of checks:
//! the code, reserved names, the year, the map, a published questionnaire version, the dates).

use sipas_app::domain::{Geography, QuestionnaireRef, Wave};
use sipas_app::ports::StoreError;
use sipas_app::staff::StaffStore;
use sipas_app::staff::pages::WaveForm;
use sipas_app::staff::port::{AuditEntry, WaveSchedule};
use sipas_app::staff::research::valid_date;

#[derive(Debug, thiserror::Error)]
pub enum WaveError {
    /// (field, message) pairs, shown beside the form's fields.
    #[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(String, String)>),
    /// The code is taken.
    #[error("code: {0}")]
    Exists(sipas_app::i18n::Text),
    #[error("the database failed: {0}")]
    Store(#[from] StoreError),
}

/// Checks and creates a wave (`open_link`: accept respondents without a code, for pilots);
/// `entry(wave)` is its `wave_created` audit entry.
pub async fn create(
    store: &dyn StaffStore,
    form: &WaveForm,
    open_link: bool,
    entry: impl FnOnce(&Wave) -> AuditEntry,
) -> Result<Wave, WaveError> {
    let versions = store.questionnaire_versions().await?;
    let (wave, schedule) = check(form, &versions, open_link).map_err(WaveError::Invalid)?;
    match store
        .create_wave_scheduled(&wave, &schedule, &entry(&wave))
        .await
    {
        Ok(()) => Ok(wave),
        Err(StoreError::Conflict(message)) => Err(WaveError::Exists(message)),
        Err(err) => Err(err.into()),
    }
}

/// Codes that name a fixed route where a wave's code would stand (`/staff/waves/new` is the
/// creation form): a wave cannot take them.
pub const RESERVED_WAVE_CODES: [&str; 1] = ["new"];

fn valid_wave_code(code: &str) -> bool {
    (3..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks the wave form; errors are (field, message) pairs shown beside the fields.
fn check(
    form: &WaveForm,
    versions: &[(String, u32)],
    open_link: bool,
) -> Result<(Wave, WaveSchedule), Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut error =
        |field: &str, message: &str| errors.push((field.to_owned(), message.to_owned()));
    let code = form.code.trim().to_owned();
    if !valid_wave_code(&code) {
        error(
            "code",
            "3 to 40 lower-case letters, digits or dashes / 3–40 chữ thường, chữ số hoặc gạch ngang",
        );
    } else if RESERVED_WAVE_CODES.contains(&code.as_str()) {
        error(
            "code",
            "this code names a page of the workspace: choose another / mã này trùng tên một trang: chọn mã khác",
        );
    }
    let title = form.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        error(
            "title",
            "a title of 1 to 200 characters / tên từ 1 đến 200 ký tự",
        );
    }
    let year = form
        .year
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y));
    if year.is_none() {
        error("year", "a year from 2000 to 2100 / năm từ 2000 đến 2100");
    }
    // The current map unless another is named.
    let geography = match form.geography.trim() {
        "" => Some(Geography::G2025),
        named => Geography::parse(named),
    };
    if geography.is_none() {
        error(
            "geography",
            "2025 (34 provincial units) or 2004 (63 provinces) / 2025 (34 đơn vị) hoặc 2004 (63 tỉnh)",
        );
    }
    let questionnaire = form
        .questionnaire
        .split_once('@')
        .and_then(|(code, version)| Some((code.to_owned(), version.parse::<u32>().ok()?)))
        .filter(|chosen| versions.contains(chosen));
    if questionnaire.is_none() {
        let message = format!(
            "{:?} is not a published questionnaire version (code@version; see sipas publish) \
             / chọn một phiên bản bảng hỏi đã đăng",
            form.questionnaire
        );
        error("questionnaire", &message);
    }
    let date = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    let opens_on = date(&form.opens_on);
    let closes_on = date(&form.closes_on);
    for (field, value) in [("opens_on", &opens_on), ("closes_on", &closes_on)] {
        if value.as_deref().is_some_and(|d| !valid_date(d)) {
            error(field, "a date YYYY-MM-DD / ngày dạng YYYY-MM-DD");
        }
    }
    if let (Some(open), Some(close)) = (&opens_on, &closes_on)
        && close < open
    {
        error(
            "closes_on",
            "the closing date is before the opening date / ngày đóng trước ngày mở",
        );
    }
    let methodology_version = date(&form.methodology_version).map(|m| m.chars().take(40).collect());
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(year), Some(geography), Some((q_code, q_version))) = (year, geography, questionnaire)
    else {
        return Err(errors);
    };
    Ok((
        Wave {
            code,
            title,
            year,
            geography,
            questionnaire: Some(QuestionnaireRef {
                code: q_code,
                version: q_version,
            }),
            open_link,
            closed: false,
        },
        WaveSchedule {
            opens_on,
            closes_on,
            closed_at: None,
            methodology_version,
        },
    ))
}
