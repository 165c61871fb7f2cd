//! How an error and its causes read as text: the one flattener of error chains. A cause whose
//! message an earlier one already contains (a wrapper that repeats its source) is left out.
//! [`messages`] gives the distinct messages, outermost first (the CLI prints them as `error:`
//! and `caused by:` lines); [`error_chain`] joins them on one line (listings, reports).

/// The distinct messages of `error` and its causes, outermost first.
pub fn messages(error: &dyn std::error::Error) -> Vec<String> {
    let mut said = String::new();
    let mut messages = Vec::new();
    let mut next: Option<&dyn std::error::Error> = Some(error);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !said.contains(&text) {
            said.push_str(&text);
            said.push('\n');
            messages.push(text);
        }
        next = cause.source();
    }
    messages
}

/// An error and its causes on one line: `outer: cause: root cause`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    messages(error).join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn chain(texts: &[&'static str]) -> Layer {
        texts
            .iter()
            .rev()
            .fold(None, |source, &text| {
                Some(Layer {
                    text,
                    source: source.map(Box::new),
                })
            })
            .unwrap()
    }

    #[test]
    fn causes_join_and_repeats_are_left_out() {
        let error = chain(&["could not read `a`: disk full", "disk full", "os error 28"]);
        assert_eq!(
            messages(&error),
            ["could not read `a`: disk full", "os error 28"]
        );
        assert_eq!(
            error_chain(&error),
            "could not read `a`: disk full: os error 28"
        );
        assert_eq!(error_chain(&chain(&["alone"])), "alone");
    }
}
