use std::path::{Path, PathBuf};

use super::DataError;

/// One labelled image.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Image file (resolved against the images directory).
    pub path: PathBuf,
    /// The rating to predict.
    pub target: f32,
    /// Split group (e.g. the post an image belongs to); `None` = the row is its own group.
    pub group: Option<String>,
    /// Per-sample weight (default 1).
    pub weight: f32,
    /// 1-based line in the table (for messages).
    pub line: u64,
}

/// Reads a ratings table: CSV with a header holding `path` and `target`, optionally `group` and
/// `weight`; other columns are ignored. Relative image paths resolve against `images_dir`.
pub fn read_table(table: &Path, images_dir: &Path) -> Result<Vec<Sample>, DataError> {
    let shown = table.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(table)
        .map_err(|e| DataError::Io {
            path: shown.clone(),
            message: format!("cannot open ratings table: {e}"),
        })?;
    let headers = reader
        .headers()
        .map_err(|e| DataError::Row {
            path: shown.clone(),
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(path_col), Some(target_col)) = (col("path"), col("target")) else {
        return Err(DataError::Row {
            path: shown,
            line: 1,
            message: format!(
                "header must name columns `path` and `target` (optional: `group`, `weight`); found: {}",
                headers.iter().collect::<Vec<_>>().join(", ")
            ),
        });
    };
    let group_col = col("group");
    let weight_col = col("weight");

    let mut samples = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| DataError::Row {
            path: shown.clone(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let row_err = |message: String| DataError::Row {
            path: shown.clone(),
            line,
            message,
        };
        let field = |i: usize| record.get(i).unwrap_or("");
        let path = field(path_col);
        if path.is_empty() {
            return Err(row_err("empty `path`".into()));
        }
        let target: f32 = field(target_col)
            .parse()
            .map_err(|_| row_err(format!("`target` is not a number: `{}`", field(target_col))))?;
        if !target.is_finite() {
            return Err(row_err(format!("`target` must be finite, got {target}")));
        }
        let weight = match weight_col.map(field) {
            None | Some("") => 1.0,
            Some(w) => w
                .parse::<f32>()
                .ok()
                .filter(|w| w.is_finite() && *w >= 0.0)
                .ok_or_else(|| {
                    row_err(format!("`weight` must be a non-negative number, got `{w}`"))
                })?,
        };
        let group = group_col
            .map(field)
            .filter(|g| !g.is_empty())
            .map(str::to_owned);
        samples.push(Sample {
            path: images_dir.join(path),
            target,
            group,
            weight,
            line,
        });
    }
    if samples.is_empty() {
        return Err(DataError::Row {
            path: shown,
            line: 1,
            message: "the table has no rows".into(),
        });
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("r.csv");
        std::fs::write(&t, "path,target,group,extra\na.png,5.5,p1,x\nb.png,6,,y\n").unwrap();
        let rows = read_table(&t, Path::new("imgs")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].path, Path::new("imgs/a.png"));
        assert_eq!(rows[0].group.as_deref(), Some("p1"));
        assert_eq!(rows[1].group, None);
        assert_eq!(rows[1].target, 6.0);

        std::fs::write(&t, "path,target\na.png,5\nb.png,seven\n").unwrap();
        let err = read_table(&t, Path::new(".")).unwrap_err().to_string();
        assert!(
            err.ends_with("r.csv:3: `target` is not a number: `seven`"),
            "{err}"
        );

        std::fs::write(&t, "file,score\na.png,5\n").unwrap();
        let err = read_table(&t, Path::new(".")).unwrap_err().to_string();
        assert!(
            err.contains(":1: header must name columns `path` and `target`"),
            "{err}"
        );
    }
}
