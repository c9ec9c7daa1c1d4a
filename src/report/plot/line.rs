//! Line charts: curves `y(x)` with a marker per point, a legend and dashed reference lines.

use plotters::coord::CoordTranslate;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::footer::Notes;
use super::{
    Axis, Chart, Frame, HEIGHT, Heading, LEGEND_PX, LineChart, LineStyle, MUTED, NOTE_PX, PALETTE,
    Rect, Reference, Root, Series, TEXT, WIDTH, anchored, auto_log, draw_frame, font, layout,
    no_data_note, put_text, render, text_width,
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

/// Renders a line chart as an SVG document 800 pixels wide.
///
/// Axes use log scales where [`Axis::log`] asks for one or, left to [`auto_log`], where their
/// values span twentyfold or more; each axis writes its unit once, prefixed, in its title. Each
/// series is drawn in its palette colour, marker and line style; references are dashed lines
/// labelled at their right end. The legend goes in the first plot corner that covers no curve,
/// or in rows under the plot when every corner is taken; notes follow under it, and the image
/// grows to hold them. Identical charts give byte-identical output.
pub fn line_svg(c: &LineChart) -> String {
    let plan = Plan::new(c);
    render(plan.height, |root| draw(root, c, &plan))
}

/// Where the legend goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LegendAt {
    /// No legend.
    None,
    /// Inside the plot, top-left pixel.
    Inside(f64, f64),
    /// Under the chart in `columns` columns of `column_w` pixels, from pixel row `top`.
    Below {
        top: f64,
        columns: usize,
        column_w: f64,
    },
}

/// A line chart laid out: everything decided before drawing, including the image height.
struct Plan {
    head: Heading,
    frame: Frame,
    x_axis: Axis,
    y_axis: Axis,
    legend: LegendAt,
    legend_size: (f64, f64),
    notes: Notes,
    notes_top: f64,
    height: u32,
}

impl Plan {
    fn new(c: &LineChart) -> Self {
        let finite = finite_points(c);
        let refs = drawable_refs(c);
        let gaps: Vec<f64> = c
            .gaps
            .iter()
            .map(|g| g.x)
            .filter(|x| x.is_finite())
            .collect();
        let xs: Vec<f64> = finite
            .iter()
            .map(|p| p.0)
            .chain(gaps.iter().copied())
            .collect();
        let mut ys: Vec<f64> = finite.iter().map(|p| p.1).collect();
        ys.extend(refs.iter().map(|r| r.value));
        let x_axis = Axis {
            log: Some(c.x.log.unwrap_or_else(|| auto_log(&xs))),
            ..c.x.clone()
        };
        let y_axis = Axis {
            log: Some(c.y.log.unwrap_or_else(|| auto_log(&ys))),
            ..c.y.clone()
        };
        let keep = |v: f64, log: Option<bool>| log != Some(true) || v > 0.0;
        let kept = |p: &&(f64, f64)| keep(p.0, x_axis.log) && keep(p.1, y_axis.log);
        let xs: Vec<f64> = finite
            .iter()
            .filter(kept)
            .map(|p| p.0)
            .chain(gaps.iter().copied().filter(|x| keep(*x, x_axis.log)))
            .collect();
        let ys: Vec<f64> = finite
            .iter()
            .filter(kept)
            .map(|p| p.1)
            .chain(
                refs.iter()
                    .map(|r| r.value)
                    .filter(|v| keep(*v, y_axis.log)),
            )
            .collect();
        let head = Heading::new(&c.title, c.subtitle.as_deref());
        let frame = layout(&head, (&x_axis, &xs), (&y_axis, &ys), true, 0.0);

        let show_legend = c.series.len() > 1 || c.series.iter().any(|s| !s.label.is_empty());
        let legend_size = legend_size(c);
        let mut legend = LegendAt::None;
        let mut footer_top = f64::from(HEIGHT) + 2.0;
        if show_legend {
            let runs = runs_of(c, &frame);
            let mut obstacles = obstacles(&frame, &runs, &refs);
            obstacles.extend(gap_points(c, &frame));
            legend = match pick_corner(&frame, legend_size, &obstacles) {
                Some((x, y)) => LegendAt::Inside(x, y),
                None => {
                    let column_w = legend_size.0 + 12.0;
                    let fit = (((f64::from(WIDTH) - 40.0) / column_w).floor() as usize)
                        .clamp(1, c.series.len().max(1));
                    // One column per line style (one system each) when they fit side by side.
                    let styles = distinct_styles(c);
                    let columns = if styles > 1 && styles <= fit {
                        styles
                    } else {
                        fit
                    };
                    let rows = c.series.len().div_ceil(columns);
                    let at = LegendAt::Below {
                        top: footer_top,
                        columns,
                        column_w,
                    };
                    footer_top += LEGEND_PAD * 2.0 + LEGEND_ROW * rows as f64 + 6.0;
                    at
                }
            };
        }
        let notes = Notes::new(&c.notes);
        let below = matches!(legend, LegendAt::Below { .. });
        let height = if below || notes.height() > 0.0 {
            footer_top + notes.height()
        } else {
            f64::from(HEIGHT)
        };
        Plan {
            head,
            frame,
            x_axis,
            y_axis,
            legend,
            legend_size,
            notes,
            notes_top: footer_top + 4.0,
            height: (height.ceil() as u32).max(HEIGHT),
        }
    }
}

fn finite_points(c: &LineChart) -> Vec<(f64, f64)> {
    c.series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect()
}

fn drawable_refs(c: &LineChart) -> Vec<&Reference> {
    c.references
        .iter()
        .filter(|r| r.value.is_finite())
        .collect()
}

/// Each series as runs of drawable points in plot space, broken where a point is not.
fn runs_of(c: &LineChart, f: &Frame) -> Vec<Vec<Vec<(f64, f64)>>> {
    c.series
        .iter()
        .map(|s| {
            let mut runs = vec![Vec::new()];
            for &(x, y) in &s.points {
                match (f.x.to_plot(x), f.y.to_plot(y)) {
                    (Some(px), Some(py)) => runs.last_mut().expect("never empty").push((px, py)),
                    _ => runs.push(Vec::new()),
                }
            }
            runs.retain(|r| !r.is_empty());
            runs
        })
        .collect()
}

/// How many line styles the series use.
fn distinct_styles(c: &LineChart) -> usize {
    let mut seen: Vec<LineStyle> = Vec::new();
    for s in &c.series {
        if !seen.contains(&s.line) {
            seen.push(s.line);
        }
    }
    seen.len()
}

/// Pixel columns of the gap lines, sampled for the legend to avoid.
fn gap_points(c: &LineChart, f: &Frame) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for g in &c.gaps {
        if let Some(px) = f.x.to_plot(g.x) {
            let x = f.px((px, f.y.lo)).0;
            let mut y = f.plot.y0;
            while y <= f.plot.y1 {
                pts.push((x, y));
                y += 4.0;
            }
        }
    }
    pts
}

/// The gap lines, dotted grey from top to bottom, each labelled near the top on the side with
/// room.
fn draw_gaps(root: &Root, c: &LineChart, f: &Frame) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    for g in &c.gaps {
        let Some(px) = f.x.to_plot(g.x) else { continue };
        let x = f.px((px, f.y.lo)).0.round() as i32;
        let (y0, y1) = (f.plot.y0 as i32 + 1, f.plot.y1 as i32 - 1);
        let mut y = y0;
        while y < y1 {
            root.draw(&PathElement::new(
                vec![(x, y), (x, (y + 3).min(y1))],
                MUTED.stroke_width(2),
            ))
            .map_err(err)?;
            y += 7;
        }
        let w = text_width(&g.label, NOTE_PX) + 6.0;
        let room_left = f64::from(x) - f.plot.x0 > w + 6.0;
        let (x0, anchor) = if room_left {
            (f64::from(x) - 4.0 - w, HPos::Right)
        } else {
            (f64::from(x) + 4.0, HPos::Left)
        };
        let top = f.plot.y0 + 6.0;
        root.draw(&Rectangle::new(
            [
                (x0 as i32, top as i32),
                ((x0 + w) as i32, (top + NOTE_PX + 4.0) as i32),
            ],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(err)?;
        let tx = if room_left { x0 + w - 3.0 } else { x0 + 3.0 };
        let style = anchored(font(NOTE_PX), TEXT, anchor, VPos::Center);
        put_text(
            root,
            &g.label,
            (tx as i32, (top + (NOTE_PX + 4.0) / 2.0).round() as i32),
            style,
        )?;
    }
    Ok(())
}

/// The palette index of series `i`.
fn colour_of(s: &Series, i: usize) -> usize {
    s.colour.unwrap_or(i)
}

fn draw(root: &Root, c: &LineChart, plan: &Plan) -> Result<(), String> {
    let frame = &plan.frame;
    let refs = drawable_refs(c);
    let mut chart = draw_frame(root, frame, &plan.head, &plan.x_axis, &plan.y_axis)?;
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    for r in &refs {
        if let Some(py) = frame.y.to_plot(r.value) {
            let line = vec![(frame.x.lo, py), (frame.x.hi, py)];
            let style = match r.colour {
                Some(k) => PALETTE[k % PALETTE.len()].mix(0.8).stroke_width(1),
                None => MUTED.stroke_width(2),
            };
            chart
                .draw_series(DashedLineSeries::new(line, 8, 5, style))
                .map_err(err)?;
        }
    }
    let runs = runs_of(c, frame);
    for (i, (series_runs, s)) in runs.iter().zip(&c.series).enumerate() {
        let style = PALETTE[colour_of(s, i) % PALETTE.len()].stroke_width(2);
        if s.line == LineStyle::Markers {
            continue;
        }
        for run in series_runs.iter().filter(|r| r.len() > 1) {
            let pts = run.iter().copied();
            match s.line.pattern() {
                None => chart.draw_series(LineSeries::new(pts, style)),
                Some((dash, gap)) => {
                    chart.draw_series(DashedLineSeries::new(pts, dash, gap, style))
                }
            }
            .map_err(err)?;
        }
    }
    for (i, (series_runs, s)) in runs.iter().zip(&c.series).enumerate() {
        draw_series_markers(&chart, series_runs, colour_of(s, i))?;
    }
    draw_gaps(root, c, frame)?;
    let curves = obstacles(frame, &runs, &[]);
    let legend_rect = match plan.legend {
        LegendAt::Inside(x, y) => Some(Rect {
            x0: x,
            y0: y,
            x1: x + plan.legend_size.0,
            y1: y + plan.legend_size.1,
        }),
        _ => None,
    };
    draw_reference_labels(root, &chart, frame, &refs, &curves, legend_rect)?;
    if finite_points(c).is_empty() {
        no_data_note(root, frame, "no data")?;
    }
    match plan.legend {
        LegendAt::None => {}
        LegendAt::Inside(x, y) => draw_legend(root, c, (x, y), plan.legend_size)?,
        LegendAt::Below {
            top,
            columns,
            column_w,
        } => draw_legend_below(root, c, top, columns, column_w)?,
    }
    plan.notes.draw(root, plan.notes_top)
}

fn draw_series_markers(
    chart: &Chart,
    runs: &[Vec<(f64, f64)>],
    colour: usize,
) -> Result<(), String> {
    let color = PALETTE[colour % PALETTE.len()];
    let marker = MARKERS[colour % MARKERS.len()];
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
    refs: &[&Reference],
    curves: &[(f64, f64)],
    legend: Option<Rect>,
) -> Result<(), String> {
    let mut taken: Vec<Rect> = legend.into_iter().collect();
    let mut labels: Vec<(f64, &str)> = refs
        .iter()
        .filter(|r| !r.label.is_empty())
        .filter_map(|r| {
            let py = frame.y.to_plot(r.value)?;
            Some((
                f64::from(chart.backend_coord(&(frame.x.lo, py)).1),
                r.label.as_str(),
            ))
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
fn obstacles(f: &Frame, runs: &[Vec<Vec<(f64, f64)>>], refs: &[&Reference]) -> Vec<(f64, f64)> {
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
    for r in refs {
        if let Some(py) = f.y.to_plot(r.value) {
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

/// One legend entry: the line sample in its style with its marker, and the label, centred
/// vertically on `cy` from `x0`.
fn draw_entry(root: &Root, s: &Series, i: usize, x0: i32, cy: i32) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let k = colour_of(s, i);
    let color = PALETTE[k % PALETTE.len()];
    let x1 = x0 + LEGEND_SAMPLE as i32;
    match s.line.pattern() {
        None if s.line == LineStyle::Markers => {}
        None => root
            .draw(&PathElement::new(
                vec![(x0, cy), (x1, cy)],
                color.stroke_width(2),
            ))
            .map_err(err)?,
        Some((dash, gap)) => {
            let (dash, gap) = (dash as i32, gap as i32);
            let mut x = x0;
            while x < x1 {
                let end = (x + dash).min(x1);
                root.draw(&PathElement::new(
                    vec![(x, cy), (end, cy)],
                    color.stroke_width(2),
                ))
                .map_err(err)?;
                x = end + gap;
            }
        }
    }
    draw_marker(root, ((x0 + x1) / 2, cy), MARKERS[k % MARKERS.len()], color)?;
    let style = anchored(font(LEGEND_PX), TEXT, HPos::Left, VPos::Center);
    put_text(root, &s.label, (x1 + 8, cy), style)
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
        let cy = y + (LEGEND_PAD + LEGEND_ROW * i as f64 + 7.0).round() as i32;
        draw_entry(root, s, i, x + LEGEND_PAD as i32, cy)?;
    }
    Ok(())
}

/// The legend in rows under the chart, filled column by column so that series that belong
/// together (one system's curves) stay in one column.
fn draw_legend_below(
    root: &Root,
    c: &LineChart,
    top: f64,
    columns: usize,
    column_w: f64,
) -> Result<(), String> {
    let rows = c.series.len().div_ceil(columns.max(1));
    let total_w = column_w * columns as f64;
    let left = ((f64::from(WIDTH) - total_w) / 2.0).max(10.0);
    let by_style = columns == distinct_styles(c) && columns > 1;
    let mut styles: Vec<LineStyle> = Vec::new();
    let mut filled: Vec<usize> = Vec::new();
    for (i, s) in c.series.iter().enumerate() {
        let (col, row) = if by_style {
            let col = match styles.iter().position(|l| *l == s.line) {
                Some(k) => k,
                None => {
                    styles.push(s.line);
                    filled.push(0);
                    styles.len() - 1
                }
            };
            filled[col] += 1;
            (col, filled[col] - 1)
        } else {
            (i / rows.max(1), i % rows.max(1))
        };
        let x0 = (left + column_w * col as f64 + LEGEND_PAD).round() as i32;
        let cy = (top + LEGEND_PAD + LEGEND_ROW * row as f64 + 7.0).round() as i32;
        draw_entry(root, s, i, x0, cy)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_well_formed;
    use super::super::{Gap, Unit};
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
            references: vec![Reference::new("all-HBM baseline", 71.2)],
            gaps: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn markers_alone_draw_no_line_between_categories() {
        let chart = |line: LineStyle| LineChart {
            title: "Least read bandwidth per reading".into(),
            subtitle: None,
            x: Axis::new(
                "HBF reading",
                Unit::Category(vec!["alpha".into(), "beta".into(), "gamma".into()]),
            ),
            y: Axis::new("least read bandwidth", Unit::BytesPerSec),
            series: vec![
                Series::new("target", vec![(0.0, 3e11), (1.0, 4e11), (2.0, 3.5e11)])
                    .styled(0, line),
            ],
            references: Vec::new(),
            gaps: Vec::new(),
            notes: Vec::new(),
        };
        let lines = |svg: &str| svg.matches("<polyline").count();
        let (markers, solid) = (
            line_svg(&chart(LineStyle::Markers)),
            line_svg(&chart(LineStyle::Solid)),
        );
        assert_well_formed(&markers);
        assert!(
            lines(&solid) > lines(&markers),
            "the solid chart draws its line"
        );
        for tick in ["alpha", "beta", "gamma"] {
            assert!(markers.contains(tick), "category tick {tick}");
        }
    }

    #[test]
    fn output_is_deterministic_and_well_formed() {
        let a = line_svg(&sample());
        let b = line_svg(&sample());
        assert_eq!(a, b);
        assert_well_formed(&a);
        assert!(a.contains("all-HBM baseline"));
        assert!(a.contains("HBF read bandwidth (TB/s)"), "{a}");
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
        assert!(svg.contains("(GB/s)"));
        for want in ["1", "10", "100", "1000"] {
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
        c.references = vec![
            Reference::new("flat", 50.0),
            Reference::new("NaN", f64::NAN),
        ];
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

    #[test]
    fn styles_and_legend_below_and_notes_grow_the_image() {
        let height = |svg: &str| -> u32 {
            svg.split("height=\"")
                .nth(1)
                .and_then(|h| h.split('"').next())
                .and_then(|h| h.parse().ok())
                .unwrap()
        };
        let mut c = sample();
        assert_eq!(height(&line_svg(&c)), 500);
        // Two systems by line style, three latencies by colour: six entries, as in a sweep.
        c.series = (0..6)
            .map(|i| {
                let pts = (0..6)
                    .map(|k| (1e10 * 2f64.powi(k), 10.0 + f64::from(k * (i as i32 + 1))))
                    .collect();
                let line = if i < 3 {
                    LineStyle::Solid
                } else {
                    LineStyle::Dashed
                };
                Series::new(format!("system {} latency {}", i / 3, i % 3), pts).styled(i % 3, line)
            })
            .collect();
        c.notes = vec!["tg ≥ 99 % of all-HBM is not met at 32 µs".into()];
        let svg = line_svg(&c);
        assert_well_formed(&svg);
        assert!(svg.contains("• tg ≥ 99 % of all-HBM is not met at 32 µs"));
        assert!(height(&svg) > 500, "{}", height(&svg));
        c.notes.clear();
        assert!(height(&line_svg(&c)) < height(&svg));
        // Colour 0 serves a solid and a dashed series: the same hue in both strokes.
        assert!(svg.matches("#0072B2").count() > 10);
    }

    #[test]
    fn gaps_stretch_the_x_axis_and_are_labelled() {
        let mut c = sample();
        let plain = line_svg(&c);
        c.gaps = vec![Gap {
            x: 5e13,
            label: "not met".into(),
        }];
        let svg = line_svg(&c);
        assert_well_formed(&svg);
        assert!(svg.contains("not met"));
        // 50 TB/s is beyond every point: the axis now reaches it, in a larger prefix.
        assert!(svg.contains(">\n50\n</text>") && svg != plain, "{svg}");
    }
}
