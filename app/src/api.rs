//! Helpers the server functions and the server share.

/// Today's civil date in Vietnam (UTC+7, no daylight saving), as `YYYY-MM-DD`; dates of that
/// form order as text.
#[cfg(feature = "ssr")]
pub fn today_iso() -> String {
    let offset = time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let date = time::OffsetDateTime::now_utc().to_offset(offset).date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}
