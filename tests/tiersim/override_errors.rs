//! A `--set` the schema rejects is named as typed, exits 2 and says the likely fix.

use crate::helpers::tiersim;

/// The one-line error of `simulate` with one override, after checking it exits 2.
fn error_of(set: &str) -> String {
    let out = tiersim(&["simulate", "-p", "0", "-n", "4", "-r", "1", "--set", set]);
    assert_eq!(out.status.code(), Some(2), "--set {set} must exit 2");
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!("--set {set}")),
        "names the flag: {err}"
    );
    err
}

#[test]
fn a_serving_key_without_its_prefix_suggests_the_prefix() {
    let err = error_of("arrival_rate_per_s=8");
    assert!(
        err.contains("did you mean --set serve.arrival_rate_per_s=8?"),
        "{err}"
    );
}

#[test]
fn a_model_key_without_its_prefix_suggests_the_prefix() {
    let err = error_of("n_layers=8");
    assert!(
        err.contains("did you mean --set model.n_layers=8?"),
        "{err}"
    );
}

#[test]
fn a_time_given_to_latency_scale_is_refused_as_a_multiplier() {
    let err = error_of("tiers.hbf.latency_scale=5us");
    assert!(
        err.contains(
            "`tiers.hbf.latency_scale` is a plain multiplier (e.g. 4), not a time (`5us`)"
        ),
        "{err}"
    );
    // An element selected by index is blamed the same way.
    let err = error_of("tiers.1.latency_scale=2ms");
    assert!(err.contains("plain multiplier"), "{err}");
}

#[test]
fn a_misspelt_key_suggests_the_nearest_known_path_at_any_depth() {
    for (typed, meant) in [
        (
            "compute.prefil_efficiency=0.3",
            "compute.prefill_efficiency=0.3",
        ),
        ("tiers.hbf.read_bww=5GB/s", "tiers.hbf.read_bw=5GB/s"),
        ("tier.hbf.read_bw=1TB/s", "tiers.hbf.read_bw=1TB/s"),
        ("model.n_layer=8", "model.n_layers=8"),
    ] {
        let err = error_of(typed);
        assert!(
            err.contains(&format!("did you mean --set {meant}?")),
            "{err}"
        );
    }
}

#[test]
fn a_key_far_from_every_known_one_lists_the_keys_instead() {
    let err = error_of("zzz=1");
    assert!(!err.contains("did you mean"), "{err}");
    assert!(err.contains("the keys of a system are name,"), "{err}");
    assert!(
        err.contains("`model.`") && err.contains("`serve.`"),
        "{err}"
    );
}

#[test]
fn serve_overrides_suggest_within_the_serving_workload() {
    let out = tiersim(&["serve", "--set", "serve.arrival_rat_per_s=8"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert!(
        err.contains("did you mean --set serve.arrival_rate_per_s=8?"),
        "{err}"
    );
}
