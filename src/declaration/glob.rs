//! The subset of Go's `filepath.Match` the daemon uses for `models.*.predefined` globs:
//! `*` matches any run of characters except `/`, `?` one such character.

pub fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    match_from(&p, &s)
}

fn match_from(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => {
            // Try every split that does not swallow a path separator.
            let mut i = 0;
            loop {
                if match_from(&p[1..], &s[i..]) {
                    return true;
                }
                if i == s.len() || s[i] == '/' {
                    return false;
                }
                i += 1;
            }
        }
        Some('?') => !s.is_empty() && s[0] != '/' && match_from(&p[1..], &s[1..]),
        Some(c) => s.first() == Some(c) && match_from(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_does_not_cross_directories() {
        assert!(matches("models/llm/*.yaml", "models/llm/a.yaml"));
        assert!(matches("models/llm/*.yaml", "models/llm/_position.yaml"));
        assert!(!matches("models/llm/*.yaml", "models/llm/x/a.yaml"));
        assert!(!matches("models/llm/*.yaml", "models/rerank/a.yaml"));
        assert!(matches("models/?lm/*", "models/llm/a"));
    }
}
