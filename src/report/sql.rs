//! `-o sql`: llama-bench's SQLite statements — `CREATE TABLE IF NOT EXISTS llama_bench` with its
//! 42 columns, then one `INSERT` per test — with the simulator's columns after llama-bench's in
//! both, so that one script loads either tool's results.

use std::io::{self, Write};

use super::fields::{Value, blank_record, flat_fields};
use super::{BenchRecord, Exporter};

/// Writes records as llama-bench's `-o sql` does: the table definition, a blank line, then one
/// `INSERT` statement per line.
///
/// As in the CSV, the tier columns come from the first record, so every record of a run must
/// have as many tiers.
#[derive(Debug, Clone, Default)]
pub struct SqlExporter {
    /// Tiers per row once the table is defined.
    tiers: Option<usize>,
}

impl SqlExporter {
    /// An exporter for one run.
    pub fn new() -> Self {
        Self::default()
    }

    fn create_table(&mut self, out: &mut dyn Write, tiers: usize) -> io::Result<()> {
        let blank = blank_record(tiers);
        let columns: Vec<String> = flat_fields(&blank)
            .into_iter()
            .map(|(k, v)| format!("  {k} {}", v.sql_type()))
            .collect();
        writeln!(
            out,
            "CREATE TABLE IF NOT EXISTS llama_bench (\n{}\n);\n",
            columns.join(",\n")
        )?;
        self.tiers = Some(tiers);
        Ok(())
    }
}

impl Exporter for SqlExporter {
    fn header(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        // Deferred to the first record, which says how many tiers there are.
        Ok(())
    }

    fn record(&mut self, out: &mut dyn Write, rec: &BenchRecord) -> io::Result<()> {
        match self.tiers {
            None => self.create_table(out, rec.tiers.len())?,
            Some(n) if n != rec.tiers.len() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "test {} has {} tiers but the table's columns are for {n}",
                        rec.test_name(),
                        rec.tiers.len()
                    ),
                ));
            }
            Some(_) => {}
        }
        let fields = flat_fields(rec);
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        let values: Vec<String> = fields.iter().map(|&(_, v)| literal(v)).collect();
        writeln!(
            out,
            "INSERT INTO llama_bench ({}) VALUES ({});",
            names.join(", "),
            values.join(", ")
        )?;
        out.flush()
    }

    fn footer(&mut self, out: &mut dyn Write) -> io::Result<()> {
        // A run without records still defines the table.
        if self.tiers.is_none() {
            self.create_table(out, 0)?;
        }
        out.flush()
    }
}

/// A value as llama-bench writes it in an `INSERT`: its CSV text in single quotes (SQLite
/// converts it to the column's type). A quote inside is doubled, which llama-bench omits; an
/// absent figure is `NULL`.
fn literal(v: Value<'_>) -> String {
    match v {
        Value::Float(x) if x.is_nan() => "NULL".to_owned(),
        v => format!("'{}'", v.text().replace('\'', "''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{REAL_SQL, record_from_fields, sample_records};
    use crate::report::{OutputFormat, RunInfo, export};

    fn render(records: &[BenchRecord]) -> io::Result<String> {
        let mut buf = Vec::new();
        export(OutputFormat::Sql, RunInfo::default(), &mut buf, records)?;
        Ok(String::from_utf8(buf).unwrap())
    }

    /// `(column, value text)` pairs of an `INSERT` line whose values hold no `, '`.
    fn insert_fields(line: &str) -> Vec<(String, String)> {
        let rest = line.strip_prefix("INSERT INTO llama_bench (").unwrap();
        let (names, values) = rest.split_once(") VALUES (").unwrap();
        let values = values.strip_suffix(");").unwrap();
        names
            .split(", ")
            .zip(values.split(", "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn table_is_llama_benchs_with_the_simulators_columns_after() {
        let text = render(&sample_records()).unwrap();
        let real_table = &REAL_SQL[..REAL_SQL.find("\n);\n").unwrap()];
        let ours_table = &text[..text.find("\n);\n").unwrap()];
        assert!(ours_table.starts_with(&format!("{real_table},\n  system TEXT,\n  seed INTEGER,")));
        assert!(ours_table.contains("\n  tier1 TEXT,\n  tier1_bytes_read INTEGER,"));
        assert!(ours_table.ends_with("\n  tier1_lifetime_years REAL"));
        let inserts: Vec<&str> = text.lines().filter(|l| l.starts_with("INSERT")).collect();
        assert_eq!(inserts.len(), 2);
        let columns = ours_table.lines().count() - 1;
        assert!(inserts.iter().all(|l| insert_fields(l).len() == columns));
        let fields = insert_fields(inserts[0]);
        assert_eq!(
            fields[40],
            ("avg_ts".to_owned(), "'12416.812346'".to_owned())
        );
        let get = |k: &str| &fields.iter().find(|(n, _)| n == k).unwrap().1;
        assert_eq!(get("expert_hit_rate"), "NULL");
        assert_eq!(get("tier0"), "'hbm'");
    }

    #[test]
    fn real_results_print_as_llama_bench_printed_them() {
        let recs: Vec<BenchRecord> = REAL_SQL
            .lines()
            .filter(|l| l.starts_with("INSERT"))
            .map(|l| {
                let fields = insert_fields(l);
                record_from_fields(|k| {
                    fields
                        .iter()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.trim_matches('\'').to_owned())
                })
            })
            .collect();
        let text = render(&recs).unwrap();
        let ours: Vec<&str> = text.lines().filter(|l| l.starts_with("INSERT")).collect();
        let real: Vec<&str> = REAL_SQL
            .lines()
            .filter(|l| l.starts_with("INSERT"))
            .collect();
        assert_eq!(ours.len(), real.len());
        for (ours, real) in ours.iter().zip(&real) {
            let (ours, real) = (insert_fields(ours), insert_fields(real));
            assert_eq!(ours[..real.len()], real[..]);
        }
    }

    #[test]
    fn quotes_are_doubled_and_other_tier_counts_refused() {
        let mut recs = sample_records();
        recs[0].model_type = "it's".to_owned();
        recs[1].tiers.pop();
        let err = render(&recs).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let text = render(&recs[..1]).unwrap();
        assert!(text.contains(", 'it''s', "));
        assert!(
            render(&[])
                .unwrap()
                .ends_with("expert_hit_rate REAL\n);\n\n")
        );
    }
}
