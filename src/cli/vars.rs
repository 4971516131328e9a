//! `--var NAME=VALUE` and `--vars-file FILE`, the flags every command that
//! reads target, scenario or workload files takes (DESIGN.md §7), and
//! their conversion into [`Vars`].

use std::path::{Path, PathBuf};

use clap::Args;

use crate::source::FileError;
use crate::vars::{self, Vars};

/// Values for `${var.NAME}` in the files a command reads.
#[derive(Debug, Clone, Default, Args)]
pub struct VarsFlags {
    /// A value for `${var.NAME}` in target, scenario and workload files
    /// (repeatable; wins over --vars-file). Shown as *** in every output.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = vars::parse_pair)]
    pub pairs: Vec<(String, String)>,

    /// A file of NAME=VALUE lines for `${var.NAME}` (repeatable; a later
    /// file wins). Its values are shown as *** in every output.
    #[arg(long = "vars-file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

impl VarsFlags {
    /// Reads the files and puts the flags over them.
    pub fn resolve(&self) -> Result<Vars, FileError> {
        let files: Vec<&Path> = self.files.iter().map(PathBuf::as_path).collect();
        Vars::from_sources(&files, &self.pairs)
    }
}
