//! A serving run written out: a markdown summary, one CSV row (sweep-friendly), or JSON with
//! every request.

use std::io::Write;

use serde::Serialize;

use crate::config::system::TierSpec;
use crate::scenario::{TierFigures, lifetime_years, wear_warning};
use crate::serving::{QUANTILES, ServeOutcome, ServeSpec, ServeSummary};
use crate::units::Seconds;

/// What a report says the run was.
#[derive(Debug, Clone, Copy)]
pub struct ServeContext<'a> {
    /// Model name.
    pub model: &'a str,
    /// System name.
    pub system: &'a str,
    /// The system's tiers, fastest first.
    pub tiers: &'a [TierSpec],
    /// The workload.
    pub spec: &'a ServeSpec,
    /// Seed of the run.
    pub seed: u64,
}

/// One tier's figures over the run, with units in the names.
#[derive(Debug, Clone, Serialize)]
struct TierRow {
    tier: String,
    bytes_read: u64,
    bytes_written: u64,
    read_gbps: f64,
    write_gbps: f64,
    utilisation: f64,
    stall_s: f64,
    lifetime_years: Option<f64>,
}

fn tier_rows(ctx: &ServeContext<'_>, out: &ServeOutcome, wall: Seconds) -> Vec<TierRow> {
    let per_s = |b: f64| if wall.0 > 0.0 { b / wall.0 / 1e9 } else { 0.0 };
    ctx.tiers
        .iter()
        .zip(&out.tiers)
        .map(|(t, f): (&TierSpec, &TierFigures)| TierRow {
            tier: t.name.clone(),
            bytes_read: f.bytes_read.0.round() as u64,
            bytes_written: f.bytes_written.0.round() as u64,
            read_gbps: per_s(f.bytes_read.0),
            write_gbps: per_s(f.bytes_written.0),
            utilisation: if wall.0 > 0.0 {
                (f.busy.0 / wall.0).min(1.0)
            } else {
                0.0
            },
            stall_s: f.stall.0,
            lifetime_years: lifetime_years(t, f.bytes_written, wall),
        })
        .collect()
}

/// Warnings for flash tiers the run would wear out before their endurance target.
pub fn wear_warnings(ctx: &ServeContext<'_>, out: &ServeOutcome) -> Vec<String> {
    let wall = out.summary().wall;
    ctx.tiers
        .iter()
        .zip(&out.tiers)
        .filter_map(|(t, f)| wear_warning(t, lifetime_years(t, f.bytes_written, wall)))
        .collect()
}

/// The summary as named scalar columns, in output order.
fn summary_columns(ctx: &ServeContext<'_>, s: &ServeSummary) -> Vec<(String, String)> {
    let mut cols = vec![
        ("model".to_owned(), ctx.model.to_owned()),
        ("system".to_owned(), ctx.system.to_owned()),
        ("seed".to_owned(), ctx.seed.to_string()),
        ("requests".to_owned(), s.requests.to_string()),
        (
            "arrival_rate_per_s".to_owned(),
            ctx.spec.arrival_rate_per_s.to_string(),
        ),
        ("max_batch".to_owned(), ctx.spec.max_batch.to_string()),
        ("mean_batch".to_owned(), format!("{:.3}", s.mean_batch)),
        ("wall_s".to_owned(), format!("{:.6}", s.wall.0)),
        ("output_tps".to_owned(), format!("{:.3}", s.output_tps)),
        (
            "requests_per_s".to_owned(),
            format!("{:.4}", s.requests_per_s),
        ),
    ];
    for (name, qs) in [("ttft", s.ttft), ("tpot", s.tpot), ("latency", s.latency)] {
        for (p, v) in QUANTILES.iter().zip(qs) {
            cols.push((
                format!("{name}_p{}_ms", (p * 100.0).round()),
                format!("{:.3}", v.as_ms()),
            ));
        }
    }
    cols.push((
        "expert_hit_rate".to_owned(),
        s.expert_hit_rate
            .map_or_else(String::new, |h| format!("{h:.6}")),
    ));
    cols
}

/// Writes a markdown summary and a per-tier table.
pub fn write_md(
    w: &mut dyn Write,
    ctx: &ServeContext<'_>,
    out: &ServeOutcome,
) -> std::io::Result<()> {
    let s = out.summary();
    writeln!(
        w,
        "| model | system | requests | req/s in | max batch | mean batch | output t/s | TTFT p50 / p99 ms | TPOT p50 / p99 ms | latency p50 / p99 s |"
    )?;
    writeln!(
        w,
        "| ----- | ------ | -------: | -------: | --------: | ---------: | ---------: | ----------------: | ----------------: | ------------------: |"
    )?;
    writeln!(
        w,
        "| {} | {} | {} | {} | {} | {:.2} | {:.1} | {:.1} / {:.1} | {:.2} / {:.2} | {:.2} / {:.2} |",
        ctx.model,
        ctx.system,
        s.requests,
        ctx.spec.arrival_rate_per_s,
        ctx.spec.max_batch,
        s.mean_batch,
        s.output_tps,
        s.ttft[0].as_ms(),
        s.ttft[2].as_ms(),
        s.tpot[0].as_ms(),
        s.tpot[2].as_ms(),
        s.latency[0].0,
        s.latency[2].0,
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "| tier | read GB | written GB | read GB/s | busy % | stall s | lifetime years |"
    )?;
    writeln!(
        w,
        "| ---- | ------: | ---------: | --------: | -----: | ------: | -------------: |"
    )?;
    for t in tier_rows(ctx, out, s.wall) {
        writeln!(
            w,
            "| {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.3} | {} |",
            t.tier,
            t.bytes_read as f64 / 1e9,
            t.bytes_written as f64 / 1e9,
            t.read_gbps,
            100.0 * t.utilisation,
            t.stall_s,
            t.lifetime_years
                .map_or_else(|| "-".to_owned(), |y| format!("{y:.2}")),
        )?;
    }
    if let Some(h) = s.expert_hit_rate {
        writeln!(w, "\nexpert cache hit rate {:.1} %", 100.0 * h)?;
    }
    writeln!(
        w,
        "\ntiersim {}, {} requests, {} slots of {} tokens, seed {}",
        env!("CARGO_PKG_VERSION"),
        s.requests,
        ctx.spec.max_batch,
        out.slot_tokens,
        ctx.seed
    )
}

/// Writes the summary as one CSV row under a header, tiers as `tier<i>_<field>` columns.
pub fn write_csv(
    w: &mut dyn Write,
    ctx: &ServeContext<'_>,
    out: &ServeOutcome,
) -> std::io::Result<()> {
    let s = out.summary();
    let mut cols = summary_columns(ctx, &s);
    for (i, t) in tier_rows(ctx, out, s.wall).into_iter().enumerate() {
        let opt = |x: Option<f64>| x.map_or_else(String::new, |v| v.to_string());
        cols.extend([
            (format!("tier{i}"), t.tier),
            (format!("tier{i}_bytes_read"), t.bytes_read.to_string()),
            (
                format!("tier{i}_bytes_written"),
                t.bytes_written.to_string(),
            ),
            (format!("tier{i}_read_gbps"), format!("{:.6}", t.read_gbps)),
            (
                format!("tier{i}_utilisation"),
                format!("{:.6}", t.utilisation),
            ),
            (format!("tier{i}_lifetime_years"), opt(t.lifetime_years)),
        ]);
    }
    let mut csv = csv::Writer::from_writer(w);
    csv.write_record(cols.iter().map(|(k, _)| k))
        .and_then(|()| csv.write_record(cols.iter().map(|(_, v)| v)))
        .and_then(|()| csv.flush().map_err(csv::Error::from))
        .map_err(std::io::Error::other)
}

/// Writes the summary, the tiers and every request as JSON.
pub fn write_json(
    w: &mut dyn Write,
    ctx: &ServeContext<'_>,
    out: &ServeOutcome,
) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct RequestRow {
        arrival_s: f64,
        prompt_tokens: u32,
        output_tokens: u32,
        queue_ms: f64,
        ttft_ms: f64,
        tpot_ms: Option<f64>,
        latency_s: f64,
    }
    #[derive(Serialize)]
    struct Summary<'a> {
        model: &'a str,
        system: &'a str,
        seed: u64,
        requests: usize,
        arrival_rate_per_s: f64,
        max_batch: u32,
        slot_tokens: u32,
        mean_batch: f64,
        wall_s: f64,
        output_tps: f64,
        requests_per_s: f64,
        quantiles: [f64; 3],
        ttft_ms: [f64; 3],
        tpot_ms: [f64; 3],
        latency_ms: [f64; 3],
        expert_hit_rate: Option<f64>,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        summary: Summary<'a>,
        tiers: Vec<TierRow>,
        workload: &'a ServeSpec,
        requests: Vec<RequestRow>,
    }
    let s = out.summary();
    let ms = |q: [Seconds; 3]| q.map(Seconds::as_ms);
    let summary = Summary {
        model: ctx.model,
        system: ctx.system,
        seed: ctx.seed,
        requests: s.requests,
        arrival_rate_per_s: ctx.spec.arrival_rate_per_s,
        max_batch: ctx.spec.max_batch,
        slot_tokens: out.slot_tokens,
        mean_batch: s.mean_batch,
        wall_s: s.wall.0,
        output_tps: s.output_tps,
        requests_per_s: s.requests_per_s,
        quantiles: QUANTILES,
        ttft_ms: ms(s.ttft),
        tpot_ms: ms(s.tpot),
        latency_ms: ms(s.latency),
        expert_hit_rate: s.expert_hit_rate,
    };
    let doc = Doc {
        summary,
        tiers: tier_rows(ctx, out, s.wall),
        workload: ctx.spec,
        requests: out
            .served
            .iter()
            .map(|r| RequestRow {
                arrival_s: r.request.arrival.0,
                prompt_tokens: r.request.prompt,
                output_tokens: r.request.output,
                queue_ms: (r.admitted - r.request.arrival).as_ms(),
                ttft_ms: r.ttft().as_ms(),
                tpot_ms: r.tpot().map(Seconds::as_ms),
                latency_s: r.latency().0,
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *w, &doc).map_err(std::io::Error::other)?;
    writeln!(w)
}
