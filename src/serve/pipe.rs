//! Standard output as an async writer when it is a pipe or a socket (as the daemon gives
//! it): the protocol writer then runs as a task on the runtime, so a chunk reaches the
//! output without waking a thread of its own, and what is queued leaves in one `write`.
//! Anything else (a terminal, a file) keeps the blocking writer thread: non-blocking mode
//! would leak to the shell sharing a terminal, and epoll cannot watch a file.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::FileTypeExt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncWrite, Interest};

/// Standard output in non-blocking mode, registered with the runtime's reactor.
pub struct PipeOut {
    fd: AsyncFd<File>,
    /// The file status flags before, restored when dropped.
    flags: libc::c_int,
}

impl PipeOut {
    /// Standard output when it is a pipe or a socket; `None` otherwise (or when it cannot
    /// be switched to non-blocking mode). Must be called within the runtime.
    pub fn stdout() -> Option<PipeOut> {
        // A duplicate, so that dropping it never closes fd 1 itself.
        let file = File::from(io::stdout().as_fd().try_clone_to_owned().ok()?);
        let kind = file.metadata().ok()?.file_type();
        if !kind.is_fifo() && !kind.is_socket() {
            return None;
        }
        let raw = file.as_raw_fd();
        // SAFETY: fcntl reads and sets the status flags of a descriptor `file` owns.
        let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
        if flags < 0 || unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return None;
        }
        // SAFETY: `file` owns its descriptor and the AsyncFd owns `file`, so the
        // descriptor stays open and the same for the AsyncFd's whole life.
        match unsafe { AsyncFd::register_with_interest(file, Interest::WRITABLE) } {
            Ok(fd) => Some(PipeOut { fd, flags }),
            Err(e) => {
                // SAFETY: as above, on the descriptor handed back with the error.
                unsafe { libc::fcntl(e.into_parts().0.as_raw_fd(), libc::F_SETFL, flags) };
                None
            }
        }
    }
}

impl Drop for PipeOut {
    fn drop(&mut self) {
        // The status flags belong to the pipe's open file, shared with fd 1 and with
        // whatever runs after us on it: leave it blocking, as it was.
        // SAFETY: fcntl on a descriptor still owned by `self.fd`.
        unsafe { libc::fcntl(self.fd.get_ref().as_raw_fd(), libc::F_SETFL, self.flags) };
    }
}

impl AsyncWrite for PipeOut {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|fd| fd.get_ref().write(buf)) {
                Ok(result) => return Poll::Ready(result),
                // Not writable after all (the reader is behind): wait for readiness again.
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Nothing is buffered here: every byte went to the pipe in poll_write.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
