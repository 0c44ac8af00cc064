//! The one error type of the service door. Every [`Service`](super::Service)
//! method the CLI and the dashboard share answers `Result<_, Error>`; its
//! [`Kind`] is mapped once to an HTTP status (`web::status_of`) and once to
//! an exit code (`cli::exit_code_of`), so the two entry points cannot give
//! one failure two meanings.

use std::fmt;

/// What went wrong, as a caller can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The thing asked for does not exist (an image, a run, a file).
    NotFound,
    /// The request or the repository's files are wrong: fixing them helps.
    Invalid,
    /// Something dockyard needs (the store, an engine, the registry) cannot
    /// be reached or is busy now: trying again later may help.
    Unavailable,
    /// The request collides with the state (a run already going, a tag
    /// that would be overwritten).
    Conflict,
    /// A fault of dockyard itself.
    Internal,
}

/// A service error: its kind, a message for people, and the error it came
/// from when there is one (`std::error::Error::source`).
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), source: None }
    }
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(Kind::NotFound, message)
    }
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(Kind::Invalid, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Error {
        Error::new(Kind::Unavailable, message)
    }
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(Kind::Conflict, message)
    }
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(Kind::Internal, message)
    }
    /// `kind`, with `source`'s text as the message and `source` kept.
    pub fn from_source(kind: Kind, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error { kind, message: source.to_string(), source: Some(Box::new(source)) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A store that cannot be reached now (a database down, a file locked or
/// unreadable) is unavailable; a database that refuses the work (damaged,
/// too new, a failed statement) is a fault to look into.
impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Error {
        use crate::store::StoreError as S;
        let kind = match &e {
            S::Busy(_) | S::Io(..) => Kind::Unavailable,
            S::Corrupt(..) | S::TooNew(..) => Kind::Invalid,
            S::Other(..) => Kind::Internal,
        };
        Error::from_source(kind, e)
    }
}

/// The repository's files could not be loaded: they are what must change.
impl From<dockyard_core::Diagnostic> for Error {
    fn from(d: dockyard_core::Diagnostic) -> Error {
        Error::invalid(d.to_string())
    }
}

/// A registry index that cannot be made: its configuration is the
/// repository's to fix; its store or its registry cannot be reached.
impl From<crate::registry::IndexError> for Error {
    fn from(e: crate::registry::IndexError) -> Error {
        use crate::registry::IndexError as I;
        match e {
            I::Config(m) => Error::invalid(m),
            I::Store(s) => s.into(),
            I::Registry(r) => Error::from_source(Kind::Unavailable, r),
        }
    }
}

impl From<super::build::BuildError> for Error {
    fn from(e: super::build::BuildError) -> Error {
        use super::build::BuildError as B;
        let kind = match &e {
            B::Load(_) | B::Other(_) => Kind::Invalid,
            B::Engine(_) | B::Store(_) => Kind::Unavailable,
        };
        Error::from_source(kind, e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_error_is_unavailable_and_keeps_its_source() {
        let e: Error = crate::store::StoreError::Io("s".into(), "down".into()).into();
        assert_eq!(e.kind, Kind::Unavailable);
        assert!(std::error::Error::source(&e).is_some());
        assert!(e.to_string().contains("down"), "{e}");
    }
}
