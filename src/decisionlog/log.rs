//! The writer: open (recover, rebuild), append, group-commit sync, checkpoints, close.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::merkle::{self, CompactTree, Hash};
use super::note::{Checkpoint, NoteSigner};
use super::{
    CHECKPOINTS_FILE, LATEST_CHECKPOINT_FILE, LogError, PUBLIC_KEY_FILE, RECORDS_FILE, Record,
    Source,
};
use crate::fs::{Overwrite, write_atomic};
use crate::gate::{Clock, SystemClock};

/// How a log is opened.
#[derive(Debug)]
pub struct Options {
    /// The checkpoints' origin line (a log's unique name, e.g. `imprint.example/decisions`).
    pub origin: String,
    /// The checkpoint signing key.
    pub signer: NoteSigner,
    /// A checkpoint after this many records (default 256; at least 1).
    pub checkpoint_every: u64,
    /// A checkpoint when this long has passed since the last one and records were appended
    /// (default 60 s; checked on append and by [`DecisionLog::checkpoint_if_due`]).
    pub checkpoint_interval: Duration,
    /// The clock for record times and the interval.
    pub clock: Arc<dyn Clock>,
}

impl Options {
    /// The defaults, with `origin` and `signer`.
    pub fn new(origin: impl Into<String>, signer: NoteSigner) -> Self {
        Self {
            origin: origin.into(),
            signer,
            checkpoint_every: 256,
            checkpoint_interval: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Where an appended record sits in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Its index (line `index + 1` of `decisions.jsonl`).
    pub index: u64,
    /// Its RFC 6962 leaf hash.
    pub leaf_hash: Hash,
}

/// A torn last line that [`DecisionLog::open`] cut back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Bytes cut.
    pub truncated_bytes: u64,
    /// The length the file was cut back to.
    pub at_offset: u64,
    /// The recovery record noting it.
    pub record: Position,
}

/// An open decision log (one writer per directory: [`open`](Self::open) takes an exclusive
/// advisory lock on the record file). `Send + Sync`: share it in an `Arc`.
/// [`append`](Self::append) and [`sync`](Self::sync) block on the file system; from async
/// code call them in `spawn_blocking`.
#[derive(Debug)]
pub struct DecisionLog {
    dir: PathBuf,
    options: Options,
    state: Mutex<State>,
    /// Serialises fsyncs so concurrent callers share one (group commit).
    sync_lock: Mutex<()>,
    /// How many records are known to be on disk.
    synced: AtomicU64,
    /// A second handle on the record file, for fsync without holding `state`.
    sync_file: File,
    recovered: Option<Recovered>,
}

#[derive(Debug)]
struct State {
    file: File,
    tree: CompactTree,
    prev: Option<Hash>,
    last_checkpoint_size: Option<u64>,
    last_checkpoint_time: SystemTime,
    poisoned: bool,
}

/// The fields of a record line that the log itself reads back.
#[derive(Debug, Deserialize)]
pub(super) struct LineHeader {
    pub(super) index: u64,
    #[serde(default)]
    pub(super) prev: Option<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    index: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<String>,
    time: String,
    #[serde(flatten)]
    record: &'a Record,
}

#[derive(Serialize, Deserialize)]
pub(super) struct CheckpointLine {
    pub(super) note: String,
}

impl DecisionLog {
    /// Open (or create) the log in `dir`: cut back a torn last line (and append a `recovery`
    /// record), rebuild the tree by reading every record (O(n)), and check that the records
    /// still match the newest checkpoint. Refuses a log whose chain is broken, whose newest
    /// checkpoint covers more records than it holds or another tree, or whose `log.pub` is
    /// another key (fail closed: never append to a log that was tampered with).
    pub fn open(dir: &Path, options: Options) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        let verifier = options.signer.verifier();
        let key_path = dir.join(PUBLIC_KEY_FILE);
        match std::fs::read_to_string(&key_path) {
            Ok(found) if found.trim_end() == verifier.to_text() => {}
            Ok(found) => {
                return Err(LogError::WrongKey {
                    path: key_path,
                    found: found.trim_end().to_owned(),
                    expected: verifier.to_text(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_atomic(
                    &key_path,
                    format!("{}\n", verifier.to_text()).as_bytes(),
                    0o644,
                    Overwrite::Refuse,
                )
                .map_err(io("cannot write", &key_path))?;
            }
            Err(e) => return Err(io("cannot read", &key_path)(e)),
        }
        let records_path = dir.join(RECORDS_FILE);
        // One writer per directory: an exclusive advisory lock on the record file, held as
        // long as the log is open (released when it is dropped or closed).
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&records_path)
            .map_err(io("cannot open", &records_path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(LogError::Locked { path: records_path });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io("cannot lock", &records_path)(e));
            }
        }
        let (bytes, torn) = read_and_cut(&records_path)?;
        let leaves = rebuild(&records_path, &bytes)?;
        let mut tree = CompactTree::new();
        for l in &leaves {
            tree.push(*l);
        }
        // The newest checkpoint must still describe a prefix of these records.
        let checkpoints_path = dir.join(CHECKPOINTS_FILE);
        let (cp_bytes, _) = read_and_cut(&checkpoints_path)?;
        let mut last_checkpoint_size = None;
        let cp_text = String::from_utf8_lossy(&cp_bytes);
        if let Some((n, line)) = cp_text.lines().enumerate().last() {
            let corrupt = |message: String| LogError::Corrupt {
                path: checkpoints_path.clone(),
                line: n as u64 + 1,
                message,
            };
            let parsed: CheckpointLine = serde_json::from_str(line)
                .map_err(|e| corrupt(format!("not a checkpoint line: {e}")))?;
            let text = verifier
                .open(&parsed.note)
                .map_err(|e| corrupt(e.to_string()))?;
            let c = Checkpoint::parse(text).map_err(|e| corrupt(e.to_string()))?;
            if c.origin != options.origin {
                return Err(corrupt(format!(
                    "the log's checkpoints carry origin `{}`, it is opened with origin `{}`",
                    c.origin, options.origin
                )));
            }
            let held = leaves.len() as u64;
            if c.size > held {
                return Err(corrupt(format!(
                    "the newest checkpoint covers {} records, {} holds {held}: the log was truncated",
                    c.size, RECORDS_FILE
                )));
            }
            if merkle::root(&leaves[..c.size as usize]) != c.root {
                return Err(corrupt(format!(
                    "the records do not match the newest checkpoint (size {}): they were rewritten",
                    c.size
                )));
            }
            last_checkpoint_size = Some(c.size);
        }
        drop(leaves);
        let sync_file = file.try_clone().map_err(io("cannot open", &records_path))?;
        let now = options.clock.now();
        let prev = last_hash(&bytes);
        let size = tree.size();
        let mut log = Self {
            dir: dir.to_owned(),
            options,
            state: Mutex::new(State {
                file,
                tree,
                prev,
                last_checkpoint_size,
                last_checkpoint_time: now,
                poisoned: false,
            }),
            sync_lock: Mutex::new(()),
            synced: AtomicU64::new(size),
            sync_file,
            recovered: None,
        };
        if let Some((truncated_bytes, at_offset)) = torn {
            let record = log.append(&Record {
                source: Source::Recovery {
                    truncated_bytes,
                    at_offset,
                },
                decision: None,
            })?;
            log.sync()?;
            log.recovered = Some(Recovered {
                truncated_bytes,
                at_offset,
                record,
            });
        }
        Ok(log)
    }

    /// The torn line cut back when the log was opened, if there was one.
    pub fn recovered(&self) -> Option<&Recovered> {
        self.recovered.as_ref()
    }

    /// How many records the log holds.
    pub fn size(&self) -> u64 {
        self.lock().tree.size()
    }

    /// Append one record (one `write` of its JSON line): returns its index and leaf hash. It
    /// is not on disk until [`sync`](Self::sync) returns (or a checkpoint is made, which this
    /// does when one is due).
    pub fn append(&self, record: &Record) -> Result<Position, LogError> {
        let mut state = self.lock();
        self.append_locked(&mut state, record)
    }

    /// Append several records with consecutive indices (one `write` per record, no other
    /// writer in between): the records of one admission request sit together. Returns their
    /// positions in order; on an error the records before it stay appended.
    pub fn append_all(&self, records: &[Record]) -> Result<Vec<Position>, LogError> {
        let mut state = self.lock();
        records
            .iter()
            .map(|r| self.append_locked(&mut state, r))
            .collect()
    }

    fn append_locked(&self, state: &mut State, record: &Record) -> Result<Position, LogError> {
        if state.poisoned {
            return Err(LogError::Poisoned {
                path: self.records_path(),
            });
        }
        let index = state.tree.size();
        let time = chrono::DateTime::<chrono::Utc>::from(self.options.clock.now())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let line = Line {
            index,
            prev: state.prev.map(hex::encode),
            time,
            record,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|e| LogError::Internal(e.to_string()))?;
        let leaf_hash = merkle::leaf_hash(&bytes);
        bytes.push(b'\n');
        if let Err(e) = state.file.write_all(&bytes) {
            state.poisoned = true;
            return Err(io("cannot append to", &self.records_path())(e));
        }
        state.tree.push(leaf_hash);
        state.prev = Some(leaf_hash);
        if self.due(state) {
            self.checkpoint_locked(state)?;
        }
        Ok(Position { index, leaf_hash })
    }

    /// Make every record appended so far durable (fsync). Cheap when nothing new was
    /// appended; concurrent callers share one fsync (group commit).
    pub fn sync(&self) -> Result<(), LogError> {
        let target = self.lock().tree.size();
        if self.synced.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let _guard = self
            .sync_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.synced.load(Ordering::Acquire) >= target {
            return Ok(()); // another caller's fsync covered ours
        }
        // Everything appended before this point is covered by the fsync below.
        let upto = self.lock().tree.size();
        self.sync_file
            .sync_data()
            .map_err(io("cannot sync", &self.records_path()))?;
        self.synced.fetch_max(upto, Ordering::AcqRel);
        Ok(())
    }

    /// Sign a checkpoint of every record appended so far (fsynced first), append it to
    /// `checkpoints.jsonl` and replace `checkpoint` with it. Returns the signed note.
    pub fn checkpoint(&self) -> Result<String, LogError> {
        let mut state = self.lock();
        self.checkpoint_locked(&mut state)
    }

    /// [`checkpoint`](Self::checkpoint) when one is due (records appended and the interval
    /// passed, or `checkpoint_every` records): for a server's timer.
    pub fn checkpoint_if_due(&self) -> Result<Option<String>, LogError> {
        let mut state = self.lock();
        if self.due(&state) {
            self.checkpoint_locked(&mut state).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Close the log with a final checkpoint (when records were appended since the last).
    pub fn close(self) -> Result<(), LogError> {
        self.seal().map(|_| ())
    }

    /// A checkpoint of every record appended so far, when any came after the last one (what
    /// [`close`](Self::close) does, for a log shared in an `Arc` that a server seals at
    /// shutdown). Returns the signed note when one was made.
    pub fn seal(&self) -> Result<Option<String>, LogError> {
        let mut state = self.lock();
        if state.last_checkpoint_size == Some(state.tree.size()) {
            return Ok(None);
        }
        self.checkpoint_locked(&mut state).map(Some)
    }

    /// The checkpoints' origin.
    pub fn origin(&self) -> &str {
        &self.options.origin
    }

    fn due(&self, state: &State) -> bool {
        let size = state.tree.size();
        let since = size - state.last_checkpoint_size.unwrap_or(0);
        if since == 0 {
            return false;
        }
        since >= self.options.checkpoint_every.max(1)
            || self
                .options
                .clock
                .now()
                .duration_since(state.last_checkpoint_time)
                .is_ok_and(|d| d >= self.options.checkpoint_interval)
    }

    fn checkpoint_locked(&self, state: &mut State) -> Result<String, LogError> {
        let records = self.records_path();
        state
            .file
            .sync_data()
            .map_err(io("cannot sync", &records))?;
        let size = state.tree.size();
        self.synced.fetch_max(size, Ordering::AcqRel);
        let text = Checkpoint {
            origin: self.options.origin.clone(),
            size,
            root: state.tree.root(),
        }
        .to_text();
        let note = self.options.signer.sign(&text)?;
        let mut line = serde_json::to_vec(&CheckpointLine { note: note.clone() })
            .map_err(|e| LogError::Internal(e.to_string()))?;
        line.push(b'\n');
        let path = self.dir.join(CHECKPOINTS_FILE);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io("cannot open", &path))?;
        f.write_all(&line).map_err(io("cannot append to", &path))?;
        f.sync_data().map_err(io("cannot sync", &path))?;
        let latest = self.dir.join(LATEST_CHECKPOINT_FILE);
        write_atomic(&latest, note.as_bytes(), 0o644, Overwrite::Replace)
            .map_err(io("cannot write", &latest))?;
        state.last_checkpoint_size = Some(size);
        state.last_checkpoint_time = self.options.clock.now();
        Ok(note)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state consistent or poisoned by flag.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn records_path(&self) -> PathBuf {
        self.dir.join(RECORDS_FILE)
    }
}

/// A JSON Lines file as read: the bytes kept and, if a torn last line was cut, (bytes cut,
/// new length).
type Kept = (Vec<u8>, Option<(u64, u64)>);

/// Read a JSON Lines file (missing: empty); cut back a torn last line in place.
fn read_and_cut(path: &Path) -> Result<Kept, LogError> {
    let mut bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
        Err(e) => return Err(io("cannot read", path)(e)),
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok((bytes, None));
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let cut = (bytes.len() - keep) as u64;
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io("cannot open", path))?;
    f.set_len(keep as u64)
        .map_err(io("cannot truncate", path))?;
    f.sync_all().map_err(io("cannot sync", path))?;
    bytes.truncate(keep);
    Ok((bytes, Some((cut, keep as u64))))
}

/// The leaf hashes of every record, checking each one's index and `prev`.
pub(super) fn rebuild(path: &Path, bytes: &[u8]) -> Result<Vec<Hash>, LogError> {
    let mut leaves: Vec<Hash> = Vec::new();
    for (i, line) in lines(bytes).enumerate() {
        let corrupt = |message: String| LogError::Corrupt {
            path: path.to_owned(),
            line: i as u64 + 1,
            message,
        };
        let header: LineHeader = serde_json::from_slice(line)
            .map_err(|e| corrupt(format!("not a decision record: {e}")))?;
        if header.index != i as u64 {
            return Err(corrupt(format!(
                "record {i} carries index {}: records were removed, inserted or reordered",
                header.index
            )));
        }
        let expected = leaves.last().map(hex::encode);
        if header.prev != expected {
            return Err(corrupt(format!(
                "record {i} does not carry the hash of record {}: that record was changed",
                i.saturating_sub(1)
            )));
        }
        leaves.push(merkle::leaf_hash(line));
    }
    Ok(leaves)
}

/// The lines of a JSON Lines buffer (without their newlines; a final unterminated line too).
pub(super) fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    body.split(|b| *b == b'\n')
        .filter(move |_| !bytes.is_empty())
}

fn last_hash(bytes: &[u8]) -> Option<Hash> {
    lines(bytes).last().map(merkle::leaf_hash)
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> LogError + 'a {
    move |source| LogError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}
