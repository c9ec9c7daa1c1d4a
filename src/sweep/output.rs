//! Sweep output: the CSV written in point order as points finish, a journal of points that
//! finished early (so an interrupted run loses none), the JSON sidecar, and shard merging.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::load;
use crate::error::Error;
use crate::sweep::spec::SweepSpec;
use crate::sweep::{Prepared, Shard};

/// The sidecar: what produced a CSV, enough to reproduce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// tiersim's version.
    pub tiersim_version: String,
    /// Where the spec came from.
    pub spec_origin: String,
    /// The spec as resolved (defaults filled in).
    pub spec: SweepSpec,
    /// The model at the sweep's base (before point overrides), as loaded.
    pub model: serde_json::Value,
    /// The system at the sweep's base, as loaded.
    pub system: serde_json::Value,
    /// The sweep's seed.
    pub seed: u64,
    /// Points in the whole sweep.
    pub n_points: u64,
    /// Rows per point (one per test).
    pub rows_per_point: usize,
    /// The shard this file holds, as `i/n`.
    pub shard: String,
}

impl Sidecar {
    /// The sidecar of `p` run as `shard`.
    pub fn new(p: &Prepared, shard: Shard) -> Self {
        let model = load::model(Some(&p.spec.model), &p.fixed)
            .ok()
            .map(|m| m.spec);
        let system = load::system(Some(&p.spec.system), &p.fixed)
            .ok()
            .map(|s| s.spec);
        Self {
            tiersim_version: env!("CARGO_PKG_VERSION").to_owned(),
            spec_origin: p.origin.clone(),
            spec: p.spec.clone(),
            model: serde_json::to_value(model).expect("serialises"),
            system: serde_json::to_value(system).expect("serialises"),
            seed: p.spec.seed,
            n_points: p.n_points,
            rows_per_point: p.cases.len(),
            shard: format!("{}/{}", shard.index, shard.count),
        }
    }

    fn same_sweep(&self, other: &Self) -> bool {
        let strip = |s: &Self| Self {
            shard: String::new(),
            ..s.clone()
        };
        strip(self) == strip(other)
    }
}

/// Path of the sidecar of a CSV.
pub fn sidecar_path(csv: &Path) -> PathBuf {
    csv.with_extension("json")
}

fn journal_path(csv: &Path) -> PathBuf {
    let mut name = csv.as_os_str().to_owned();
    name.push(".pending");
    PathBuf::from(name)
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Write(crate::files::WriteError {
        path: path.to_owned(),
        source,
    })
}

/// Rows of finished points by point id.
type PointRows = BTreeMap<u64, Vec<Vec<String>>>;

/// Writes a sweep's rows in point order as points finish, journalling early finishers.
pub struct CsvSink {
    path: PathBuf,
    csv: BufWriter<File>,
    journal: BufWriter<File>,
    /// Points finished out of order, waiting for their turn.
    early: PointRows,
    next: u64,
    step: u64,
    end: u64,
    resumed: u64,
    rows_per_point: usize,
}

impl CsvSink {
    /// Opens the CSV (and its journal and sidecar) for a run; with `resume`, keeps the points an
    /// earlier run of the same sweep finished.
    pub fn open(
        path: &Path,
        header: &[String],
        sidecar: &Sidecar,
        resume: bool,
    ) -> Result<Self, Error> {
        let (index, count) = sidecar
            .shard
            .split_once('/')
            .and_then(|(i, n)| Some((i.parse::<u64>().ok()?, n.parse::<u64>().ok()?)))
            .expect("the sidecar's shard is i/n");
        let side = sidecar_path(path);
        let mut early = BTreeMap::new();
        let mut next = index;
        let mut resumed = 0;
        let exists = path.exists();
        if resume && exists {
            let old: Sidecar = std::fs::read_to_string(&side)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .ok_or_else(|| {
                    Error::usage(
                        "--resume",
                        format!(
                            "{} has no readable sidecar {}; start without --resume",
                            path.display(),
                            side.display()
                        ),
                    )
                })?;
            if !old.same_sweep(sidecar) || old.shard != sidecar.shard {
                return Err(Error::usage(
                    "--resume",
                    format!(
                        "{} was written by a different sweep (spec, seed, shard or version changed); start without --resume or use another --out",
                        path.display()
                    ),
                ));
            }
            let (rows, good_len) = read_points(path, header, sidecar.rows_per_point)?;
            // Keep complete points only; a point cut short by the interruption runs again.
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| io_err(path, e))?;
            f.set_len(good_len).map_err(|e| io_err(path, e))?;
            for id in rows.keys() {
                if *id != next {
                    return Err(Error::usage(
                        "--resume",
                        format!("{} is not in point order at point {id}", path.display()),
                    ));
                }
                next += count;
                resumed += 1;
            }
            let journal = journal_path(path);
            if journal.exists() {
                let (pending, _) = read_points(&journal, header, sidecar.rows_per_point)?;
                resumed += pending.len() as u64;
                early = pending;
            }
        } else {
            let mut w = BufWriter::new(File::create(path).map_err(|e| io_err(path, e))?);
            write_row(&mut w, header).map_err(|e| io_err(path, e))?;
            w.flush().map_err(|e| io_err(path, e))?;
            let _ = std::fs::remove_file(journal_path(path));
        }
        std::fs::write(
            &side,
            serde_json::to_string_pretty(sidecar).expect("serialises") + "\n",
        )
        .map_err(|e| io_err(&side, e))?;
        let csv = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        let journal_file = journal_path(path);
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_file)
            .map_err(|e| io_err(&journal_file, e))?;
        if journal
            .metadata()
            .map_err(|e| io_err(&journal_file, e))?
            .len()
            == 0
        {
            let mut j = BufWriter::new(&journal);
            write_row(&mut j, header).map_err(|e| io_err(&journal_file, e))?;
            j.flush().map_err(|e| io_err(&journal_file, e))?;
        }
        Ok(Self {
            path: path.to_owned(),
            csv: BufWriter::new(csv),
            journal: BufWriter::new(journal),
            early,
            next,
            step: count,
            end: sidecar.n_points,
            resumed,
            rows_per_point: sidecar.rows_per_point,
        })
    }

    /// Points an earlier run finished.
    pub fn done_count(&self) -> u64 {
        self.resumed
    }

    /// Whether point `id` is already finished.
    pub fn is_done(&self, id: u64) -> bool {
        id < self.next || self.early.contains_key(&id)
    }

    /// Accepts point `id`'s rows: written at once when it is next in order, else journalled and
    /// held until its turn.
    pub fn put(&mut self, id: u64, rows: Vec<Vec<String>>) -> Result<(), Error> {
        debug_assert_eq!(rows.len(), self.rows_per_point);
        if id != self.next {
            for r in &rows {
                write_row(&mut self.journal, r).map_err(|e| io_err(&self.path, e))?;
            }
            self.journal.flush().map_err(|e| io_err(&self.path, e))?;
            self.early.insert(id, rows);
            return Ok(());
        }
        self.write_point(&rows)?;
        self.next += self.step;
        while let Some(rows) = self.early.remove(&self.next) {
            self.write_point(&rows)?;
            self.next += self.step;
        }
        self.csv.flush().map_err(|e| io_err(&self.path, e))
    }

    fn write_point(&mut self, rows: &[Vec<String>]) -> Result<(), Error> {
        for r in rows {
            write_row(&mut self.csv, r).map_err(|e| io_err(&self.path, e))?;
        }
        Ok(())
    }

    /// Flushes early finishers now in order and removes the journal once every point is in.
    pub fn finish(mut self) -> Result<(), Error> {
        while let Some(rows) = self.early.remove(&self.next) {
            self.write_point(&rows)?;
            self.next += self.step;
        }
        self.csv.flush().map_err(|e| io_err(&self.path, e))?;
        if self.next >= self.end {
            drop(self.journal);
            let _ = std::fs::remove_file(journal_path(&self.path));
        }
        Ok(())
    }
}

/// Writes one CSV record; every sweep file goes through here so quoting is the same everywhere.
fn write_row(w: &mut impl Write, fields: &[String]) -> std::io::Result<()> {
    let mut c = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    c.write_record(fields).map_err(std::io::Error::other)?;
    let bytes = c
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    w.write_all(&bytes)
}

/// Reads the complete points of a sweep CSV or journal: rows grouped by point id, and the byte
/// length of the file up to the last complete point.
fn read_points(
    path: &Path,
    header: &[String],
    per_point: usize,
) -> Result<(PointRows, u64), Error> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut r = BufReader::new(f);
    let mut line = String::new();
    let mut offset = 0u64;
    let mut good = 0u64;
    let mut points = PointRows::new();
    let mut current: Option<(u64, Vec<Vec<String>>)> = None;
    let mut first = true;
    loop {
        line.clear();
        let n = r.read_line(&mut line).map_err(|e| io_err(path, e))?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        offset += n as u64;
        let fields = parse_row(&line);
        if first {
            first = false;
            if fields != header {
                return Err(Error::usage(
                    "--resume",
                    format!(
                        "{} has other columns than this sweep writes; start without --resume",
                        path.display()
                    ),
                ));
            }
            good = offset;
            continue;
        }
        let Some(id) = fields.first().and_then(|f| f.parse::<u64>().ok()) else {
            break;
        };
        let cur = current.get_or_insert_with(|| (id, Vec::new()));
        if cur.0 != id {
            // A new point starts; the previous one was incomplete (only in a journal).
            current = Some((id, Vec::new()));
        }
        let cur = current.as_mut().expect("set above");
        cur.1.push(fields);
        if cur.1.len() == per_point {
            let (id, rows) = current.take().expect("set above");
            points.insert(id, rows);
            good = offset;
        }
    }
    Ok((points, good))
}

fn parse_row(line: &str) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes());
    r.records()
        .next()
        .and_then(Result::ok)
        .map(|rec| rec.iter().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Joins shard CSVs into the file a single run would have written and writes its sidecar,
/// after verifying what it joins: every input has a readable sidecar of the same sweep and
/// the same columns, the shards `0/n` .. `n-1/n` each appear once, every shard holds exactly
/// the points it owns in order with one row per test, and no file ends in a cut record.
/// `out` may not be one of the inputs; it is written through a temporary file, so a failed
/// merge leaves nothing behind.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<u64, Error> {
    let bad = |m: String| Error::usage("sweep merge", m);
    if inputs.is_empty() {
        return Err(bad(
            "no shard files given; expected the shard CSVs of one sweep".into(),
        ));
    }
    let same_file = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    for p in inputs {
        if same_file(p, out) || same_file(&sidecar_path(p), &sidecar_path(out)) {
            return Err(bad(format!(
                "--out {} is also an input; write the merged file elsewhere",
                out.display()
            )));
        }
    }
    let mut shards = Vec::with_capacity(inputs.len());
    for p in inputs {
        shards.push(ShardFile::open(p)?);
    }
    let first = &shards[0];
    let count = first.count;
    let mut seen = vec![false; count as usize];
    for s in &shards {
        if !s.sidecar.same_sweep(&first.sidecar) {
            return Err(bad(format!(
                "{} belongs to another sweep than {} (spec, seed or version differ)",
                s.path.display(),
                first.path.display()
            )));
        }
        if s.count != count {
            return Err(bad(format!(
                "{} is shard {}/{} but {} is of {count} shards; merge the shards of one split",
                s.path.display(),
                s.index,
                s.count,
                first.path.display()
            )));
        }
        if std::mem::replace(&mut seen[s.index as usize], true) {
            return Err(bad(format!(
                "{} repeats shard {}/{count}; give each shard once",
                s.path.display(),
                s.index
            )));
        }
        if s.header != first.header {
            return Err(bad(format!(
                "{} has other columns than {}",
                s.path.display(),
                first.path.display()
            )));
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(bad(format!("shard {missing}/{count} is missing")));
    }
    let merged = Sidecar {
        shard: "0/1".into(),
        ..first.sidecar.clone()
    };
    let header: Vec<String> = first.header.iter().map(str::to_owned).collect();
    let n_points = merged.n_points;
    let mut by_index: Vec<ShardFile> = shards;
    by_index.sort_by_key(|s| s.index);
    // Point `id` lives in shard `id mod count`: the merge is a round robin, each shard read
    // once, in order, with its own checks.
    let tmp = crate::files::temporary_sibling(out);
    let result = (|| -> Result<u64, Error> {
        let mut w = BufWriter::new(File::create(&tmp).map_err(|e| io_err(out, e))?);
        write_row(&mut w, &header).map_err(|e| io_err(out, e))?;
        let mut rows = 0;
        for id in 0..n_points {
            let shard = &mut by_index[(id % count) as usize];
            for rec in shard.point(id)? {
                write_row(&mut w, &rec).map_err(|e| io_err(out, e))?;
                rows += 1;
            }
        }
        for s in &mut by_index {
            s.finish()?;
        }
        w.flush().map_err(|e| io_err(out, e))?;
        Ok(rows)
    })();
    let rows = match result {
        Ok(rows) => rows,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let side = sidecar_path(out);
    crate::files::write_atomic(
        &side,
        (serde_json::to_string_pretty(&merged).expect("serialises") + "\n").as_bytes(),
    )?;
    std::fs::rename(&tmp, out).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(out, e)
    })?;
    Ok(rows)
}

/// One shard being merged: its sidecar, its split, and its rows read point by point.
struct ShardFile {
    path: PathBuf,
    sidecar: Sidecar,
    index: u64,
    count: u64,
    header: csv::StringRecord,
    reader: csv::Reader<File>,
}

impl ShardFile {
    fn open(p: &Path) -> Result<Self, Error> {
        let bad = |m: String| Error::usage("sweep merge", format!("{}: {m}", p.display()));
        let side = sidecar_path(p);
        let text = crate::files::read_text(&side).map_err(|e| bad(e.to_string()))?;
        let sidecar: Sidecar = serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "its sidecar {} is not readable ({e})",
                side.display()
            ))
        })?;
        if journal_path(p).exists() {
            return Err(bad(
                "is unfinished (its .pending journal exists); finish it with --resume first".into(),
            ));
        }
        let (index, count) = sidecar
            .shard
            .split_once('/')
            .and_then(|(i, n)| Some((i.parse::<u64>().ok()?, n.parse::<u64>().ok()?)))
            .filter(|&(i, n)| n >= 1 && i < n && n <= sidecar.n_points.max(1))
            .ok_or_else(|| {
                bad(format!(
                    "its sidecar's shard `{}` is not i/n with i < n <= the sweep's {} points",
                    sidecar.shard, sidecar.n_points
                ))
            })?;
        crate::limits::SWEEP_POINTS
            .check(sidecar.n_points)
            .map_err(|e| bad(format!("its sidecar {e}")))?;
        // A record cut by an interrupted copy parses as a short row or a wrong value; a missing
        // final newline is the sign either way.
        let bytes = std::fs::metadata(p).map_err(|e| io_err(p, e))?.len();
        if bytes > 0 && !ends_with_newline(p).map_err(|e| io_err(p, e))? {
            return Err(bad(
                "ends in a cut record (no final newline); it is truncated".into(),
            ));
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(p)
            .map_err(|e| bad(e.to_string()))?;
        let header = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
        Ok(Self {
            path: p.to_owned(),
            sidecar,
            index,
            count,
            header,
            reader,
        })
    }

    /// The rows of point `id`, which this shard owns and must hold next.
    fn point(&mut self, id: u64) -> Result<Vec<Vec<String>>, Error> {
        let per_point = self.sidecar.rows_per_point;
        let mut rows = Vec::with_capacity(per_point.min(1 << 16));
        for _ in 0..per_point {
            let rec = self.next_record()?;
            let found = rec.first().map(String::as_str).unwrap_or("");
            if found.parse::<u64>().ok() != Some(id) {
                let what = match self.reader.position().line() {
                    0 => String::new(),
                    l => format!(" at line {}", l - 1),
                };
                return Err(Error::usage(
                    "sweep merge",
                    format!(
                        "{}{what}: point id `{found}` where point {id} (row {} of {per_point}) \
                         was expected; the shard is truncated, reordered or edited",
                        self.path.display(),
                        rows.len() + 1
                    ),
                ));
            }
            rows.push(rec);
        }
        Ok(rows)
    }

    fn next_record(&mut self) -> Result<Vec<String>, Error> {
        let mut rec = csv::StringRecord::new();
        let more = self
            .reader
            .read_record(&mut rec)
            .map_err(|e| Error::usage("sweep merge", format!("{}: {e}", self.path.display())))?;
        if !more {
            return Err(Error::usage(
                "sweep merge",
                format!(
                    "{} ends before all of shard {}/{}'s points; it is truncated",
                    self.path.display(),
                    self.index,
                    self.count
                ),
            ));
        }
        Ok(rec.iter().map(str::to_owned).collect())
    }

    /// Checks that nothing follows the shard's last point.
    fn finish(&mut self) -> Result<(), Error> {
        let mut rec = csv::StringRecord::new();
        match self.reader.read_record(&mut rec) {
            Ok(false) => Ok(()),
            Ok(true) => Err(Error::usage(
                "sweep merge",
                format!(
                    "{}: rows after the sweep's last point (point id `{}`); the file holds more \
                     than one run or was edited",
                    self.path.display(),
                    rec.get(0).unwrap_or("")
                ),
            )),
            Err(e) => Err(Error::usage(
                "sweep merge",
                format!("{}: {e}", self.path.display()),
            )),
        }
    }
}

fn ends_with_newline(p: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(p)?;
    f.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}
