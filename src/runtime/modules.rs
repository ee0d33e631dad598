//! Where `import` finds modules and `hound run NAME` finds hunts.
//!
//! `import "hound/<name>"` resolves to the bundled `stdlib/<name>.rhai`;
//! any other path resolves against the running script's folder, then each
//! `--lib DIR`, then each folder of `HOUND_PATH`.

use include_dir::{include_dir, Dir};
use rhai::module_resolvers::FileModuleResolver;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

type SharedModule = Shared<Module>;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub static STDLIB: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/stdlib");

/// Source of a bundled module (`name` without the `hound/` prefix).
pub fn stdlib_module(name: &str) -> Option<&'static str> {
    STDLIB.get_file(format!("{name}.rhai"))?.contents_utf8()
}

/// Source of a bundled hunt.
pub fn stdlib_hunt(name: &str) -> Option<&'static str> {
    STDLIB
        .get_file(format!("hunts/{name}.rhai"))?
        .contents_utf8()
}

/// Names of the bundled hunts, sorted.
pub fn stdlib_hunt_names() -> Vec<String> {
    let mut v: Vec<String> = STDLIB
        .get_dir("hunts")
        .map(|d| {
            d.files()
                .filter_map(|f| {
                    let p = f.path();
                    (p.extension()? == "rhai").then(|| p.file_stem()?.to_str().map(String::from))?
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Names of the bundled importable modules, sorted.
pub fn stdlib_module_names() -> Vec<String> {
    let mut v: Vec<String> = STDLIB
        .files()
        .filter_map(|f| {
            let p = f.path();
            (p.extension()? == "rhai").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    v.sort();
    v
}

/// The resolver hound installs; the script folder changes per run.
#[derive(Clone, Default)]
pub struct Resolver {
    pub script_dir: Arc<RwLock<Option<PathBuf>>>,
    pub lib_dirs: Vec<PathBuf>,
}

impl Resolver {
    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Ok(d) = self.script_dir.read() {
            dirs.extend(d.clone());
        }
        dirs.extend(self.lib_dirs.iter().cloned());
        if let Some(p) = std::env::var_os("HOUND_PATH") {
            dirs.extend(std::env::split_paths(&p).filter(|p| !p.as_os_str().is_empty()));
        }
        dirs
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        if let Some(name) = path.strip_prefix("hound/") {
            let src = stdlib_module(name)
                .ok_or_else(|| Box::new(EvalAltResult::ErrorModuleNotFound(path.into(), pos)))?;
            let mut ast = engine
                .compile(src)
                .map_err(|e| Box::new(EvalAltResult::ErrorInModule(path.into(), e.into(), pos)))?;
            ast.set_source(path);
            crate::output::remember_map_literals(src);
            let m = Module::eval_ast_as_new(Scope::new(), &ast, engine)
                .map_err(|e| Box::new(EvalAltResult::ErrorInModule(path.into(), e, pos)))?;
            return Ok(m.into());
        }
        for dir in self.dirs() {
            let r = FileModuleResolver::new_with_path(dir);
            match r.resolve(engine, source, path, pos) {
                Err(e) if matches!(*e, EvalAltResult::ErrorModuleNotFound(..)) => continue,
                other => return other,
            }
        }
        Err(Box::new(EvalAltResult::ErrorModuleNotFound(
            path.into(),
            pos,
        )))
    }
}
