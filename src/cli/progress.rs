//! Progress bars for large blob uploads: drawn on an interactive terminal, absent in CI logs
//! and when stderr is redirected.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::sync::Mutex;

use imprint::format::digest::Digest;
use imprint::store::{ProgressEvent, ProgressHook};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The upload observer for [`imprint::store::RegistryConfig::progress`]: indicatif bars on
/// stderr when stderr is a terminal and `CI` is unset, `None` otherwise.
pub(crate) fn terminal_upload_progress() -> Option<ProgressHook> {
    wants_progress(std::io::stderr().is_terminal(), std::env::var_os("CI"))
        .then(|| indicatif_hook(ProgressDrawTarget::stderr()))
}

/// A one-line progress bar for `imprint audit` (`verifying 12/40 images`) on stderr when
/// stderr is a terminal and `CI` is unset, `None` otherwise (nothing is drawn).
pub(crate) fn terminal_audit_progress() -> Option<ProgressBar> {
    wants_progress(std::io::stderr().is_terminal(), std::env::var_os("CI"))
        .then(|| audit_bar(ProgressDrawTarget::stderr()))
}

fn audit_bar(target: ProgressDrawTarget) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), target);
    if let Ok(style) =
        ProgressStyle::with_template("verifying {pos}/{len} images {wide_bar} {elapsed}")
    {
        bar.set_style(style);
    }
    bar
}

/// Bars only on a terminal, and never when `CI` is set (to anything, as most CI systems set
/// `CI=true`, some `CI=1`).
fn wants_progress(stderr_is_terminal: bool, ci: Option<OsString>) -> bool {
    stderr_is_terminal && ci.is_none()
}

/// A hook drawing one bar per blob being uploaded to `target`.
fn indicatif_hook(target: ProgressDrawTarget) -> ProgressHook {
    let bars = Bars::new(target);
    ProgressHook::new(move |event| bars.handle(event))
}

/// The bars of the uploads in flight, by blob digest.
struct Bars {
    multi: MultiProgress,
    style: ProgressStyle,
    bars: Mutex<HashMap<Digest, ProgressBar>>,
}

impl Bars {
    fn new(target: ProgressDrawTarget) -> Self {
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        Self {
            multi: MultiProgress::with_draw_target(target),
            style,
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, ProgressBar>> {
        match self.bars.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn handle(&self, event: &ProgressEvent) {
        let mut bars = self.lock();
        match event {
            ProgressEvent::Started {
                repository,
                digest,
                total,
            } => {
                let bar = self
                    .multi
                    .add(ProgressBar::new(*total).with_style(self.style.clone()));
                let hex = digest.hex();
                bar.set_message(format!(
                    "uploading {repository}@sha256:{}",
                    hex.get(..12).unwrap_or(hex)
                ));
                bars.insert(digest.clone(), bar);
            }
            ProgressEvent::Sent { digest, sent, .. } => {
                if let Some(bar) = bars.get(digest) {
                    bar.set_position(*sent);
                }
            }
            ProgressEvent::Finished { digest, .. } => {
                if let Some(bar) = bars.remove(digest) {
                    bar.finish_and_clear();
                }
            }
            ProgressEvent::Failed { digest } => {
                if let Some(bar) = bars.remove(digest) {
                    bar.abandon();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn bars_only_on_a_terminal_outside_ci() {
        assert!(wants_progress(true, None));
        assert!(!wants_progress(false, None));
        assert!(!wants_progress(true, Some("true".into())));
        assert!(!wants_progress(true, Some("".into())));
        assert!(!wants_progress(false, Some("1".into())));
    }

    #[test]
    fn the_audit_line_counts_images() {
        let bar = audit_bar(ProgressDrawTarget::hidden());
        bar.set_length(40);
        bar.set_position(12);
        assert_eq!((bar.position(), bar.length()), (12, Some(40)));
        bar.finish_and_clear();
        assert!(bar.is_finished());
    }

    #[test]
    fn bars_follow_uploads_without_a_terminal() {
        // Hidden target: the bars are driven exactly as on a terminal, nothing is drawn.
        let bars = Bars::new(ProgressDrawTarget::hidden());
        let one = Digest::of(b"one");
        let two = Digest::of(b"two");
        for d in [&one, &two] {
            bars.handle(&ProgressEvent::Started {
                repository: "127.0.0.1:5000/repo".into(),
                digest: d.clone(),
                total: 100,
            });
        }
        for sent in [10, 50] {
            bars.handle(&ProgressEvent::Sent {
                digest: one.clone(),
                sent,
                total: 100,
            });
        }
        {
            let map = bars.lock();
            assert_eq!(map[&one].position(), 50);
            assert_eq!(map[&one].length(), Some(100));
            assert_eq!(map[&two].position(), 0);
        }
        bars.handle(&ProgressEvent::Finished {
            digest: one.clone(),
            total: 100,
        });
        bars.handle(&ProgressEvent::Failed {
            digest: two.clone(),
        });
        assert!(bars.lock().is_empty());
        // Events for unknown uploads are ignored, not a panic.
        bars.handle(&ProgressEvent::Sent {
            digest: one,
            sent: 1,
            total: 2,
        });
        assert!(bars.lock().is_empty());
        // The public constructor builds a working hook.
        indicatif_hook(ProgressDrawTarget::hidden()).emit(&ProgressEvent::Failed { digest: two });
    }
}
