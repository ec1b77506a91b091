//! What `--db` may say, and how to print it without leaking a password.

use crate::StoreError;

/// A parsed `--db` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// An SQLite database in a file at this path.
    SqliteFile(String),
    /// A private, non-durable SQLite database in memory (tests, dry runs).
    SqliteMemory,
    /// A PostgreSQL URL, exactly as given.
    Postgres(String),
}

const MEMORY: &str = ":memory:";

pub(crate) fn parse(location: &str) -> Result<Location, StoreError> {
    let invalid = |reason: &str| StoreError::InvalidLocation { location: redact(location), reason: reason.to_string() };
    let trimmed = location.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty"));
    }
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        return Ok(Location::Postgres(trimmed.to_string()));
    }
    let path = if let Some(rest) = trimmed.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = trimmed.strip_prefix("sqlite:") {
        rest
    } else if let Some((scheme, _)) = trimmed.split_once("://") {
        return Err(invalid(&format!("the scheme {scheme:?} is not supported")));
    } else {
        trimmed
    };
    if path.is_empty() {
        return Err(invalid("the SQLite path is empty"));
    }
    if path == MEMORY {
        return Ok(Location::SqliteMemory);
    }
    // A query string would be silently taken as part of the file name: refuse it.
    if path.contains('?') {
        return Err(invalid("SQLite locations take no '?' options; give a plain path"));
    }
    Ok(Location::SqliteFile(path.to_string()))
}

/// `location` with any password in a URL replaced by `***`, for messages and logs.
pub fn redact(location: &str) -> String {
    let without_user_info_password = redact_user_info(location);
    redact_password_parameter(&without_user_info_password)
}

/// `?password=…` / `&password=…` in the query string.
fn redact_password_parameter(location: &str) -> String {
    let Some(query_start) = location.find('?') else {
        return location.to_string();
    };
    let (head, query) = location.split_at(query_start + 1);
    let parameters: Vec<String> = query
        .split('&')
        .map(|parameter| match parameter.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => parameter.to_string(),
        })
        .collect();
    format!("{head}{}", parameters.join("&"))
}

/// `scheme://user:password@host…`
fn redact_user_info(location: &str) -> String {
    let Some(scheme_end) = location.find("://") else {
        return location.to_string();
    };
    let authority_start = scheme_end + 3;
    let rest = &location[authority_start..];
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let Some(at) = authority.rfind('@') else {
        return location.to_string();
    };
    let user_info = &authority[..at];
    let Some(colon) = user_info.find(':') else {
        return location.to_string();
    };
    format!("{}{}:***{}", &location[..authority_start], &user_info[..colon], &location[authority_start + at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_go_to_postgres() {
        for url in ["postgres://u@h:1/d", "postgresql://u@h/d?sslmode=disable"] {
            assert_eq!(parse(url).unwrap(), Location::Postgres(url.to_string()));
        }
    }

    #[test]
    fn paths_and_sqlite_urls_go_to_sqlite() {
        assert_eq!(parse("x.db").unwrap(), Location::SqliteFile("x.db".into()));
        assert_eq!(parse("sqlite://x.db").unwrap(), Location::SqliteFile("x.db".into()));
        assert_eq!(parse("sqlite:///tmp/x.db").unwrap(), Location::SqliteFile("/tmp/x.db".into()));
        assert_eq!(parse("sqlite:x.db").unwrap(), Location::SqliteFile("x.db".into()));
        assert_eq!(parse(":memory:").unwrap(), Location::SqliteMemory);
        assert_eq!(parse("sqlite::memory:").unwrap(), Location::SqliteMemory);
        assert_eq!(parse("sqlite://:memory:").unwrap(), Location::SqliteMemory);
    }

    #[test]
    fn nonsense_is_refused_with_the_reason() {
        for (location, reason) in [
            ("", "empty"),
            ("  ", "empty"),
            ("sqlite://", "path is empty"),
            ("mysql://u@h/d", "\"mysql\" is not supported"),
            ("x.db?mode=ro", "no '?' options"),
        ] {
            let message = parse(location).unwrap_err().to_string();
            assert!(message.contains(reason), "{location:?}: {message}");
        }
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("postgres://u:secret@h:5432/d"), "postgres://u:***@h:5432/d");
        assert_eq!(redact("postgres://u:p@ss@h/d?x=1"), "postgres://u:***@h/d?x=1");
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact("postgres://h/d?user=a@b"), "postgres://h/d?user=a@b");
        assert_eq!(redact("some/path.db"), "some/path.db");
        assert_eq!(redact("postgres://h/d?user=u&password=s&x=1"), "postgres://h/d?user=u&password=***&x=1");
        let message = parse("mysql://u:secret@h/d").unwrap_err().to_string();
        assert!(!message.contains("secret"), "{message}");
    }
}
