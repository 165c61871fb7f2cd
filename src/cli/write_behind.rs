//! Writing a large `--output` temp file behind the formatter: full buffers go to a thread of
//! their own, so formatting the next bars and writing the last ones overlap, and on Linux
//! (ext4 and XFS) that thread writes them past the page cache (`O_DIRECT`).
//!
//! Why past the page cache: a buffered write of a large new file spends most of its time
//! giving the file fresh page-cache pages (measured in the VMs we run on: the kernel's copy
//! into new pages took 14-62% of an export's profile and 0.2-3.4 s of system time for
//! 192 MB), and the final sync then writes them all again; a direct write sends the bytes
//! from the buffer to the disk once (192 MB in 0.13-0.16 s here). The price: the new file is
//! not in the page cache, so a reader that opens it at once reads it from the disk.
//!
//! Output that fits in one buffer ([`BUFFER`]) starts no thread and is written the ordinary
//! way when the writer finishes. Whatever the filesystem refuses (`EINVAL`: it wants another
//! alignment, or has no direct I/O) turns the direct mode off for the rest of the file and
//! the same bytes are written through the page cache; elsewhere (other filesystems, other
//! systems) the thread writes through the page cache and syncs every [`SYNC_EVERY`] bytes,
//! so the final sync has little left.

use std::io::Write;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Bytes in one buffer: a whole number of [`ALIGN`] blocks.
const BUFFER: usize = 2 << 20;

/// The alignment of a direct write's memory, offset and length (the page size, a multiple of
/// every logical block size Linux allows).
const ALIGN: usize = 4096;

/// Buffers in flight at most: one being filled, the others queued or being written.
const BUFFERS: usize = 3;

/// Bytes written through the page cache between two syncs of the file.
const SYNC_EVERY: u64 = 16 << 20;

/// A writer into a new file (the temp file of an `--output`) that writes behind the caller;
/// [`WriteBehind::finish`] hands the file back with every byte written (not yet synced).
pub(super) struct WriteBehind {
    /// The buffer being filled, and how much of it is.
    buffer: Buffer,
    filled: usize,
    state: State,
}

/// Where the bytes go once the buffer is full.
enum State {
    /// Nothing has filled a buffer yet: the file is still here.
    Buffering(fs_err::File),
    /// The thread owns the file and writes the full buffers.
    Writing(Thread),
    /// A write failed (the error was returned then); nothing more is written.
    Failed,
}

/// The writing thread and its two channels: full buffers to it, written ones back.
struct Thread {
    full: mpsc::SyncSender<(Buffer, usize)>,
    empty: mpsc::Receiver<Buffer>,
    handle: JoinHandle<std::io::Result<fs_err::File>>,
}

impl Thread {
    /// Waits for the thread to write what it was sent: the file, or why it stopped.
    fn join(self) -> std::io::Result<fs_err::File> {
        drop(self.full);
        self.handle
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the output writer panicked")))
    }
}

/// The error of a write after one that failed.
fn failed_before() -> std::io::Error {
    std::io::Error::other("an earlier write to the output failed")
}

impl WriteBehind {
    pub(super) fn new(file: fs_err::File) -> Self {
        Self {
            buffer: Buffer::new(),
            filled: 0,
            state: State::Buffering(file),
        }
    }

    /// Writes what is left and waits for the thread: the file, every byte in it.
    pub(super) fn finish(mut self) -> std::io::Result<fs_err::File> {
        let bytes = std::mem::replace(&mut self.buffer, Buffer::empty());
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Buffering(mut file) => {
                file.write_all(&bytes.bytes()[..self.filled])?;
                Ok(file)
            }
            State::Writing(thread) => {
                // A closed channel means the thread stopped on an error, which join returns.
                let _ = thread.full.send((bytes, self.filled));
                thread.join()
            }
            State::Failed => Err(failed_before()),
        }
    }

    /// Hands the full buffer to the thread (starting it the first time) and takes an empty
    /// one back.
    fn hand_over(&mut self) -> std::io::Result<()> {
        let thread = match std::mem::replace(&mut self.state, State::Failed) {
            State::Buffering(file) => start(file)?,
            State::Writing(thread) => thread,
            State::Failed => return Err(failed_before()),
        };
        let full = std::mem::replace(&mut self.buffer, Buffer::empty());
        let next = match thread.full.send((full, self.filled)) {
            Ok(()) => thread.empty.recv().ok(),
            Err(_) => None,
        };
        match next {
            Some(buffer) => {
                self.buffer = buffer;
                self.filled = 0;
                self.state = State::Writing(thread);
                Ok(())
            }
            // The thread stopped: its error says why.
            None => match thread.join() {
                Err(e) => Err(e),
                Ok(_) => Err(std::io::Error::other("the output writer stopped early")),
            },
        }
    }
}

impl Write for WriteBehind {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.filled == BUFFER {
            self.hand_over()?;
        }
        let n = bytes.len().min(BUFFER - self.filled);
        self.buffer.bytes_mut()[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
        self.filled += n;
        Ok(n)
    }

    fn write_all(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let n = self.write(bytes)?;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Everything is written by [`WriteBehind::finish`]; a flush on the way changes nothing.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for WriteBehind {
    /// Dropped without [`WriteBehind::finish`] (the run failed): the thread writes what it
    /// has and ends, so the caller may remove the file.
    fn drop(&mut self) {
        if let State::Writing(thread) = std::mem::replace(&mut self.state, State::Failed) {
            let _ = thread.join();
        }
    }
}

/// Starts the thread that writes the buffers it is sent, in order, into `file`, with the
/// spare buffers it hands back (allocated untouched: they cost memory once filled).
fn start(file: fs_err::File) -> std::io::Result<Thread> {
    let (full, full_rx) = mpsc::sync_channel::<(Buffer, usize)>(BUFFERS);
    let (empty_tx, empty) = mpsc::sync_channel::<Buffer>(BUFFERS);
    for _ in 1..BUFFERS {
        empty_tx.send(Buffer::new()).expect("room for every buffer");
    }
    let handle = std::thread::Builder::new()
        .name("output writer".to_owned())
        .spawn(move || {
            let mut sink = Sink::new(file);
            for (mut buffer, filled) in full_rx {
                sink.write(&mut buffer, filled)?;
                let _ = empty_tx.send(buffer);
            }
            sink.finish()
        })?;
    Ok(Thread {
        full,
        empty,
        handle,
    })
}

/// The thread's side: the file, whether it is written directly, and how far.
struct Sink {
    file: fs_err::File,
    direct: bool,
    /// Bytes of the output written so far (a direct file may hold zeros past them).
    written: u64,
    /// Whether a padded block was written directly, to be cut off at the end.
    padded: bool,
    unsynced: u64,
}

impl Sink {
    fn new(file: fs_err::File) -> Self {
        let direct = direct_io::turn_on(file.file());
        Self {
            file,
            direct,
            written: 0,
            padded: false,
            unsynced: 0,
        }
    }

    /// Writes the first `filled` bytes of `buffer`; a direct write of a part block pads it
    /// with zeros to the block (cut off by [`Sink::finish`]).
    fn write(&mut self, buffer: &mut Buffer, filled: usize) -> std::io::Result<()> {
        let mut len = filled;
        if self.direct && !filled.is_multiple_of(ALIGN) {
            len = filled.next_multiple_of(ALIGN);
            buffer.bytes_mut()[filled..len].fill(0);
            self.padded = true;
        }
        let bytes = &buffer.bytes()[..len];
        let mut done = 0;
        while done < len {
            // The std file, so the error is the system's own (fs_err would wrap it).
            match self.file.file().write(&bytes[done..]) {
                Ok(0) => return Err(self.failed(std::io::ErrorKind::WriteZero.into())),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if self.direct && direct_io::is_refusal(&e) => {
                    direct_io::turn_off(self.file.file()).map_err(|e| self.failed(e))?;
                    self.direct = false;
                }
                Err(e) => return Err(self.failed(e)),
            }
        }
        self.written += filled as u64;
        if !self.direct {
            self.unsynced += len as u64;
            if self.unsynced >= SYNC_EVERY {
                self.unsynced = 0;
                self.file.sync_data()?;
            }
        }
        Ok(())
    }

    /// `e`, naming the file it happened to.
    fn failed(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(
            e.kind(),
            format!(
                "failed to write to file `{}`: {e}",
                self.file.path().display()
            ),
        )
    }

    /// Cuts off the padding of the last direct block, if any: the file, its bytes all
    /// written.
    fn finish(self) -> std::io::Result<fs_err::File> {
        if self.padded {
            self.file.set_len(self.written)?;
        }
        Ok(self.file)
    }
}

/// A [`BUFFER`]-byte block of memory aligned to [`ALIGN`] (a direct write's buffer must
/// be): the aligned part of a slightly larger allocation. Empty while the real one is away.
struct Buffer {
    memory: Vec<u8>,
    start: usize,
}

impl Buffer {
    fn new() -> Self {
        // Zeroed: a fresh mapping is zero already, so this costs no writes, and no memory
        // until it is filled.
        let memory = vec![0; BUFFER + ALIGN];
        let start = memory.as_ptr().align_offset(ALIGN);
        assert!(start <= ALIGN, "an allocation that cannot be aligned");
        Self { memory, start }
    }

    fn empty() -> Self {
        Self {
            memory: Vec::new(),
            start: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        self.memory
            .get(self.start..self.start + BUFFER)
            .unwrap_or_default()
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        self.memory
            .get_mut(self.start..self.start + BUFFER)
            .unwrap_or_default()
    }
}

/// Direct I/O on Linux: on for the filesystems known to do it well with our alignment.
#[cfg(target_os = "linux")]
mod direct_io {
    use rustix::fs::OFlags;

    /// `EXT4_SUPER_MAGIC` (ext2 and ext3 share it) and `XFS_SUPER_MAGIC`. Not btrfs (a
    /// direct write there skips compression and may fail its checksums), not network or
    /// memory filesystems.
    const FILESYSTEMS: [i128; 2] = [0xEF53, 0x5846_5342];

    /// Sets `O_DIRECT` on `file` when its filesystem is one of [`FILESYSTEMS`]: whether it
    /// is set.
    pub(super) fn turn_on(file: &std::fs::File) -> bool {
        let known =
            rustix::fs::fstatfs(file).is_ok_and(|fs| FILESYSTEMS.contains(&i128::from(fs.f_type)));
        known
            && rustix::fs::fcntl_getfl(file)
                .and_then(|flags| rustix::fs::fcntl_setfl(file, flags | OFlags::DIRECT))
                .is_ok()
    }

    /// Clears `O_DIRECT` on `file`.
    pub(super) fn turn_off(file: &std::fs::File) -> std::io::Result<()> {
        let flags = rustix::fs::fcntl_getfl(file)?;
        Ok(rustix::fs::fcntl_setfl(file, flags - OFlags::DIRECT)?)
    }

    /// Whether a direct write failed for being direct (`EINVAL`: alignment or no support).
    pub(super) fn is_refusal(e: &std::io::Error) -> bool {
        e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error())
    }
}

/// Elsewhere every write goes through the page cache.
#[cfg(not(target_os = "linux"))]
mod direct_io {
    pub(super) fn turn_on(_file: &std::fs::File) -> bool {
        false
    }

    pub(super) fn turn_off(_file: &std::fs::File) -> std::io::Result<()> {
        Ok(())
    }

    pub(super) fn is_refusal(_e: &std::io::Error) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `chunks` through a WriteBehind into a new file in `dir`: the file's bytes.
    fn written(dir: &std::path::Path, chunks: &[&[u8]]) -> Vec<u8> {
        let path = dir.join("out");
        let _ = std::fs::remove_file(&path);
        let file = fs_err::File::create(&path).unwrap();
        let mut out = WriteBehind::new(file);
        for chunk in chunks {
            out.write_all(chunk).unwrap();
        }
        out.finish().unwrap().sync_all().unwrap();
        std::fs::read(&path).unwrap()
    }

    /// Bytes that differ from one position to the next, so a misplaced block shows.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| u8::try_from((i * 7 + i / 4093) % 251).unwrap())
            .collect()
    }

    fn every_length_comes_back_exactly_in(dir: &std::path::Path) {
        for len in [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            BUFFER - 1,
            BUFFER,
            BUFFER + 1,
            3 * BUFFER + 5 * ALIGN + 17,
            7 * BUFFER,
        ] {
            let data = pattern(len);
            assert_eq!(written(dir, &[&data]), data, "{len} bytes in one write");
        }
        // Many small writes of odd sizes, crossing every buffer boundary somewhere.
        let data = pattern(5 * BUFFER + 333);
        assert_eq!(written(dir, &split_unevenly(&data)), data, "uneven writes");
    }

    fn split_unevenly(mut data: &[u8]) -> Vec<&[u8]> {
        let mut chunks = Vec::new();
        let mut size = 1;
        while !data.is_empty() {
            let n = size.min(data.len());
            chunks.push(&data[..n]);
            data = &data[n..];
            size = (size * 31 + 7) % 70_001 + 1;
        }
        chunks
    }

    #[test]
    fn every_length_comes_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        every_length_comes_back_exactly_in(dir.path());
    }

    /// A file that refuses writes: the error comes back (from a write or from finish),
    /// naming the file, and nothing hangs.
    #[test]
    fn a_failed_write_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, b"").unwrap();
        let read_only = fs_err::File::open(&path).unwrap();
        let mut out = WriteBehind::new(read_only);
        let data = pattern(5 * BUFFER);
        let error = match out.write_all(&data) {
            Err(e) => e,
            Ok(()) => out.finish().unwrap_err(),
        };
        assert!(error.to_string().contains("out`"), "{error}");
    }

    /// A writer dropped half-way (the run failed) stops its thread and closes the file.
    #[test]
    fn a_writer_dropped_half_way_lets_the_file_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut out = WriteBehind::new(fs_err::File::create(&path).unwrap());
        out.write_all(&pattern(2 * BUFFER + 1)).unwrap();
        assert!(matches!(out.state, State::Writing(_)));
        drop(out);
        std::fs::remove_file(&path).unwrap();
    }

    /// On a filesystem without direct I/O (tmpfs), the same bytes through the page cache.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_filesystem_without_direct_io_gets_the_same_bytes() {
        let shm = std::path::Path::new("/dev/shm");
        if !shm.is_dir() {
            return;
        }
        let dir = tempfile::tempdir_in(shm).unwrap();
        every_length_comes_back_exactly_in(dir.path());
    }

    /// A direct write the filesystem refuses (here: at an offset that is not a whole
    /// block, after a piece written through the page cache) turns direct mode off and the
    /// same bytes go through the page cache, intact.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_refused_direct_write_goes_through_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut sink = Sink::new(fs_err::File::create(&path).unwrap());
        if !sink.direct {
            // This temp directory has no direct I/O: nothing to refuse.
            return;
        }
        let head = pattern(100);
        let mut buffer = Buffer::new();
        buffer.bytes_mut()[..head.len()].copy_from_slice(&head);
        direct_io::turn_off(sink.file.file()).unwrap();
        sink.direct = false;
        sink.write(&mut buffer, head.len()).unwrap();
        assert!(direct_io::turn_on(sink.file.file()));
        sink.direct = true;
        let body = pattern(BUFFER);
        buffer.bytes_mut().copy_from_slice(&body);
        sink.write(&mut buffer, BUFFER).unwrap();
        assert!(!sink.direct, "the write at offset 100 was not refused");
        sink.finish().unwrap().sync_all().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), [head, body].concat());
    }
}
