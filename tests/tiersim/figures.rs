//! The figures as a reader meets them: every SVG the default sweep writes reads in plain words
//! with units (no YAML keys, no exponents, no negative zero), unmet requirement rows and empty
//! contours are explained on the figure, `tiersim plot` redraws the same charts, and
//! `sweep --no-plots` writes no SVG at all.

use std::path::Path;

use crate::helpers::{scratch, stdout};

/// The text content of an SVG (what a viewer draws), one string per `<text>` element.
fn texts_of(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = t.split_once('>')?.1;
            Some(body.split("</text>").next()?.trim().to_owned())
        })
        .collect()
}

/// The words of an SVG in drawing order, lines joined by spaces so that a wrapped note or title
/// reads as the sentence it is.
fn words(svg: &str) -> String {
    texts_of(svg).join(" ")
}

fn svgs(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "svg").then(|| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
        })
        .collect();
    out.sort();
    out
}

/// What no figure may show: YAML keys, internal names, exponents, negative zero, long digits.
fn assert_human(name: &str, svg: &str) {
    let all = words(svg);
    for bad in [
        "latency_scale",
        "system=",
        "read_bw",
        "arrival_rate_per_s",
        "baseline: everything in the first tier",
        "e+0",
        "e-0",
        "-0.0",
        "NaN",
        "inf",
        "h100-hbf —",
        "scale (x)",
    ] {
        assert!(!all.contains(bad), "{name} shows `{bad}`:\n{all}");
    }
    // No number printed with more than six significant digits (`1.207959552GB`).
    for word in all.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
        let digits = word.chars().filter(char::is_ascii_digit).count();
        assert!(
            digits <= 6 || !word.contains('.'),
            "{name} prints `{word}`:\n{all}"
        );
    }
}

#[test]
fn the_default_sweep_draws_figures_in_plain_words_with_units() {
    let dir = scratch("figures-default");
    let out = stdout(&[
        "sweep",
        "--out",
        dir.to_str().unwrap(),
        "--no-progress",
        "--threads",
        "2",
    ]);
    // What the terminal shows is human too: the ceiling table's MB/s without exponent, shares
    // without negative zero, sizes and times with three digits.
    assert!(!out.contains("e+0") && !out.contains("-0.0 "), "{out}");
    assert!(out.contains("| 1,600,000 |"), "{out}");
    assert!(out.contains("1.21 GB read per token") && out.contains("4.32 µs mean read"));
    assert!(out.contains("not met within 10 GB/s to 20 TB/s"), "{out}");

    let figures = svgs(&dir);
    let names: Vec<&str> = figures.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "ceiling-qwen2.5-3b-hbf.svg",
            "hbf-min-read-bw.require.svg",
            "kv-spill-hbf-readings.pp512-d32768.svg",
            "kv-spill-hbf-readings.tg128-d32768.svg",
        ]
    );
    for (name, svg) in &figures {
        assert_human(name, svg);
    }
    let text = |name: &str| words(&figures.iter().find(|(n, _)| n == name).unwrap().1);

    let tg = text("kv-spill-hbf-readings.tg128-d32768.svg");
    for want in [
        "Decode rate vs HBF or SSD read bandwidth",
        "HBF or SSD read bandwidth (GB/s)",
        "decode rate (tokens/s)",
        "Qwen2.5-3B-Instruct Q4_K_M, tg128 at a 32,768-token context; whole KV cache in HBF or SSD",
        "NVIDIA H100 SXM5 80GB with HBM + HBF or HBM + SSD",
        // Each reading by its label, with the array it assumes.
        "HBF, OCP spec-counts reading (256 × 4 KiB per 4 µs)",
        "HBF, Son et al. reading (400 × 4 KiB per 1 µs)",
        "HBF, Micron reading (14,063 × 4 KiB per 20 µs)",
        "SSD",
        "all-HBM baseline: 265 tokens/s",
    ] {
        assert!(tg.contains(want), "`{want}` missing:\n{tg}");
    }
    // One colour per reading: with no other axis, colour tells the systems apart.
    let tg_svg = &figures[3].1;
    // Curves and legend samples are the 2 px strokes; greys (axes, baseline) are not curves.
    let colours: std::collections::BTreeSet<&str> = tg_svg
        .split("stroke=\"")
        .skip(1)
        .filter_map(|t| t.split_once("\" stroke-width=\"2\"").map(|(c, _)| c))
        .filter(|c| !(c.len() == 7 && c[1..3] == c[3..5] && c[3..5] == c[5..7]))
        .collect();
    assert_eq!(colours.len(), 6, "five readings and the SSD: {colours:?}");

    let req = text("hbf-min-read-bw.require.svg");
    for want in [
        "Least HBF read bandwidth that meets each target",
        "HBF reading",
        "OCP spec-counts",
        "Son et al.",
        "OpenHBF",
        "least HBF read bandwidth (GB/s)",
        "decode ≥ 90 % of all-HBM",
        "decode ≥ 99 % of all-HBM",
        // The arrays of 262 GB/s meet no target: marked on the axis and explained.
        "not met",
        "Not met at OCP spec-counts: even 20 TB/s of HBF read bandwidth gives decode",
        "short of decode ≥ 90, 95 and 99 % of all-HBM.",
    ] {
        assert!(req.contains(want), "`{want}` missing:\n{req}");
    }

    let ceiling = text("ceiling-qwen2.5-3b-hbf.svg");
    for want in [
        "tier read bandwidth (GB/s)",
        "1.21 GB read per token",
        "256 parallel units × 4 KiB per 4.32 µs mean read cap reads at 243 GB/s",
    ] {
        assert!(ceiling.contains(want), "`{want}` missing:\n{ceiling}");
    }

    // `tiersim plot` redraws the sweep's charts with the same words, byte for byte.
    let again = dir.join("again");
    stdout(&[
        "plot",
        dir.join("kv-spill-hbf-readings.csv").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(again.join("kv-spill-hbf-readings.tg128-d32768.svg")).unwrap(),
        *tg_svg
    );
}

#[test]
fn latency_scales_plot_as_each_systems_own_read_latency() {
    let dir = scratch("figures-latency");
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/sweeps/kv-spill-hbf-vs-ssd.yaml"
    );
    stdout(&[
        "sweep",
        spec,
        "--out",
        dir.to_str().unwrap(),
        "--no-progress",
        "--threads",
        "2",
    ]);
    let figures = svgs(&dir);
    for (name, svg) in &figures {
        assert_human(name, svg);
    }
    let tg = words(
        &figures
            .iter()
            .find(|(n, _)| n == "kv-spill-hbf-vs-ssd.tg128-d32768.svg")
            .unwrap()
            .1,
    );
    // Latency in time, per system: the same scale is 1 µs on HBF and 15 µs on the SSD.
    for want in [
        "HBF, 1 µs median read",
        "HBF, 16 µs median read",
        "SSD, 15 µs median read",
        "SSD, 240 µs median read",
        "all-HBM baseline: 265 tokens/s",
    ] {
        assert!(tg.contains(want), "`{want}` missing:\n{tg}");
    }
}

#[test]
fn sweep_without_plots_writes_no_svg() {
    let dir = scratch("figures-no-plots");
    let out = stdout(&[
        "sweep",
        "--out",
        dir.to_str().unwrap(),
        "--no-plots",
        "--no-progress",
        "--threads",
        "2",
    ]);
    assert!(!out.contains(".svg"), "{out}");
    assert!(svgs(&dir).is_empty(), "{:?}", svgs(&dir));
    // The tables are still written.
    assert!(dir.join("hbf-min-read-bw.require.csv").exists());
    assert!(dir.join("ceiling-qwen2.5-3b-hbf.csv").exists());
}

#[test]
fn an_empty_contour_states_how_far_below_the_baseline_the_field_lies() {
    let dir = scratch("figures-contour");
    let spec = dir.join("slow.yaml");
    std::fs::write(
        &spec,
        "name: slow
model: smollm2-135m-instruct-q4_1
system: h100-hbf
tests: {n_prompt: [0], n_gen: [8], n_depth: [4096]}
set: {placement.kv.budget: 0B}
grid: true
vary:
  - {param: tiers.hbf.read_bw, values: [1GB/s, 2GB/s, 4GB/s]}
  - {param: tiers.hbf.latency_scale, values: [1, 4, 16]}
",
    )
    .unwrap();
    stdout(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    let svg = std::fs::read_to_string(dir.join("slow.tg8-d4096.contour.svg")).unwrap();
    assert_human("slow contour", &svg);
    let text = words(&svg);
    for want in [
        "Decode rate below the all-HBM baseline",
        "HBF median read latency (µs)",
        "HBF read bandwidth (GB/s)",
        "decode rate below all-HBM",
        "50 % (nowhere)",
        "Decode is more than 50 % below the all-HBM baseline at every point",
        "no contour level is crossed",
    ] {
        assert!(text.contains(want), "`{want}` missing:\n{text}");
    }
    assert!(!text.contains("no level crossed"), "{text}");
    // A latency axis from 4 µs to 64 µs spans sixteenfold: linear, ticked in µs.
    let line = std::fs::read_to_string(dir.join("slow.tg8-d4096.svg")).unwrap();
    let line_text = words(&line);
    assert!(line_text.contains("4 µs median read"), "{line_text}");
}
