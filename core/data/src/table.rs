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

/// Reads a ratings table: CSV with a header, or parquet (by the `.parquet` extension), holding
/// `path` and `target`, optionally `group` and `weight`; other columns are ignored. Relative
/// image paths resolve against `images_dir`. Errors name the line (CSV) or the 1-based row
/// (parquet).
pub fn read_table(table: &Path, images_dir: &Path) -> Result<Vec<Sample>, DataError> {
    let shown = table.display().to_string();
    let mut rows = Rows {
        shown: &shown,
        images_dir,
        samples: Vec::new(),
    };
    if table.extension().is_some_and(|e| e == "parquet") {
        read_parquet(table, &mut rows)?;
    } else {
        read_csv(table, &mut rows)?;
    }
    if rows.samples.is_empty() {
        return Err(DataError::Row {
            path: shown,
            line: 1,
            message: "the table has no rows".into(),
        });
    }
    Ok(rows.samples)
}

fn header_error(shown: &str, found: &[String]) -> DataError {
    DataError::Row {
        path: shown.to_owned(),
        line: 1,
        message: format!(
            "header must name columns `path` and `target` (optional: `group`, `weight`); found: {}",
            found.join(", ")
        ),
    }
}

/// Checks and collects rows, whatever the file format.
struct Rows<'a> {
    shown: &'a str,
    images_dir: &'a Path,
    samples: Vec<Sample>,
}

impl Rows<'_> {
    fn push(
        &mut self,
        line: u64,
        path: &str,
        target: &str,
        group: Option<&str>,
        weight: Option<&str>,
    ) -> Result<(), DataError> {
        let row_err = |message: String| DataError::Row {
            path: self.shown.to_owned(),
            line,
            message,
        };
        if path.is_empty() {
            return Err(row_err("empty `path`".into()));
        }
        let target: f32 = target
            .parse()
            .map_err(|_| row_err(format!("`target` is not a number: `{target}`")))?;
        if !target.is_finite() {
            return Err(row_err(format!("`target` must be finite, got {target}")));
        }
        let weight = match weight {
            None | Some("") => 1.0,
            Some(w) => w
                .parse::<f32>()
                .ok()
                .filter(|w| w.is_finite() && *w >= 0.0)
                .ok_or_else(|| {
                    row_err(format!("`weight` must be a non-negative number, got `{w}`"))
                })?,
        };
        self.samples.push(Sample {
            path: self.images_dir.join(path),
            target,
            group: group.filter(|g| !g.is_empty()).map(str::to_owned),
            weight,
            line,
        });
        Ok(())
    }
}

fn read_csv(table: &Path, rows: &mut Rows<'_>) -> Result<(), DataError> {
    let shown = rows.shown.to_owned();
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
        let found: Vec<String> = headers.iter().map(str::to_owned).collect();
        return Err(header_error(&shown, &found));
    };
    let (group_col, weight_col) = (col("group"), col("weight"));
    for record in reader.records() {
        let record = record.map_err(|e| DataError::Row {
            path: shown.clone(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("");
        rows.push(
            line,
            field(path_col),
            field(target_col),
            group_col.map(field),
            weight_col.map(field),
        )?;
    }
    Ok(())
}

#[cfg(not(feature = "parquet"))]
fn read_parquet(_table: &Path, rows: &mut Rows<'_>) -> Result<(), DataError> {
    Err(DataError::Io {
        path: rows.shown.to_owned(),
        message: "this build reads parquet tables only with rateme-data's `parquet` feature (the runner has it); convert the table to CSV or build with `--features rateme-data/parquet`".into(),
    })
}

#[cfg(feature = "parquet")]
fn read_parquet(table: &Path, rows: &mut Rows<'_>) -> Result<(), DataError> {
    use polars::prelude::*;
    let shown = rows.shown.to_owned();
    let io_err = |message: String| DataError::Io {
        path: shown.clone(),
        message,
    };
    let file = std::fs::File::open(table)
        .map_err(|e| io_err(format!("cannot open ratings table: {e}")))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| io_err(format!("not a readable parquet file: {e}")))?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    // Every column as text, so both formats go through the same checks.
    let text = |name: &str| -> Result<Option<Vec<Option<String>>>, DataError> {
        let Ok(col) = df.column(name) else {
            return Ok(None);
        };
        let cast = col
            .cast(&DataType::String)
            .map_err(|e| io_err(format!("column `{name}`: {e}")))?;
        let values = cast
            .str()
            .map_err(|e| io_err(format!("column `{name}`: {e}")))?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect();
        Ok(Some(values))
    };
    let (Some(paths), Some(targets)) = (text("path")?, text("target")?) else {
        return Err(header_error(&shown, &names));
    };
    let (groups, weights) = (text("group")?, text("weight")?);
    for i in 0..paths.len() {
        let get =
            |c: &Option<Vec<Option<String>>>| c.as_ref().map(|v| v[i].clone().unwrap_or_default());
        rows.push(
            i as u64 + 1,
            paths[i].as_deref().unwrap_or_default(),
            targets[i].as_deref().unwrap_or("null"),
            get(&groups).as_deref(),
            get(&weights).as_deref(),
        )?;
    }
    Ok(())
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

    #[cfg(feature = "parquet")]
    fn write_parquet(path: &Path, mut df: polars::prelude::DataFrame) {
        use polars::prelude::*;
        ParquetWriter::new(std::fs::File::create(path).unwrap())
            .finish(&mut df)
            .unwrap();
    }

    #[cfg(feature = "parquet")]
    #[test]
    fn reads_parquet_tables_with_the_same_checks() {
        use polars::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("m.parquet");
        let df = DataFrame::new(
            2,
            vec![
                Column::new("post_id".into(), ["p1", "p2"]),
                Column::new("path".into(), ["p1/0.jpg", "p2/0.png"]),
                Column::new("target".into(), [6.25f64, 4.0]),
                Column::new("group".into(), ["p1", "p2"]),
                Column::new("weight".into(), [1.0f64, 2.0]),
            ],
        )
        .unwrap();
        write_parquet(&t, df);
        let rows = read_table(&t, Path::new("imgs")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].path, Path::new("imgs/p1/0.jpg"));
        assert_eq!(rows[0].target, 6.25);
        assert_eq!(rows[1].group.as_deref(), Some("p2"));
        assert_eq!(rows[1].weight, 2.0);

        let bad = DataFrame::new(
            2,
            vec![
                Column::new("path".into(), ["a.jpg", "b.jpg"]),
                Column::new("target".into(), [Some(5.0f64), None]),
            ],
        )
        .unwrap();
        write_parquet(&t, bad);
        let err = read_table(&t, Path::new(".")).unwrap_err().to_string();
        assert!(
            err.ends_with("m.parquet:2: `target` is not a number: `null`"),
            "{err}"
        );

        let no_target = DataFrame::new(1, vec![Column::new("path".into(), ["a.jpg"])]).unwrap();
        write_parquet(&t, no_target);
        let err = read_table(&t, Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("found: path"), "{err}");
    }
}
