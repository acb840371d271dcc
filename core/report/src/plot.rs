use plotters::prelude::*;

use rateme_train::events::EvalRecord;

/// An SVG of validation loss (solid) and training loss (thin) against batches, one colour per
/// run.
pub fn plot_history(
    title: &str,
    histories: &[(String, Vec<EvalRecord>)],
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let max_batch = histories
            .iter()
            .flat_map(|(_, h)| h.iter().map(|r| r.batch))
            .max()
            .unwrap_or(1)
            .max(1);
        let losses: Vec<f64> = histories
            .iter()
            .flat_map(|(_, h)| h.iter().flat_map(|r| [r.val_loss, r.train_loss]))
            .filter(|v| v.is_finite())
            .collect();
        let max_loss = losses.iter().cloned().fold(0.0f64, f64::max).max(1e-6) * 1.05;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{title}: loss (MSE) per batch"), ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0u64..max_batch, 0f64..max_loss)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("batch")
            .y_desc("loss")
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, (name, h)) in histories.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    h.iter().map(|r| (r.batch, r.val_loss)),
                    colour.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(format!("{name} val"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(LineSeries::new(
                    h.iter().map(|r| (r.batch, r.train_loss)),
                    colour.mix(0.5).stroke_width(1),
                ))
                .map_err(|e| e.to_string())?
                .label(format!("{name} train"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.mix(0.5).stroke_width(1))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
