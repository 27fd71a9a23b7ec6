//! Issuing one-time invitation codes: random codes from the operating system's generator,
//! stored as SHA-256 hashes, printed to a CSV for the field team.
//!
//! A plain SHA-256 is enough here (unlike passwords): each code carries 80 random bits, so there is
//! nothing to guess from a leaked hash.

use std::io::Write;
use std::path::{Path, PathBuf};

use sipas_app::domain::{SampleKind, SamplePoint};
use sipas_app::ports::{Store, StoreError};
use sipas_app::survey::codes::{InvitationCode, RANDOM_BYTES};

pub use sipas_app::survey::codes::hash;

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
    #[error("wave {0:?} does not exist (create it first)")]
    UnknownWave(String),
    #[error("province {code:?} does not exist in the wave's geography ({geography})")]
    UnknownProvince {
        code: String,
        geography: &'static str,
    },
    #[error("count must be between 1 and 100000, got {0}")]
    Count(usize),
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("cannot draw a QR code: {0}")]
    Qr(String),
    #[error("storing the codes failed: {0}")]
    Store(StoreError),
}

/// Fresh codes from the operating system's generator.
pub fn generate(count: usize) -> Result<Vec<InvitationCode>, IssueError> {
    (0..count)
        .map(|_| {
            let mut bytes = [0u8; RANDOM_BYTES];
            getrandom::fill(&mut bytes).map_err(|e| IssueError::Random(e.to_string()))?;
            Ok(InvitationCode::from_random(bytes))
        })
        .collect()
}

/// What `sipas codes` asks for.
pub struct IssueRequest<'a> {
    pub wave_code: &'a str,
    pub province_code: &'a str,
    pub stratum: &'a str,
    pub psu: &'a str,
    pub count: usize,
    pub batch: &'a str,
    /// Where links point, e.g. `https://sipas.example.gov.vn`.
    pub base_url: &'a str,
    /// Also write a printable HTML sheet: one card per code with its QR code.
    pub sheet: Option<&'a Path>,
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained page of cards, each with the QR link, the code to type, and the instructions.
fn print_sheet(codes: &[InvitationCode], request: &IssueRequest<'_>) -> Result<String, IssueError> {
    let base = request.base_url.trim_end_matches('/');
    let mut html = String::from(
        "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>SIPAS</title><style>\
         body{font-family:system-ui,sans-serif;margin:0}.card{display:inline-block;width:48%;\
         box-sizing:border-box;padding:12px;border:1px dashed #999;page-break-inside:avoid;\
         text-align:center}.code{font:600 20px monospace;letter-spacing:1px}p{margin:4px 0}\
         </style></head><body>",
    );
    for code in codes {
        let link = format!("{base}/s/{}", code.as_str());
        html.push_str(&format!(
            "<div class=\"card\">{}<p>Quét mã hoặc vào {} và nhập mã / Scan, or visit the address and type the code:</p>\
             <p class=\"code\">{}</p></div>",
            qr_svg(&link)?,
            escape(base),
            escape(&code.display()),
        ));
    }
    html.push_str("</body></html>");
    Ok(html)
}

/// Generates and stores codes for one sample point and writes them (code, link, sample point) to
/// `out`. The file appears only if the codes were stored, and the codes are stored only if the
/// file could be written, so no printed code is unknown and no stored code is unprinted.
pub async fn issue(
    store: &dyn Store,
    request: &IssueRequest<'_>,
    out: &Path,
) -> Result<usize, IssueError> {
    if request.count == 0 || request.count > 100_000 {
        return Err(IssueError::Count(request.count));
    }
    let wave = match store.wave(request.wave_code).await {
        Ok(wave) => wave,
        Err(StoreError::NotFound) => {
            return Err(IssueError::UnknownWave(request.wave_code.to_owned()));
        }
        Err(err) => return Err(IssueError::Store(err)),
    };
    match store.province(wave.geography, request.province_code).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => {
            return Err(IssueError::UnknownProvince {
                code: request.province_code.to_owned(),
                geography: wave.geography.key(),
            });
        }
        Err(err) => return Err(IssueError::Store(err)),
    }
    let codes = generate(request.count)?;
    let write_err = |message: String| IssueError::Write {
        path: out.to_owned(),
        message,
    };
    let mut tmp = crate::services::files::temp_beside(out).map_err(|e| write_err(e.to_string()))?;
    {
        let mut writer = csv::Writer::from_writer(tmp.as_file_mut());
        writer
            .write_record(["code", "link", "wave", "province", "stratum", "psu"])
            .map_err(|e| write_err(e.to_string()))?;
        let base = request.base_url.trim_end_matches('/');
        for code in &codes {
            writer
                .write_record([
                    code.display().as_str(),
                    &format!("{base}/s/{}", code.as_str()),
                    request.wave_code,
                    request.province_code,
                    request.stratum,
                    request.psu,
                ])
                .map_err(|e| write_err(e.to_string()))?;
        }
        writer.flush().map_err(|e| write_err(e.to_string()))?;
    }
    tmp.as_file_mut()
        .flush()
        .map_err(|e| write_err(e.to_string()))?;
    let sheet = match request.sheet {
        Some(path) => {
            let sheet_err = |message: String| IssueError::Write {
                path: path.to_owned(),
                message,
            };
            let mut file =
                crate::services::files::temp_beside(path).map_err(|e| sheet_err(e.to_string()))?;
            file.write_all(print_sheet(&codes, request)?.as_bytes())
                .map_err(|e| sheet_err(e.to_string()))?;
            Some((file, path))
        }
        None => None,
    };
    let sample = SamplePoint {
        wave_code: wave.code,
        geography: wave.geography,
        province_code: request.province_code.to_owned(),
        stratum: request.stratum.to_owned(),
        psu: request.psu.to_owned(),
    };
    let hashes: Vec<String> = codes.iter().map(hash).collect();
    store
        .add_invitations(&sample, SampleKind::Probability, request.batch, &hashes)
        .await
        .map_err(IssueError::Store)?;
    crate::services::files::persist(tmp, out).map_err(|e| write_err(e.to_string()))?;
    if let Some((file, path)) = sheet {
        crate::services::files::persist(file, path).map_err(|e| IssueError::Write {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    }
    Ok(codes.len())
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
    fn generated_codes_differ() {
        let codes = generate(200).expect("random");
        let unique: std::collections::HashSet<_> =
            codes.iter().map(InvitationCode::as_str).collect();
        assert_eq!(unique.len(), 200);
    }
}
