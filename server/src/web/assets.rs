//! The wasm bundle, its script and the stylesheet, compressed once with Brotli at its highest
//! quality. On-the-fly compression (the `CompressionLayer`) must be fast, so it uses a low
//! quality; for the files every phone downloads, the best ratio is worth a few seconds at
//! start-up (the bundle shrinks by about a quarter compared with on-the-fly Brotli).
//! Clients without Brotli, and other files, fall through to the files (compressed on the fly).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

struct Asset {
    /// Hex SHA-256 of the file as built.
    digest: String,
    brotli: Bytes,
    content_type: &'static str,
    etag: HeaderValue,
}

/// Precompressed files of the site's package folder, by URL path (`/pkg/sipas.wasm`).
#[derive(Default)]
pub struct PrecompressedAssets {
    files: RwLock<HashMap<String, Arc<Asset>>>,
}

fn content_type(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "wasm" => Some("application/wasm"),
        "js" => Some("text/javascript; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        _ => None,
    }
}

fn compress(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len() / 3);
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        writer.write_all(raw)?;
        writer.flush()?;
    }
    Ok(out)
}

impl PrecompressedAssets {
    /// Compresses every wasm, script and stylesheet of `dir` (served under `url_prefix`).
    pub fn load_dir(&self, dir: &Path, url_prefix: &str) -> std::io::Result<usize> {
        let mut loaded = 0;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let (Some(kind), Some(name)) = (content_type(&path), path.file_name()) else {
                continue;
            };
            let raw = std::fs::read(&path)?;
            let digest = sipas_app::survey::codes::sha256_hex(&raw);
            let tag = &digest[..24];
            let asset = Asset {
                digest: digest.clone(),
                brotli: Bytes::from(compress(&raw)?),
                content_type: kind,
                etag: HeaderValue::from_str(&format!("\"{tag}-br\""))
                    .map_err(std::io::Error::other)?,
            };
            let url = format!("{url_prefix}/{}", name.to_string_lossy());
            if let Ok(mut files) = self.files.write() {
                files.insert(url, Arc::new(asset));
                loaded += 1;
            }
        }
        Ok(loaded)
    }

    /// Compresses on a blocking thread (about 2.5 s for the release bundle on one core), before
    /// the server accepts requests, so the very first phone gets the small bundle too. A missing
    /// folder (e.g. a server-only build) is only a warning: files are then compressed on the fly.
    pub async fn load(self: &Arc<Self>, dir: PathBuf, url_prefix: String) {
        let assets = self.clone();
        let shown = dir.display().to_string();
        match tokio::task::spawn_blocking(move || assets.load_dir(&dir, &url_prefix)).await {
            Ok(Ok(count)) => tracing::info!(count, dir = %shown, "precompressed site assets"),
            Ok(Err(err)) => tracing::warn!(error = %err, dir = %shown, "assets not precompressed"),
            Err(err) => tracing::warn!(error = %err, "asset compression did not finish"),
        }
    }

    /// A short tag naming this build's bundle: a hash over every precompressed file's path and
    /// content hash, so it changes whenever the wasm, script or stylesheet does. `None` before
    /// (or without) the files, e.g. in tests or a server-only build.
    pub fn build_tag(&self) -> Option<String> {
        let files = self.files.read().ok()?;
        if files.is_empty() {
            return None;
        }
        let mut listed: Vec<String> = files
            .iter()
            .map(|(url, asset)| format!("{url} {}\n", asset.digest))
            .collect();
        listed.sort();
        let digest = sipas_app::survey::codes::sha256_hex(listed.concat().as_bytes());
        Some(digest[..16].to_owned())
    }

    fn get(&self, path: &str) -> Option<Arc<Asset>> {
        self.files.read().ok()?.get(path).cloned()
    }
}

fn accepts_brotli(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case("br") && !refused
        })
}

/// Middleware: answers from the precompressed files when it can.
pub async fn serve_precompressed(
    State(assets): State<Arc<PrecompressedAssets>>,
    request: Request,
    next: Next,
) -> Response {
    let found = (request.method() == axum::http::Method::GET && accepts_brotli(&request))
        .then(|| assets.get(request.uri().path()))
        .flatten();
    let Some(asset) = found else {
        return next.run(request).await;
    };
    let headers = [
        (header::CONTENT_ENCODING, HeaderValue::from_static("br")),
        (header::VARY, HeaderValue::from_static("accept-encoding")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, asset.etag.clone()),
    ];
    let unchanged = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag == asset.etag);
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let mut response = (headers, Body::from(asset.brotli.clone())).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_files_decompress_to_the_original() {
        let dir = tempfile::tempdir().expect("dir");
        let text = "body { color: red; }\n".repeat(500);
        std::fs::write(dir.path().join("site.css"), &text).expect("write");
        std::fs::write(dir.path().join("notes.txt"), "skip me").expect("write");
        let assets = PrecompressedAssets::default();
        assert_eq!(assets.load_dir(dir.path(), "/pkg").expect("load"), 1);
        let asset = assets.get("/pkg/site.css").expect("css");
        assert!(asset.brotli.len() < text.len() / 10);
        let mut plain = Vec::new();
        brotli::BrotliDecompress(&mut asset.brotli.as_ref(), &mut plain).expect("decompress");
        assert_eq!(plain, text.as_bytes());
        assert!(assets.get("/pkg/notes.txt").is_none());
    }

    #[test]
    fn the_build_tag_follows_the_bundle() {
        let dir = tempfile::tempdir().expect("dir");
        let assets = PrecompressedAssets::default();
        assert_eq!(assets.build_tag(), None);
        std::fs::write(dir.path().join("sipas.js"), "let a = 1;").expect("write");
        assets.load_dir(dir.path(), "/pkg").expect("load");
        let first = assets.build_tag().expect("tag");
        assert_eq!(first.len(), 16);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            assets.build_tag().as_ref(),
            Some(&first),
            "stable for one build"
        );
        std::fs::write(dir.path().join("sipas.js"), "let a = 2;").expect("write");
        assets.load_dir(dir.path(), "/pkg").expect("reload");
        assert_ne!(
            assets.build_tag().expect("tag"),
            first,
            "a new bundle, a new tag"
        );
    }
}
