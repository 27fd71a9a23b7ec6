//! A response body built once and served from memory to everyone: its strong ETags (the
//! SHA-256 of the bytes, one per coding), a Brotli and a gzip copy made once rather than by the
//! compression layer on every request, and the conditional answer (304) for a client that has it.
//! The public pages, the API and the open-data files all answer through [`respond`].

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Pages' policy: our stylesheet and icon, no scripts at all.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A built response body.
pub struct Built {
    /// The strong validators of the plain, Brotli and gzip codings (each coding is its own
    /// representation): `"…"`, `"…-br"`, `"…-gz"`.
    etags: [HeaderValue; 3],
    content_type: &'static str,
    body: Bytes,
    brotli: Bytes,
    /// For clients without Brotli (older browsers and HTTP libraries): compressed once here
    /// rather than by the compression layer on every request.
    gzip: Bytes,
}

impl Built {
    /// A body with its Brotli and gzip copies (made here, once).
    pub fn new(content_type: &'static str, body: Vec<u8>) -> Self {
        let mut brotli = Vec::new();
        // Quality 9: most of 11's gain at a fraction of its time; built once per body.
        let params = brotli::enc::BrotliEncoderParams {
            quality: 9,
            ..Default::default()
        };
        let compressed = brotli::BrotliCompress(&mut body.as_slice(), &mut brotli, &params);
        let gzip = {
            use std::io::Write;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder
                .write_all(&body)
                .and_then(|()| encoder.finish())
                .unwrap_or_default()
        };
        let brotli = if compressed.is_ok() {
            brotli
        } else {
            Vec::new()
        };
        // The ETag is the SHA-256 of the bytes (its first 128 bits): a release never changes
        // its numbers, but a later version of the platform may write a page or file of it
        // differently, and a client holding the old bytes must not be told they are current.
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&body);
        let tag = sipas_app::survey::codes::hex(&digest[..16]);
        let etags = ["", "-br", "-gz"].map(|suffix| {
            HeaderValue::from_str(&format!("\"{tag}{suffix}\""))
                .unwrap_or(HeaderValue::from_static("\"\""))
        });
        Self {
            etags,
            content_type,
            body: Bytes::from(body),
            brotli: Bytes::from(brotli),
            gzip: Bytes::from(gzip),
        }
    }

    /// The bytes as written (what checksums are taken of).
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

/// Who reads a body, for the headers beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A page: its language comes from a cookie; our stylesheet, no scripts.
    Page,
    /// The API, a document or an open-data file: readable from any origin.
    Open,
}

/// Answers with a built body: 304 for a matching ETag, the Brotli copy when accepted.
/// Whether `Accept-Encoding` lists `coding` without refusing it (`;q=0`).
pub(crate) fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|entry| {
                let mut parts = entry.split(';').map(str::trim);
                parts
                    .next()
                    .is_some_and(|name| name.eq_ignore_ascii_case(coding))
                    && !parts.any(|p| {
                        p.strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                            .is_some_and(|q| q == 0.0)
                    })
            })
        })
}

pub fn respond(
    headers: &HeaderMap,
    built: &Built,
    cache_control: &'static str,
    kind: Kind,
) -> Response {
    // Each coding of a page is its own representation with its own strong ETag; a client
    // holding any of them has the page.
    let (coding, etag) = if !built.brotli.is_empty() && accepts(headers, "br") {
        (Some(("br", &built.brotli)), &built.etags[1])
    } else if !built.gzip.is_empty() && accepts(headers, "gzip") {
        (Some(("gzip", &built.gzip)), &built.etags[2])
    } else {
        (None, &built.etags[0])
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|t| {
                built
                    .etags
                    .iter()
                    .any(|k| k.as_bytes() == t.trim().as_bytes())
            })
        }) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if let Some((name, bytes)) = coding {
        let mut r = bytes.clone().into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
        r
    } else {
        built.body.clone().into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(built.content_type),
    );
    h.insert(header::ETAG, etag.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    if kind == Kind::Open {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        // The language comes from a cookie.
        h.insert(
            header::VARY,
            HeaderValue::from_static("accept-encoding, cookie"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
    }
    response
}
