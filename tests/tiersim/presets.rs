//! `tiersim presets` as a user runs it: the provenance listing, one preset's figures, an unknown
//! name, and a physics check across the HBF read-latency presets.

use crate::helpers::{stdout, tiersim};

/// The presets added with evidence for every figure.
const NEW_SYSTEMS: [&str; 11] = [
    "h100-hbf-ocp-g1",
    "h100-hbf-ocp-g2",
    "h100-hbf-ocp-g3",
    "h100-hbf-tr1us",
    "h100-hbf-tr4us",
    "h100-hbf-tr20us",
    "h100-hbf-tr30us",
    "h100-nvme-tail",
    "cpu-ddr5-server",
    "rubin-hbf-plus",
    "rubin-hbf",
];

#[test]
fn presets_lists_the_new_presets_with_their_evidence_counts() {
    let text = stdout(&["presets"]);
    for name in NEW_SYSTEMS
        .iter()
        .chain(&["h100-hbf", "qwen2.5-3b-instruct-q4_k_m"])
    {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("{name} is not listed:\n{text}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        // kind, name, cited, assumed, none, then the description's first sentence.
        let count = |i: usize| -> usize { words[i].parse().unwrap_or_else(|_| panic!("{line}")) };
        assert!(count(2) > 0, "{line}");
        assert_eq!(count(4), 0, "{name} has figures without evidence: {line}");
        assert!(words.len() > 5, "{name} has no description: {line}");
    }
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap()
            .to_owned()
    };
    assert!(line("cpu-ddr5-server").starts_with("system"));
    assert!(line("qwen2.5-3b-instruct-q4_k_m").starts_with("model"));
}

#[test]
fn presets_name_prints_every_figure_with_its_source() {
    let text = stdout(&["presets", "h100-hbf-tr20us"]);
    let latency: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("tiers.hbf.read_latency"))
        .collect();
    assert!(!latency.is_empty(), "{text}");
    // Its first line gives the source; the distribution's other parameters share it.
    assert!(
        latency[0].contains("Micron"),
        "the read latency's source names Micron: {}",
        latency[0]
    );
    for l in &latency[1..] {
        assert!(l.ends_with("[same as above]"), "{l}");
    }
    assert!(latency.iter().any(|l| l.contains("= 20us")), "{latency:?}");
    // Every figure line is `path = value  [source]` with the sources aligned.
    // (The description above them is indented and may hold arithmetic with ` = ` too.)
    let figures: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && l.contains(" = "))
        .collect();
    assert!(figures.len() > 20, "{text}");
    let column = figures[0].find("  [").unwrap();
    for l in &figures {
        assert!(l.ends_with(']'), "{l}");
        assert_eq!(l.find("  ["), Some(column), "{l}");
    }
    assert!(!text.contains("[none]"), "{text}");
}

#[test]
fn presets_unknown_name_exits_2_with_one_sentence() {
    let out = tiersim(&["presets", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("tiersim: `nope` "), "{err}");
    // One sentence: no full stop followed by another sentence; it names the presets there are.
    assert!(!err.trim_end().contains(". "), "{err}");
    assert!(err.contains("h100-hbf-tr20us"), "{err}");
}

#[test]
fn slower_hbf_reads_never_decode_faster() {
    // Qwen2.5-3B at a 32k depth spills ~3.7k tokens' KV past h100-hbf's 1 GiB budget; each
    // decoded token reads it back from HBF, so tg can only fall as tR grows (one axis at a time).
    let tg = |system: &str| -> f64 {
        let out = stdout(&[
            "simulate", "--system", system, "-p", "0", "-n", "32", "-d", "32768", "-r", "1", "-o",
            "json",
        ]);
        let rows: serde_json::Value = serde_json::from_str(&out).expect("JSON records");
        let row = &rows[0];
        assert_eq!(row["n_gen"], 32, "{row}");
        let hbf = row["tiers"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["tier"] == "hbf"))
            .unwrap_or_else(|| panic!("{system}: no hbf tier in {row}"));
        assert!(
            hbf["bytes_read"].as_f64().unwrap() > 0.0,
            "{system} does not spill"
        );
        row["avg_ts"].as_f64().expect("avg_ts")
    };
    let rates: Vec<(&str, f64)> = [
        "h100-hbf-tr1us",
        "h100-hbf-tr4us",
        "h100-hbf-tr20us",
        "h100-hbf-tr30us",
    ]
    .into_iter()
    .map(|s| (s, tg(s)))
    .collect();
    for pair in rates.windows(2) {
        assert!(pair[0].1 >= pair[1].1, "{rates:?}");
    }
    // Not vacuous: at 30 us the array (~32 GB/s) is too slow to hide the spilled reads.
    assert!(rates[0].1 > 1.5 * rates[3].1, "{rates:?}");
}
