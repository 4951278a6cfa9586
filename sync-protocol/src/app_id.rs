use std::fmt;

use serde::{Deserialize, Serialize};

/// An application identifier: 1 to 50 characters of `a-z`, `0-9` and `-`,
/// starting and ending with a letter or a digit, so that `preview-<appId>` is
/// a valid Fly app name and a valid DNS label (which may not end in `-`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct AppId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AppIdError {
    #[error("app id must not be empty")]
    Empty,
    #[error("app id is {0} characters long; use at most 50")]
    TooLong(usize),
    #[error("app id must start with a lower-case letter or a digit")]
    BadStart,
    #[error("app id must end with a lower-case letter or a digit, not '-'; drop the trailing '-'")]
    BadEnd,
    #[error("app id may contain only a-z, 0-9 and '-'; found {0:?}")]
    BadCharacter(char),
}

impl AppId {
    pub const MAX_LEN: usize = 50;

    pub fn parse(text: &str) -> Result<AppId, AppIdError> {
        let first = text.chars().next().ok_or(AppIdError::Empty)?;
        if text.len() > Self::MAX_LEN {
            return Err(AppIdError::TooLong(text.chars().count()));
        }
        if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
            return Err(AppIdError::BadStart);
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(AppIdError::BadCharacter(bad));
        }
        if text.ends_with('-') {
            return Err(AppIdError::BadEnd);
        }
        Ok(AppId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Fly app (and local host label) that serves this app's preview.
    pub fn preview_name(&self) -> String {
        format!("preview-{}", self.0)
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AppId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AppId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        assert!(AppId::parse("a").is_ok());
        assert!(AppId::parse("0-app-9").is_ok());
        assert_eq!(AppId::parse(""), Err(AppIdError::Empty));
        assert_eq!(AppId::parse("-a"), Err(AppIdError::BadStart));
        assert_eq!(AppId::parse("Ab"), Err(AppIdError::BadStart));
        assert_eq!(AppId::parse("a_b"), Err(AppIdError::BadCharacter('_')));
        assert_eq!(AppId::parse(&"a".repeat(51)), Err(AppIdError::TooLong(51)));
        assert!(AppId::parse(&"a".repeat(50)).is_ok());
        assert_eq!(
            AppId::parse("my-app").unwrap().preview_name(),
            "preview-my-app"
        );
    }

    #[test]
    fn an_app_id_ending_in_a_dash_is_refused_because_no_dns_label_may_end_so() {
        assert_eq!(AppId::parse("a--b-"), Err(AppIdError::BadEnd));
        assert_eq!(AppId::parse("a-"), Err(AppIdError::BadEnd));
        assert!(AppId::parse("a--b").is_ok());
        assert!(
            AppIdError::BadEnd.to_string().contains("trailing '-'"),
            "the message says what to change"
        );
    }
}
