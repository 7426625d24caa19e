//! A process's bell: how a process that changed a socket tells another
//! process whose `poll` watches it, or whose copy of an epoll instance
//! must make the instance's eventfd readable.
//!
//! Threads blocked on a socket sleep on its futex word, which lives in the
//! shared region: any process wakes them directly. Watchers (an epoll
//! instance, a thread in `poll`) are objects of one process, so the process
//! that finds a socket ready sends the socket's handle to the watching
//! process's bell, a datagram socket on an abstract address named after
//! the stack and the pid; that process's stack thread reads it and tells
//! its own watchers. A bell whose queue is full loses the datagram: the
//! sender then sets the process's `overflow` flag, and the receiver looks
//! at every socket its watchers watch.

use crate::stack::SocketHandle;
use crate::sys::private_fd::PrivateFd;
use crate::sys::unix_socket;
use std::io;

/// The abstract name of process `pid`'s bell on the stack of `ifname` in
/// the network namespace `netns`.
pub fn name(netns: u64, ifname: &str, pid: i32) -> Vec<u8> {
    format!("tapstack/{netns}/{ifname}/bell/{pid}").into_bytes()
}

/// What a bell is rung for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// Socket `h` may have changed: tell the watchers of it.
    Socket(SocketHandle),
    /// Epoll instance `id` has events: make its eventfd readable.
    Epoll(u32),
}

/// Notes per datagram (8 bytes each).
const PER_DATAGRAM: usize = 512;

/// A socket table never has this many slots: the index marks an epoll note.
const EPOLL_MARK: u32 = u32::MAX;

fn encode(n: Note) -> [u8; 8] {
    let (hi, lo) = match n {
        Note::Socket(h) => (h.index, h.generation),
        Note::Epoll(id) => (EPOLL_MARK, id),
    };
    ((u64::from(hi) << 32) | u64::from(lo)).to_ne_bytes()
}

fn decode(b: &[u8]) -> Note {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    let v = u64::from_ne_bytes(w);
    match (v >> 32) as u32 {
        EPOLL_MARK => Note::Epoll(v as u32),
        index => Note::Socket(SocketHandle {
            index,
            generation: v as u32,
        }),
    }
}

/// This process's bell.
pub struct Bell {
    fd: PrivateFd,
}

impl Bell {
    /// Binds the bell of `pid`.
    pub fn bind(netns: u64, ifname: &str, pid: i32) -> io::Result<Bell> {
        Ok(Bell {
            fd: unix_socket::bind_abstract_dgram(&name(netns, ifname, pid))?,
        })
    }

    /// The fd, for the stack thread's epoll set.
    pub fn raw(&self) -> i32 {
        self.fd.raw()
    }

    /// Reads every waiting datagram, calling `f` for each note in them.
    pub fn drain(&self, f: &mut dyn FnMut(Note)) {
        let mut buf = [0u8; PER_DATAGRAM * 8];
        while let Ok(n) = unix_socket::read(&self.fd, &mut buf) {
            for chunk in buf[..n].chunks_exact(8) {
                f(decode(chunk));
            }
        }
    }
}

/// Sends `notes` to the bell `to` (a name from [`name`]) from `from`.
/// `Err` when a datagram could not be queued (the bell is full or gone).
pub fn ring(from: &PrivateFd, to: &[u8], notes: &[Note]) -> io::Result<()> {
    if notes.is_empty() {
        // Only to wake the stack thread (the process table changed).
        unix_socket::send_to_abstract(from, to, &[])?;
        return Ok(());
    }
    for part in notes.chunks(PER_DATAGRAM) {
        let bytes: Vec<u8> = part.iter().flat_map(|&h| encode(h)).collect();
        unix_socket::send_to_abstract(from, to, &bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rung_bell_gives_the_notes() {
        let pid = std::process::id() as i32;
        let bell = Bell::bind(1, "belltest", pid).unwrap();
        let from = unix_socket::unbound_dgram().unwrap();
        let hs: Vec<Note> = (0..700)
            .map(|i| {
                if i % 7 == 0 {
                    Note::Epoll(i)
                } else {
                    Note::Socket(SocketHandle {
                        index: i,
                        generation: i * 3,
                    })
                }
            })
            .collect();
        ring(&from, &name(1, "belltest", pid), &hs).unwrap();
        let mut got = Vec::new();
        bell.drain(&mut |h| got.push(h));
        assert_eq!(got, hs);
        assert!(ring(&from, &name(1, "belltest", pid + 1_000_000), &hs).is_err());
    }
}
