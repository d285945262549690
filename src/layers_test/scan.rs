//! Reads one Rust source file into what the layer check needs: its child module declarations,
//! the items it defines, its `use` leaves and every inline `a::b::c` path, each with its line,
//! the inline module it sits in and whether it is test-only code.
//!
//! A small lexer drops comments (doc comments included) and literals (strings, raw strings,
//! byte strings, chars) first, so a path in a doc link or a string never counts.

/// What a token is; literals are kept as one opaque token so they break a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Ident(String),
    Punct(&'static str),
    Other(char),
    Literal,
}

/// A token and the line it starts on.
#[derive(Debug, Clone)]
pub struct Lexed {
    pub token: Token,
    pub line: usize,
}

/// Splits `src` into tokens, without comments and with each literal as [`Token::Literal`].
pub fn lex(src: &str) -> Vec<Lexed> {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let is_ident = |ch: char| ch == '_' || ch.is_alphanumeric();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        let start_line = line;
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(c[i] == '\n');
                    i += 1;
                }
            }
        } else if let Some(end) = raw_string_end(&c, i) {
            line += c[i..end].iter().filter(|&&x| x == '\n').count();
            i = end;
            out.push(Lexed {
                token: Token::Literal,
                line: start_line,
            });
        } else if ch == '"' || (matches!(ch, 'b' | 'c') && at(i + 1) == '"') {
            i += if ch == '"' { 1 } else { 2 };
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                line += usize::from(at(i) == '\n');
                i += 1;
            }
            i += 1;
            out.push(Lexed {
                token: Token::Literal,
                line: start_line,
            });
        } else if ch == '\'' || (ch == 'b' && at(i + 1) == '\'') {
            let q = if ch == '\'' { i } else { i + 1 };
            if at(q + 1) == '\\' {
                i = q + 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push(Lexed {
                    token: Token::Literal,
                    line,
                });
            } else if at(q + 2) == '\'' {
                i = q + 3;
                out.push(Lexed {
                    token: Token::Literal,
                    line,
                });
            } else {
                // A lifetime or a loop label: not part of any path.
                i = q + 1;
                while is_ident(at(i)) {
                    i += 1;
                }
            }
        } else if ch == 'r' && at(i + 1) == '#' && is_ident(at(i + 2)) {
            let s = i + 2;
            i = s;
            while is_ident(at(i)) {
                i += 1;
            }
            out.push(Lexed {
                token: Token::Ident(c[s..i].iter().collect()),
                line,
            });
        } else if ch.is_ascii_digit() {
            while is_ident(at(i)) || (at(i) == '.' && at(i + 1).is_ascii_digit()) {
                i += 1;
            }
            out.push(Lexed {
                token: Token::Literal,
                line,
            });
        } else if is_ident(ch) {
            let s = i;
            while is_ident(at(i)) {
                i += 1;
            }
            out.push(Lexed {
                token: Token::Ident(c[s..i].iter().collect()),
                line,
            });
        } else {
            let token = match (ch, at(i + 1)) {
                (':', ':') => Token::Punct("::"),
                ('{', _) => Token::Punct("{"),
                ('}', _) => Token::Punct("}"),
                ('[', _) => Token::Punct("["),
                (']', _) => Token::Punct("]"),
                ('(', _) => Token::Punct("("),
                (')', _) => Token::Punct(")"),
                (';', _) => Token::Punct(";"),
                (',', _) => Token::Punct(","),
                ('*', _) => Token::Punct("*"),
                ('#', _) => Token::Punct("#"),
                ('!', _) => Token::Punct("!"),
                _ => Token::Other(ch),
            };
            i += if token == Token::Punct("::") { 2 } else { 1 };
            out.push(Lexed { token, line });
        }
    }
    out
}

/// The end of a raw string (`r"…"`, `r#"…"#`, `br"…"`, `cr"…"`) starting at `i`, if one does.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if matches!(c.get(j), Some('b' | 'c')) {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = c[j..].iter().take_while(|&&x| x == '#').count();
    j += hashes;
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"'
            && c[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&x| x == '#')
                .count()
                == hashes
        {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

/// Where a path was written: its line, the inline modules around it (innermost last) and
/// whether it is test-only code (`#[cfg(test)]` on it or on a module around it).
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub line: usize,
    pub scope: Vec<String>,
    pub test: bool,
}

/// One leaf of a `use` tree: `use a::{b::C as D, e::*}` gives `a::b::C` (bound as `D`) and
/// `a::e::*`.
#[derive(Debug, Clone, PartialEq)]
pub struct UseLeaf {
    pub path: Vec<String>,
    pub alias: Option<String>,
    pub glob: bool,
    pub public: bool,
    pub site: Site,
}

/// A `mod name;` or `mod name { … }` declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct ModDecl {
    pub name: String,
    pub inline: bool,
    pub site: Site,
}

/// Everything the layer check reads from one file.
#[derive(Debug, Default)]
pub struct FileScan {
    pub mods: Vec<ModDecl>,
    /// Items defined at module level: (inline scope, name).
    pub items: Vec<(Vec<String>, String)>,
    pub uses: Vec<UseLeaf>,
    /// Inline paths of two or more segments (`crate::a::B`, `super::x`, `child::f`).
    pub paths: Vec<(Vec<String>, Site)>,
}

const ITEM_KEYWORDS: [&str; 9] = [
    "fn", "struct", "enum", "trait", "type", "const", "static", "union", "mod",
];
const KEYWORDS: [&str; 14] = [
    "fn", "struct", "enum", "trait", "type", "const", "static", "union", "mod", "use", "impl",
    "unsafe", "async", "extern",
];

/// One open brace: the inline module it opens, if any, and whether its content is test-only.
struct Brace {
    module: Option<String>,
    test: bool,
}

/// Scans the tokens of one file.
pub fn scan(src: &str) -> FileScan {
    let t = lex(src);
    let ident = |i: usize| match t.get(i).map(|l| &l.token) {
        Some(Token::Ident(s)) => Some(s.as_str()),
        _ => None,
    };
    let punct =
        |i: usize, p: &str| matches!(t.get(i).map(|l| &l.token), Some(Token::Punct(q)) if *q == p);
    let mut out = FileScan::default();
    let mut stack: Vec<Brace> = Vec::new();
    let mut pending_test = false; // a `#[cfg(test)]` waits for its item
    let mut item_test = false; // the current item (up to its `;` or `{`) is test-only
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < t.len() {
        let scope: Vec<String> = stack.iter().filter_map(|b| b.module.clone()).collect();
        let test = item_test || stack.iter().any(|b| b.test);
        let site = Site {
            line: t[i].line,
            scope,
            test,
        };
        let at_item_level = stack.iter().all(|b| b.module.is_some());
        if punct(i, "#") {
            let inner = punct(i + 1, "!");
            let open = i + 1 + usize::from(inner);
            if punct(open, "[") {
                let close = matching(&t, open);
                let words: Vec<&str> = (open + 1..close).filter_map(ident).collect();
                if !inner
                    && words.first() == Some(&"cfg")
                    && words.contains(&"test")
                    && !words.contains(&"not")
                {
                    pending_test = true;
                }
                i = close + 1;
                continue;
            }
        }
        match (&t[i].token, ident(i)) {
            (_, Some("use")) => {
                let public = is_public(&t, i);
                let mut j = i + 1;
                let mut leaves = Vec::new();
                use_tree(&t, &mut j, Vec::new(), &mut leaves);
                let test = site.test || std::mem::take(&mut pending_test);
                for (path, alias, glob, line) in leaves {
                    let site = Site {
                        line,
                        test,
                        ..site.clone()
                    };
                    out.uses.push(UseLeaf {
                        path,
                        alias,
                        glob,
                        public,
                        site,
                    });
                }
                i = j;
                continue;
            }
            (_, Some(kw)) if ITEM_KEYWORDS.contains(&kw) || kw == "impl" => {
                if pending_test {
                    item_test = true;
                    pending_test = false;
                }
                if let Some(name) = ident(i + 1).filter(|n| !KEYWORDS.contains(n) && *n != "_") {
                    if kw == "mod" {
                        let inline = punct(i + 2, "{");
                        let site = Site {
                            test: site.test || item_test,
                            ..site.clone()
                        };
                        out.mods.push(ModDecl {
                            name: name.to_string(),
                            inline,
                            site: site.clone(),
                        });
                        if inline {
                            pending_mod = Some(name.to_string());
                        }
                    } else if at_item_level && !site.test && kw != "impl" {
                        out.items.push((site.scope.clone(), name.to_string()));
                    }
                }
            }
            (_, Some("macro_rules")) if punct(i + 1, "!") => {
                if let Some(name) = ident(i + 2) {
                    out.items.push((site.scope.clone(), name.to_string()));
                }
            }
            (Token::Punct("{"), _) => {
                stack.push(Brace {
                    module: pending_mod.take(),
                    test: std::mem::take(&mut item_test),
                });
            }
            (Token::Punct("}"), _) => {
                stack.pop();
            }
            (Token::Punct(";"), _) => item_test = false,
            (_, Some(first)) if punct(i + 1, "::") && !(i > 0 && punct(i - 1, "::")) => {
                let mut path = vec![first.to_string()];
                let mut j = i + 1;
                while punct(j, "::") {
                    match ident(j + 1) {
                        Some(seg) => path.push(seg.to_string()),
                        None => break,
                    }
                    j += 2;
                }
                if path.len() > 1 {
                    out.paths.push((path, site));
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Whether the `use` at `i` is `pub` or `pub(…)`.
fn is_public(t: &[Lexed], i: usize) -> bool {
    let mut j = i;
    if j > 0 && t[j - 1].token == Token::Punct(")") {
        while j > 0 && t[j - 1].token != Token::Punct("(") {
            j -= 1;
        }
        j = j.saturating_sub(1);
    }
    j > 0 && t[j - 1].token == Token::Ident("pub".into())
}

/// The index of the bracket closing the one at `open`.
fn matching(t: &[Lexed], open: usize) -> usize {
    let mut depth = 0;
    for (k, l) in t.iter().enumerate().skip(open) {
        match l.token {
            Token::Punct("[") | Token::Punct("(") | Token::Punct("{") => depth += 1,
            Token::Punct("]") | Token::Punct(")") | Token::Punct("}") => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    t.len()
}

type Leaf = (Vec<String>, Option<String>, bool, usize);

/// Parses one use tree at `*i` under `prefix`, pushing its leaves; stops after the tree.
fn use_tree(t: &[Lexed], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Leaf>) {
    let mut path = prefix;
    while let Some(l) = t.get(*i) {
        match &l.token {
            Token::Ident(seg) => {
                path.push(seg.clone());
                *i += 1;
                if t.get(*i).is_some_and(|n| n.token == Token::Punct("::")) {
                    *i += 1;
                    continue;
                }
                let mut alias = None;
                if t.get(*i)
                    .is_some_and(|n| n.token == Token::Ident("as".into()))
                {
                    alias = t.get(*i + 1).and_then(|n| match &n.token {
                        Token::Ident(a) => Some(a.clone()),
                        _ => None,
                    });
                    *i += 2;
                }
                if path.last().is_some_and(|s| s == "self") {
                    path.pop();
                }
                out.push((path, alias, false, l.line));
                return;
            }
            Token::Punct("::") => *i += 1,
            Token::Punct("*") => {
                *i += 1;
                out.push((path, None, true, l.line));
                return;
            }
            Token::Punct("{") => {
                *i += 1;
                while t.get(*i).is_some_and(|n| n.token != Token::Punct("}")) {
                    use_tree(t, i, path.clone(), out);
                    if t.get(*i).is_some_and(|n| n.token == Token::Punct(",")) {
                        *i += 1;
                    } else if t.get(*i).is_some_and(|n| n.token != Token::Punct("}")) {
                        *i += 1; // malformed: skip a token rather than loop
                    }
                }
                *i += 1;
                return;
            }
            _ => return,
        }
    }
}
