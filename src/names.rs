//! Names read from closed sets (a dialect, an outcome, a fault) and the
//! distance used to suggest the nearest one. Shared by the engine, the
//! dialects and the file readers; it knows nothing of files or positions.

/// Reads one of a closed set of names (a dialect, an outcome, a fault),
/// with an error that quotes the name and lists the choices — so serde
/// places it, and the reader sees what would do.
pub fn named<'de, D, T>(
    deserializer: D,
    what: &str,
    all: &[T],
    name_of: impl Fn(&T) -> &'static str,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Copy,
{
    use serde::Deserialize;
    let name = String::deserialize(deserializer)?;
    all.iter()
        .find(|item| name_of(item) == name)
        .copied()
        .ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(&name_of).collect();
            serde::de::Error::custom(format!(
                "unknown {what} `{name}`, expected one of {}",
                known.join(", ")
            ))
        })
}

/// Levenshtein distance, for "did you mean".
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_edits() {
        assert_eq!(edit_distance("expext", "expect"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("outcome", "outcome"), 0);
    }
}
