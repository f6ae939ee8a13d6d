//! Raw binary files: the bytes of one stream, in fixed-size chunks.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{CaptureError, CaptureEvent, Chunk, EndReason, Location, StreamEnd, StreamId};

/// Default chunk size of [`RawFileReader`].
pub const DEFAULT_RAW_CHUNK: usize = 4096;

/// Reads a file of raw bytes as one stream ([`StreamId`] 0) of chunks of at
/// most a fixed size, then one [`StreamEnd`] with [`EndReason::EndOfInput`].
///
/// Chunks carry no timestamp, direction or endpoints.
#[derive(Debug)]
pub struct RawFileReader<R> {
    reader: R,
    chunk_size: usize,
    path: Option<PathBuf>,
    offset: u64,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    Done,
}

impl<R: Read> RawFileReader<R> {
    /// Reads `reader` in chunks of [`DEFAULT_RAW_CHUNK`] bytes.
    pub fn new(reader: R) -> Self {
        Self::with_chunk_size(reader, DEFAULT_RAW_CHUNK)
    }

    /// Reads `reader` in chunks of at most `chunk_size` bytes (at least 1),
    /// one chunk per `read`.
    pub fn with_chunk_size(reader: R, chunk_size: usize) -> Self {
        Self {
            reader,
            chunk_size: chunk_size.max(1),
            path: None,
            offset: 0,
            state: State::Reading,
        }
    }

    /// Names the file in errors.
    #[must_use]
    pub fn with_path(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }
}

impl<R: Read> Iterator for RawFileReader<R> {
    type Item = Result<CaptureEvent, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.state {
            State::Done => return None,
            State::Reading => {}
        }
        // One chunk per read: a file fills the buffer (but at its end), and
        // a pipe or terminal hands on what it has, so a live feed is decoded
        // as it comes instead of waiting for a full chunk.
        let mut buf = vec![0u8; self.chunk_size];
        let filled = loop {
            match self.reader.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.state = State::Done;
                    return Some(Err(CaptureError::io(e)
                        .with_path(self.path.as_deref())
                        .at(Location::Offset(self.offset))));
                }
            }
        };
        if filled == 0 {
            self.state = State::Done;
            return Some(Ok(CaptureEvent::End(StreamEnd {
                stream: StreamId(0),
                reason: EndReason::EndOfInput,
            })));
        }
        buf.truncate(filled);
        self.offset = self.offset.saturating_add(filled as u64);
        Some(Ok(CaptureEvent::Chunk(Chunk {
            stream: StreamId(0),
            timestamp: None,
            direction: None,
            endpoints: None,
            bytes: buf,
        })))
    }
}
