//! Accredited access: researchers outside the Ministry who may download the full per-commune
//! totals of named releases (docs/methodology.md, "Publication and public verification").
//!
//! A researcher account carries an approved project (its title and the reference of the
//! approval), an expiry date and the releases the approval names. The conditions of use are
//! accepted at the first sign-in, before anything can be downloaded; every download is in the
//! audit log with the project.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ports::StoreResult;

/// What one researcher account is approved for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResearchAccess {
    /// The project's title, as approved.
    pub project: String,
    /// The reference of the approval (decision number, letter).
    pub approval: String,
    /// The last day of access, `YYYY-MM-DD` (Vietnam's civil date).
    pub expires_on: String,
    /// The releases named in the approval, `(year, version)`.
    pub releases: Vec<(i32, i32)>,
    /// When the conditions of use were accepted (RFC 3339), `None` until then.
    pub conditions_accepted_at: Option<String>,
}

/// Why a download is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    ConditionsNotAccepted,
    Expired,
    NotApproved,
}

impl ResearchAccess {
    /// Whether release `year` v`version` may be downloaded on `today` (`YYYY-MM-DD`).
    pub fn allows(&self, year: i32, version: i32, today: &str) -> Result<(), Refusal> {
        if self.conditions_accepted_at.is_none() {
            Err(Refusal::ConditionsNotAccepted)
        } else if today > self.expires_on.as_str() {
            Err(Refusal::Expired)
        } else if !self.releases.contains(&(year, version)) {
            Err(Refusal::NotApproved)
        } else {
            Ok(())
        }
    }
}

/// An approval names at most this many releases (a project covers a few years' versions).
pub const MAX_RELEASES: usize = 50;

/// `2025 v1, 2024 v2` (also `2025/1`): the releases of an approval. Errors say which entry.
pub fn parse_releases(text: &str) -> Result<Vec<(i32, i32)>, String> {
    let mut releases = Vec::new();
    for entry in text.split([',', ';', '\n']).map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        // Digits only, no sign and no leading zero: "2025 v01" is not how a release is named.
        let number = |text: &str| -> Option<i32> {
            let text = text.trim();
            let plain = !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_digit())
                && !text.starts_with('0');
            plain.then(|| text.parse().ok()).flatten()
        };
        let parsed = entry
            .split_once(" v")
            .or_else(|| entry.split_once('/'))
            .and_then(|(y, v)| Some((number(y)?, number(v)?)))
            .filter(|(y, _)| (2000..=2100).contains(y));
        match parsed {
            Some(release) if !releases.contains(&release) => releases.push(release),
            Some(_) => {}
            None => return Err(entry.to_owned()),
        }
        if releases.len() > MAX_RELEASES {
            return Err(format!("more than {MAX_RELEASES} releases"));
        }
    }
    Ok(releases)
}

/// Whether `text` is a calendar date `YYYY-MM-DD`.
pub fn valid_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>())
            else {
                return false;
            };
            let days = match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
                2 => 28,
                _ => return false,
            };
            (1..=days).contains(&d)
        }
        _ => false,
    }
}

/// The conditions of use a researcher accepts before the first download.
pub const CONDITIONS: [(&str, &str); 5] = [
    (
        "Chỉ dùng số liệu cho dự án nghiên cứu đã được phê duyệt, và chỉ đến ngày hết hạn.",
        "Use the data only for the approved research project, and only until the expiry date.",
    ),
    (
        "Không tìm cách nhận diện bất kỳ người trả lời nào, không ghép số liệu với nguồn khác để làm việc đó.",
        "Make no attempt to identify any respondent, and link the data with no other source to do so.",
    ),
    (
        "Không chuyển số liệu cho người khác; lưu giữ an toàn và xoá khi dự án kết thúc.",
        "Pass the data to nobody; keep it safe and delete it when the project ends.",
    ),
    (
        "Chỉ công bố kết quả tổng hợp, không công bố số liệu của từng xã có dưới 5 người trả lời.",
        "Publish aggregates only, never figures of a commune with fewer than 5 respondents.",
    ),
    (
        "Mỗi lần tải về được ghi vào nhật ký cùng tên dự án.",
        "Every download is recorded in the audit log with the project.",
    ),
];

/// Accredited access in the database.
#[async_trait]
pub trait ResearchStore: Send + Sync + 'static {
    /// The approval of a researcher account; `None` for any other account.
    async fn research_access(&self, user_id: i64) -> StoreResult<Option<ResearchAccess>>;
    /// Records that the account accepted the conditions of use (once; later calls keep the
    /// first time).
    async fn accept_research_conditions(
        &self,
        user_id: i64,
        at: &str,
        audit: &crate::staff::port::AuditEntry,
    ) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> ResearchAccess {
        ResearchAccess {
            project: "Sự hài lòng ở vùng núi".into(),
            approval: "123/QĐ-BNV".into(),
            expires_on: "2027-06-30".into(),
            releases: vec![(2025, 1)],
            conditions_accepted_at: Some("2026-12-06T10:00:00Z".into()),
        }
    }

    #[test]
    fn a_download_needs_the_conditions_the_date_and_the_release() {
        let a = access();
        assert_eq!(a.allows(2025, 1, "2027-06-30"), Ok(()));
        assert_eq!(a.allows(2025, 1, "2027-07-01"), Err(Refusal::Expired));
        assert_eq!(a.allows(2025, 2, "2026-12-06"), Err(Refusal::NotApproved));
        let fresh = ResearchAccess {
            conditions_accepted_at: None,
            ..a
        };
        assert_eq!(
            fresh.allows(2025, 1, "2026-12-06"),
            Err(Refusal::ConditionsNotAccepted)
        );
    }

    #[test]
    fn releases_and_dates_are_read_as_people_write_them() {
        assert_eq!(
            parse_releases("2025 v1, 2024 v2; 2023/1\n2025 v1"),
            Ok(vec![(2025, 1), (2024, 2), (2023, 1)])
        );
        assert_eq!(parse_releases("2025"), Err("2025".into()));
        assert_eq!(parse_releases("1999 v1"), Err("1999 v1".into()));
        for odd in [
            "2025 v01", "2025 v+1", "+2025 v1", "2025 v0", "2025 v-1", "2025 v1x",
        ] {
            assert_eq!(parse_releases(odd), Err(odd.into()), "{odd}");
        }
        let many: Vec<String> = (1..=51).map(|v| format!("2025 v{v}")).collect();
        assert!(parse_releases(&many.join(", ")).is_err());
        assert_eq!(
            parse_releases(&many[..50].join(", ")).map(|r| r.len()),
            Ok(50)
        );
        assert!(valid_date("2028-02-29") && !valid_date("2027-02-29"));
        assert!(!valid_date("2027-13-01") && !valid_date("30/06/2027"));
    }
}
