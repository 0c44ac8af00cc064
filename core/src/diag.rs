//! Diagnostics that name the file and line they are about.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem found in one input file, with its line when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic { file: file.into(), line, message: message.into() }
    }

    pub fn at(file: &Path, line: usize, message: impl Into<String>) -> Self {
        Self::new(file, Some(line), message)
    }

    /// The diagnostic as the API shows it.
    pub fn to_problem(&self) -> dockyard_api::Problem {
        dockyard_api::Problem {
            file: Some(self.file.display().to_string()),
            line: self.line,
            message: self.message.clone(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for Diagnostic {}
