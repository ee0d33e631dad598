//! Per-runtime state that primitives reach through the engine's tag:
//! cancellation, dry-run, policy, the output sink, the case and a tokio runtime.

pub use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::runtime::case::CaseState;
use rhai::{Dynamic, NativeCallContext};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Where results, warnings and progress go. The CLI prints; an embedding
/// program may collect ([`CollectSink`]).
pub trait Sink: Send + Sync {
    /// A record from `emit(value)` in a script.
    fn emit(&self, value: &Dynamic);
    /// A non-fatal problem: one item that could not be read, a fallback taken.
    fn warn(&self, source: &str, message: &str);
    /// Whether progress bars may be drawn (a terminal on stderr, not `--json`).
    fn interactive(&self) -> bool {
        false
    }
}

/// Keeps everything in memory; the default for embedding and tests.
#[derive(Default)]
pub struct CollectSink {
    pub emitted: Mutex<Vec<Dynamic>>,
    pub warnings: Mutex<Vec<String>>,
}

impl Sink for CollectSink {
    fn emit(&self, value: &Dynamic) {
        if let Ok(mut v) = self.emitted.lock() {
            v.push(value.clone());
        }
    }
    fn warn(&self, source: &str, message: &str) {
        if let Ok(mut v) = self.warnings.lock() {
            v.push(format!("{source}: {message}"));
        }
    }
}

/// Asked before a destructive action when the policy says to confirm
/// (the REPL). Gets a one-line description, answers yes or no.
pub type ConfirmFn = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What the run allows.
#[derive(Clone)]
pub struct Policy {
    /// Destructive primitives refuse unless this is set (`--allow-destructive`)
    /// or `confirm` says yes.
    pub allow_destructive: bool,
    pub confirm: Option<ConfirmFn>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allow_destructive: true,
            confirm: None,
        }
    }
}

pub struct Context {
    pub cancel: CancelToken,
    dry_run: AtomicBool,
    pub policy: Mutex<Policy>,
    pub sink: Arc<dyn Sink>,
    pub case: Mutex<CaseState>,
    /// Current-thread on purpose: every task runs on the thread that calls a
    /// primitive, so sockets are created in that thread's network namespace
    /// (tests and the lab enter namespaces per thread).
    tokio: tokio::runtime::Runtime,
}

/// The handle stored as the engine's default tag.
#[derive(Clone)]
pub struct Ctx(pub Arc<Context>);

impl std::ops::Deref for Ctx {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.0
    }
}

impl Ctx {
    /// The hound context of the engine that calls a primitive.
    pub fn from_call(nc: &NativeCallContext) -> Result<Ctx> {
        nc.tag()
            .and_then(|t| t.clone().try_cast::<Ctx>())
            .ok_or_else(|| Error::unsupported("this engine was not built by hound::Runtime"))
    }
}

impl Context {
    pub fn new(
        sink: Arc<dyn Sink>,
        policy: Policy,
        dry_run: bool,
        case: CaseState,
        cancel: CancelToken,
    ) -> Result<Self> {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the async runtime", e))?;
        Ok(Context {
            cancel,
            dry_run: AtomicBool::new(dry_run),
            policy: Mutex::new(policy),
            sink,
            case: Mutex::new(case),
            tokio,
        })
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run.load(Ordering::SeqCst)
    }
    pub fn set_dry_run(&self, on: bool) {
        self.dry_run.store(on, Ordering::SeqCst);
    }

    pub fn warn(&self, source: &str, message: impl AsRef<str>) {
        self.sink.warn(source, message.as_ref());
    }

    /// Runs a future to completion, or returns `cancelled` as soon as the
    /// run is cancelled. Safe to call from inside another tokio runtime (an
    /// embedding program's): it then drives the future on a scoped thread.
    pub fn block_on<F, T>(&self, fut: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send,
        T: Send,
    {
        let cancel = self.cancel.clone();
        let guarded = async move {
            tokio::select! {
                r = fut => r,
                _ = cancel.cancelled() => Err(Error::cancelled()),
            }
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(|| self.tokio.block_on(guarded))
                    .join()
                    .unwrap_or_else(|_| Err(Error::io_msg("async task panicked")))
            })
        } else {
            self.tokio.block_on(guarded)
        }
    }

    /// Gate for destructive primitives: refuses unless the policy allows it
    /// (asking the confirm callback where there is one). Dry-run always passes,
    /// since nothing will change.
    pub fn require_destructive(&self, primitive: &str, what: &str) -> Result<()> {
        if self.dry_run() {
            return Ok(());
        }
        let policy = self
            .policy
            .lock()
            .map(|p| p.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        if let Some(confirm) = &policy.confirm {
            if confirm(&format!("{primitive}: {what}")) {
                return Ok(());
            }
            return Err(Error::permission(format!("{what}: not confirmed"))
                .in_primitive(primitive)
                .with_hint("answer y to go ahead, or use :dry-run on to preview"));
        }
        if policy.allow_destructive {
            Ok(())
        } else {
            Err(Error::permission(format!(
                "{what}: destructive actions are not allowed in this run"
            ))
            .in_primitive(primitive)
            .with_hint("rerun with --allow-destructive, or with --dry-run to preview"))
        }
    }

    /// The case state. A poisoned lock (a panic while it was held) is the
    /// same `io` error everywhere.
    pub fn case_lock(&self) -> Result<std::sync::MutexGuard<'_, CaseState>> {
        self.case
            .lock()
            .map_err(|_| Error::io_msg("case state poisoned (an earlier call panicked)"))
    }

    /// Appends to the case journal (creating the case folder on first use).
    /// Destructive primitives call this *before* they act.
    pub fn journal(
        &self,
        primitive: &str,
        args: serde_json::Value,
        result: serde_json::Value,
        undo: Option<serde_json::Value>,
    ) -> Result<()> {
        let dry = self.dry_run();
        let mut case = self.case_lock()?;
        case.append(primitive, args, result, undo, dry)
            .map_err(|e| e.in_primitive(primitive))
    }
}
