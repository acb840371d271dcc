//! Turning a comment body into a rating.
//!
//! [`ratemeai`] is RateMeAI's rule, exactly: every number matched by `[+-]?(\d+(\.\d+)?)`, the
//! sign dropped (the regex's first group is kept), averaged. [`strict`] reads the comment the
//! way a person would: `7/10` and `7.5/10` are 7 and 7.5, `6-7` is 6.5, ages (`23F`), heights
//! (`5'11"`), weights, percentages, times and years are not ratings, and in "others said 4 but
//! I think he's a 5" the rater's own number wins.

use serde::{Deserialize, Serialize};

/// Which rule turns a body into a rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Extractor {
    /// RateMeAI's: the mean of every number in the body.
    #[default]
    Ratemeai,
    /// rateme's stricter reading (see the module docs).
    Strict,
}

impl Extractor {
    /// The rating of `body`, if it has one within 0..=10.
    pub fn rate(self, body: &str) -> Option<f64> {
        let r = match self {
            Extractor::Ratemeai => ratemeai(body),
            Extractor::Strict => strict(body),
        }?;
        (0.0..=10.0).contains(&r).then_some(r)
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Extractor::Ratemeai => "ratemeai",
            Extractor::Strict => "strict",
        }
    }
}

/// A number in the text: its value and byte span.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Num {
    value: f64,
    start: usize,
    end: usize,
}

/// Every match of `\d+(\.\d+)?` (ASCII digits), leftmost first, as Python's `re.findall` walks.
fn numbers(body: &str) -> Vec<Num> {
    let b = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        if let Ok(value) = body[start..i].parse::<f64>() {
            out.push(Num {
                value,
                start,
                end: i,
            });
        }
    }
    out
}

/// RateMeAI's rating: the mean of all numbers in the body (`None` when there are none).
pub fn ratemeai(body: &str) -> Option<f64> {
    let nums = numbers(body);
    if nums.is_empty() {
        return None;
    }
    Some(nums.iter().map(|n| n.value).sum::<f64>() / nums.len() as f64)
}

fn word_after(body: &str, end: usize) -> String {
    body[end..]
        .trim_start_matches(' ')
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Whether the number at `n` is something other than a rating: an age/sex tag, a height,
/// weight or length, a percentage, money, a time, an ordinal, a year, part of a word or link.
fn not_a_rating(body: &str, n: &Num) -> bool {
    let b = body.as_bytes();
    let next = b.get(n.end).copied();
    let prev = n.start.checked_sub(1).map(|i| b[i]);
    // Glued to letters ("23F", "m25", "2nd", "x10"; "6ish" is a rating), or inside a link.
    let glued_after = next.is_some_and(|c| c.is_ascii_alphabetic())
        && !body[n.end..].to_ascii_lowercase().starts_with("ish");
    let glued_before = prev.is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b'/');
    if glued_after || glued_before {
        return true;
    }
    // "pic 3", "photo 2", "#4": which picture, not how good.
    let before = body[..n.start].trim_end().to_ascii_lowercase();
    let last_word = before
        .rsplit(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    if [
        "pic", "pics", "picture", "photo", "photos", "image", "img", "number", "no",
    ]
    .contains(&last_word)
    {
        return true;
    }
    // 5'11", 6', 11", 100%, $5, 5:30, 5,000
    if matches!(next, Some(b'\'' | b'"' | b'%' | b':' | b'\xe2'))
        || matches!(prev, Some(b'$' | b'\'' | b':' | b'#' | b'@'))
        || (next == Some(b',') && b.get(n.end + 1).is_some_and(|c| c.is_ascii_digit()))
    {
        return true;
    }
    let unit = word_after(body, n.end);
    const UNITS: &[&str] = &[
        "ft", "feet", "foot", "in", "inch", "inches", "cm", "m", "kg", "kgs", "lb", "lbs",
        "pounds", "years", "year", "yo", "yrs", "y", "f", "yr", "months", "days", "weeks", "hours",
        "min", "minutes", "am", "pm", "k", "st", "nd", "rd", "th", "percent", "pic", "pics",
        "photos",
    ];
    if UNITS.contains(&unit.as_str()) {
        return true;
    }
    // Years and other large numbers are never on a 0–10 scale.
    n.value > 10.0 && !is_out_of_ten_denominator(body, n)
}

fn is_out_of_ten_denominator(body: &str, n: &Num) -> bool {
    n.value == 10.0 && body[..n.start].trim_end().ends_with('/')
}

/// `a/10`, `a out of 10`: returns a.
fn out_of_ten(body: &str, nums: &[Num]) -> Option<f64> {
    for w in nums.windows(2) {
        let between = body[w[0].end..w[1].start].trim().to_ascii_lowercase();
        if w[1].value == 10.0 && (between == "/" || between == "out of") {
            return Some(w[0].value);
        }
    }
    None
}

/// rateme's stricter reading of a comment (see the module docs).
pub fn strict(body: &str) -> Option<f64> {
    let all = numbers(body);
    if let Some(v) = out_of_ten(body, &all) {
        return Some(v);
    }
    let nums: Vec<Num> = all.into_iter().filter(|n| !not_a_rating(body, n)).collect();
    match nums.as_slice() {
        [] => None,
        [one] => Some(one.value),
        _ => {
            // A range: "6-7", "6 - 7", "6 to 7", "6 or 7", "6/7" (not /10).
            for w in nums.windows(2) {
                let between = body[w[0].end..w[1].start].trim().to_ascii_lowercase();
                let between_phrase =
                    between == "and" && body[..w[0].start].to_ascii_lowercase().contains("between");
                if (between_phrase
                    || matches!(between.as_str(), "-" | "–" | "to" | "or" | "/" | "~"))
                    && w[1].value >= w[0].value
                    && w[1].value - w[0].value <= 2.0
                {
                    return Some((w[0].value + w[1].value) / 2.0);
                }
            }
            // Several separate numbers: when others' ratings are quoted, the rater's own is the
            // last one; otherwise the first is the rating and the rest is commentary.
            let lower = body.to_ascii_lowercase();
            let quoting = ["said", "says", "others", "everyone", "people", "they", "op"]
                .iter()
                .any(|w| {
                    lower
                        .split(|c: char| !c.is_ascii_alphanumeric())
                        .any(|t| t == *w)
                });
            Some(if quoting {
                nums[nums.len() - 1].value
            } else {
                nums[0].value
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratemeai_rule_as_documented() {
        assert_eq!(ratemeai("5-6"), Some(5.5));
        assert_eq!(ratemeai("-3"), Some(3.0));
        assert_eq!(ratemeai("+7"), Some(7.0));
        assert_eq!(ratemeai("7.5/10"), Some(8.75));
        assert_eq!(ratemeai("others said 4 but I think he's a 5"), Some(4.5));
        assert_eq!(ratemeai("1.2.3"), Some((1.2 + 3.0) / 2.0));
        assert_eq!(ratemeai("7."), Some(7.0));
        assert_eq!(ratemeai("no numbers"), None);
        // Kept only within 0..10.
        assert_eq!(Extractor::Ratemeai.rate("23F"), None);
        assert_eq!(Extractor::Ratemeai.rate("10"), Some(10.0));
    }

    #[test]
    fn strict_reads_like_a_person() {
        let cases = [
            ("7/10", Some(7.0)),
            ("7.5/10 nice jawline", Some(7.5)),
            ("6-7", Some(6.5)),
            ("others said 4 but I think he's a 5", Some(5.0)),
            ("23F, I'd say a 6", Some(6.0)),
            ("5'11\" is tall enough. 7", Some(7.0)),
            ("100% a 8", Some(8.0)),
            ("no rating here", None),
        ];
        for (body, want) in cases {
            assert_eq!(strict(body), want, "{body}");
        }
    }
}

#[cfg(test)]
mod labelled {
    use super::*;

    /// The labelled sample of tricky bodies in `tests/data/rating_bodies.csv`: each extractor's
    /// accuracy (a rating within 0.01 of the label, or none where the label is empty).
    pub(crate) fn accuracy(extractor: Extractor) -> (usize, usize, Vec<String>) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rating_bodies.csv");
        let mut reader = csv::Reader::from_path(path).unwrap();
        let (mut right, mut total, mut wrong) = (0, 0, Vec::new());
        for row in reader.records() {
            let row = row.unwrap();
            let label: Option<f64> = row[1].trim().parse().ok();
            let got = extractor.rate(&row[0]);
            let ok = match (got, label) {
                (Some(g), Some(l)) => (g - l).abs() < 0.01,
                (None, None) => true,
                _ => false,
            };
            total += 1;
            if ok {
                right += 1;
            } else {
                wrong.push(format!("{:?}: got {got:?}, label {label:?}", &row[0]));
            }
        }
        (right, total, wrong)
    }

    #[test]
    fn strict_beats_ratemeai_on_the_labelled_sample() {
        let (r_right, total, _) = accuracy(Extractor::Ratemeai);
        let (s_right, _, wrong) = accuracy(Extractor::Strict);
        println!(
            "labelled sample ({total} bodies): ratemeai {r_right}/{total} ({:.0}%), strict {s_right}/{total} ({:.0}%)",
            100.0 * r_right as f64 / total as f64,
            100.0 * s_right as f64 / total as f64
        );
        assert!(
            s_right as f64 >= 0.9 * total as f64,
            "strict misses: {wrong:#?}"
        );
        assert!(s_right > r_right + total / 4);
    }
}
