//! llama-bench `-o sql`: `CREATE TABLE IF NOT EXISTS llama_bench (...)` once, then one
//! `INSERT INTO llama_bench (columns) VALUES ('...', ...);` per result, every value quoted.
//!
//! Only the subset of SQL that llama-bench writes (and a hand-edited dump plausibly holds) is
//! read: `CREATE TABLE` and `INSERT INTO` statements, `--` comments, strings with `''` escapes,
//! bare numbers and `NULL`; transaction and `PRAGMA` statements are skipped.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{BenchRow, ReadError, RowSource, row_from_fields, shorten};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A keyword, name or bare number.
    Word(String),
    /// A `'...'` string, unescaped.
    Str(String),
    /// A `"..."` or `` `...` `` quoted name.
    Name(String),
    Punct(char),
}

/// A token and the 1-based line it starts on.
type Located = (Token, usize);

pub(super) fn read(text: &str, origin: &str) -> Result<Vec<BenchRow>, ReadError> {
    let tokens = tokenize(text, origin)?;
    let mut tables: HashMap<String, Vec<String>> = HashMap::new();
    let mut rows = Vec::new();
    let statements: Vec<&[Located]> = tokens.split(|(t, _)| *t == Token::Punct(';')).collect();
    let count = statements.len();
    for (k, statement) in statements.into_iter().enumerate() {
        let Some((first, line)) = statement.first() else {
            continue;
        };
        let at = RowSource::line(origin, *line);
        // Only what follows the last `;` can lack one.
        if k + 1 == count {
            return Err(ReadError::truncated(
                at,
                "expected the statement to end with `;`",
            ));
        }
        let keyword = match first {
            Token::Word(w) => w.to_ascii_uppercase(),
            other => String::from(describe(other)),
        };
        match keyword.as_str() {
            "CREATE" => {
                let (name, columns) = create_table(statement, &at)?;
                tables.insert(name, columns);
            }
            "INSERT" => insert(statement, &tables, origin, &mut rows)?,
            "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "PRAGMA" => {}
            _ => {
                return Err(ReadError::invalid(
                    at,
                    format!(
                        "expected a `CREATE TABLE` or `INSERT INTO` statement, found `{}`",
                        shorten(&keyword)
                    ),
                ));
            }
        }
    }
    Ok(rows)
}

fn describe(t: &Token) -> &str {
    match t {
        Token::Word(w) | Token::Str(w) | Token::Name(w) => w,
        Token::Punct(_) => "punctuation",
    }
}

fn tokenize(text: &str, origin: &str) -> Result<Vec<Located>, ReadError> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '(' | ')' | ',' | ';' => tokens.push((Token::Punct(c), line)),
            '\'' | '"' | '`' => {
                let start = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => {
                            return Err(ReadError::truncated(
                                RowSource::line(origin, start),
                                format!("expected the closing `{c}` of a quoted value"),
                            ));
                        }
                        // Doubling the quote escapes it, in SQL strings and quoted names alike.
                        Some(q) if q == c && chars.peek() == Some(&c) => {
                            chars.next();
                            s.push(c);
                        }
                        Some(q) if q == c => break,
                        Some(q) => {
                            if q == '\n' {
                                line += 1;
                            }
                            s.push(q);
                        }
                    }
                }
                let token = if c == '\'' {
                    Token::Str(s)
                } else {
                    Token::Name(s)
                };
                tokens.push((token, start));
            }
            c if is_word_char(c) => {
                let mut w = String::from(c);
                while let Some(&n) = chars.peek().filter(|&&n| is_word_char(n)) {
                    w.push(n);
                    chars.next();
                }
                tokens.push((Token::Word(w), line));
            }
            other => {
                return Err(ReadError::invalid(
                    RowSource::line(origin, line),
                    format!(
                        "unexpected character `{other}`; expected SQL as llama-bench writes it"
                    ),
                ));
            }
        }
    }
    Ok(tokens)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '+')
}

/// A cursor over one statement's tokens, with errors at the statement's line.
struct Cursor<'a> {
    tokens: &'a [Located],
    pos: usize,
    at: &'a RowSource,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn line(&self) -> usize {
        self.tokens
            .get(self.pos)
            .or(self.tokens.last())
            .map_or(1, |(_, l)| *l)
    }

    fn next(&mut self, expected: &str) -> Result<&'a Token, ReadError> {
        let t = self.tokens.get(self.pos).map(|(t, _)| t);
        self.pos += 1;
        t.ok_or_else(|| self.error(expected, None))
    }

    fn error(&self, expected: &str, found: Option<&Token>) -> ReadError {
        let at = RowSource {
            origin: self.at.origin.clone(),
            position: super::Position::Line(self.line()),
        };
        let found = match found {
            Some(Token::Punct(c)) => format!("`{c}`"),
            Some(t) => format!("`{}`", shorten(describe(t))),
            None => "the end of the statement".to_owned(),
        };
        ReadError::invalid(at, format!("expected {expected}, found {found}"))
    }

    fn keyword(&mut self, word: &str) -> Result<(), ReadError> {
        match self.next(&format!("`{word}`"))? {
            Token::Word(w) if w.eq_ignore_ascii_case(word) => Ok(()),
            t => Err(self.error(&format!("`{word}`"), Some(t))),
        }
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word));
        if found {
            self.pos += 1;
        }
        found
    }

    fn punct(&mut self, c: char) -> Result<(), ReadError> {
        match self.next(&format!("`{c}`"))? {
            Token::Punct(p) if *p == c => Ok(()),
            t => Err(self.error(&format!("`{c}`"), Some(t))),
        }
    }

    fn name(&mut self) -> Result<String, ReadError> {
        match self.next("a name")? {
            Token::Word(w) | Token::Name(w) => Ok(w.clone()),
            t => Err(self.error("a name", Some(t))),
        }
    }

    /// `( a, b, c )`: names separated by commas.
    fn name_list(&mut self) -> Result<Vec<String>, ReadError> {
        self.punct('(')?;
        let mut names = vec![self.name()?];
        while self.peek() == Some(&Token::Punct(',')) {
            self.pos += 1;
            names.push(self.name()?);
        }
        self.punct(')')?;
        Ok(names)
    }
}

/// `CREATE TABLE [IF NOT EXISTS] name (col TYPE, ...)`: the table's name and column names.
fn create_table(statement: &[Located], at: &RowSource) -> Result<(String, Vec<String>), ReadError> {
    let mut c = Cursor {
        tokens: statement,
        pos: 0,
        at,
    };
    c.keyword("CREATE")?;
    c.keyword("TABLE")?;
    if c.eat_keyword("IF") {
        c.keyword("NOT")?;
        c.keyword("EXISTS")?;
    }
    let name = c.name()?;
    c.punct('(')?;
    // Each definition is a name followed by a type and constraints, up to a comma at depth 0.
    let mut columns = Vec::new();
    let mut depth = 0usize;
    let mut expect_name = true;
    loop {
        let t = c.next("`)` closing the column list")?;
        match t {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') if depth == 0 => break,
            Token::Punct(')') => depth -= 1,
            Token::Punct(',') if depth == 0 => expect_name = true,
            Token::Word(w) | Token::Name(w) if expect_name => {
                columns.push(w.clone());
                expect_name = false;
            }
            _ => {}
        }
    }
    if let Some(t) = c.peek() {
        return Err(c.error("`;` after the column list", Some(t)));
    }
    Ok((name, columns))
}

/// `INSERT INTO name [(cols)] VALUES (v, ...)[, (v, ...)]`: one row per tuple.
fn insert(
    statement: &[Located],
    tables: &HashMap<String, Vec<String>>,
    origin: &str,
    rows: &mut Vec<BenchRow>,
) -> Result<(), ReadError> {
    let at = RowSource::line(origin, statement.first().map_or(1, |(_, l)| *l));
    let mut c = Cursor {
        tokens: statement,
        pos: 0,
        at: &at,
    };
    c.keyword("INSERT")?;
    if c.eat_keyword("OR") {
        c.name()?;
    }
    c.keyword("INTO")?;
    let table = c.name()?;
    let columns = if c.peek() == Some(&Token::Punct('(')) {
        c.name_list()?
    } else {
        tables.get(&table).cloned().ok_or_else(|| {
            c.error(
                &format!("a column list, since no `CREATE TABLE {table}` precedes"),
                c.peek(),
            )
        })?
    };
    c.keyword("VALUES")?;
    loop {
        let line = c.line();
        c.punct('(')?;
        let mut values = Vec::new();
        loop {
            let value = match c.next("a value")? {
                Token::Str(s) => Value::String(s.clone()),
                Token::Word(w) if w.eq_ignore_ascii_case("NULL") => Value::Null,
                Token::Word(w) => Value::String(w.clone()),
                t => return Err(c.error("a value", Some(t))),
            };
            values.push(value);
            match c.next("`,` or `)`")? {
                Token::Punct(',') => {}
                Token::Punct(')') => break,
                t => return Err(c.error("`,` or `)`", Some(t))),
            }
        }
        let row_at = RowSource::line(origin, line);
        if values.len() != columns.len() {
            return Err(ReadError::invalid(
                row_at,
                format!(
                    "the INSERT names {} columns but gives {} value{}; expected one value per column",
                    columns.len(),
                    values.len(),
                    if values.len() == 1 { "" } else { "s" }
                ),
            ));
        }
        let map: Map<String, Value> = columns.iter().cloned().zip(values).collect();
        rows.push(row_from_fields(&map, row_at)?);
        match c.peek() {
            None => return Ok(()),
            Some(Token::Punct(',')) => c.pos += 1,
            Some(t) => return Err(c.error("`,` or `;` after the values", Some(t))),
        }
    }
}
