//! Secrets recognised by their shape alone, wherever they sit in text: provider tokens with a
//! well-known prefix (GitHub `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_`/`github_pat_`, OpenAI and
//! Anthropic `sk-`/`sk-ant-`, Slack `xox?-`, GitLab `glpat-`, AWS access key ids `AKIA…`/`ASIA…`,
//! Google API keys `AIza…`). JWTs and `Bearer`/`Basic` credentials have their own scanners in
//! the `text` module.
//!
//! A match must start at a word boundary (so `task-…` is not an `sk-` key) and run long enough
//! to be a credential rather than prose that happens to share a prefix.

use super::ctx::Ctx;
use super::value::MARKER_PREFIX;

/// One token family: its prefix, which bytes may follow, and how many at least.
struct Shape {
    prefix: &'static str,
    body: fn(u8) -> bool,
    min_body: usize,
}

fn word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

fn alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

fn upper_digit(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

/// Longest prefixes first, so `sk-ant-` wins over `sk-` and `github_pat_` is whole.
const SHAPES: &[Shape] = &[
    Shape {
        prefix: "github_pat_",
        body: word,
        min_body: 20,
    },
    Shape {
        prefix: "sk-ant-",
        body: word,
        min_body: 16,
    },
    Shape {
        prefix: "glpat-",
        body: word,
        min_body: 16,
    },
    Shape {
        prefix: "ghp_",
        body: alnum,
        min_body: 16,
    },
    Shape {
        prefix: "gho_",
        body: alnum,
        min_body: 16,
    },
    Shape {
        prefix: "ghu_",
        body: alnum,
        min_body: 16,
    },
    Shape {
        prefix: "ghs_",
        body: alnum,
        min_body: 16,
    },
    Shape {
        prefix: "ghr_",
        body: alnum,
        min_body: 16,
    },
    Shape {
        prefix: "xoxa-",
        body: word,
        min_body: 10,
    },
    Shape {
        prefix: "xoxb-",
        body: word,
        min_body: 10,
    },
    Shape {
        prefix: "xoxp-",
        body: word,
        min_body: 10,
    },
    Shape {
        prefix: "xoxr-",
        body: word,
        min_body: 10,
    },
    Shape {
        prefix: "xoxs-",
        body: word,
        min_body: 10,
    },
    Shape {
        prefix: "xoxe-",
        body: word,
        min_body: 10,
    },
    Shape {
        prefix: "AKIA",
        body: upper_digit,
        min_body: 16,
    },
    Shape {
        prefix: "ASIA",
        body: upper_digit,
        min_body: 16,
    },
    Shape {
        prefix: "AIza",
        body: word,
        min_body: 30,
    },
    Shape {
        prefix: "sk-",
        body: word,
        min_body: 16,
    },
];

/// The shape matching at `i`, and where the token ends.
fn match_at(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && word(b[i - 1]) {
        return None;
    }
    let rest = b.get(i..)?;
    for shape in SHAPES {
        if !rest.starts_with(shape.prefix.as_bytes()) {
            continue;
        }
        let start = i + shape.prefix.len();
        let mut end = start;
        while end < b.len() && (shape.body)(b[end]) {
            end += 1;
        }
        if end - start >= shape.min_body {
            return Some(end);
        }
    }
    None
}

/// Replaces every secret-shaped token in `s`.
pub(crate) fn scrub(ctx: &mut Ctx<'_>, s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        // Every prefix starts with an ASCII letter; skip the rest quickly.
        if !matches!(b[i], b'g' | b's' | b'x' | b'A') {
            i += 1;
            continue;
        }
        match match_at(b, i) {
            Some(end) if !s[i..end].contains(MARKER_PREFIX) => {
                out.push_str(&s[last..i]);
                out.push_str(&ctx.secret(&s[i..end]));
                last = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&s[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Ctx, marker};
    use super::*;

    fn run(s: &str) -> String {
        scrub(&mut Ctx::new(&[]), s)
    }

    #[test]
    fn provider_tokens_anywhere_in_text() {
        for token in [
            "ghp_abcdefghijklmnop1234",
            "gho_ABCDEFGHIJKLMNOP1234",
            "github_pat_11ABCDEFG0123456789_abcdefghij",
            "sk-ant-api03-abcdefghijklmnop",
            "sk-proj-abcdefghijklmnopqrst",
            "xoxb-123456789012-abcdef",
            "AKIAIOSFODNN7EXAMPLE",
            "glpat-abcdefghijklmnopqrst",
        ] {
            let out = run(&format!("tool said: {token}."));
            assert_eq!(out, format!("tool said: {}.", marker(token)), "{token}");
        }
    }

    #[test]
    fn near_misses_stay() {
        for text in [
            "task-abcdefghijklmnopqrstuv",
            "ghp_short",
            "AKIAlowercase_is_not_a_key",
            "sk-",
            "desk-abcdefghijklmnopqrstu",
        ] {
            assert_eq!(run(text), text);
        }
    }

    #[test]
    fn idempotent() {
        let once = run("key ghp_abcdefghijklmnop1234 and sk-ant-abcdefghijklmnopqr");
        assert_eq!(run(&once), once);
    }
}
