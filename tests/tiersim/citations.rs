//! Every document a preset, profile or scenario cites is in the repository, so a reader of a
//! fresh clone can follow each figure to its source.

use std::path::{Path, PathBuf};

use regex::Regex;
use tiersim::config::presets;

/// The `*.md` files `text` mentions, except inside URLs (another repository's files are cited
/// by address).
fn md_mentions(text: &str) -> Vec<String> {
    let md = Regex::new(r"[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b").expect("valid");
    text.split_whitespace()
        .filter(|word| !word.contains("://"))
        .flat_map(|word| md.find_iter(word).map(|m| m.as_str().to_owned()))
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where a mention resolves: relative to the repository root or under `docs/`.
fn resolves(mention: &str) -> bool {
    let r = root();
    r.join(mention).is_file() || r.join("docs").join(mention).is_file()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

#[test]
fn the_scanner_finds_mentions_and_skips_addresses() {
    let text = "docs/anchors.md: 1.6 TB/s (anchors.md, §2) and DESIGN.md 2.2; \
                https://github.com/o/r/blob/main/README.md is cited by address";
    assert_eq!(
        md_mentions(text),
        ["docs/anchors.md", "anchors.md", "DESIGN.md"]
    );
    assert!(resolves("docs/anchors.md") && resolves("anchors.md"));
    assert!(
        !resolves("DESIGN.md"),
        "the design brief lives outside the repository"
    );
}

#[test]
fn every_evidence_string_of_the_embedded_presets_cites_files_in_the_repository() {
    let mut missing = Vec::new();
    for preset in presets::MODELS.iter().chain(presets::SYSTEMS) {
        let doc: serde_yaml::Value = serde_yaml::from_str(preset.yaml).expect("a preset parses");
        let evidence = doc
            .get("evidence")
            .and_then(|e| e.as_mapping())
            .unwrap_or_else(|| panic!("{} has an evidence map", preset.name));
        for (field, source) in evidence {
            let source = source.as_str().unwrap_or_default();
            for m in md_mentions(source).into_iter().filter(|m| !resolves(m)) {
                missing.push(format!("{} {:?}: {m}", preset.name, field.as_str()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "cited but not in the repository: {missing:#?}"
    );
}

#[test]
fn no_model_system_scenario_or_profile_file_cites_a_file_outside_the_repository() {
    let mut files = Vec::new();
    yaml_files(&root().join("models"), &mut files);
    yaml_files(&root().join("calibration"), &mut files);
    assert!(
        files.len() > 40,
        "the scan reaches the preset and profile files"
    );
    let mut missing = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        for m in md_mentions(&text).into_iter().filter(|m| !resolves(m)) {
            missing.push(format!("{}: {m}", file.display()));
        }
    }
    assert!(
        missing.is_empty(),
        "cited but not in the repository: {missing:#?}"
    );
}

#[test]
fn the_docs_the_evidence_relies_on_are_in_the_repository() {
    for doc in [
        "anchors.md",
        "design.md",
        "hbf-literature.md",
        "xeon-operator-profile.md",
    ] {
        let text = std::fs::read_to_string(root().join("docs").join(doc)).expect("present");
        let missing: Vec<String> = md_mentions(&text)
            .into_iter()
            .filter(|m| !resolves(m))
            .collect();
        assert!(
            missing.is_empty(),
            "docs/{doc} cites {missing:?}, not in the repository"
        );
    }
}
