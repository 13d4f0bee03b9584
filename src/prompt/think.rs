//! Dify's `<think>` convention, in one place: reasoning is shown inside the answer text
//! between `<think>` tags (as Dify's SDK does for every provider), and those tags come
//! back in later turns' history, where they are display text to remove, not words the
//! assistant said.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// Wraps a stream of reasoning and answer text: the first reasoning delta opens the
/// tag, the first answer delta (or the end) closes it.
#[derive(Debug, Default)]
pub struct ThinkTags {
    open: bool,
}

impl ThinkTags {
    /// The text to show for a reasoning delta.
    pub fn reasoning(&mut self, text: &str) -> String {
        if self.open {
            text.to_string()
        } else {
            self.open = true;
            format!("{OPEN}\n{text}")
        }
    }

    /// The closing tag, when reasoning is open; call before answer text and at the end.
    pub fn close(&mut self) -> Option<&'static str> {
        if self.open {
            self.open = false;
            Some("\n</think>\n")
        } else {
            None
        }
    }
}

/// Removes every `<think>…</think>` from an earlier answer (an unclosed one runs to the
/// end), and the blank space it leaves at the start.
pub fn strip(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        match rest[start..].find(CLOSE) {
            Some(end) => rest = &rest[start + end + CLOSE.len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out.trim_start().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_wrapped_is_stripped() {
        let mut tags = ThinkTags::default();
        let mut shown = tags.reasoning("hmm");
        shown.push_str(&tags.reasoning(", yes"));
        shown.push_str(tags.close().unwrap_or(""));
        assert_eq!(tags.close(), None);
        shown.push_str("The answer");
        assert_eq!(shown, "<think>\nhmm, yes\n</think>\nThe answer");
        assert_eq!(strip(&shown), "The answer");
        assert_eq!(strip("plain"), "plain");
        assert_eq!(strip("a<think>never closed"), "a");
    }
}
