//! A parser for the Prometheus / OpenMetrics text exposition format, strict
//! enough to fail a test on any line a scraper would reject: every line is
//! a `# HELP`, `# TYPE`, `# UNIT` or `# EOF` comment or a sample
//! `name{label="value",...} number`, every sample belongs to a family whose
//! TYPE was declared, and the text ends with `# EOF`.

use std::collections::{BTreeMap, BTreeSet};

/// Samples keyed by name and sorted labels: `raft_term{node="1"}`.
pub type Samples = BTreeMap<String, f64>;

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Label pairs of one sample, in exposition order.
type Labels = Vec<(String, String)>;

/// Parses `{a="x",b="y"}` (after the metric name); returns the labels and the rest.
fn labels(s: &str) -> Result<(Labels, &str), String> {
    let Some(mut rest) = s.strip_prefix('{') else { return Ok((Vec::new(), s)) };
    let mut out = Vec::new();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((out, r));
        }
        let (name, r) = rest.split_once("=\"").ok_or_else(|| format!("bad label in {s:?}"))?;
        if !is_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = r.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('"' | '\\'))) => value.push(c),
                    other => return Err(format!("bad escape {other:?} in {s:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated label value in {s:?}")),
            }
        };
        out.push((name.to_string(), value));
        rest = &r[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    for suffix in ["_total", "_created", "_bucket", "_sum", "_count", "_info"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.contains_key(base) {
                return Some(base);
            }
        }
    }
    None
}

/// Parses the whole exposition; `Err` names the first offending line.
pub fn parse(text: &str) -> Result<Samples, String> {
    let mut types = BTreeMap::new();
    let mut samples = Samples::new();
    let mut seen_eof = false;
    let valid_types: BTreeSet<&str> =
        ["counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown"].into();
    for (n, line) in text.lines().enumerate() {
        let bad = |why: &str| format!("line {}: {why}: {line:?}", n + 1);
        if seen_eof {
            return Err(bad("text after # EOF"));
        }
        if line == "# EOF" {
            seen_eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, tail) = (parts.next(), parts.next(), parts.next());
            let name = name.filter(|n| is_name(n)).ok_or_else(|| bad("comment without a metric name"))?;
            match (kind, tail) {
                (Some("TYPE"), Some(t)) if valid_types.contains(t) => {
                    types.insert(name.to_string(), t.to_string());
                }
                (Some("HELP" | "UNIT"), _) => {}
                _ => return Err(bad("unknown comment")),
            }
            continue;
        }
        let end = line.find(['{', ' ']).ok_or_else(|| bad("no value"))?;
        let name = &line[..end];
        if !is_name(name) {
            return Err(bad("bad metric name"));
        }
        family_of(name, &types).ok_or_else(|| bad("sample of an undeclared family"))?;
        let (mut labels, rest) = labels(&line[end..]).map_err(|e| bad(&e))?;
        let mut fields = rest.split_whitespace();
        let value = fields.next().ok_or_else(|| bad("no value"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| bad("value is not a number"))?,
        };
        if fields.next().is_some_and(|ts| ts.parse::<f64>().is_err()) || fields.next().is_some() {
            return Err(bad("junk after the value"));
        }
        labels.sort();
        let key = if labels.is_empty() {
            name.to_string()
        } else {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            format!("{name}{{{}}}", l.join(","))
        };
        if samples.insert(key.clone(), value).is_some() {
            return Err(bad("duplicate sample"));
        }
    }
    if !seen_eof {
        return Err("no # EOF line".into());
    }
    Ok(samples)
}

/// The value of the sample named `name` whose labels include every `labels`
/// pair, summed over the matches (e.g. a counter over all nodes).
pub fn sum(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| {
            let base = k.split('{').next().unwrap_or(k);
            base == name && labels.iter().all(|(l, v)| k.contains(&format!("{l}=\"{v}\"")))
        })
        .map(|(_, v)| v)
        .sum()
}

/// Self-test of the parser against good and bad lines.
pub fn self_test() {
    let good = "# HELP raft_term Current term.\n# TYPE raft_term gauge\nraft_term{node=\"1\"} 3\n# TYPE x counter\nx_total 2\nx_created 1.5e9\n# EOF\n";
    let s = parse(good).unwrap();
    assert_eq!(s["raft_term{node=\"1\"}"], 3.0);
    assert_eq!(sum(&s, "x_total", &[]), 2.0);
    for bad in [
        "raft_term 3\n# EOF\n",
        "# TYPE a gauge\na{x=1} 2\n# EOF\n",
        "# TYPE a gauge\na two\n# EOF\n",
        "# TYPE a gauge\na 1\n",
        "# TYPE a gauge\na 1\n# EOF\na 2\n",
        "# TYPE a nonsense\n# EOF\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}
