//! Invitation codes: random codes from the operating system's generator, stored as SHA-256
//! hashes, issued in batches over the frame's PSUs. The staff batch page and `sipas codes` both
//! issue through [`prepare`] and [`store`] (one limit, one share-out, one audit entry), and both
//! print the same CSV columns ([`CSV_HEADER`], [`csv_row`]) and the same sheet.
//!
//! A plain SHA-256 is enough here (unlike passwords): each code carries 80 random bits, so there is
//! nothing to guess from a leaked hash.

use std::io::Write;
use std::path::Path;

use sipas_app::domain::SampleKind;
use sipas_app::i18n::Locale;
use sipas_app::ports::StoreError;
use sipas_app::staff::frame::{Frame, FramePsu};
use sipas_app::staff::pages::Card;
use sipas_app::staff::port::{AuditAction, AuditEntry, NewBatch};
use sipas_app::staff::{Scope, StaffStore};
use sipas_app::survey::codes::{InvitationCode, RANDOM_BYTES};

pub use sipas_app::survey::codes::hash;

/// The most codes one batch holds: a sheet of 5,000 cards is 2,500 A4 pages already.
pub const MAX_BATCH: usize = 5000;

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
    #[error("the wave is closed")]
    Closed,
    #[error("the count must be from 1 to {MAX_BATCH}, got {0:?}")]
    Count(String),
    #[error("no {0} in the wave's frame (upload the frame first)")]
    NotInFrame(String),
    #[error("{0} is outside the province of this account")]
    Forbidden(String),
    #[error("batch {0} was issued already")]
    AlreadyIssued(String),
    #[error("cannot write {path}: {message}")]
    Write {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("cannot draw a QR code: {0}")]
    Qr(String),
    #[error("storing the codes failed: {0}")]
    Store(StoreError),
}

/// Fresh codes from the operating system's generator, each ending in one of the 32 code
/// symbols ([`InvitationCode::has_plain_check`]).
pub fn generate(count: usize) -> Result<Vec<InvitationCode>, IssueError> {
    (0..count)
        .map(|_| {
            loop {
                let mut bytes = [0u8; RANDOM_BYTES];
                getrandom::fill(&mut bytes).map_err(|e| IssueError::Random(e.to_string()))?;
                let code = InvitationCode::from_random(bytes);
                if code.has_plain_check() {
                    return Ok(code);
                }
            }
        })
        .collect()
}

/// An inline SVG QR code for a link.
pub fn qr_svg(link: &str) -> Result<String, IssueError> {
    let code = qrcode::QrCode::with_error_correction_level(link, qrcode::EcLevel::M)
        .map_err(|e| IssueError::Qr(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(160, 160)
        .quiet_zone(true)
        .build())
}

/// Where a batch's codes go: one PSU, a stratum of a province, or a whole province; the codes
/// are shared over the PSUs in proportion to their targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Psu(String),
    Stratum { province: String, stratum: String },
    Province(String),
}

impl Target {
    /// The issue form's value: `psu:{psu}`, `stratum:{province}:{stratum}` or
    /// `province:{province}` (PSU and stratum names may hold a colon, province codes never do).
    pub fn parse(value: &str) -> Option<Self> {
        if let Some(psu) = value.strip_prefix("psu:") {
            Some(Self::Psu(psu.to_owned()))
        } else if let Some(rest) = value.strip_prefix("stratum:") {
            let (province, stratum) = rest.split_once(':')?;
            Some(Self::Stratum {
                province: province.to_owned(),
                stratum: stratum.to_owned(),
            })
        } else {
            value
                .strip_prefix("province:")
                .map(|p| Self::Province(p.to_owned()))
        }
    }

    /// How the batch list names it: `psu 00001`, `stratum urban`, `province 01`.
    pub fn scope(&self) -> String {
        match self {
            Self::Psu(psu) => format!("psu {psu}"),
            Self::Stratum { stratum, .. } => format!("stratum {stratum}"),
            Self::Province(province) => format!("province {province}"),
        }
    }

    fn psus(&self, frame: &Frame) -> Vec<FramePsu> {
        frame
            .psus
            .iter()
            .filter(|p| match self {
                Self::Psu(psu) => &p.psu == psu,
                Self::Stratum { province, stratum } => {
                    &p.province_code == province && &p.stratum == stratum
                }
                Self::Province(province) => &p.province_code == province,
            })
            .cloned()
            .collect()
    }
}

/// Shares `count` codes over PSUs in proportion to their targets (largest remainder; equal
/// shares when no PSU has a target).
pub fn share_out(psus: &[FramePsu], count: usize) -> Vec<usize> {
    if psus.is_empty() {
        return Vec::new();
    }
    let total: i64 = psus.iter().map(|p| p.target.max(0)).sum();
    let weights: Vec<f64> = psus
        .iter()
        .map(|p| {
            if total > 0 {
                p.target.max(0) as f64 / total as f64
            } else {
                1.0 / psus.len() as f64
            }
        })
        .collect();
    let exact: Vec<f64> = weights.iter().map(|w| w * count as f64).collect();
    let mut shares: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut left = count - shares.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..psus.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    for index in order.into_iter().cycle() {
        if left == 0 {
            break;
        }
        shares[index] += 1;
        left -= 1;
    }
    shares
}

/// What a batch asks for.
pub struct BatchRequest<'a> {
    pub wave_code: &'a str,
    pub target: &'a Target,
    /// As typed (the form sends text): 1 to [`MAX_BATCH`].
    pub count: &'a str,
    pub batch_id: String,
    /// Who issues it (the account, or `cli`).
    pub issued_by: &'a str,
    /// Where this account may issue.
    pub scope: &'a Scope,
}

/// A batch drawn but not yet stored: its codes, each with its PSU.
pub struct PreparedBatch {
    pub wave_title: String,
    pub batch: NewBatch,
    pub codes: Vec<(FramePsu, InvitationCode)>,
}

/// Checks a request against the wave, its frame and the account's province, and draws the
/// codes. Nothing is stored.
pub async fn prepare(
    store: &dyn StaffStore,
    request: &BatchRequest<'_>,
) -> Result<PreparedBatch, IssueError> {
    let details = store
        .wave_details(request.wave_code)
        .await
        .map_err(IssueError::Store)?;
    if details.wave.closed {
        return Err(IssueError::Closed);
    }
    let count = match request.count.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_BATCH).contains(&n) => n,
        _ => return Err(IssueError::Count(request.count.to_owned())),
    };
    // The whole frame: the target is checked against the account's province below, so a target
    // edited in the form cannot reach another province.
    let frame = store
        .frame(request.wave_code, None)
        .await
        .map_err(IssueError::Store)?;
    let chosen = request.target.psus(&frame);
    let Some(province) = chosen.first().map(|p| p.province_code.clone()) else {
        return Err(IssueError::NotInFrame(request.target.scope()));
    };
    if !request.scope.allows(details.wave.geography, &province) {
        return Err(IssueError::Forbidden(format!("province {province}")));
    }
    let mut codes = generate(count)?.into_iter();
    let mut assigned = Vec::with_capacity(count);
    for (psu, share) in chosen.iter().zip(share_out(&chosen, count)) {
        for code in codes.by_ref().take(share) {
            assigned.push((psu.clone(), code));
        }
    }
    Ok(PreparedBatch {
        wave_title: details.wave.title,
        batch: NewBatch {
            id: request.batch_id.clone(),
            wave_code: request.wave_code.to_owned(),
            province_code: province,
            scope: request.target.scope(),
            issued_by: request.issued_by.to_owned(),
            kind: SampleKind::Probability,
            codes: assigned
                .iter()
                .map(|(psu, code)| (psu.clone(), hash(code)))
                .collect(),
        },
        codes: assigned,
    })
}

/// Stores a prepared batch, all or nothing, with its audit entry (`batch_issued`), which
/// `entry(province, detail)` makes for the account that issues it.
pub async fn store(
    store: &dyn StaffStore,
    prepared: &PreparedBatch,
    entry: impl FnOnce(&str, String) -> AuditEntry,
) -> Result<(), IssueError> {
    let batch = &prepared.batch;
    let audit = entry(
        &batch.province_code,
        format!(
            "lô {}: {} mã cho {}",
            batch.id,
            prepared.codes.len(),
            sipas_app::staff::pages::scope_label(Locale::Vi, &batch.scope, None)
        ),
    );
    match store.issue_batch(batch, &audit).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(IssueError::AlreadyIssued(batch.id.clone())),
        Err(err) => Err(IssueError::Store(err)),
    }
}

/// A fresh batch id: `b` and 16 hex digits (the staff form sends its own, so a form posted
/// twice issues once).
pub fn batch_id(token: &str) -> String {
    format!("b{}", &token[..16.min(token.len())])
}

/// The columns of a batch's CSV.
pub const CSV_HEADER: [&str; 6] = ["code", "link", "wave", "province", "stratum", "psu"];

/// The link printed for a code: `{base}/s/{code}`.
pub fn link(base_url: &str, code: &InvitationCode) -> String {
    format!("{}/s/{}", base_url.trim_end_matches('/'), code.as_str())
}

/// One CSV row: the code as typed, its link and its sample point (text neutralised for
/// spreadsheets, as in every export).
pub fn csv_row(
    base_url: &str,
    code: &InvitationCode,
    wave: &str,
    province: &str,
    stratum: &str,
    psu: &str,
) -> [String; 6] {
    [
        code.display(),
        link(base_url, code),
        wave.to_owned(),
        province.to_owned(),
        stratum.to_owned(),
        psu.to_owned(),
    ]
    .map(|cell| crate::services::export::neutralise(&cell))
}

/// The printed cards of a prepared batch. The codes are stored by now, so a QR code that cannot
/// be drawn (a base address too long for one) leaves its card with the code and the address to
/// type, never hides the code.
pub fn cards(prepared: &PreparedBatch, base_url: &str) -> Vec<Card> {
    prepared
        .codes
        .iter()
        .enumerate()
        .map(|(index, (psu, code))| {
            let link = link(base_url, code);
            let qr_svg = qr_svg(&link).unwrap_or_else(|err| {
                tracing::warn!(error = %err, "no QR code on a card");
                String::new()
            });
            Card {
                // As `issue_batch` numbers the codes: their order in the batch, from 1.
                number: index + 1,
                qr_svg,
                code_display: code.display(),
                code: code.as_str().to_owned(),
                link,
                psu: psu.psu.clone(),
                psu_name: psu.name.clone(),
            }
        })
        .collect()
}

/// The staff stylesheet, inlined in a sheet written to a file.
const STYLESHEET: &str = include_str!("../../../public/staff.css");

/// Issues a batch to files (`sipas codes`): the CSV at `out` and, if asked, the sheet. The files
/// appear only if the codes were stored, and the codes are stored only if the files could be
/// written, so no printed code is unknown and no stored code is unprinted.
pub async fn issue_to_files(
    staff: &(impl StaffStore + sipas_app::ports::Store),
    request: &BatchRequest<'_>,
    base_url: &str,
    out: &Path,
    sheet: Option<&Path>,
) -> Result<PreparedBatch, IssueError> {
    let prepared = prepare(staff, request).await?;
    // The sheet's title names the province (nothing is stored yet: a failure here is a refusal).
    let province_name = match sheet {
        Some(_) => {
            let geography = staff
                .wave_details(request.wave_code)
                .await
                .map_err(IssueError::Store)?
                .wave
                .geography;
            sipas_app::ports::Store::provinces(staff, geography)
                .await
                .map_err(IssueError::Store)?
                .into_iter()
                .find(|p| p.code == prepared.batch.province_code)
                .map(|p| p.name_vi)
        }
        None => None,
    };
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |err: std::io::Error| IssueError::Write {
            path,
            message: err.to_string(),
        }
    };
    let mut csv_file = crate::services::files::temp_beside(out).map_err(failed(out))?;
    {
        // The byte-order mark tells Excel the file is UTF-8, as in every export.
        csv_file.write_all(b"\xEF\xBB\xBF").map_err(failed(out))?;
        let mut writer = csv::Writer::from_writer(csv_file.as_file_mut());
        writer
            .write_record(CSV_HEADER)
            .map_err(|e| failed(out)(e.into()))?;
        for (psu, code) in &prepared.codes {
            let row = csv_row(
                base_url,
                code,
                &prepared.batch.wave_code,
                &psu.province_code,
                &psu.stratum,
                &psu.psu,
            );
            writer
                .write_record(row)
                .map_err(|e| failed(out)(e.into()))?;
        }
        writer.flush().map_err(failed(out))?;
    }
    let sheet_file = match sheet {
        Some(path) => {
            let mut file = crate::services::files::temp_beside(path).map_err(failed(path))?;
            let html = sipas_app::staff::pages::batch_sheet_file(
                &prepared.wave_title,
                (
                    &prepared.batch.id,
                    &prepared.batch.scope,
                    province_name.as_deref(),
                ),
                base_url,
                cards(&prepared, base_url),
                STYLESHEET,
            );
            file.write_all(html.as_bytes()).map_err(failed(path))?;
            Some((file, path))
        }
        None => None,
    };
    // On disk before the codes are stored: once they are, their only readable copy is this file.
    csv_file.as_file().sync_all().map_err(failed(out))?;
    if let Some((file, path)) = &sheet_file {
        file.as_file().sync_all().map_err(failed(path))?;
    }
    store(staff, &prepared, |province, detail| {
        AuditEntry::new(request.issued_by, AuditAction::BatchIssued)
            .wave(request.wave_code)
            .province(Some(province))
            .detail(detail)
    })
    .await?;
    // Stored: a file that cannot take its name is kept under its temporary one, and said.
    let kept = |path: &Path| {
        let path = path.to_owned();
        move |(err, temp): (std::io::Error, Option<std::path::PathBuf>)| IssueError::Write {
            path,
            message: match temp {
                Some(temp) => format!(
                    "{err}; the codes are stored and the file is kept at {}",
                    temp.display()
                ),
                None => {
                    format!("{err}; the codes are stored but their file is lost: void the batch")
                }
            },
        }
    };
    crate::services::files::persist_or_keep(csv_file, out).map_err(kept(out))?;
    if let Some((file, path)) = sheet_file {
        crate::services::files::persist_or_keep(file, path).map_err(kept(path))?;
    }
    Ok(prepared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_hex_sha256_of_the_canonical_code() {
        let code = InvitationCode::from_random([1; RANDOM_BYTES]);
        let typed = InvitationCode::parse(&code.display().to_lowercase()).expect("parses");
        assert_eq!(hash(&code), hash(&typed));
        assert_eq!(hash(&code).len(), 64);
    }

    #[test]
    fn qr_codes_are_svg() {
        let svg = qr_svg("https://sipas.example/s/7KQM9T2X4RPA8VNEJ").expect("qr");
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }

    #[test]
    fn generated_codes_differ_and_end_in_a_code_symbol() {
        let codes = generate(2000).expect("random");
        let unique: std::collections::HashSet<_> =
            codes.iter().map(InvitationCode::as_str).collect();
        assert_eq!(unique.len(), 2000);
        // One draw in seven would end in *, ~, $, = or U: none of 2,000 may.
        assert!(codes.iter().all(InvitationCode::has_plain_check));
    }

    #[test]
    fn targets_read_from_the_form_name_their_scope() {
        assert_eq!(Target::parse("psu:a:b"), Some(Target::Psu("a:b".into())));
        assert_eq!(
            Target::parse("stratum:79:79-urban:x"),
            Some(Target::Stratum {
                province: "79".into(),
                stratum: "79-urban:x".into()
            })
        );
        assert_eq!(
            Target::parse("province:01").map(|t| t.scope()),
            Some("province 01".into())
        );
        assert_eq!(Target::parse("stratum:nocolon"), None);
        assert_eq!(Target::parse("commune:1"), None);
    }

    fn psu(target: i64) -> FramePsu {
        FramePsu {
            province_code: "01".into(),
            stratum: "s".into(),
            psu: format!("p{target}"),
            name: String::new(),
            target,
        }
    }

    #[test]
    fn shares_follow_targets_and_add_up() {
        assert_eq!(share_out(&[psu(30), psu(10)], 8), vec![6, 2]);
        assert_eq!(
            share_out(&[psu(1), psu(1), psu(1)], 10)
                .iter()
                .sum::<usize>(),
            10
        );
        assert_eq!(share_out(&[psu(0), psu(0)], 3), vec![2, 1]);
        assert!(share_out(&[], 3).is_empty());
    }
}
