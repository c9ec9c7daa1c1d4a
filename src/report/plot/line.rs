//! Line charts: curves `y(x)` with a marker per point, a legend and dashed reference lines.

use plotters::coord::CoordTranslate;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{
    Axis, Chart, Frame, LEGEND_PX, LineChart, MUTED, NOTE_PX, PALETTE, Rect, Root, TEXT, anchored,
    auto_log, draw_frame, font, layout, no_data_note, put_text, render, text_width,
};

/// Marker radius in pixels.
const R: i32 = 4;
/// Beyond this many points a series shows every n-th marker, enough to tell series apart
/// without burying the line.
const MAX_MARKERS: usize = 24;
const LEGEND_ROW: f64 = 18.0;
const LEGEND_PAD: f64 = 7.0;
const LEGEND_SAMPLE: f64 = 26.0;

/// Marker shapes, cycled alongside the colours so that series differ in shape as well as hue
/// (for greyscale print and colour-blind readers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
    Cross,
    Plus,
    Ring,
}

const MARKERS: [Marker; 8] = [
    Marker::Circle,
    Marker::Square,
    Marker::TriangleUp,
    Marker::Diamond,
    Marker::TriangleDown,
    Marker::Cross,
    Marker::Plus,
    Marker::Ring,
];

/// Draws one marker centred on `at` in `area`'s coordinates.
pub(super) fn draw_marker<C: CoordTranslate>(
    area: &DrawingArea<SVGBackend, C>,
    at: C::From,
    m: Marker,
    color: RGBColor,
) -> Result<(), String>
where
    C::From: Clone,
{
    let fill = color.filled();
    let line = color.stroke_width(2);
    let e = EmptyElement::at(at);
    let r = R;
    let res = match m {
        Marker::Circle => area.draw(&(e + Circle::new((0, 0), r, fill))),
        Marker::Square => {
            area.draw(&(e + Rectangle::new([(-r + 1, -r + 1), (r - 1, r - 1)], fill)))
        }
        Marker::TriangleUp => {
            area.draw(&(e + Polygon::new(vec![(0, -r - 1), (r + 1, r), (-r - 1, r)], fill)))
        }
        Marker::Diamond => area.draw(
            &(e + Polygon::new(vec![(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)], fill)),
        ),
        Marker::TriangleDown => {
            area.draw(&(e + Polygon::new(vec![(0, r + 1), (r + 1, -r), (-r - 1, -r)], fill)))
        }
        Marker::Cross => area.draw(
            &(e + PathElement::new(vec![(-r, -r), (r, r)], line)
                + PathElement::new(vec![(-r, r), (r, -r)], line)),
        ),
        Marker::Plus => area.draw(
            &(e + PathElement::new(vec![(-r - 1, 0), (r + 1, 0)], line)
                + PathElement::new(vec![(0, -r - 1), (0, r + 1)], line)),
        ),
        Marker::Ring => area.draw(&(e + Circle::new((0, 0), r, line))),
    };
    res.map_err(|e| e.to_string())
}

/// Renders a line chart as an 800×500 SVG document.
///
/// Axes use log scales where [`Axis::log`] asks for one or, left to [`auto_log`], where their
/// values span two decades or more; tick labels carry SI-prefixed units. Each series gets an
/// Okabe–Ito colour and its own marker shape; references are dashed grey lines labelled at their
/// right end. The legend goes in the first plot corner that covers no curve, or to the right of
/// the plot when every corner is taken. Identical charts give byte-identical output.
pub fn line_svg(c: &LineChart) -> String {
    render(|root| draw(root, c))
}

fn draw(root: &Root, c: &LineChart) -> Result<(), String> {
    let finite: Vec<(f64, f64)> = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let refs: Vec<(&str, f64)> = c
        .references
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(l, v)| (l.as_str(), *v))
        .collect();
    let xs: Vec<f64> = finite.iter().map(|p| p.0).collect();
    let mut ys: Vec<f64> = finite.iter().map(|p| p.1).collect();
    ys.extend(refs.iter().map(|r| r.1));
    let x_axis = Axis {
        log: Some(c.x.log.unwrap_or_else(|| auto_log(&xs))),
        ..c.x.clone()
    };
    let y_axis = Axis {
        log: Some(c.y.log.unwrap_or_else(|| auto_log(&ys))),
        ..c.y.clone()
    };
    let keep = |v: f64, log: Option<bool>| log != Some(true) || v > 0.0;
    let xs: Vec<f64> = finite
        .iter()
        .filter(|p| keep(p.0, x_axis.log) && keep(p.1, y_axis.log))
        .map(|p| p.0)
        .collect();
    let ys: Vec<f64> = finite
        .iter()
        .filter(|p| keep(p.0, x_axis.log) && keep(p.1, y_axis.log))
        .map(|p| p.1)
        .chain(refs.iter().map(|r| r.1).filter(|v| keep(*v, y_axis.log)))
        .collect();

    let subtitle = c.subtitle.as_deref();
    let mut frame = layout(
        subtitle.is_some(),
        (&x_axis, &xs),
        (&y_axis, &ys),
        true,
        0.0,
    );
    // Each series as runs of drawable points in plot space, broken where a point is not.
    let runs_of = |f: &Frame| -> Vec<Vec<Vec<(f64, f64)>>> {
        c.series
            .iter()
            .map(|s| {
                let mut runs = vec![Vec::new()];
                for &(x, y) in &s.points {
                    match (f.x.to_plot(x), f.y.to_plot(y)) {
                        (Some(px), Some(py)) => runs.last_mut().unwrap().push((px, py)),
                        _ => runs.push(Vec::new()),
                    }
                }
                runs.retain(|r| !r.is_empty());
                runs
            })
            .collect()
    };

    let show_legend = c.series.len() > 1 || c.series.iter().any(|s| !s.label.is_empty());
    let legend_size = legend_size(c);
    let mut legend_at = None;
    if show_legend && !finite.is_empty() {
        let runs = runs_of(&frame);
        let obstacles = obstacles(&frame, &runs, &refs);
        legend_at = pick_corner(&frame, legend_size, &obstacles);
        if legend_at.is_none() {
            frame = layout(
                subtitle.is_some(),
                (&x_axis, &xs),
                (&y_axis, &ys),
                true,
                legend_size.0 + 14.0,
            );
            legend_at = Some((frame.plot.x1 + 14.0, frame.plot.y0));
        }
    } else if show_legend {
        legend_at = Some((frame.plot.x1 - legend_size.0 - 10.0, frame.plot.y0 + 10.0));
    }

    let mut chart = draw_frame(root, &frame, &c.title, subtitle, &x_axis, &y_axis)?;
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let ref_style = MUTED.stroke_width(2);
    for &(_, v) in &refs {
        if let Some(py) = frame.y.to_plot(v) {
            let line = vec![(frame.x.lo, py), (frame.x.hi, py)];
            chart
                .draw_series(DashedLineSeries::new(line, 8, 5, ref_style))
                .map_err(err)?;
        }
    }
    let runs = runs_of(&frame);
    for (i, series_runs) in runs.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        for run in series_runs.iter().filter(|r| r.len() > 1) {
            chart
                .draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))
                .map_err(err)?;
        }
    }
    for (i, series_runs) in runs.iter().enumerate() {
        draw_series_markers(&chart, series_runs, i)?;
    }
    let curves = obstacles(&frame, &runs, &[]);
    let legend_rect = legend_at.map(|(x, y)| Rect {
        x0: x,
        y0: y,
        x1: x + legend_size.0,
        y1: y + legend_size.1,
    });
    draw_reference_labels(root, &chart, &frame, &refs, &curves, legend_rect)?;
    if finite.is_empty() {
        no_data_note(root, &frame, "no data")?;
    }
    if let Some(at) = legend_at {
        draw_legend(root, c, at, legend_size)?;
    }
    Ok(())
}

fn draw_series_markers(chart: &Chart, runs: &[Vec<(f64, f64)>], i: usize) -> Result<(), String> {
    let color = PALETTE[i % PALETTE.len()];
    let marker = MARKERS[i % MARKERS.len()];
    let n: usize = runs.iter().map(Vec::len).sum();
    let every = n.div_ceil(MAX_MARKERS).max(1);
    let area = chart.plotting_area();
    for (k, p) in runs.iter().flatten().enumerate() {
        if k % every == 0 {
            draw_marker(area, *p, marker, color)?;
        }
    }
    Ok(())
}

/// Labels each reference line near its right end, just above the line; when that spot covers a
/// curve, leaves the plot or sits on the legend or an earlier label, tries below, then the left
/// end.
fn draw_reference_labels(
    root: &Root,
    chart: &Chart,
    frame: &Frame,
    refs: &[(&str, f64)],
    curves: &[(f64, f64)],
    legend: Option<Rect>,
) -> Result<(), String> {
    let mut taken: Vec<Rect> = legend.into_iter().collect();
    let mut labels: Vec<(f64, &str)> = refs
        .iter()
        .filter(|(l, _)| !l.is_empty())
        .filter_map(|&(label, v)| {
            let py = frame.y.to_plot(v)?;
            Some((f64::from(chart.backend_coord(&(frame.x.lo, py)).1), label))
        })
        .collect();
    // Top to bottom, so that crowded labels resolve in a stable order.
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (line_y, text) in labels {
        let w = text_width(text, NOTE_PX) + 6.0;
        let h = NOTE_PX + 4.0;
        let p = frame.plot;
        let spot = |right: bool, above: bool| {
            let x1 = if right { p.x1 - 6.0 } else { p.x0 + 6.0 + w };
            let y0 = if above {
                line_y - 3.0 - h
            } else {
                line_y + 3.0
            };
            Rect {
                x0: x1 - w,
                y0,
                x1,
                y1: y0 + h,
            }
        };
        let candidates = [
            spot(true, true),
            spot(true, false),
            spot(false, true),
            spot(false, false),
        ];
        let fits = |r: &Rect| {
            r.y0 >= p.y0 + 1.0 && r.y1 <= p.y1 - 1.0 && !taken.iter().any(|t| t.overlaps(r))
        };
        let rect = candidates
            .iter()
            .find(|r| fits(r) && !curves.iter().any(|c| r.contains(*c)))
            .or_else(|| candidates.iter().find(|r| fits(r)))
            .copied()
            .unwrap_or(candidates[0]);
        root.draw(&Rectangle::new(
            [
                (rect.x0 as i32, rect.y0 as i32),
                (rect.x1 as i32, rect.y1 as i32),
            ],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(|e| e.to_string())?;
        let style = anchored(font(NOTE_PX), TEXT, HPos::Right, VPos::Center);
        let at = (
            (rect.x1 - 3.0) as i32,
            ((rect.y0 + rect.y1) / 2.0).round() as i32,
        );
        put_text(root, text, at, style)?;
        taken.push(rect);
    }
    Ok(())
}

fn legend_size(c: &LineChart) -> (f64, f64) {
    let text = c
        .series
        .iter()
        .map(|s| text_width(&s.label, LEGEND_PX))
        .fold(0.0, f64::max);
    (
        LEGEND_PAD * 2.0 + LEGEND_SAMPLE + 8.0 + text,
        LEGEND_PAD * 2.0 + LEGEND_ROW * c.series.len() as f64 - 4.0,
    )
}

/// Pixel points the legend should not cover: the curves (sampled every few pixels) and the
/// reference lines. Reference labels are placed after the legend and avoid it themselves.
fn obstacles(f: &Frame, runs: &[Vec<Vec<(f64, f64)>>], refs: &[(&str, f64)]) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    let mut segment = |a: (f64, f64), b: (f64, f64)| {
        let n = ((b.0 - a.0).hypot(b.1 - a.1) / 4.0).ceil().max(1.0) as usize;
        for k in 0..=n {
            let t = k as f64 / n as f64;
            pts.push((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t));
        }
    };
    for run in runs.iter().flatten() {
        let px: Vec<(f64, f64)> = run.iter().map(|p| f.px(*p)).collect();
        if px.len() == 1 {
            segment(px[0], px[0]);
        }
        for w in px.windows(2) {
            segment(w[0], w[1]);
        }
    }
    for &(_, v) in refs {
        if let Some(py) = f.y.to_plot(v) {
            let y = f.px((f.x.lo, py)).1;
            segment((f.plot.x0, y), (f.plot.x1, y));
        }
    }
    pts
}

/// The top-left pixel of the first free corner (top right, top left, bottom right, bottom left)
/// for a legend of `size`, or `None` when each corner would cover data or the legend does not
/// fit inside the plot.
fn pick_corner(f: &Frame, size: (f64, f64), obstacles: &[(f64, f64)]) -> Option<(f64, f64)> {
    let inset = 10.0;
    let (w, h) = size;
    let p = f.plot;
    if w + 2.0 * inset > (p.x1 - p.x0) * 0.6 || h + 2.0 * inset > (p.y1 - p.y0) * 0.8 {
        return None;
    }
    let corners = [
        (p.x1 - inset - w, p.y0 + inset),
        (p.x0 + inset, p.y0 + inset),
        (p.x1 - inset - w, p.y1 - inset - h),
        (p.x0 + inset, p.y1 - inset - h),
    ];
    corners.into_iter().find(|&(x, y)| {
        let keep_clear = Rect {
            x0: x - 6.0,
            y0: y - 6.0,
            x1: x + w + 6.0,
            y1: y + h + 6.0,
        };
        !obstacles.iter().any(|o| keep_clear.contains(*o))
    })
}

fn draw_legend(root: &Root, c: &LineChart, at: (f64, f64), size: (f64, f64)) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let (x, y) = (at.0.round() as i32, at.1.round() as i32);
    let (w, h) = (size.0.round() as i32, size.1.round() as i32);
    root.draw(&Rectangle::new(
        [(x, y), (x + w, y + h)],
        WHITE.mix(0.9).filled(),
    ))
    .map_err(err)?;
    root.draw(&Rectangle::new(
        [(x, y), (x + w, y + h)],
        RGBColor(0xBB, 0xBB, 0xBB).stroke_width(1),
    ))
    .map_err(err)?;
    for (i, s) in c.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let cy = y + (LEGEND_PAD + LEGEND_ROW * i as f64 + 7.0).round() as i32;
        let x0 = x + LEGEND_PAD as i32;
        let x1 = x0 + LEGEND_SAMPLE as i32;
        root.draw(&PathElement::new(
            vec![(x0, cy), (x1, cy)],
            color.stroke_width(2),
        ))
        .map_err(err)?;
        draw_marker(root, ((x0 + x1) / 2, cy), MARKERS[i % MARKERS.len()], color)?;
        let style = anchored(font(LEGEND_PX), TEXT, HPos::Left, VPos::Center);
        put_text(root, &s.label, (x1 + 8, cy), style)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_well_formed;
    use super::super::{Series, Unit};
    use super::*;

    fn sample() -> LineChart {
        let bws = [2e11, 4e11, 8e11, 1.6e12, 3.2e12, 6.4e12];
        let curve = |scale: f64| -> Vec<(f64, f64)> {
            bws.iter()
                .map(|&b| (b, 71.2 * (b / (b + scale * 1e12))))
                .collect()
        };
        LineChart {
            title: "Decode throughput vs HBF read bandwidth".into(),
            subtitle: Some("Llama-3.1-70B Q4_K_M · 8×H100-class · seed 42".into()),
            x: Axis::new("HBF read bandwidth", Unit::BytesPerSec),
            y: Axis::new("tg", Unit::TokensPerSec),
            series: vec![
                Series::new("HBF latency 1us", curve(0.3)),
                Series::new("HBF latency 4us", curve(0.6)),
                Series::new("HBF latency 16us", curve(1.2)),
            ],
            references: vec![("all-HBM baseline".into(), 71.2)],
        }
    }

    #[test]
    fn output_is_deterministic_and_well_formed() {
        let a = line_svg(&sample());
        let b = line_svg(&sample());
        assert_eq!(a, b);
        assert_well_formed(&a);
        assert!(a.contains("100GB/s") || a.contains("1TB/s"), "{a}");
        assert!(a.contains("all-HBM baseline"));
        assert!(a.contains("HBF read bandwidth (B/s)"));
        assert!(a.contains("font-family=\"sans-serif\""));
        assert!(!a.contains("NaN") && !a.contains("inf"));
    }

    #[test]
    fn wide_bandwidth_range_gets_log_decade_ticks() {
        let mut c = sample();
        c.series = vec![Series::new(
            "s",
            vec![(1e9, 10.0), (3e10, 40.0), (2e12, 70.0)],
        )];
        let svg = line_svg(&c);
        for want in ["1GB/s", "10GB/s", "100GB/s", "1TB/s"] {
            assert!(
                svg.contains(&format!(">\n{want}\n</text>")),
                "{want} missing"
            );
        }
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let mut c = sample();
        c.series = vec![];
        c.references = vec![];
        assert_well_formed(&line_svg(&c));
        c.series = vec![Series::new(
            "all NaN",
            vec![(f64::NAN, 1.0), (2.0, f64::INFINITY)],
        )];
        let svg = line_svg(&c);
        assert_well_formed(&svg);
        assert!(svg.contains("no data"));
        c.series = vec![Series::new("one", vec![(1e12, 50.0)])];
        assert_well_formed(&line_svg(&c));
        c.series = vec![Series::new("", vec![(1e12, 50.0), (2e12, 50.0)])];
        c.references = vec![("flat".into(), 50.0), ("NaN".into(), f64::NAN)];
        assert_well_formed(&line_svg(&c));
        // Non-positive values on a forced log axis are skipped, not drawn at -inf.
        c.x.log = Some(true);
        c.series = vec![Series::new(
            "s",
            vec![(0.0, 1.0), (-1.0, 2.0), (1e9, 3.0), (1e12, 4.0)],
        )];
        assert_well_formed(&line_svg(&c));
    }

    #[test]
    fn text_is_escaped() {
        let mut c = sample();
        c.title = "tg < baseline & \"friends\"".into();
        let svg = line_svg(&c);
        assert_well_formed(&svg);
        assert!(svg.contains("tg &lt; baseline &amp;"));
    }

    #[test]
    fn many_series_get_distinct_styles() {
        let mut c = sample();
        c.series = (0..8)
            .map(|i| {
                let pts = (0..5)
                    .map(|k| (1e11 * f64::from(k + 1), f64::from(i * 10 + k)))
                    .collect();
                Series::new(format!("series {i}"), pts)
            })
            .collect();
        let svg = line_svg(&c);
        assert_well_formed(&svg);
        for color in ["#0072B2", "#D55E00", "#009E73", "#CC79A7"] {
            assert!(svg.contains(color), "{color} missing");
        }
    }
}
