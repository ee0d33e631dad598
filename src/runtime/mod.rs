//! The embeddable runtime: a Rhai engine set up for scripts written by other
//! people (limits, cancellation, module resolution), hound's primitives, and
//! the per-run context they share.
//!
//! ```no_run
//! let rt = hound::Runtime::builder().dry_run(true).build()?;
//! let n = rt.eval("proc::list().len()")?;
//! println!("{n} processes");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod action;
pub mod action_exec;
pub mod anchor;
pub mod calls;
pub mod case;
pub mod context;
pub mod diagnostic;
pub mod docs;
pub mod graph;
pub mod header;
pub mod journal;
pub mod memory;
pub mod modules;
pub mod params;
pub mod plan;
pub mod report;
pub mod report_fw;
pub mod report_render;

pub use context::{CancelToken, CollectSink, ConfirmFn, Context, Ctx, Policy, Sink};
pub use diagnostic::ScriptError;
pub use header::Header;

use crate::error::Error;
use rhai::{Dynamic, Engine, Scope, AST};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bounds on what one script may consume. Defaults suit hunts over large
/// hosts; a value of 0 lifts that limit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    /// Bytes the process may hold before a script is stopped (the binary
    /// counts them, see [`memory`]); 0 = no limit.
    pub max_memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 50_000_000,
            max_call_levels: 64,
            max_expr_depth: 128,
            // Off by default: Rhai enforces these by measuring a whole value,
            // nested values included, after every mutation, which made
            // `a.push(x)` in a loop quadratic. `max_memory` bounds runaway
            // arrays and strings instead, at O(1) per operation.
            max_string_size: 0,
            max_array_size: 0,
            max_map_size: 0,
            max_memory: 2 << 30,
        }
    }
}

/// A script ready to run: its source, where it came from, and its header.
#[derive(Debug, Clone)]
pub struct Script {
    /// File path, or `hound/hunts/NAME` for a bundled hunt, or `<eval>`.
    pub origin: String,
    pub dir: Option<PathBuf>,
    pub source: String,
    pub header: Option<Header>,
}

impl Script {
    pub fn from_source(
        origin: impl Into<String>,
        source: impl Into<String>,
    ) -> Result<Self, ScriptError> {
        let origin = origin.into();
        let source = source.into();
        let header = header::parse(&source, &origin).map_err(|e| {
            let e = ScriptError::from(e);
            match header::syntax_position(&source) {
                Some((line, col)) => e.at_pos(
                    Some(&origin),
                    Some(&source),
                    rhai::Position::new(line as u16, col as u16),
                ),
                None => e,
            }
        })?;
        Ok(Script {
            origin,
            dir: None,
            source,
            header,
        })
    }

    /// Loads a bundled hunt by its bare name, else a file. A bundled name
    /// wins over a file of the same name in the current folder (a file
    /// planted there would otherwise run as root); `./NAME` runs the file.
    pub fn load(name: &str) -> Result<Self, ScriptError> {
        let path = Path::new(name);
        if !name.contains('/') {
            if let Some(src) = modules::stdlib_hunt(name) {
                if path.exists() {
                    eprintln!(
                        "warning: {} in the current folder has the name of a bundled hunt; \
                         running the bundled one (give ./{} to run the file)",
                        crate::output::escape(name),
                        crate::output::escape(name)
                    );
                }
                return Script::from_source(format!("hound/hunts/{name}"), src);
            }
        }
        if path.is_file() {
            let source = std::fs::read_to_string(path)
                .map_err(|e| ScriptError::from(Error::io(path.display(), e)))?;
            let mut s = Script::from_source(name, source)?;
            s.dir = path.parent().map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            });
            return Ok(s);
        }
        let bare = name.trim_end_matches(".rhai");
        if let Some(src) = modules::stdlib_hunt(bare) {
            return Script::from_source(format!("hound/hunts/{bare}"), src);
        }
        let mut e = ScriptError::new(
            "not_found",
            format!("no script file or bundled hunt named {name:?}"),
        );
        e.hint = Some("`hound list` shows the bundled hunts".into());
        Err(e)
    }
}

pub struct RuntimeBuilder {
    limits: Limits,
    dry_run: bool,
    policy: Policy,
    sink: Option<Arc<dyn Sink>>,
    case_dir: Option<PathBuf>,
    lib_dirs: Vec<PathBuf>,
    cancel: CancelToken,
}

impl RuntimeBuilder {
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    pub fn max_operations(mut self, n: u64) -> Self {
        self.limits.max_operations = n;
        self
    }
    /// Stop a script once the process holds more than `bytes` (0 = no limit).
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.limits.max_memory = bytes;
        self
    }
    /// Destructive primitives describe what they would do and change nothing.
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }
    pub fn allow_destructive(mut self, on: bool) -> Self {
        self.policy.allow_destructive = on;
        self
    }
    /// Ask before each destructive action (the REPL's prompt).
    pub fn confirm(mut self, f: ConfirmFn) -> Self {
        self.policy.confirm = Some(f);
        self
    }
    pub fn sink(mut self, sink: Arc<dyn Sink>) -> Self {
        self.sink = Some(sink);
        self
    }
    pub fn case_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.case_dir = Some(dir.into());
        self
    }
    pub fn lib_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.lib_dirs.push(dir.into());
        self
    }
    /// Share a cancel token (a Ctrl-C handler holds one clone).
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = token;
        self
    }

    pub fn build(self) -> Result<Runtime, Error> {
        let sink = self
            .sink
            .unwrap_or_else(|| Arc::new(CollectSink::default()));
        let case = case::CaseState::new(self.case_dir.unwrap_or_else(case::default_case_dir));
        let ctx = Ctx(Arc::new(Context::new(
            sink,
            self.policy,
            self.dry_run,
            case,
            self.cancel.clone(),
        )?));
        let resolver = modules::Resolver {
            script_dir: Default::default(),
            lib_dirs: self.lib_dirs,
        };
        let engine = new_engine(&self.limits, &ctx, resolver.clone());
        Ok(Runtime {
            engine,
            ctx,
            limits: self.limits,
            resolver,
        })
    }
}

fn new_engine(l: &Limits, ctx: &Ctx, resolver: modules::Resolver) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(l.max_operations);
    engine.set_max_call_levels(l.max_call_levels);
    engine.set_max_expr_depths(l.max_expr_depth, l.max_expr_depth / 2);
    engine.set_max_string_size(l.max_string_size);
    engine.set_max_array_size(l.max_array_size);
    engine.set_max_map_size(l.max_map_size);
    engine.set_max_modules(256);
    engine.set_module_resolver(resolver);
    // `case` is reserved by Rhai for future use, but it is the natural name of
    // the case family (`case::finding`): let it be an ordinary identifier.
    #[allow(deprecated)]
    engine.on_parse_token(|token, _, _| match token {
        rhai::Token::Reserved(s) if s.as_str() == "case" => rhai::Token::Identifier(s),
        other => other,
    });
    engine.set_default_tag(Dynamic::from(ctx.clone()));
    let cancel = ctx.cancel.clone();
    let max_memory = l.max_memory;
    // Checked at every operation (two atomic loads): a primitive that returns
    // its partial result on Ctrl-C must not let the rest of the script run
    // on, and a runaway `loop { a.push(..) }` stops at the memory limit.
    engine.on_progress(move |_| {
        if cancel.is_cancelled() {
            Some(Dynamic::from("cancelled"))
        } else if max_memory > 0 && memory::allocated() > max_memory {
            Some(Dynamic::from(format!(
                "{}: {} MiB",
                memory::OVER_LIMIT,
                max_memory >> 20
            )))
        } else {
            None
        }
    });
    let sink = ctx.sink.clone();
    engine.on_print(move |s| {
        let _ = sink; // print goes to stdout, like a shell's echo
        println!("{}", crate::text::escape(s));
    });
    engine.on_debug(|s, src, pos| {
        eprintln!(
            "[debug] {}{pos:?}: {}",
            src.unwrap_or(""),
            crate::text::escape(s)
        );
    });
    crate::primitives::register(&mut engine);
    engine
}

pub struct Runtime {
    engine: Engine,
    ctx: Ctx,
    limits: Limits,
    resolver: modules::Resolver,
}

impl Runtime {
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            limits: Limits::default(),
            dry_run: false,
            policy: Policy::default(),
            sink: None,
            case_dir: None,
            lib_dirs: Vec::new(),
            cancel: CancelToken::new(),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
    /// For registering an embedding program's own primitives.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }
    pub fn context(&self) -> &Ctx {
        &self.ctx
    }
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// Cancels the running script, and any primitive it is blocked in, from
    /// another thread.
    pub fn cancel_token(&self) -> CancelToken {
        self.ctx.cancel.clone()
    }
    /// Findings recorded so far in this run's case.
    pub fn findings(&self) -> Vec<case::Finding> {
        self.ctx
            .case
            .lock()
            .map(|c| c.findings.clone())
            .unwrap_or_default()
    }

    /// Compiles without running: syntax errors with positions.
    pub fn check(&self, script: &Script) -> Result<AST, ScriptError> {
        self.compile(&script.source, &script.origin)
    }

    /// Calls in a compiled script to functions that exist nowhere (what
    /// `hound check` adds to compiling), each with a "did you mean".
    pub fn unknown_calls(&self, script: &Script, ast: &AST) -> Vec<ScriptError> {
        let known = calls::Known::of(&self.engine);
        calls::unknown_calls(&known, ast, &script.origin, &script.source)
    }

    pub fn compile(&self, source: &str, origin: &str) -> Result<AST, ScriptError> {
        let mut ast = self
            .engine
            .compile(source)
            .map_err(|e| ScriptError::from_parse(&e, origin, source))?;
        ast.set_source(origin);
        crate::output::remember_map_literals(source);
        Ok(ast)
    }

    /// Evaluates a snippet with no parameters.
    pub fn eval(&self, source: &str) -> Result<Dynamic, ScriptError> {
        let script = Script::from_source("<eval>", source)?;
        self.run(&script, &[])
    }

    /// Runs a script: checks its parameters and requirements, then evaluates.
    pub fn run(
        &self,
        script: &Script,
        params: &[(String, String)],
    ) -> Result<Dynamic, ScriptError> {
        let map = params::build(script.header.as_ref(), params).map_err(ScriptError::from)?;
        if let Some(h) = &script.header {
            check_requires(h)?;
        }
        let mut scope = Scope::new();
        scope.push_constant("params", map);
        let ast = self.check(script)?;
        self.eval_ast(&mut scope, &ast, script)
    }

    /// Evaluates a compiled AST in a caller-kept scope (the REPL keeps one for
    /// the whole session).
    pub fn eval_ast(
        &self,
        scope: &mut Scope,
        ast: &AST,
        script: &Script,
    ) -> Result<Dynamic, ScriptError> {
        self.eval_ast_in(scope, ast, script, &|_| None)
    }

    /// [`Runtime::eval_ast`] where functions may come from other sources;
    /// see [`ScriptError::from_eval_in`].
    pub fn eval_ast_in(
        &self,
        scope: &mut Scope,
        ast: &AST,
        script: &Script,
        defined_in: &dyn Fn(&str) -> Option<(String, String)>,
    ) -> Result<Dynamic, ScriptError> {
        if let Ok(mut d) = self.resolver.script_dir.write() {
            *d = script.dir.clone();
        }
        self.ctx.cancel.check().map_err(ScriptError::from)?;
        self.engine
            .eval_ast_with_scope::<Dynamic>(scope, ast)
            .map_err(|e| {
                ScriptError::from_eval_in(
                    &e,
                    &script.origin,
                    &script.source,
                    self.limits.max_operations,
                    defined_in,
                )
            })
    }
}

/// Refuses before anything runs when the header asks for privilege we lack.
fn check_requires(h: &Header) -> Result<(), ScriptError> {
    for r in &h.requires {
        let ok = match r.as_str() {
            "net_raw" => has_capability(13),
            "net_admin" => has_capability(12),
            _ => nix::unistd::Uid::effective().is_root(),
        };
        if !ok {
            let mut e = ScriptError::new(
                "permission_denied",
                format!(
                    "`{}` requires {r}, which this process does not have",
                    h.name
                ),
            );
            e.hint = Some("rerun as root (sudo hound ...)".into());
            return Err(e);
        }
    }
    Ok(())
}

/// Whether the effective capability set holds `bit` (CAP_NET_ADMIN = 12,
/// CAP_NET_RAW = 13), read from /proc/self/status.
pub fn has_capability(bit: u32) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1u64 << bit) != 0)
}
