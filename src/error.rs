//! The one error type every layer returns.
//!
//! Host code fills in `kind`, `message` and maybe `hint`; the Rhai binding names
//! the primitive with [`Error::in_primitive`] before handing it to a script, so a
//! script author reads `scan::hosts: "172.19.0.0/33" is not a valid CIDR`.

use serde::Serialize;
use std::fmt;

/// Stable error kinds. Scripts match on these strings in `catch` blocks, so
/// they are part of the public interface: add, never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    InvalidArgument,
    PermissionDenied,
    NotFound,
    Unsupported,
    Io,
    Timeout,
    Cancelled,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::InvalidArgument,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::Unsupported,
        ErrorKind::Io,
        ErrorKind::Timeout,
        ErrorKind::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Io => "io",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Cancelled => "cancelled",
        }
    }

    /// The stable code printed beside an error, in the manner of `hound::not_found`.
    pub fn code(self) -> String {
        format!("hound::{}", self.as_str())
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with enough context to act on: what kind, which primitive, what
/// went wrong (naming the argument), and what to try next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primitive: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            primitive: None,
            hint: None,
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn permission(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }
    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, "cancelled")
            .with_hint("the run was interrupted (Ctrl-C or a cancel from the embedding program)")
    }
    pub fn io_msg(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }

    /// Wraps an I/O error with what was being done (usually a path), keeping
    /// the kind a script can act on: a missing file is `not_found`, not `io`.
    pub fn io(context: impl fmt::Display, err: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match err.kind() {
            K::NotFound => ErrorKind::NotFound,
            K::PermissionDenied => ErrorKind::PermissionDenied,
            K::TimedOut => ErrorKind::Timeout,
            K::InvalidInput => ErrorKind::InvalidArgument,
            K::Unsupported => ErrorKind::Unsupported,
            _ => ErrorKind::Io,
        };
        let mut e = Self::new(kind, format!("{context}: {err}"));
        if kind == ErrorKind::PermissionDenied {
            e.hint = Some("run hound as root (or with the needed capability)".into());
        }
        e
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Names the primitive unless an inner layer already did.
    pub fn in_primitive(mut self, name: &str) -> Self {
        if self.primitive.is_none() {
            self.primitive = Some(name.to_string());
        }
        self
    }

    pub fn is_cancelled(&self) -> bool {
        self.kind == ErrorKind::Cancelled
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.primitive {
            write!(f, "{p}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::io("i/o error", err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_a_kind_scripts_can_match() {
        let e = Error::io(
            "/nope",
            std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.to_string(), "/nope: gone");
    }

    #[test]
    fn primitive_name_is_set_once() {
        let e = Error::invalid("bad")
            .in_primitive("scan::hosts")
            .in_primitive("outer");
        assert_eq!(e.to_string(), "scan::hosts: bad");
    }
}
