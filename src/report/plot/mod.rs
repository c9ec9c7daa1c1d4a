//! SVG charts of simulated results: tokens/s against a tier parameter, decode ceilings
//! (formula against simulation), requirement curves, and iso-degradation contours.
//!
//! The module is data-level: it takes numbers, units and labels and returns an SVG document as a
//! `String`; it knows nothing of sweeps or files.
//!
//! # Why plotters, and how it is used without fonts
//!
//! Drawing goes through the [`plotters`] crate with only its SVG backend and line series
//! (`default-features = false`). Without its `ttf`/`ab_glyph` features plotters measures text
//! with a built-in estimate (0.7 em per character) instead of a font file, so nothing here links
//! fontconfig or freetype or reads a font; the SVG carries plain `<text>` with
//! `font-family="sans-serif"` and the viewer's font draws it. Plotters gives the coordinate
//! mapping, the grid, ticks and tick labels, and the SVG primitives. What it does not do, this
//! module adds:
//!
//! - tick choice: plotters' own log ticks are powers of the base only and its linear ticks do not
//!   look at label widths, so each axis hands plotters a custom coordinate
//!   (`axis::TickCoord`) whose key points are the 1-2-5 ticks that fit, labelled with
//!   SI-prefixed units (`100GB/s`, `4us`);
//! - log axes: data are mapped to `log10` before they reach plotters, so one linear coordinate
//!   type serves both scales;
//! - layout: title, subtitle, axis titles and the legend are placed here, with the legend put in
//!   the first plot corner that covers no data (or right of the plot when none is free);
//! - contours: plotters has none; [`marching_squares`] traces them.
//!
//! Output is deterministic: plotters writes integer pixel coordinates and fixed attribute order,
//! and nothing here reads a clock or draws a random id.

mod axis;
pub(crate) mod contour;
mod footer;
mod line;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use self::axis::format_value;
pub use self::contour::{contour_svg, marching_squares};
pub use self::line::line_svg;

use self::axis::{AxisSpec, TickCoord};

/// How a curve is stroked. Line style carries one dimension of a chart (which system), colour
/// another (which latency), so that the two read apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineStyle {
    /// A solid line.
    #[default]
    Solid,
    /// Long dashes.
    Dashed,
    /// Short dots.
    Dotted,
    /// Long and short dashes in turn.
    DashDot,
    /// Markers alone, no line: values at named categories, which no line may suggest are
    /// ordered or interpolable.
    Markers,
}

impl LineStyle {
    /// The styles in the order a chart hands them out.
    pub const ALL: [LineStyle; 4] = [
        LineStyle::Solid,
        LineStyle::Dashed,
        LineStyle::Dotted,
        LineStyle::DashDot,
    ];

    /// Dash and gap lengths in pixels, `None` for a solid line.
    fn pattern(self) -> Option<(u32, u32)> {
        match self {
            LineStyle::Solid => None,
            LineStyle::Dashed => Some((9, 5)),
            LineStyle::Dotted => Some((2, 4)),
            LineStyle::DashDot => Some((12, 4)),
            LineStyle::Markers => None,
        }
    }
}

/// One curve of a [`LineChart`]: a label for the legend, its points in data units and its
/// stroke.
///
/// Points with a NaN or infinite coordinate (or a non-positive one on a log axis) are skipped,
/// and the line is broken there rather than drawn across the gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text; a lone series with an empty label gets no legend.
    pub label: String,
    /// `(x, y)` in the axes' units, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// Palette index of the colour (and marker shape); `None` takes the series' position.
    pub colour: Option<usize>,
    /// The stroke.
    pub line: LineStyle,
}

impl Series {
    /// A solid series from a label and its points, coloured by its position in the chart.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            colour: None,
            line: LineStyle::Solid,
        }
    }

    /// The same series with palette colour `colour` and stroke `line`.
    pub fn styled(mut self, colour: usize, line: LineStyle) -> Self {
        self.colour = Some(colour);
        self.line = line;
        self
    }
}

/// A horizontal reference line, such as a baseline, labelled at one end.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The label written beside the line.
    pub label: String,
    /// Its height, in y units.
    pub value: f64,
    /// Palette index when the line belongs to one series' colour; grey when `None`.
    pub colour: Option<usize>,
}

impl Reference {
    /// A grey reference line.
    pub fn new(label: impl Into<String>, value: f64) -> Self {
        Reference {
            label: label.into(),
            value,
            colour: None,
        }
    }
}

/// A place on the x axis where curves have no point, such as a requirement not met there: a
/// dotted vertical line with a short label, so that the gap is seen, not just missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// Where, in x units (the x axis stretches to include it).
    pub x: f64,
    /// A short label by the line: `not met`.
    pub label: String,
}

/// The physical unit of an axis: it sets the unit in the axis title, the prefix the tick values
/// are divided by (one prefix per axis, chosen from its range), and how ticks are placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// Bytes per second, decimal prefixes: the title reads `(GB/s)`, ticks `10 20 50 100`.
    BytesPerSec,
    /// Bytes, decimal prefixes (`GB`); log axes tick at 1-2-5 decades.
    Bytes,
    /// Bytes counted in powers of two (`GiB`): linear ticks are whole multiples of a binary
    /// unit, log ticks powers of two.
    BinaryBytes,
    /// Seconds, decimal prefixes down to picoseconds: `(µs)`.
    Seconds,
    /// Tokens per second, without prefix.
    TokensPerSec,
    /// Values already in percent: `90` is 90 %.
    Percent,
    /// A dimensionless count (queue depth, batch): plain numbers, thousands grouped.
    Count,
    /// A dimensionless ratio: plain numbers.
    Ratio,
    /// Any other unit: plain numbers, and this text in the axis title.
    Custom(String),
    /// Named categories without order or scale (the readings of a figure): value `i` is the
    /// `i`-th name, each ticked once.
    Category(Vec<String>),
}

impl Unit {
    /// The unit as written in an axis title before any prefix, or `None` for dimensionless
    /// axes.
    pub fn symbol(&self) -> Option<&str> {
        match self {
            Unit::BytesPerSec => Some("B/s"),
            Unit::Bytes | Unit::BinaryBytes => Some("B"),
            Unit::Seconds => Some("s"),
            Unit::TokensPerSec => Some("tokens/s"),
            Unit::Percent => Some("%"),
            Unit::Count | Unit::Ratio | Unit::Category(_) => None,
            Unit::Custom(s) if s.is_empty() => None,
            Unit::Custom(s) => Some(s),
        }
    }
}

/// An axis: what it measures, in which unit, and whether it is logarithmic.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// What the axis measures, without the unit: `HBF read bandwidth`.
    pub label: String,
    /// The unit, appended to the title with the axis' prefix and used to place ticks.
    pub unit: Unit,
    /// `Some(true)` forces a log scale, `Some(false)` a linear one, `None` lets [`auto_log`]
    /// decide from the data.
    pub log: Option<bool>,
}

impl Axis {
    /// An axis whose scale is chosen from the data.
    pub fn new(label: impl Into<String>, unit: Unit) -> Self {
        Axis {
            label: label.into(),
            unit,
            log: None,
        }
    }

    /// The axis title with its unit as prefixed on the drawn axis: `HBF read bandwidth (GB/s)`.
    fn title_with(&self, unit: Option<&str>) -> String {
        match unit {
            Some(u) => format!("{} ({u})", self.label),
            None => self.label.clone(),
        }
    }
}

/// A chart of curves `y(x)`, with optional horizontal reference lines and notes.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// The headline above the plot.
    pub title: String,
    /// Smaller lines under the title (model, systems, seed), separated by `\n`.
    pub subtitle: Option<String>,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The curves, in legend order.
    pub series: Vec<Series>,
    /// Horizontal reference lines, e.g. the all-HBM baseline.
    pub references: Vec<Reference>,
    /// Vertical marks where curves have no point.
    pub gaps: Vec<Gap>,
    /// Sentences printed under the chart: what did not meet its target, what is missing.
    pub notes: Vec<String>,
}

/// Iso-lines of a field `z(x, y)` sampled on a rectilinear grid.
#[derive(Debug, Clone, PartialEq)]
pub struct ContourChart {
    /// The headline above the plot.
    pub title: String,
    /// Smaller lines under the title, separated by `\n`.
    pub subtitle: Option<String>,
    /// The horizontal axis (for `xs`).
    pub x: Axis,
    /// The vertical axis (for `ys`).
    pub y: Axis,
    /// Grid abscissas; need not be sorted. Non-finite ones drop their column.
    pub xs: Vec<f64>,
    /// Grid ordinates; need not be sorted. Non-finite ones drop their row.
    pub ys: Vec<f64>,
    /// `z[iy][ix]` at `(xs[ix], ys[iy])`; NaN marks a missing sample, and cells touching one
    /// draw no line.
    pub z: Vec<Vec<f64>>,
    /// The z values to draw iso-lines at.
    pub levels: Vec<f64>,
    /// What z measures, shown over the level legend: `tg below baseline (%)`. A `%` in it makes
    /// level labels read `5 %`.
    pub z_label: String,
    /// Sentences printed under the chart.
    pub notes: Vec<String>,
}

/// Whether values call for a log scale: every finite value positive, and the largest at least
/// 20 times the smallest — beyond that the smallest would sit in the first 5 % of a linear
/// axis, its neighbours crowded against it.
pub fn auto_log(values: &[f64]) -> bool {
    let mut finite = values.iter().copied().filter(|v| v.is_finite());
    let Some(first) = finite.next() else {
        return false;
    };
    let (mut lo, mut hi) = (first, first);
    for v in finite {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    lo > 0.0 && hi / lo >= 20.0 * (1.0 - 1e-12)
}

/// Chart width in pixels, and the height of the chart without its footer (legend rows under
/// the plot and notes make the image taller).
const WIDTH: u32 = 800;
const HEIGHT: u32 = 500;

/// Font sizes in px. Plotters' SVG backend writes `size / 1.24`, so the sizes handed to it are
/// scaled by 1.24; these values divide back exactly, keeping `font-size` attributes clean.
const TITLE_PX: f64 = 17.0;
const SUBTITLE_PX: f64 = 12.0;
const AXIS_TITLE_PX: f64 = 14.0;
const TICK_PX: f64 = 12.0;
const LEGEND_PX: f64 = 12.0;
const NOTE_PX: f64 = 11.0;
/// The smallest a long title shrinks to before it is left to overhang.
const TITLE_MIN_PX: f64 = 13.0;
/// Vertical pitch of subtitle lines.
const SUBTITLE_ROW: f64 = SUBTITLE_PX + 5.0;

const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);
const GRID_MAJOR: RGBColor = RGBColor(0xD9, 0xD9, 0xD9);
const GRID_MINOR: RGBColor = RGBColor(0xF0, 0xF0, 0xF0);
const FRAME: RGBColor = RGBColor(0x88, 0x88, 0x88);

/// The Okabe–Ito palette, distinguishable under the common colour-vision deficiencies, ordered
/// so that the first few series contrast most; its yellow is left out as too faint on white.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
];

/// Estimated width of `s` in pixels at `px`, in a typical sans-serif (DejaVu Sans, Arial).
///
/// There is no font to measure, so layout leans on per-character classes, erring wide: a label
/// given too much room looks fine, one given too little overlaps its neighbour.
fn text_width(s: &str, px: f64) -> f64 {
    let em: f64 = s
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 0.3,
            ' ' | 'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '/' | '-' => 0.4,
            'm' | 'w' | 'M' | 'W' | '%' | '—' => 0.9,
            'A'..='Z' => 0.7,
            _ => 0.62,
        })
        .sum();
    em * px
}

/// A font for plotters at `px` pixels (see [`TITLE_PX`] for the 1.24 factor).
fn font(px: f64) -> FontDesc<'static> {
    ("sans-serif", px * 1.24).into_font()
}

type Root<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Writes `s` at pixel `(x, y)` on the root area, anchored by `pos`.
fn put_text(root: &Root, s: &str, at: (i32, i32), style: TextStyle) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    root.draw(&Text::new(s.to_string(), at, style))
        .map_err(|e| e.to_string())
}

fn anchored(font: FontDesc<'static>, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    font.color(&color).pos(Pos::new(h, v))
}

/// A pixel rectangle `[x0, x1) × [y0, y1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    fn contains(&self, p: (f64, f64)) -> bool {
        p.0 >= self.x0 && p.0 <= self.x1 && p.1 >= self.y0 && p.1 <= self.y1
    }
}

/// The title block: the title at a size that fits the width, and the subtitle wrapped into
/// lines.
#[derive(Debug, Clone)]
struct Heading {
    title: String,
    title_px: f64,
    lines: Vec<String>,
}

impl Heading {
    fn new(title: &str, subtitle: Option<&str>) -> Self {
        let room = f64::from(WIDTH) - 24.0;
        let natural = text_width(title, TITLE_PX);
        let title_px = if natural > room {
            (TITLE_PX * room / natural).max(TITLE_MIN_PX).floor()
        } else {
            TITLE_PX
        };
        let lines = subtitle
            .map(|s| {
                s.lines()
                    .flat_map(|l| footer::wrap(l, SUBTITLE_PX, room))
                    .collect()
            })
            .unwrap_or_default();
        Heading {
            title: title.to_owned(),
            title_px,
            lines,
        }
    }

    /// Pixels from the top of the image to the top of the plot.
    fn height(&self) -> f64 {
        let sub = if self.lines.is_empty() {
            0.0
        } else {
            6.0 + SUBTITLE_ROW * self.lines.len() as f64
        };
        16.0 + TITLE_PX + sub + 18.0
    }
}

/// Where the plot sits in the image and how its axes are ticked.
struct Frame {
    x: AxisSpec,
    y: AxisSpec,
    /// Plot area in pixels.
    plot: Rect,
}

/// Lays out the title block, axis titles and tick labels around a plot area; `right_extra`
/// reserves room on the right (for an outside legend).
fn layout(
    head: &Heading,
    x: (&Axis, &[f64]),
    y: (&Axis, &[f64]),
    pad: bool,
    right_extra: f64,
) -> Frame {
    let top = head.height();
    let bottom = HEIGHT as f64 - (12.0 + AXIS_TITLE_PX + 10.0 + TICK_PX + 10.0);
    let mut y_spec = AxisSpec::new(y.1, y.0.log, &y.0.unit, false, bottom - top, pad);
    let left = 14.0 + AXIS_TITLE_PX + 12.0 + y_spec.max_label_width(TICK_PX) + 10.0;
    // The last x label is centred on the right edge at worst: keep half a label of room.
    let right = WIDTH as f64 - 28.0 - right_extra;
    let x_spec = AxisSpec::new(x.1, x.0.log, &x.0.unit, true, right - left, pad);
    // Both axes can tick at the bottom-left corner; when the x label there reaches under the
    // column of y labels, the two touch, and the y one gives way.
    if let (Some((xt, xl)), Some((yt, _))) = (x_spec.ticks.first(), y_spec.ticks.first()) {
        let x_off = x_spec.frac(*xt) * (right - left);
        let y_off = y_spec.frac(*yt) * (bottom - top);
        let reaches_under = x_off - text_width(xl, TICK_PX) / 2.0 < -8.0;
        if reaches_under && y_off < 8.0 && y_spec.ticks.len() > 2 {
            y_spec.ticks.remove(0);
        }
    }
    Frame {
        x: x_spec,
        y: y_spec,
        plot: Rect {
            x0: left.round(),
            y0: top.round(),
            x1: right.round(),
            y1: bottom.round(),
        },
    }
}

impl Frame {
    /// Pixel position of a plot-space point.
    fn px(&self, p: (f64, f64)) -> (f64, f64) {
        (
            self.plot.x0 + self.x.frac(p.0) * (self.plot.x1 - self.plot.x0),
            self.plot.y1 - self.y.frac(p.1) * (self.plot.y1 - self.plot.y0),
        )
    }
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<TickCoord, TickCoord>>;

/// Draws the background, title block, axis titles, grid, ticks and tick labels, and returns the
/// chart to draw data on.
fn draw_frame<'a, 'b>(
    root: &'a Root<'b>,
    f: &Frame,
    head: &Heading,
    x: &Axis,
    y: &Axis,
) -> Result<Chart<'a, 'b>, String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let cx = ((f.plot.x0 + f.plot.x1) / 2.0).round() as i32;
    let cy = ((f.plot.y0 + f.plot.y1) / 2.0).round() as i32;
    // Centred over the plot, unless that pushes a long line off the image.
    let centre = |w: f64| -> i32 {
        let half = w / 2.0 + 8.0;
        f64::from(cx).clamp(half, f64::from(WIDTH) - half).round() as i32
    };
    let bold = font(head.title_px).style(FontStyle::Bold);
    put_text(
        root,
        &head.title,
        (centre(text_width(&head.title, head.title_px)), 16),
        anchored(bold, TEXT, HPos::Center, VPos::Top),
    )?;
    for (i, line) in head.lines.iter().enumerate() {
        let at = (
            centre(text_width(line, SUBTITLE_PX)),
            (16.0 + TITLE_PX + 6.0 + SUBTITLE_ROW * i as f64) as i32,
        );
        let style = anchored(font(SUBTITLE_PX), MUTED, HPos::Center, VPos::Top);
        put_text(root, line, at, style)?;
    }
    let xt = anchored(font(AXIS_TITLE_PX), TEXT, HPos::Center, VPos::Bottom);
    let x_title = x.title_with(f.x.unit_text.as_deref());
    put_text(root, &x_title, (cx, HEIGHT as i32 - 12), xt)?;
    let yt = anchored(font(AXIS_TITLE_PX), TEXT, HPos::Center, VPos::Top)
        .transform(FontTransform::Rotate270);
    let y_title = y.title_with(f.y.unit_text.as_deref());
    put_text(root, &y_title, (14, cy), yt)?;

    // Plotters places the plot from margins plus label areas; these sum to `f.plot` exactly.
    // The image may be taller than `HEIGHT` (a footer under the chart): measure from its foot.
    let margin_left = 14 + AXIS_TITLE_PX as u32 + 6;
    let x_label_area = TICK_PX as u32 + 14;
    let height = root.dim_in_pixel().1;
    let mut chart = ChartBuilder::on(root)
        .margin_top(f.plot.y0 as u32)
        .margin_right(WIDTH - f.plot.x1 as u32)
        .margin_left(margin_left)
        .margin_bottom(height - f.plot.y1 as u32 - x_label_area)
        .x_label_area_size(x_label_area)
        .y_label_area_size(f.plot.x0 as u32 - margin_left)
        .build_cartesian_2d(f.x.coord(), f.y.coord())
        .map_err(err)?;
    let (xs, ys) = (&f.x, &f.y);
    let xfmt = |v: &f64| xs.label_at(*v);
    let yfmt = |v: &f64| ys.label_at(*v);
    chart
        .configure_mesh()
        .x_labels(1000)
        .y_labels(1000)
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .label_style(font(TICK_PX).color(&TEXT))
        .bold_line_style(GRID_MAJOR.stroke_width(1))
        .light_line_style(GRID_MINOR.stroke_width(1))
        .axis_style(FRAME.stroke_width(1))
        .set_all_tick_mark_size(4)
        .draw()
        .map_err(err)?;
    // Close the frame on the top and right, which plotters leaves open.
    let (x0, x1, y0, y1) = (
        f.plot.x0 as i32,
        f.plot.x1 as i32 - 1,
        f.plot.y0 as i32,
        f.plot.y1 as i32 - 1,
    );
    root.draw(&PathElement::new(
        vec![(x0, y0), (x1, y0), (x1, y1)],
        FRAME.stroke_width(1),
    ))
    .map_err(err)?;
    Ok(chart)
}

/// Renders through plotters into a string of `height` pixels, turning a drawing failure (which
/// an in-memory SVG backend has no cause for) into a minimal SVG carrying the message, so
/// callers get a document either way.
fn render(height: u32, draw: impl FnOnce(&Root) -> Result<(), String>) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        draw(&root).and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    match result {
        Ok(()) => {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out
        }
        Err(msg) => {
            let msg = msg
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!(
                "<svg width=\"{WIDTH}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">\
                 <text x=\"20\" y=\"40\" font-family=\"sans-serif\">plot failed: {msg}</text></svg>\n"
            )
        }
    }
}

/// A centred grey note in the plot area (lines split at `\n`, then wrapped), for charts with
/// nothing to draw, on a white patch so that it reads over grid lines.
fn no_data_note(root: &Root, f: &Frame, what: &str) -> Result<(), String> {
    let room = f.plot.x1 - f.plot.x0 - 40.0;
    let lines: Vec<String> = what
        .lines()
        .flat_map(|l| footer::wrap(l, AXIS_TITLE_PX, room))
        .collect();
    let pitch = AXIS_TITLE_PX + 6.0;
    let cx = (f.plot.x0 + f.plot.x1) / 2.0;
    let top = (f.plot.y0 + f.plot.y1) / 2.0 - pitch * lines.len() as f64 / 2.0;
    let w = lines
        .iter()
        .map(|l| text_width(l, AXIS_TITLE_PX))
        .fold(0.0, f64::max);
    root.draw(&Rectangle::new(
        [
            ((cx - w / 2.0 - 8.0) as i32, (top - 4.0) as i32),
            (
                (cx + w / 2.0 + 8.0) as i32,
                (top + pitch * lines.len() as f64 + 2.0) as i32,
            ),
        ],
        WHITE.mix(0.9).filled(),
    ))
    .map_err(|e| e.to_string())?;
    for (i, line) in lines.iter().enumerate() {
        let at = (
            cx.round() as i32,
            (top + pitch * (i as f64 + 0.5)).round() as i32,
        );
        put_text(
            root,
            line,
            at,
            anchored(font(AXIS_TITLE_PX), MUTED, HPos::Center, VPos::Center),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small XML well-formedness check: every tag closes in order, attributes are quoted, and
    /// text holds no bare `<` or `&`.
    pub(super) fn assert_well_formed(svg: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg.trim_start();
        if let Some(decl) = rest.strip_prefix("<?xml") {
            rest = &decl[decl.find("?>").expect("unterminated declaration") + 2..];
        }
        let mut roots = 0;
        while !rest.is_empty() {
            let lt = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..lt];
            check_text(text);
            assert!(
                !stack.is_empty() || text.trim().is_empty(),
                "text outside the root: {text:?}"
            );
            rest = &rest[lt..];
            if rest.is_empty() {
                break;
            }
            let gt = rest.find('>').expect("unterminated tag");
            let tag = &rest[1..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack.pop().expect("close without open");
                assert_eq!(open, name.trim(), "mismatched close tag");
            } else {
                let self_closing = tag.ends_with('/');
                let body = tag.trim_end_matches('/');
                let name: String = body.chars().take_while(|c| !c.is_whitespace()).collect();
                assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '-'),
                    "bad tag name in <{tag}>"
                );
                check_attributes(&body[name.len()..]);
                if stack.is_empty() {
                    roots += 1;
                }
                if !self_closing {
                    stack.push(name);
                }
            }
        }
        assert!(stack.is_empty(), "unclosed tags: {stack:?}");
        assert_eq!(roots, 1, "exactly one root element");
    }

    fn check_text(text: &str) {
        let mut s = text;
        while let Some(i) = s.find('&') {
            let semi = s[i..].find(';').expect("bare & in text");
            let entity = &s[i + 1..i + semi];
            assert!(
                ["amp", "lt", "gt", "quot", "apos"].contains(&entity) || entity.starts_with('#'),
                "unknown entity &{entity};"
            );
            s = &s[i + semi..];
        }
    }

    fn check_attributes(mut s: &str) {
        loop {
            s = s.trim_start();
            if s.is_empty() {
                return;
            }
            let eq = s.find('=').expect("attribute without value");
            let name = s[..eq].trim();
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '-' || c == ':'),
                "bad attribute name {name:?}"
            );
            let v = s[eq + 1..].trim_start();
            let q = v.chars().next().expect("missing attribute value");
            assert!(q == '"' || q == '\'', "unquoted attribute {name}");
            let end = v[1..].find(q).expect("unterminated attribute value");
            let value = &v[1..1 + end];
            assert!(!value.contains('<'), "< in attribute {name}");
            check_text(value);
            s = &v[end + 2..];
        }
    }

    #[test]
    fn auto_log_needs_a_twentyfold_span_of_positive_values() {
        assert!(auto_log(&[1e9, 1e11]));
        assert!(auto_log(&[1e9, f64::NAN, 5e11]));
        // 1 to 32 µs of latency: a linear axis would crowd 1, 2 and 4 µs into its first tenth.
        assert!(auto_log(&[1e-6, 32e-6]));
        assert!(!auto_log(&[1e9, 1.9e10]));
        assert!(!auto_log(&[2.0, 16.0]));
        assert!(!auto_log(&[0.0, 1e3]));
        assert!(!auto_log(&[-1.0, 1e3]));
        assert!(!auto_log(&[]));
        assert!(!auto_log(&[f64::NAN, f64::INFINITY]));
    }

    #[test]
    fn axis_titles_carry_units() {
        let a = Axis::new("HBF read bandwidth", Unit::BytesPerSec);
        assert_eq!(a.title_with(Some("GB/s")), "HBF read bandwidth (GB/s)");
        assert_eq!(
            Axis::new("queue depth", Unit::Count).title_with(None),
            "queue depth"
        );
        assert_eq!(Unit::Custom("pJ/bit".into()).symbol(), Some("pJ/bit"));
        assert_eq!(Unit::Count.symbol(), None);
    }

    #[test]
    fn long_titles_shrink_and_subtitles_wrap() {
        let h = Heading::new(
            &"a long title word ".repeat(10),
            Some(&"subtitle words ".repeat(20)),
        );
        assert!(h.title_px < TITLE_PX && h.title_px >= TITLE_MIN_PX);
        assert!(h.lines.len() >= 2, "{:?}", h.lines);
        let short = Heading::new("Decode rate", Some("one\ntwo"));
        assert_eq!(short.title_px, TITLE_PX);
        assert_eq!(short.lines, ["one", "two"]);
    }

    #[test]
    fn well_formedness_check_rejects_broken_xml() {
        let broken = [
            "<svg><g></svg>",
            "<svg>a & b</svg>",
            "<svg a=b/>",
            "<svg/><svg/>",
        ];
        for b in broken {
            assert!(
                std::panic::catch_unwind(|| assert_well_formed(b)).is_err(),
                "{b} accepted"
            );
        }
        assert_well_formed("<svg a=\"1\"><g><text>x &amp; y</text></g><line/></svg>\n");
    }
}
