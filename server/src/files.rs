//! Output files that appear complete or not at all.

use std::path::Path;

/// A temporary file in the same folder as `target`, so that `persist(target)` is an atomic
/// rename: readers never see a half-written file, and a failure leaves the old one in place.
pub fn temp_beside(target: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::NamedTempFile::new_in(dir)
}
