//! Output files that appear complete or not at all, and stay on disk once reported written.

use std::path::Path;

/// A temporary file in the same folder as `target`, so that [`persist`] is an atomic rename:
/// readers never see a half-written file, and a failure leaves the old one in place.
pub fn temp_beside(target: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::NamedTempFile::new_in(folder_of(target))
}

fn folder_of(target: &Path) -> &Path {
    target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Moves a finished temporary file into place durably: its content is flushed to disk before the
/// rename (else a crash could leave an empty file under the final name), and the folder after it
/// (else the rename itself could be lost). The caller has flushed its own buffers.
pub fn persist(file: tempfile::NamedTempFile, target: &Path) -> std::io::Result<()> {
    file.as_file().sync_all()?;
    file.persist(target).map_err(|err| err.error)?;
    sync_folder(folder_of(target))
}

/// [`persist`] for a file that must not be lost (its content exists nowhere else): when it
/// cannot take its name, the temporary file is kept and its path returned with the error.
pub fn persist_or_keep(
    file: tempfile::NamedTempFile,
    target: &Path,
) -> Result<(), (std::io::Error, Option<std::path::PathBuf>)> {
    if let Err(err) = file.as_file().sync_all() {
        return Err((err, file.keep().ok().map(|(_, path)| path)));
    }
    match file.persist(target) {
        Ok(_) => sync_folder(folder_of(target)).map_err(|err| (err, Some(target.to_owned()))),
        Err(failed) => {
            let kept = failed.file.keep().ok().map(|(_, path)| path);
            Err((failed.error, kept))
        }
    }
}

#[cfg(unix)]
fn sync_folder(folder: &Path) -> std::io::Result<()> {
    std::fs::File::open(folder)?.sync_all()
}

#[cfg(not(unix))]
fn sync_folder(_folder: &Path) -> std::io::Result<()> {
    // Windows cannot open a folder as a file; NTFS journals the rename.
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use std::io::Write;

    #[test]
    fn persists_complete_content_and_replaces_the_old_file() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old").expect("write");
        let mut file = super::temp_beside(&target).expect("temp");
        file.write_all(b"new content").expect("write");
        super::persist(file, &target).expect("persist");
        assert_eq!(
            std::fs::read_to_string(&target).expect("read"),
            "new content"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            1,
            "no temp left"
        );
    }
}
