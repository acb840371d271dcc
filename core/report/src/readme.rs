use std::path::Path;

use super::table::{markdown_table, read_rows, results_paths};
use rateme_spec::Experiment;

fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- results:{name}:start -->"),
        format!("<!-- results:{name}:end -->"),
    )
}

/// The README block of an experiment, built from its results files alone.
pub fn readme_block(exp: &Experiment) -> std::io::Result<String> {
    let (md, csv, svg) = results_paths(&exp.name, &exp.results_dir);
    let rows = read_rows(&csv).map_err(|e| {
        std::io::Error::other(format!(
            "{e}; run `runner {}` first to produce it",
            exp.path.display()
        ))
    })?;
    let link = |p: &Path| p.display().to_string();
    Ok(format!(
        "{}\nFull results: [{}]({}); loss curves: [{}]({}).\n",
        markdown_table(&rows),
        link(&md),
        link(&md),
        link(&svg),
        link(&svg)
    ))
}

/// Replaces the text between `<!-- results:<name>:start -->` and `<!-- results:<name>:end -->`
/// in `readme` with the experiment's table. The markers must exist.
pub fn update_readme(exp: &Experiment, readme: &Path) -> std::io::Result<()> {
    let text = std::fs::read_to_string(readme)?;
    let (start, end) = markers(&exp.name);
    let (Some(a), Some(b)) = (text.find(&start), text.find(&end)) else {
        return Err(std::io::Error::other(format!(
            "{}: markers `{start}` … `{end}` not found; add them where the table should go",
            readme.display()
        )));
    };
    if b < a {
        return Err(std::io::Error::other(format!(
            "{}: `{end}` comes before `{start}`",
            readme.display()
        )));
    }
    let block = readme_block(exp)?;
    let new = format!("{}{start}\n{block}{}", &text[..a], &text[b..]);
    rateme_util::fsutil::write_atomic(readme, new.as_bytes())
}
