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
    let mut lexer = Lexer {
        c: src.chars().collect(),
        i: 0,
        line: 1,
        out: Vec::new(),
    };
    while lexer.i < lexer.c.len() {
        lexer.next_token();
    }
    lexer.out
}

/// Whether `ch` continues an identifier (or a number and its suffix).
fn is_ident(ch: char) -> bool {
    ch == '_' || ch.is_alphanumeric()
}

/// The lexer's state: the characters, the position, the current line and the tokens so far.
struct Lexer {
    c: Vec<char>,
    i: usize,
    line: usize,
    out: Vec<Lexed>,
}

impl Lexer {
    /// The character at `i`, `'\0'` past the end.
    fn at(&self, i: usize) -> char {
        self.c.get(i).copied().unwrap_or('\0')
    }

    /// Records `token` as starting on `line`.
    fn push(&mut self, token: Token, line: usize) {
        self.out.push(Lexed { token, line });
    }

    /// Reads the whitespace, comment or token at the current position.
    fn next_token(&mut self) {
        let i = self.i;
        let ch = self.c[i];
        if ch == '\n' {
            self.line += 1;
            self.i += 1;
        } else if ch.is_whitespace() {
            self.i += 1;
        } else if ch == '/' && self.at(i + 1) == '/' {
            self.line_comment();
        } else if ch == '/' && self.at(i + 1) == '*' {
            self.block_comment();
        } else if let Some(end) = raw_string_end(&self.c, i) {
            let line = self.line;
            self.line += self.c[i..end].iter().filter(|&&x| x == '\n').count();
            self.i = end;
            self.push(Token::Literal, line);
        } else if ch == '"' || (matches!(ch, 'b' | 'c') && self.at(i + 1) == '"') {
            self.string();
        } else if ch == '\'' || (ch == 'b' && self.at(i + 1) == '\'') {
            self.char_or_lifetime();
        } else if ch == 'r' && self.at(i + 1) == '#' && is_ident(self.at(i + 2)) {
            self.i = i + 2;
            self.ident();
        } else if ch.is_ascii_digit() {
            self.number();
        } else if is_ident(ch) {
            self.ident();
        } else {
            self.punct();
        }
    }

    /// Skips a `//` comment, up to its newline.
    fn line_comment(&mut self) {
        while self.i < self.c.len() && self.c[self.i] != '\n' {
            self.i += 1;
        }
    }

    /// Skips a `/* … */` comment, nested ones included.
    fn block_comment(&mut self) {
        let mut depth = 0;
        while self.i < self.c.len() {
            if self.c[self.i] == '/' && self.at(self.i + 1) == '*' {
                depth += 1;
                self.i += 2;
            } else if self.c[self.i] == '*' && self.at(self.i + 1) == '/' {
                depth -= 1;
                self.i += 2;
                if depth == 0 {
                    break;
                }
            } else {
                self.line += usize::from(self.c[self.i] == '\n');
                self.i += 1;
            }
        }
    }

    /// Reads a string, byte string or C string literal (`"…"`, `b"…"`, `c"…"`).
    fn string(&mut self) {
        let line = self.line;
        self.i += if self.c[self.i] == '"' { 1 } else { 2 };
        while self.i < self.c.len() && self.c[self.i] != '"' {
            if self.c[self.i] == '\\' {
                self.i += 1;
            }
            self.line += usize::from(self.at(self.i) == '\n');
            self.i += 1;
        }
        self.i += 1;
        self.push(Token::Literal, line);
    }

    /// Reads a char or byte literal, or skips a lifetime or loop label (not part of any path).
    fn char_or_lifetime(&mut self) {
        let q = if self.c[self.i] == '\'' {
            self.i
        } else {
            self.i + 1
        };
        if self.at(q + 1) == '\\' {
            self.i = q + 2;
            while self.i < self.c.len() && self.c[self.i] != '\'' {
                self.i += 1;
            }
            self.i += 1;
            self.push(Token::Literal, self.line);
        } else if self.at(q + 2) == '\'' {
            self.i = q + 3;
            self.push(Token::Literal, self.line);
        } else {
            self.i = q + 1;
            while is_ident(self.at(self.i)) {
                self.i += 1;
            }
        }
    }

    /// Reads a number literal, its suffix and fraction included.
    fn number(&mut self) {
        while is_ident(self.at(self.i))
            || (self.at(self.i) == '.' && self.at(self.i + 1).is_ascii_digit())
        {
            self.i += 1;
        }
        self.push(Token::Literal, self.line);
    }

    /// Reads an identifier or keyword.
    fn ident(&mut self) {
        let start = self.i;
        while is_ident(self.at(self.i)) {
            self.i += 1;
        }
        let name = self.c[start..self.i].iter().collect();
        self.push(Token::Ident(name), self.line);
    }

    /// Reads one punctuation character (`::` counts as one).
    fn punct(&mut self) {
        let ch = self.c[self.i];
        let token = match (ch, self.at(self.i + 1)) {
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
        self.i += if token == Token::Punct("::") { 2 } else { 1 };
        self.push(token, self.line);
    }
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
    let mut scanner = Scanner {
        t: &t,
        out: FileScan::default(),
        stack: Vec::new(),
        pending_test: false,
        item_test: false,
        pending_mod: None,
    };
    let mut i = 0;
    while i < t.len() {
        i = scanner.step(i);
    }
    scanner.out
}

/// The scanner's state: the tokens, what was found so far, the open braces, and the
/// attribute and module declaration waiting for their item or brace.
struct Scanner<'a> {
    t: &'a [Lexed],
    out: FileScan,
    stack: Vec<Brace>,
    /// A `#[cfg(test)]` waits for its item.
    pending_test: bool,
    /// The current item (up to its `;` or `{`) is test-only.
    item_test: bool,
    /// The inline module whose `{` comes next.
    pending_mod: Option<String>,
}

impl<'a> Scanner<'a> {
    /// The identifier at `i`, if that token is one.
    fn ident(&self, i: usize) -> Option<&'a str> {
        match self.t.get(i).map(|l| &l.token) {
            Some(Token::Ident(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    /// Whether the token at `i` is the punctuation `p`.
    fn punct(&self, i: usize, p: &str) -> bool {
        matches!(self.t.get(i).map(|l| &l.token), Some(Token::Punct(q)) if *q == p)
    }

    /// Where the token at `i` is: its line, the inline modules around it, whether test-only.
    fn site(&self, i: usize) -> Site {
        Site {
            line: self.t[i].line,
            scope: self.stack.iter().filter_map(|b| b.module.clone()).collect(),
            test: self.item_test || self.stack.iter().any(|b| b.test),
        }
    }

    /// Reads what starts at token `i`; returns the index of the next token to read.
    fn step(&mut self, i: usize) -> usize {
        let t = self.t;
        let site = self.site(i);
        let at_item_level = self.stack.iter().all(|b| b.module.is_some());
        if let Some(next) = self.attribute(i) {
            return next;
        }
        match (&t[i].token, self.ident(i)) {
            (_, Some("use")) => return self.use_declaration(i, &site),
            (_, Some(kw)) if ITEM_KEYWORDS.contains(&kw) || kw == "impl" => {
                self.item(i, kw, &site, at_item_level);
            }
            (_, Some("macro_rules")) if self.punct(i + 1, "!") => {
                if let Some(name) = self.ident(i + 2) {
                    self.out.items.push((site.scope.clone(), name.to_string()));
                }
            }
            (Token::Punct("{"), _) => {
                self.stack.push(Brace {
                    module: self.pending_mod.take(),
                    test: std::mem::take(&mut self.item_test),
                });
            }
            (Token::Punct("}"), _) => {
                self.stack.pop();
            }
            (Token::Punct(";"), _) => self.item_test = false,
            (_, Some(first)) if self.punct(i + 1, "::") && !(i > 0 && self.punct(i - 1, "::")) => {
                return self.inline_path(i, first, site);
            }
            _ => {}
        }
        i + 1
    }

    /// At an attribute (`#[…]`, `#![…]`): notes an outer `#[cfg(test)]` for the next item and
    /// returns the index after the attribute.
    fn attribute(&mut self, i: usize) -> Option<usize> {
        if !self.punct(i, "#") {
            return None;
        }
        let inner = self.punct(i + 1, "!");
        let open = i + 1 + usize::from(inner);
        if !self.punct(open, "[") {
            return None;
        }
        let close = matching(self.t, open);
        let words: Vec<&str> = (open + 1..close).filter_map(|k| self.ident(k)).collect();
        if !inner
            && words.first() == Some(&"cfg")
            && words.contains(&"test")
            && !words.contains(&"not")
        {
            self.pending_test = true;
        }
        Some(close + 1)
    }

    /// Records the leaves of the `use` declaration at `i`; returns the index after its tree.
    fn use_declaration(&mut self, i: usize, site: &Site) -> usize {
        let public = is_public(self.t, i);
        let mut j = i + 1;
        let mut leaves = Vec::new();
        use_tree(self.t, &mut j, Vec::new(), &mut leaves);
        let test = site.test || std::mem::take(&mut self.pending_test);
        for (path, alias, glob, line) in leaves {
            let site = Site {
                line,
                test,
                ..site.clone()
            };
            self.out.uses.push(UseLeaf {
                path,
                alias,
                glob,
                public,
                site,
            });
        }
        j
    }

    /// At the item keyword `kw` (`impl` included): takes a waiting `#[cfg(test)]` for the item
    /// and records a module declaration or a named module-level item.
    fn item(&mut self, i: usize, kw: &str, site: &Site, at_item_level: bool) {
        if self.pending_test {
            self.item_test = true;
            self.pending_test = false;
        }
        let Some(name) = self
            .ident(i + 1)
            .filter(|n| !KEYWORDS.contains(n) && *n != "_")
        else {
            return;
        };
        if kw == "mod" {
            let inline = self.punct(i + 2, "{");
            let site = Site {
                test: site.test || self.item_test,
                ..site.clone()
            };
            self.out.mods.push(ModDecl {
                name: name.to_string(),
                inline,
                site,
            });
            if inline {
                self.pending_mod = Some(name.to_string());
            }
        } else if at_item_level && !site.test && kw != "impl" {
            self.out.items.push((site.scope.clone(), name.to_string()));
        }
    }

    /// Records the inline path starting with `first` at `i`; returns the index after it.
    fn inline_path(&mut self, i: usize, first: &str, site: Site) -> usize {
        let mut path = vec![first.to_string()];
        let mut j = i + 1;
        while self.punct(j, "::") {
            match self.ident(j + 1) {
                Some(seg) => path.push(seg.to_string()),
                None => break,
            }
            j += 2;
        }
        if path.len() > 1 {
            self.out.paths.push((path, site));
        }
        j
    }
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
