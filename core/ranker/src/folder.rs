//! The image folder: which files may be listed and served. Only regular image files whose real
//! path (symlinks resolved) is inside the folder; hidden entries are skipped. Files that do not
//! open as images are listed with their problem, never fatal.

use std::path::{Path, PathBuf};

/// Extensions the app shows.
const IMAGE_EXTS: &[&str] = &["jpg", "jpeg", "png", "webp"];
/// Image formats listed as unreadable (the decoder lacks them).
const OTHER_EXTS: &[&str] = &["gif", "bmp", "tif", "tiff", "avif", "heic"];

/// A listed file's health.
#[derive(Debug, Clone, PartialEq)]
pub enum FileState {
    /// Opens as an image of this size.
    Ok {
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
    },
    /// Listed but cannot be shown (corrupt, unsupported, unreadable).
    Unreadable(String),
    /// Known from an earlier run, gone from the folder now.
    Missing,
}

/// The folder's image files, relative paths with `/`, sorted; files whose real path leaves
/// the folder are not listed.
pub fn list(root: &Path) -> std::io::Result<Vec<String>> {
    let root = root.canonicalize()?;
    let mut out = Vec::new();
    walk(&root, &root, &mut out, 0)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>, depth: usize) -> std::io::Result<()> {
    if depth > 32 {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(real) = path.canonicalize() else {
            continue;
        };
        if !real.starts_with(root) {
            tracing::warn!("{}: points outside the folder; not listed", path.display());
            continue;
        }
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        if real.is_dir() {
            if !is_link {
                walk(root, &path, out, depth + 1)?;
            }
        } else if real.is_file() && has_ext(name, IMAGE_EXTS.iter().chain(OTHER_EXTS)) {
            let rel = path.strip_prefix(root).expect("under root");
            let rel: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
            out.push(rel.join("/"));
        }
    }
    Ok(())
}

fn has_ext<'a>(name: &str, exts: impl IntoIterator<Item = &'a &'a str>) -> bool {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return false;
    };
    let ext = ext.to_ascii_lowercase();
    exts.into_iter().any(|e| *e == ext)
}

/// Checks one listed file (header only: fast on large folders).
pub fn check(root: &Path, rel: &str) -> FileState {
    let Some(path) = resolve(root, rel) else {
        return FileState::Missing;
    };
    if has_ext(rel, OTHER_EXTS) {
        return FileState::Unreadable("format not supported (use JPEG, PNG or WebP)".into());
    }
    let dims = image::ImageReader::open(&path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| e.to_string())
        .and_then(|r| r.into_dimensions().map_err(|e| e.to_string()));
    match dims {
        Ok((width, height)) => FileState::Ok { width, height },
        Err(e) => FileState::Unreadable(e),
    }
}

/// The real path of listed file `rel`, if it still exists inside `root` (checked again at
/// every use: a file may have been swapped for a symlink since the scan).
pub fn resolve(root: &Path, rel: &str) -> Option<PathBuf> {
    let root = root.canonicalize().ok()?;
    let real = root.join(rel).canonicalize().ok()?;
    (real.starts_with(&root) && real.is_file()).then_some(real)
}

/// MIME type by extension.
pub fn mime(rel: &str) -> &'static str {
    match rel
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_images_inside_only() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("pics");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        image::RgbImage::new(4, 3).save(root.join("a.png")).unwrap();
        std::fs::write(root.join("sub/b.JPG"), b"not really").unwrap();
        std::fs::write(root.join("notes.txt"), b"x").unwrap();
        std::fs::write(root.join(".hidden/c.png"), b"x").unwrap();
        image::RgbImage::new(2, 2)
            .save(outer.path().join("secret.png"))
            .unwrap();
        std::os::unix::fs::symlink(outer.path().join("secret.png"), root.join("escape.png"))
            .unwrap();
        std::os::unix::fs::symlink(outer.path(), root.join("up")).unwrap();
        std::os::unix::fs::symlink(root.join("a.png"), root.join("alias.png")).unwrap();
        let files = list(&root).unwrap();
        assert_eq!(files, ["a.png", "alias.png", "sub/b.JPG"]);
        assert_eq!(
            check(&root, "a.png"),
            FileState::Ok {
                width: 4,
                height: 3
            }
        );
        assert!(matches!(
            check(&root, "sub/b.JPG"),
            FileState::Unreadable(_)
        ));
        assert_eq!(check(&root, "escape.png"), FileState::Missing);
        assert!(resolve(&root, "../secret.png").is_none());
        assert!(resolve(&root, "up/secret.png").is_none());
    }
}
