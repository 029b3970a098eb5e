//! Splitting a command string into argv the way a POSIX shell splits words:
//! quotes and backslashes, and nothing else (no variables, globs or pipes).

use crate::error::{Error, Result};

/// Splits a command string into argv the way a POSIX shell splits words
/// (single and double quotes, backslashes), as [`App::new`](crate::App::new)
/// does; nothing is expanded and no shell ever runs it.
///
/// ```
/// use procloop::{Error, split_command};
///
/// assert_eq!(split_command(r#"grep -e "a b" 'c d' e\ f"#)?, ["grep", "-e", "a b", "c d", "e f"]);
/// assert_eq!(split_command("echo $HOME")?, ["echo", "$HOME"]);
/// assert!(matches!(split_command("echo 'oops"), Err(Error::BadCommand { .. })));
/// # Ok::<(), procloop::Error>(())
/// ```
pub fn split_command(command: &str) -> Result<Vec<String>> {
    let bad = |reason| Error::BadCommand { command: command.to_string(), reason };
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        let quoted = match c {
            ' ' | '\t' | '\n' => {
                words.extend(word.take());
                Ok(())
            }
            '\'' => single_quoted(&mut chars, word.get_or_insert_with(String::new)),
            '"' => double_quoted(&mut chars, word.get_or_insert_with(String::new)),
            '\\' => escaped(&mut chars, &mut word),
            c => {
                word.get_or_insert_with(String::new).push(c);
                Ok(())
            }
        };
        quoted.map_err(bad)?;
    }
    words.extend(word);
    if words.is_empty() {
        return Err(bad("empty command"));
    }
    Ok(words)
}

/// Takes the character after a backslash outside quotes; a backslash and a
/// newline together continue the line and start no word.
fn escaped(
    chars: &mut std::str::Chars<'_>,
    word: &mut Option<String>,
) -> std::result::Result<(), &'static str> {
    match chars.next() {
        Some('\n') => Ok(()),
        Some(c) => {
            word.get_or_insert_with(String::new).push(c);
            Ok(())
        }
        None => Err("trailing backslash"),
    }
}

/// Takes what follows an opening `'` up to the closing one, literally.
fn single_quoted(
    chars: &mut std::str::Chars<'_>,
    word: &mut String,
) -> std::result::Result<(), &'static str> {
    loop {
        match chars.next() {
            Some('\'') => return Ok(()),
            Some(c) => word.push(c),
            None => return Err("unterminated single quote"),
        }
    }
}

/// Takes what follows an opening `"` up to the closing one; a backslash
/// escapes only `\\`, `"`, `$`, `` ` `` and a newline, as in a shell.
fn double_quoted(
    chars: &mut std::str::Chars<'_>,
    word: &mut String,
) -> std::result::Result<(), &'static str> {
    loop {
        match chars.next() {
            Some('"') => return Ok(()),
            Some('\\') => match chars.next() {
                Some('\n') => {}
                Some(c @ ('\\' | '"' | '$' | '`')) => word.push(c),
                Some(c) => word.extend(['\\', c]),
                None => return Err("unterminated double quote"),
            },
            Some(c) => word.push(c),
            None => return Err("unterminated double quote"),
        }
    }
}

/// Quotes `words` so that [`split_command`] gives them back; for error messages
/// and tests.
#[cfg(test)]
pub(crate) fn quote(words: &[String]) -> String {
    let quote_word = |w: &String| format!("'{}'", w.replace('\'', r"'\''"));
    words.iter().map(quote_word).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(command: &str) -> Vec<String> {
        split_command(command).unwrap()
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(words("cat"), ["cat"]);
        assert_eq!(
            words("  socat  SYSTEM:cat\tUNIX-LISTEN:sock "),
            ["socat", "SYSTEM:cat", "UNIX-LISTEN:sock"]
        );
        assert_eq!(words(r#"echo 'a b' "c d" e\ f"#), ["echo", "a b", "c d", "e f"]);
        assert_eq!(words(r#"echo "x\"y\\z\n""#), ["echo", r#"x"y\z\n"#]);
        assert_eq!(words("echo '' \"\""), ["echo", "", ""]);
        assert_eq!(words("a'b'\"c\"d"), ["abcd"]);
        assert_eq!(words("echo $HOME *"), ["echo", "$HOME", "*"], "no expansion");
        assert_eq!(words("echo a\\\nb"), ["echo", "ab"], "line continuation");
    }

    #[test]
    fn bad_commands_say_why() {
        for (command, reason) in [
            ("", "empty command"),
            ("   ", "empty command"),
            ("echo 'open", "unterminated single quote"),
            ("echo \"open", "unterminated double quote"),
            ("echo \\", "trailing backslash"),
        ] {
            match split_command(command) {
                Err(Error::BadCommand { command: c, reason: r }) => {
                    assert_eq!((c.as_str(), r), (command, reason));
                }
                other => panic!("{command:?}: {other:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn quoting_round_trips(argv in prop::collection::vec(".*", 1..6)) {
            prop_assert_eq!(split_command(&quote(&argv)).unwrap(), argv);
        }

        #[test]
        fn never_panics(command in ".*") {
            let _ = split_command(&command);
        }
    }
}
