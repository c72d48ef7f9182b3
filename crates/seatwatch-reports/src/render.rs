//! JSON lines, CSV and aligned tables from the same rows.
//!
//! Every row is first serialized to compact JSON (the JSON lines form, with the fields in
//! their declared order). CSV and tables flatten that JSON: a nested object becomes one
//! column per key (`alarms.late_login`), an array one cell with its elements separated by
//! spaces, `null` an empty cell. Numbers keep their JSON text in CSV; tables show
//! fractions with two decimals.

use crate::{Report, ReportError, rows};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::str::FromStr;

/// How a report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Format {
    /// One JSON object per line.
    #[default]
    Jsonl,
    /// RFC 4180 CSV with a header line (`\n` line ends).
    Csv,
    /// Aligned columns for people.
    Table,
}

impl Format {
    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Table => "table",
        }
    }

    /// Every format.
    pub const ALL: [Format; 3] = [Format::Jsonl, Format::Csv, Format::Table];
}

impl FromStr for Format {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, ReportError> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ReportError::UnknownFormat(s.chars().take(64).collect()))
    }
}

/// A JSON value that keeps its object keys in document order and its numbers as text.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Val>),
    Obj(Vec<(String, Val)>),
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Val, E> {
        Ok(Val::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Val, E> {
        Ok(Val::Num(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Val, E> {
        Ok(Val::Num(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Val, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Val::Null, |n| Val::Num(n.to_string())))
    }
    fn visit_str<E>(self, v: &str) -> Result<Val, E> {
        Ok(Val::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Val, E> {
        Ok(Val::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_none<E>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Val, D::Error> {
        Val::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Val::Arr(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
        let mut out = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Val>()? {
            out.push((k, v));
        }
        Ok(Val::Obj(out))
    }
}

impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

/// One flattened cell.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    Num(String),
}

impl Cell {
    fn text(&self) -> &str {
        match self {
            Cell::Empty => "",
            Cell::Text(s) | Cell::Num(s) => s,
        }
    }
}

fn scalar(v: &Val) -> String {
    match v {
        Val::Null => String::new(),
        Val::Bool(b) => b.to_string(),
        Val::Num(n) | Val::Str(n) => n.clone(),
        Val::Arr(items) => items.iter().map(scalar).collect::<Vec<_>>().join(" "),
        Val::Obj(kv) => kv.iter().map(|(k, v)| format!("{k}={}", scalar(v))).collect::<Vec<_>>().join(" "),
    }
}

fn flatten(prefix: &str, v: &Val, out: &mut Vec<(String, Cell)>) {
    match v {
        Val::Obj(kv) => {
            for (k, v) in kv {
                let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                match v {
                    Val::Obj(_) => flatten(&name, v, out),
                    other => out.push((name, cell(other))),
                }
            }
        }
        other => out.push((prefix.to_owned(), cell(other))),
    }
}

fn cell(v: &Val) -> Cell {
    match v {
        Val::Null => Cell::Empty,
        Val::Num(n) => Cell::Num(n.clone()),
        other => Cell::Text(scalar(other)),
    }
}

fn flat_row(json: &str) -> Vec<(String, Cell)> {
    let v: Val = serde_json::from_str(json).unwrap_or(Val::Obj(Vec::new()));
    let mut out = Vec::new();
    flatten("", &v, &mut out);
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// A number for people: integers as they are, fractions with two decimals.
fn table_num(s: &str) -> String {
    if s.contains(['.', 'e', 'E'])
        && let Ok(f) = s.parse::<f64>()
    {
        return format!("{f:.2}");
    }
    s.to_owned()
}

pub(crate) fn render(report: &Report, format: Format) -> String {
    if format == Format::Jsonl {
        let mut out = String::with_capacity(report.rows.iter().map(|r| r.len() + 1).sum());
        for r in &report.rows {
            out.push_str(r);
            out.push('\n');
        }
        return out;
    }
    let flat: Vec<Vec<(String, Cell)>> = report.rows.iter().map(|r| flat_row(r)).collect();
    let columns: Vec<String> = match flat.first() {
        Some(first) => first.iter().map(|(k, _)| k.clone()).collect(),
        None => flat_row(&rows::sample_row(report.kind)).into_iter().map(|(k, _)| k).collect(),
    };
    // Every row of a report has the same keys; look cells up by name all the same, so a
    // row that lacks one gets an empty cell rather than a shifted line.
    let grid: Vec<Vec<Cell>> = flat
        .into_iter()
        .map(|row| {
            if row.len() == columns.len() && row.iter().zip(&columns).all(|((k, _), c)| k == c) {
                row.into_iter().map(|(_, c)| c).collect()
            } else {
                columns
                    .iter()
                    .map(|c| row.iter().find(|(k, _)| k == c).map_or(Cell::Empty, |(_, v)| v.clone()))
                    .collect()
            }
        })
        .collect();
    let mut out = String::new();
    match format {
        Format::Csv => {
            out.push_str(&columns.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
            out.push('\n');
            for row in &grid {
                out.push_str(&row.iter().map(|c| csv_field(c.text())).collect::<Vec<_>>().join(","));
                out.push('\n');
            }
        }
        Format::Table | Format::Jsonl => {
            let shown: Vec<Vec<(String, bool)>> = grid
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|c| match c {
                            Cell::Num(n) => (table_num(n), true),
                            other => (other.text().replace(['\n', '\r', '\t'], " "), false),
                        })
                        .collect()
                })
                .collect();
            let width = |s: &str| s.chars().count();
            let mut widths: Vec<usize> = columns.iter().map(|c| width(c)).collect();
            for row in &shown {
                for (w, (s, _)) in widths.iter_mut().zip(row) {
                    *w = (*w).max(width(s));
                }
            }
            let pad = |s: &str, w: usize, right: bool| {
                let fill = " ".repeat(w.saturating_sub(width(s)));
                if right { format!("{fill}{s}") } else { format!("{s}{fill}") }
            };
            let numeric: Vec<bool> =
                (0..columns.len()).map(|i| shown.iter().any(|row| row.get(i).is_some_and(|c| c.1))).collect();
            let header: Vec<String> =
                columns.iter().zip(&widths).zip(&numeric).map(|((c, w), right)| pad(c, *w, *right)).collect();
            out.push_str(header.join("  ").trim_end());
            out.push('\n');
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
            for row in &shown {
                let cells: Vec<String> = row.iter().zip(&widths).map(|((s, right), w)| pad(s, *w, *right)).collect();
                out.push_str(cells.join("  ").trim_end());
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReportKind;

    fn report(rows: &[&str]) -> Report {
        Report { kind: ReportKind::Alarms, rows: rows.iter().map(|s| (*s).to_owned()).collect() }
    }

    #[test]
    fn csv_flattens_objects_joins_arrays_and_quotes() {
        let r = report(&[
            r#"{"id":"a,1","n":1.5,"x":null,"ev":[3,4],"m":{"late":1,"absent":0},"q":"say \"hi\""}"#,
            r#"{"id":"b","n":2,"x":"y","ev":[],"m":{"late":0,"absent":2},"q":"line\nbreak"}"#,
        ]);
        assert_eq!(
            r.render(Format::Csv),
            "id,n,x,ev,m.late,m.absent,q\n\"a,1\",1.5,,3 4,1,0,\"say \"\"hi\"\"\"\nb,2,y,,0,2,\"line\nbreak\"\n"
        );
        assert_eq!(r.render(Format::Jsonl), format!("{}\n{}\n", r.rows[0], r.rows[1]));
    }

    #[test]
    fn csv_numbers_are_the_json_numbers_digit_for_digit() {
        // 6/13 and 10/3: the shortest text that reads back as the same double, as in JSON.
        let (a, b) = (6.0f64 / 13.0, 10.0f64 / 3.0);
        let row = serde_json::json!({"a": a, "b": b, "c": 0.1 + 0.2}).to_string();
        let csv = report(&[&row]).render(Format::Csv);
        assert_eq!(csv, format!("a,b,c\n{a},{b},{}\n", 0.1 + 0.2));
        assert!(row.contains(&a.to_string()) && csv.contains("0.46153846153846156"), "{row} {csv}");
    }

    #[test]
    fn tables_align_and_round_fractions() {
        let r = report(&[
            r#"{"agent":"a1","share":0.8333333333333334,"n":12}"#,
            r#"{"agent":"agent-22","share":null,"n":3}"#,
        ]);
        assert_eq!(
            r.render(Format::Table),
            "agent     share   n\n--------  -----  --\na1         0.83  12\nagent-22          3\n"
        );
    }

    #[test]
    fn an_empty_report_still_has_its_header() {
        for kind in ReportKind::ALL {
            let r = Report { kind, rows: Vec::new() };
            let csv = r.render(Format::Csv);
            assert!(csv.starts_with("tenant,"), "{kind}: {csv}");
            assert_eq!(csv.lines().count(), 1);
            assert_eq!(r.render(Format::Table).lines().count(), 2);
            assert_eq!(r.render(Format::Jsonl), "");
        }
        let alarms = Report { kind: ReportKind::Alarms, rows: Vec::new() }.render(Format::Csv);
        assert_eq!(alarms, "tenant,id,rule,agent,call,raised_at,cleared_at,message,evidence\n");
    }

    #[test]
    fn names_parse() {
        assert_eq!("csv".parse::<Format>(), Ok(Format::Csv));
        assert!("xml".parse::<Format>().unwrap_err().to_string().contains("jsonl, csv, table"));
        assert_eq!("scorecard".parse::<ReportKind>(), Ok(ReportKind::Scorecard));
    }
}
