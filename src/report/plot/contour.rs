//! Contour charts: iso-lines of a sampled field, traced by marching squares, labelled inline.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::to_plot;
use super::footer::{Notes, wrap};
use super::{
    Axis, ContourChart, Frame, HEIGHT, Heading, LEGEND_PX, NOTE_PX, Rect, Root, TEXT, anchored,
    auto_log, draw_frame, font, layout, no_data_note, put_text, render, text_width,
};
use crate::report::numfmt;

/// Sample dots and the levels no line crosses.
const SAMPLE: RGBColor = RGBColor(0xAA, 0xAA, 0xAA);
const GREYED: RGBColor = RGBColor(0xA0, 0xA0, 0xA0);

/// Polylines where the field `z` crosses `level`, by marching squares over the rectilinear
/// grid `xs × ys` (`z[iy][ix]` at `(xs[ix], ys[iy])`; both axes ascending).
///
/// A corner counts as inside when `z >= level`. Crossings are interpolated linearly along cell
/// edges, and each edge's crossing is computed once from its lower-index end, so neighbouring
/// cells share it bit for bit and the segments join into polylines; a closed curve comes back
/// with its first point repeated last. Saddle cells (inside corners diagonal to each other) are
/// resolved by the mean of the four corners, so the choice is the same whichever neighbour asks.
/// Cells with a non-finite corner draw nothing.
pub fn marching_squares(
    xs: &[f64],
    ys: &[f64],
    z: &[Vec<f64>],
    level: f64,
) -> Vec<Vec<(f64, f64)>> {
    let (nx, ny) = (xs.len(), ys.len());
    if nx < 2 || ny < 2 || !level.is_finite() {
        return Vec::new();
    }
    let at = |ix: usize, iy: usize| -> f64 {
        z.get(iy)
            .and_then(|row| row.get(ix))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let n_h = ny * (nx - 1);
    // Edge ids: horizontal edges (ix,iy)-(ix+1,iy) first, then vertical (ix,iy)-(ix,iy+1).
    let h_edge = |ix: usize, iy: usize| iy * (nx - 1) + ix;
    let v_edge = |ix: usize, iy: usize| n_h + iy * nx + ix;
    let point = |edge: usize| -> (f64, f64) {
        if edge < n_h {
            let (iy, ix) = (edge / (nx - 1), edge % (nx - 1));
            let (z0, z1) = (at(ix, iy), at(ix + 1, iy));
            let t = (level - z0) / (z1 - z0);
            (xs[ix] + t * (xs[ix + 1] - xs[ix]), ys[iy])
        } else {
            let e = edge - n_h;
            let (iy, ix) = (e / nx, e % nx);
            let (z0, z1) = (at(ix, iy), at(ix, iy + 1));
            let t = (level - z0) / (z1 - z0);
            (xs[ix], ys[iy] + t * (ys[iy + 1] - ys[iy]))
        }
    };

    let mut segments: Vec<[usize; 2]> = Vec::new();
    for iy in 0..ny - 1 {
        for ix in 0..nx - 1 {
            let corners = [
                at(ix, iy),
                at(ix + 1, iy),
                at(ix + 1, iy + 1),
                at(ix, iy + 1),
            ];
            if corners.iter().any(|v| !v.is_finite()) {
                continue;
            }
            let inside = corners.map(|v| v >= level);
            // Edges in order bottom, right, top, left; edge k joins corners k and k+1.
            let edges = [
                h_edge(ix, iy),
                v_edge(ix + 1, iy),
                h_edge(ix, iy + 1),
                v_edge(ix, iy),
            ];
            let crossed: Vec<usize> = (0..4)
                .filter(|&k| inside[k] != inside[(k + 1) % 4])
                .collect();
            match crossed.len() {
                2 => segments.push([edges[crossed[0]], edges[crossed[1]]]),
                4 => {
                    let centre_inside = corners.iter().sum::<f64>() / 4.0 >= level;
                    // Cut off the corners that the centre does not share a side with: corner k
                    // sits between edges k-1 and k.
                    let isolated_is_inside = !centre_inside;
                    for k in 0..4 {
                        if inside[k] == isolated_is_inside {
                            segments.push([edges[(k + 3) % 4], edges[k]]);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let chains = join(&segments, n_h + nx * (ny - 1));
    let mut lines: Vec<Vec<(f64, f64)>> = chains
        .into_iter()
        .map(|chain| {
            let mut pts: Vec<(f64, f64)> = chain.into_iter().map(point).collect();
            pts.dedup();
            pts
        })
        .filter(|pts| pts.len() >= 2)
        .collect();
    merge_touching(&mut lines);
    lines
}

/// Walks segments (pairs of edge ids) into chains of edge ids. Each edge is shared by at most
/// two cells, so the segments form paths and cycles.
fn join(segments: &[[usize; 2]], n_edges: usize) -> Vec<Vec<usize>> {
    const NONE: usize = usize::MAX;
    let mut by_edge = vec![[NONE; 2]; n_edges];
    for (s, seg) in segments.iter().enumerate() {
        for &e in seg {
            let slot = &mut by_edge[e];
            if slot[0] == NONE {
                slot[0] = s;
            } else {
                slot[1] = s;
            }
        }
    }
    let mut used = vec![false; segments.len()];
    let mut chains = Vec::new();
    for start in 0..segments.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let mut chain = std::collections::VecDeque::from(segments[start].to_vec());
        for forward in [true, false] {
            loop {
                let end = if forward {
                    *chain.back().unwrap()
                } else {
                    *chain.front().unwrap()
                };
                let Some(&s) = by_edge[end].iter().find(|&&s| s != NONE && !used[s]) else {
                    break;
                };
                used[s] = true;
                let next = if segments[s][0] == end {
                    segments[s][1]
                } else {
                    segments[s][0]
                };
                if forward {
                    chain.push_back(next);
                } else {
                    chain.push_front(next);
                }
            }
        }
        chains.push(chain.into_iter().collect());
    }
    chains
}

/// Joins polylines whose ends coincide. Where the field equals the level exactly at a grid node
/// the line passes through the node via two different edges, which `join` sees as distinct.
fn merge_touching(lines: &mut Vec<Vec<(f64, f64)>>) {
    let same = |a: (f64, f64), b: (f64, f64)| {
        let tol = 1e-12 * (1.0 + a.0.abs().max(a.1.abs()));
        (a.0 - b.0).abs() <= tol && (a.1 - b.1).abs() <= tol
    };
    let closed = |l: &[(f64, f64)]| l.len() > 2 && same(l[0], l[l.len() - 1]);
    let mut i = 0;
    while i < lines.len() {
        let mut merged = false;
        if !closed(&lines[i]) {
            for j in i + 1..lines.len() {
                if closed(&lines[j]) {
                    continue;
                }
                let (a0, a1) = (lines[i][0], *lines[i].last().unwrap());
                let (b0, b1) = (lines[j][0], *lines[j].last().unwrap());
                let mut other = lines.remove(j);
                let this = &mut lines[i];
                if same(a1, b0) {
                    this.extend(other.drain(1..));
                } else if same(a1, b1) {
                    other.reverse();
                    this.extend(other.drain(1..));
                } else if same(a0, b1) {
                    other.extend(this.drain(1..));
                    *this = other;
                } else if same(a0, b0) {
                    other.reverse();
                    other.extend(this.drain(1..));
                    *this = other;
                } else {
                    lines.insert(j, other);
                    continue;
                }
                merged = true;
                break;
            }
        }
        if !merged {
            i += 1;
        }
    }
}

/// Viridis, a sequential colour-blind-safe map, sampled at ninths.
const VIRIDIS: [[u8; 3]; 9] = [
    [0x44, 0x01, 0x54],
    [0x48, 0x28, 0x78],
    [0x3E, 0x49, 0x89],
    [0x31, 0x68, 0x8E],
    [0x26, 0x82, 0x8E],
    [0x1F, 0x9E, 0x89],
    [0x35, 0xB7, 0x79],
    [0x6D, 0xCD, 0x59],
    [0xFD, 0xE7, 0x25],
];

/// The colour of level `i` of `n`, spread over viridis short of its pale yellow end, which
/// vanishes on white.
fn level_color(i: usize, n: usize) -> RGBColor {
    let t = if n <= 1 {
        0.0
    } else {
        0.85 * i as f64 / (n - 1) as f64
    };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let u = pos - k as f64;
    let (c0, c1) = (VIRIDIS[k], VIRIDIS[k + 1]);
    let mix = |a: u8, b: u8| (f64::from(a) + u * (f64::from(b) - f64::from(a))).round() as u8;
    RGBColor(mix(c0[0], c1[0]), mix(c0[1], c1[1]), mix(c0[2], c1[2]))
}

/// A level colour darkened for text, so that the light greens stay readable on white.
fn label_color(c: RGBColor) -> RGBColor {
    let d = |v: u8| (f64::from(v) * 0.62).round() as u8;
    RGBColor(d(c.0), d(c.1), d(c.2))
}

/// A level as written on its line: three significant digits, ` %` appended when z is a
/// percentage.
fn level_text(level: f64, z_label: &str) -> String {
    let s = numfmt::sig(level, 3);
    if z_label.contains('%') {
        format!("{s} %")
    } else {
        s
    }
}

/// Where a level stands against the sampled field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crossing {
    /// Some samples lie on each side: the level draws a line.
    Crossed,
    /// Every sample is below the level.
    Above,
    /// Every sample is at or above the level.
    Below,
}

/// The finite samples of a field, row after row: what a level can cross.
pub(crate) fn finite_values(z: &[Vec<f64>]) -> Vec<f64> {
    z.iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect()
}

fn crossing(level: f64, z: &[Vec<f64>]) -> Crossing {
    let finite = finite_values(z);
    if finite.iter().all(|v| *v < level) {
        Crossing::Above
    } else if finite.iter().all(|v| *v >= level) {
        Crossing::Below
    } else {
        Crossing::Crossed
    }
}

/// Renders a contour chart as an SVG document 800 pixels wide.
///
/// Each level is traced by [`marching_squares`] in plot space (so on log axes the lines
/// interpolate in log coordinates, as the eye reads them), drawn in a viridis colour and
/// labelled inline where the line is long enough; small grey dots mark the samples. A legend
/// right of the plot lists the levels under [`ContourChart::z_label`], greying those that no
/// line crosses. When no level is crossed the plot says so with the field's range, and the
/// chart's notes follow under it. Identical charts give byte-identical output.
pub fn contour_svg(c: &ContourChart) -> String {
    let notes = Notes::new(&c.notes);
    let footer = notes.height();
    let height = f64::from(HEIGHT) + if footer > 0.0 { 4.0 + footer } else { 0.0 };
    render(height.ceil() as u32, |root| draw(root, c, &notes))
}

/// Widest the legend title may be before it wraps.
const LEGEND_TITLE_W: f64 = 150.0;

fn draw(root: &Root, c: &ContourChart, notes: &Notes) -> Result<(), String> {
    let finite = |v: &[f64]| -> Vec<f64> { v.iter().copied().filter(|x| x.is_finite()).collect() };
    let x_axis = Axis {
        log: Some(c.x.log.unwrap_or_else(|| auto_log(&finite(&c.xs)))),
        ..c.x.clone()
    };
    let y_axis = Axis {
        log: Some(c.y.log.unwrap_or_else(|| auto_log(&finite(&c.ys)))),
        ..c.y.clone()
    };
    let mut levels: Vec<f64> = c.levels.iter().copied().filter(|v| v.is_finite()).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let title_lines = wrap(&c.z_label, LEGEND_PX, LEGEND_TITLE_W);

    // Grid columns and rows that can be drawn, sorted along each axis.
    let (xi, px) = plot_coords(&c.xs, |v| to_plot(v, x_axis.log == Some(true)));
    let (yi, py) = plot_coords(&c.ys, |v| to_plot(v, y_axis.log == Some(true)));
    let xs_kept: Vec<f64> = xi.iter().map(|&i| c.xs[i]).collect();
    let ys_kept: Vec<f64> = yi.iter().map(|&i| c.ys[i]).collect();
    let z: Vec<Vec<f64>> = yi
        .iter()
        .map(|&iy| {
            xi.iter()
                .map(|&ix| {
                    c.z.get(iy)
                        .and_then(|r| r.get(ix))
                        .copied()
                        .unwrap_or(f64::NAN)
                })
                .collect()
        })
        .collect();
    let crossings: Vec<Crossing> = levels.iter().map(|l| crossing(*l, &z)).collect();
    let legend_rows: Vec<String> = levels
        .iter()
        .zip(&crossings)
        .map(|(l, k)| {
            let t = level_text(*l, &c.z_label);
            match k {
                Crossing::Crossed => t,
                Crossing::Above | Crossing::Below => format!("{t} (nowhere)"),
            }
        })
        .collect();
    let legend_w = legend_rows
        .iter()
        .map(|t| 34.0 + text_width(t, LEGEND_PX))
        .chain(title_lines.iter().map(|t| text_width(t, LEGEND_PX)))
        .fold(0.0, f64::max)
        + 14.0;
    let head = Heading::new(&c.title, c.subtitle.as_deref());
    let frame = layout(
        &head,
        (&x_axis, &xs_kept),
        (&y_axis, &ys_kept),
        false,
        legend_w + 16.0,
    );

    let chart = draw_frame(root, &frame, &head, &x_axis, &y_axis)?;
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    // Where the field was sampled: a dense grid would turn to grey fog, so only small ones.
    if px.len() * py.len() <= 400 {
        for (iy, &y) in py.iter().enumerate() {
            for (ix, &x) in px.iter().enumerate() {
                if z[iy][ix].is_finite() {
                    chart
                        .plotting_area()
                        .draw(&Circle::new((x, y), 2, SAMPLE.filled()))
                        .map_err(err)?;
                }
            }
        }
    }
    let mut labels: Vec<(Rect, String, RGBColor)> = Vec::new();
    let mut any = false;
    for (i, &level) in levels.iter().enumerate() {
        let color = level_color(i, levels.len());
        for line in marching_squares(&px, &py, &z, level) {
            any = true;
            chart
                .plotting_area()
                .draw(&PathElement::new(line.clone(), color.stroke_width(2)))
                .map_err(err)?;
            let pixels: Vec<(f64, f64)> = line
                .iter()
                .map(|p| {
                    let b = chart.backend_coord(p);
                    (f64::from(b.0), f64::from(b.1))
                })
                .collect();
            let text = level_text(level, &c.z_label);
            if let Some(rect) = place_label(&pixels, &text, &frame, &labels) {
                labels.push((rect, text, color));
            }
        }
    }
    // Labels last, each on a white patch that breaks its line, as on a topographic map.
    for (rect, text, color) in &labels {
        root.draw(&Rectangle::new(
            [
                (rect.x0 as i32, rect.y0 as i32),
                (rect.x1 as i32, rect.y1 as i32),
            ],
            WHITE.filled(),
        ))
        .map_err(err)?;
        let at = (
            ((rect.x0 + rect.x1) / 2.0).round() as i32,
            ((rect.y0 + rect.y1) / 2.0).round() as i32,
        );
        let style = anchored(
            font(NOTE_PX).style(FontStyle::Bold),
            label_color(*color),
            HPos::Center,
            VPos::Center,
        );
        put_text(root, text, at, style)?;
    }
    if !any {
        let values: Vec<f64> = z
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let note = match (
            values.iter().copied().reduce(f64::min),
            values.iter().copied().reduce(f64::max),
        ) {
            (Some(lo), Some(hi)) => {
                let range = if level_text(lo, &c.z_label) == level_text(hi, &c.z_label) {
                    level_text(lo, &c.z_label)
                } else {
                    format!(
                        "{} to {}",
                        level_text(lo, &c.z_label),
                        level_text(hi, &c.z_label)
                    )
                };
                format!("{range} at every sample:\nno contour level is crossed")
            }
            _ => "no data".to_owned(),
        };
        no_data_note(root, &frame, &note)?;
    }
    draw_level_legend(root, &frame, &title_lines, &legend_rows, &crossings)?;
    notes.draw(root, f64::from(HEIGHT) + 4.0)
}

/// Indices of the drawable values (finite, positive on a log axis) sorted by position, with
/// their plot-space coordinates.
fn plot_coords(values: &[f64], to_plot: impl Fn(f64) -> Option<f64>) -> (Vec<usize>, Vec<f64>) {
    let mut kept: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, &v)| to_plot(v).map(|p| (i, p)))
        .collect();
    kept.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    kept.dedup_by(|a, b| a.1 == b.1);
    kept.into_iter().unzip()
}

/// A label box on the polyline, at the first of a few spots along its length that stays in the
/// plot and clear of earlier labels; `None` for lines too short to carry one.
fn place_label(
    pixels: &[(f64, f64)],
    text: &str,
    frame: &Frame,
    taken: &[(Rect, String, RGBColor)],
) -> Option<Rect> {
    let mut cum = vec![0.0];
    for w in pixels.windows(2) {
        let d = (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1);
        cum.push(cum.last().unwrap() + d);
    }
    let total = *cum.last()?;
    let w = text_width(text, NOTE_PX) + 8.0;
    let h = NOTE_PX + 5.0;
    if total < w * 2.0 {
        return None;
    }
    for frac in [0.5, 0.3, 0.7, 0.15, 0.85] {
        let target = total * frac;
        let k = cum
            .partition_point(|&c| c < target)
            .clamp(1, pixels.len() - 1);
        let seg = cum[k] - cum[k - 1];
        let t = if seg > 0.0 {
            (target - cum[k - 1]) / seg
        } else {
            0.0
        };
        let (a, b) = (pixels[k - 1], pixels[k]);
        let p = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
        let rect = Rect {
            x0: p.0 - w / 2.0,
            y0: p.1 - h / 2.0,
            x1: p.0 + w / 2.0,
            y1: p.1 + h / 2.0,
        };
        let inside = rect.x0 > frame.plot.x0 + 2.0
            && rect.x1 < frame.plot.x1 - 2.0
            && rect.y0 > frame.plot.y0 + 2.0
            && rect.y1 < frame.plot.y1 - 2.0;
        if inside && !taken.iter().any(|(r, _, _)| r.overlaps(&rect)) {
            return Some(rect);
        }
    }
    None
}

fn draw_level_legend(
    root: &Root,
    frame: &Frame,
    title: &[String],
    rows: &[String],
    crossings: &[Crossing],
) -> Result<(), String> {
    let x = (frame.plot.x1 + 16.0).round() as i32;
    let y = frame.plot.y0.round() as i32;
    let style = anchored(font(LEGEND_PX), TEXT, HPos::Left, VPos::Top);
    for (i, line) in title.iter().enumerate() {
        put_text(root, line, (x, y + 16 * i as i32), style.clone())?;
    }
    let first = y + 10 + 16 * title.len().max(1) as i32;
    for (i, text) in rows.iter().enumerate() {
        let cy = first + 18 * i as i32;
        let crossed = crossings.get(i) == Some(&Crossing::Crossed);
        let (color, ink) = if crossed {
            (level_color(i, rows.len()), TEXT)
        } else {
            (GREYED, GREYED)
        };
        root.draw(&PathElement::new(
            vec![(x, cy), (x + 26, cy)],
            color.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?;
        let style = anchored(font(LEGEND_PX), ink, HPos::Left, VPos::Center);
        put_text(root, text, (x + 34, cy), style)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Unit;
    use super::super::tests::assert_well_formed;
    use super::*;

    fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
            .collect()
    }

    fn field(xs: &[f64], ys: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<Vec<f64>> {
        ys.iter()
            .map(|&y| xs.iter().map(|&x| f(x, y)).collect())
            .collect()
    }

    #[test]
    fn plane_gives_one_straight_segment() {
        // A grid offset so that x + y = 1 crosses cell edges, not nodes.
        let xs = linspace(0.0, 1.0, 11);
        let ys = linspace(0.05, 1.05, 11);
        let z = field(&xs, &ys, |x, y| x + y);
        let lines = marching_squares(&xs, &ys, &z, 1.0);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let l = &lines[0];
        for p in l {
            assert!((p.0 + p.1 - 1.0).abs() < 1e-12, "{p:?} off the line");
        }
        let (a, b) = (l[0], l[l.len() - 1]);
        let (lo, hi) = if a.0 < b.0 { (a, b) } else { (b, a) };
        // Ends where x + y = 1 meets the grid boundary: x = 0 (y = 1) and y = 0.05 (x = 0.95).
        assert!(
            (lo.0 - 0.0).abs() < 1e-12 && (lo.1 - 1.0).abs() < 1e-12,
            "{lo:?}"
        );
        assert!(
            (hi.0 - 0.95).abs() < 1e-12 && (hi.1 - 0.05).abs() < 1e-12,
            "{hi:?}"
        );
    }

    #[test]
    fn plane_through_grid_nodes_is_still_one_line() {
        let xs = linspace(0.0, 1.0, 5);
        let ys = xs.clone();
        let z = field(&xs, &ys, |x, y| x + y);
        let lines = marching_squares(&xs, &ys, &z, 1.0);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let l = &lines[0];
        assert!(l.iter().all(|p| (p.0 + p.1 - 1.0).abs() < 1e-12));
        let ends = [l[0], l[l.len() - 1]];
        assert!(
            ends.contains(&(0.0, 1.0)) && ends.contains(&(1.0, 0.0)),
            "{l:?}"
        );
    }

    #[test]
    fn circle_points_lie_on_the_circle() {
        let xs = linspace(-1.0, 1.0, 21);
        let ys = linspace(-1.0, 1.0, 21);
        let z = field(&xs, &ys, |x, y| x * x + y * y);
        let r = 0.7;
        let lines = marching_squares(&xs, &ys, &z, r * r);
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(l[0], l[l.len() - 1], "a circle closes");
        assert!(l.len() > 20);
        // Linear interpolation of a quadratic on h = 0.1 errs by well under h²/r.
        for p in l {
            let d = p.0.hypot(p.1);
            assert!((d - r).abs() < 0.01, "{p:?} at distance {d}");
        }
    }

    #[test]
    fn saddles_are_resolved_consistently() {
        // z = x·y has a saddle at the origin: level 0 cells around it are ambiguous.
        let xs = linspace(-1.0, 1.0, 4);
        let ys = linspace(-1.0, 1.0, 4);
        let z = field(&xs, &ys, |x, y| x * y + 0.01);
        let lines = marching_squares(&xs, &ys, &z, 0.0);
        // Two hyperbola branches, never crossing each other.
        assert_eq!(lines.len(), 2, "{lines:?}");
        for l in &lines {
            assert!(l.len() >= 2);
        }
    }

    #[test]
    fn missing_samples_and_degenerate_grids() {
        let xs = linspace(0.0, 1.0, 4);
        let mut z = field(&xs, &xs, |x, y| x + y);
        z[1][1] = f64::NAN;
        let lines = marching_squares(&xs, &xs, &z, 1.0);
        assert!(
            lines
                .iter()
                .flatten()
                .all(|p| p.0.is_finite() && p.1.is_finite())
        );
        assert!(marching_squares(&[], &[], &[], 1.0).is_empty());
        assert!(marching_squares(&[1.0], &[1.0, 2.0], &[vec![1.0], vec![2.0]], 1.5).is_empty());
        // Ragged rows read as missing samples.
        assert!(marching_squares(&xs, &xs, &[vec![0.0]], 1.0).is_empty());
    }

    fn sample() -> ContourChart {
        let xs: Vec<f64> = (0..9)
            .map(|i| 2e11 * 2f64.powf(f64::from(i) * 0.5))
            .collect();
        let ys: Vec<f64> = (0..9)
            .map(|i| 1e-6 * 2f64.powf(f64::from(i) * 0.5))
            .collect();
        let z = field(&xs, &ys, |bw, lat| {
            100.0 * (lat / 1e-6).sqrt() * 1e11 / (bw + 1e11) * 4.0
        });
        ContourChart {
            title: "tg degradation vs HBF bandwidth and latency".into(),
            subtitle: Some("Llama-3.1-70B · seed 42".into()),
            x: Axis::new("HBF read bandwidth", Unit::BytesPerSec),
            y: Axis::new("HBF read latency", Unit::Seconds),
            xs,
            ys,
            z,
            levels: vec![5.0, 10.0, 20.0, 50.0],
            z_label: "tg degradation %".into(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn contour_chart_is_deterministic_and_well_formed() {
        let a = contour_svg(&sample());
        assert_eq!(a, contour_svg(&sample()));
        assert_well_formed(&a);
        assert!(a.contains("10 %"));
        assert!(a.contains("HBF read latency (µs)"), "{a}");
    }

    #[test]
    fn contour_chart_degenerate_inputs() {
        let mut c = sample();
        c.z = vec![];
        assert!(contour_svg(&c).contains("no data"));
        c.xs = vec![f64::NAN];
        c.ys = vec![];
        c.levels = vec![f64::NAN];
        assert_well_formed(&contour_svg(&c));
        let mut c = sample();
        c.levels = vec![1e9];
        let svg = contour_svg(&c);
        assert!(svg.contains("at every sample:"), "{svg}");
        assert!(svg.contains("no contour level is crossed"), "{svg}");
        assert!(svg.contains("(nowhere)"));
        // Unsorted grids are sorted, not misdrawn.
        let mut c = sample();
        c.xs.reverse();
        for row in &mut c.z {
            row.reverse();
        }
        assert_eq!(contour_svg(&c), contour_svg(&sample()));
    }

    #[test]
    fn level_labels() {
        assert_eq!(level_text(5.0, "tg degradation %"), "5 %");
        assert_eq!(level_text(2.5, "slowdown"), "2.5");
        assert_eq!(level_text(-0.0, "slowdown"), "0");
    }

    #[test]
    fn crossings_tell_exceeded_from_not_reached() {
        let z = vec![vec![66.0, 67.0], vec![66.5, f64::NAN]];
        assert_eq!(crossing(50.0, &z), Crossing::Below);
        assert_eq!(crossing(80.0, &z), Crossing::Above);
        assert_eq!(crossing(66.7, &z), Crossing::Crossed);
    }

    #[test]
    fn empty_contour_states_the_range_and_notes_grow_the_image() {
        let mut c = sample();
        c.z =
            c.z.iter()
                .map(|r| r.iter().map(|_| 66.0).collect())
                .collect();
        c.notes = vec!["Prefill is 66 % below all-HBM at every point.".into()];
        let svg = contour_svg(&c);
        assert_well_formed(&svg);
        assert!(svg.contains("66 % at every sample:"), "{svg}");
        assert!(svg.contains("• Prefill is 66 % below all-HBM at every point."));
        assert!(!svg.contains("height=\"500\""));
    }
}
