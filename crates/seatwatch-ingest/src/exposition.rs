//! One tenant's view of the rendered Prometheus text (format 0.0.4).
//!
//! The recorder holds every tenant's series; a tenant's token may see only its own.
//! [`scope_to_tenant`] keeps, from a rendered exposition:
//!
//! * the samples whose `tenant` label is exactly the tenant (label values are parsed
//!   with their escapes, so a queue id such as `x",tenant="acme` sent by another
//!   tenant's producer cannot pass for an `acme` series);
//! * the samples of the few server-wide families that reveal nothing about any tenant's
//!   activity ([`TENANT_VISIBLE_SERVER_WIDE`]);
//!
//! and drops everything else: server-wide series (ingest, log, projection, connection
//! and socket counters, which sum every tenant's activity), other tenants' series, and
//! any line it cannot parse (default deny). `# HELP` / `# TYPE` lines are kept only
//! for families that still have a sample.

/// Server-wide families a tenant's token may see: the version and readiness, which
/// `/healthz` and `/readyz` already tell anyone who can reach the port.
pub const TENANT_VISIBLE_SERVER_WIDE: &[&str] = &[crate::telemetry::BUILD_INFO, crate::telemetry::READY];

/// The exposition `text` as tenant `tenant` may see it (see the module documentation).
pub fn scope_to_tenant(text: &str, tenant: &str) -> String {
    let mut out = String::with_capacity(text.len() / 4);
    // The family whose HELP/TYPE lines were read last, its header lines not yet written,
    // and whether any of its samples was kept.
    let mut family: Option<Family> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('#') {
            let mut words = rest.split_whitespace();
            let (Some(keyword @ ("HELP" | "TYPE")), Some(name)) = (words.next(), words.next()) else {
                // Other comments carry nothing a tenant needs.
                continue;
            };
            let same = family.as_ref().is_some_and(|f| f.name == name);
            if !same {
                finish(&mut out, family.take());
                family = Some(Family { name: name.to_owned(), kind: None, header: String::new(), kept: false });
            }
            if let Some(f) = family.as_mut() {
                if keyword == "TYPE" {
                    f.kind = words.next().map(str::to_owned);
                }
                f.header.push_str(line);
                f.header.push('\n');
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let Some(sample) = parse_sample(line) else { continue };
        // A sample of another family than the last header's (one rendered without
        // HELP/TYPE): a family of its own, without header lines.
        if !family.as_ref().is_some_and(|f| f.owns(sample.name)) {
            finish(&mut out, family.take());
            family = Some(Family { name: sample.name.to_owned(), kind: None, header: String::new(), kept: false });
        }
        let Some(f) = family.as_mut() else { continue };
        // Exactly the tenant: a `tenant` label present, and every one of them (the
        // recorder writes each label once) equal to it.
        let mut tenants = sample.labels.iter().filter(|(k, _)| *k == "tenant").map(|(_, v)| v);
        let own = tenants.next().is_some_and(|v| v == tenant) && tenants.all(|v| v == tenant);
        let visible = own || TENANT_VISIBLE_SERVER_WIDE.contains(&f.name.as_str());
        if visible {
            if !f.kept {
                out.push_str(&f.header);
                f.kept = true;
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    finish(&mut out, family);
    out
}

struct Family {
    name: String,
    kind: Option<String>,
    header: String,
    kept: bool,
}

impl Family {
    /// Whether a sample named `sample` belongs to this family (`_bucket`, `_sum` and
    /// `_count` samples belong to a histogram or summary).
    fn owns(&self, sample: &str) -> bool {
        if sample == self.name {
            return true;
        }
        let suffixes: &[&str] = match self.kind.as_deref() {
            Some("histogram") => &["_bucket", "_sum", "_count"],
            Some("summary") => &["_sum", "_count"],
            _ => &[],
        };
        sample.strip_prefix(self.name.as_str()).is_some_and(|rest| suffixes.contains(&rest))
    }
}

/// End a family: a blank line after it if anything of it was written.
fn finish(out: &mut String, family: Option<Family>) {
    if family.is_some_and(|f| f.kept) {
        out.push('\n');
    }
}

/// A sample line's name and labels (values unescaped).
#[derive(Debug, PartialEq)]
struct Sample<'a> {
    name: &'a str,
    labels: Vec<(&'a str, String)>,
}

/// Parse `name{label="value",...} value [timestamp]`; `None` if the line is not one.
fn parse_sample(line: &str) -> Option<Sample<'_>> {
    let name_end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let key_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            let key = &rest[..key_end];
            if key.is_empty() {
                return None;
            }
            rest = rest[key_end..].trim_start().strip_prefix('=')?.trim_start().strip_prefix('"')?;
            let (value, after) = unescape_until_quote(rest)?;
            labels.push((key, value));
            rest = after.trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return None;
            }
        }
    }
    // The value (and an optional timestamp) must follow.
    if !rest.starts_with([' ', '\t']) || rest.trim().is_empty() {
        return None;
    }
    Some(Sample { name, labels })
}

/// A label value up to its closing quote, unescaped (`\\`, `\"`, `\n`); returns it and
/// the text after the quote.
fn unescape_until_quote(s: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP seatwatch_build_info Always 1.
# TYPE seatwatch_build_info gauge
seatwatch_build_info{version=\"0.1.0\"} 1

# HELP seatwatch_log_last_seq Last seq.
# TYPE seatwatch_log_last_seq gauge
seatwatch_log_last_seq 42

# HELP seatwatch_agents Agents by state.
# TYPE seatwatch_agents gauge
seatwatch_agents{tenant=\"acme\",state=\"ready\"} 3
seatwatch_agents{tenant=\"globex\",state=\"ready\"} 5

# HELP seatwatch_calls_queued_total Queued.
# TYPE seatwatch_calls_queued_total counter
seatwatch_calls_queued_total{tenant=\"globex\",queue=\"x\\\",tenant=\\\"acme\"} 7
seatwatch_calls_queued_total{queue=\"tenant=\\\"acme\\\"\",tenant=\"globex\"} 8

# HELP seatwatch_answer_delay_seconds Delay.
# TYPE seatwatch_answer_delay_seconds histogram
seatwatch_answer_delay_seconds_bucket{tenant=\"acme\",queue=\"q\",le=\"5\"} 1
seatwatch_answer_delay_seconds_bucket{tenant=\"acme\",queue=\"q\",le=\"+Inf\"} 2
seatwatch_answer_delay_seconds_sum{tenant=\"acme\",queue=\"q\"} 9.5
seatwatch_answer_delay_seconds_count{tenant=\"acme\",queue=\"q\"} 2
seatwatch_answer_delay_seconds_bucket{tenant=\"globex\",queue=\"q\",le=\"+Inf\"} 4
seatwatch_answer_delay_seconds_sum{tenant=\"globex\",queue=\"q\"} 1
seatwatch_answer_delay_seconds_count{tenant=\"globex\",queue=\"q\"} 4

# TYPE seatwatch_ingest_events_total counter
seatwatch_ingest_events_total{result=\"accepted\"} 10

";

    #[test]
    fn a_tenant_keeps_its_own_series_and_the_harmless_server_wide_ones_with_their_headers() {
        let acme = scope_to_tenant(TEXT, "acme");
        let expected = "\
# HELP seatwatch_build_info Always 1.
# TYPE seatwatch_build_info gauge
seatwatch_build_info{version=\"0.1.0\"} 1

# HELP seatwatch_agents Agents by state.
# TYPE seatwatch_agents gauge
seatwatch_agents{tenant=\"acme\",state=\"ready\"} 3

# HELP seatwatch_answer_delay_seconds Delay.
# TYPE seatwatch_answer_delay_seconds histogram
seatwatch_answer_delay_seconds_bucket{tenant=\"acme\",queue=\"q\",le=\"5\"} 1
seatwatch_answer_delay_seconds_bucket{tenant=\"acme\",queue=\"q\",le=\"+Inf\"} 2
seatwatch_answer_delay_seconds_sum{tenant=\"acme\",queue=\"q\"} 9.5
seatwatch_answer_delay_seconds_count{tenant=\"acme\",queue=\"q\"} 2

";
        assert_eq!(acme, expected);
    }

    #[test]
    fn escaped_quotes_in_another_label_cannot_fake_a_tenant() {
        let globex = scope_to_tenant(TEXT, "globex");
        assert!(globex.contains("seatwatch_calls_queued_total{tenant=\"globex\",queue=\"x\\\",tenant=\\\"acme\"} 7"));
        assert!(globex.contains("seatwatch_calls_queued_total{queue=\"tenant=\\\"acme\\\"\",tenant=\"globex\"} 8"));
        assert!(!globex.contains("tenant=\"acme\",state"), "{globex}");
        let acme = scope_to_tenant(TEXT, "acme");
        assert!(!acme.contains("seatwatch_calls_queued_total"), "{acme}");
        assert!(!acme.contains("globex"), "{acme}");
    }

    #[test]
    fn server_wide_series_other_tenants_and_unknown_tenants_see_nothing_else() {
        let none = scope_to_tenant(TEXT, "nobody");
        assert!(none.contains("seatwatch_build_info{"), "{none}");
        assert!(!none.contains("seatwatch_agents"), "{none}");
        assert!(!none.contains("seatwatch_log_last_seq"), "{none}");
        assert!(!none.contains("seatwatch_ingest_events_total"), "{none}");
        // A tenant whose name is a prefix of another's is not that other tenant.
        assert!(!scope_to_tenant(TEXT, "acm").contains("seatwatch_agents"));
        assert!(!scope_to_tenant(TEXT, "").contains("seatwatch_agents"));
    }

    #[test]
    fn lines_that_do_not_parse_are_dropped() {
        let text = "\
# TYPE x gauge
x{tenant=\"acme\" 1
x{tenant=\"acme\",} 2
x{tenant=acme} 3
x{tenant=\"acme\"}
x{tenant=\"acme\",tenant2=\"a\\\"} 4
x{tenant=\"acme\"} 5 1700000000000
";
        assert_eq!(
            scope_to_tenant(text, "acme"),
            "# TYPE x gauge\nx{tenant=\"acme\",} 2\nx{tenant=\"acme\"} 5 1700000000000\n\n"
        );
    }

    #[test]
    fn label_values_are_unescaped() {
        let s = parse_sample(r#"m{a="x\\y\"z\n",b="",c="ü"} 1"#).unwrap();
        assert_eq!(s.name, "m");
        assert_eq!(s.labels, vec![("a", "x\\y\"z\n".to_owned()), ("b", String::new()), ("c", "ü".to_owned())]);
        assert_eq!(parse_sample("m 1").unwrap().labels, vec![]);
        assert!(parse_sample("1m 1").is_none());
        assert!(parse_sample("m{a=\"unterminated} 1").is_none());
    }
}
