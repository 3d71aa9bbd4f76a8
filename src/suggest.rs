//! "Did you mean": the nearest known name to a misspelt one (commands, profiles, rule ids,
//! annotation values, config keys).

/// The closest of `known` to `word` (Jaro-Winkler above 0.8, or an edit distance of at most
/// a third of the word), for "did you mean".
pub fn nearest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for k in known {
        let score = strsim::jaro_winkler(word, k);
        let close = score > 0.8 || strsim::levenshtein(word, k) <= (word.len().max(3) / 3);
        if close && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, k));
        }
    }
    best.map(|(_, k)| k)
}

/// "; did you mean \"x\"?" or nothing.
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, known)
        .map(|k| format!("; did you mean {k:?}?"))
        .unwrap_or_default()
}
