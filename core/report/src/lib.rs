//! Results: `results/<experiment>.md`, `.csv` and `.svg` after a sweep, and the README's
//! results table regenerated from those files alone.

mod plot;
mod readme;
mod table;

pub use plot::plot_history;
pub use readme::{readme_block, update_readme};
pub use table::{ResultRow, markdown_table, read_rows, results_paths, write_results};
