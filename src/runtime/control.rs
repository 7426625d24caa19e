//! The control socket: live introspection of a running stack
//! (`tapstack ss`, `tapstack neigh`, `tapstack stats`).
//!
//! Each stack listens on a Unix stream socket in the abstract namespace,
//! `@tapstack/<netns inode>/<ifname>/<pid>` ([`socket_name`]). Abstract
//! names belong to a network namespace, as the TAP does, and leave no file
//! behind; the `tapstack` command finds them in `/proc/net/unix`.
//!
//! The stack thread serves it from its own epoll loop. A request is one
//! line (`ss`, `neigh` or `stats`); the answer is one JSON document, after
//! which the connection is closed. The stack lock is held only while the
//! snapshot is copied out ([`crate::stack::snapshot`]); the JSON is made and
//! written without it, non-blocking. A client that sends nothing, or does
//! not read its answer, is dropped after [`CLIENT_TIMEOUT`], and at most
//! [`MAX_CLIENTS`] are kept (the oldest goes first): reading never stalls
//! the stack. Every fd here is one of the library's own
//! ([`crate::sys::private_fd`]).

use crate::sys::event::Epoll;
use crate::sys::private_fd::PrivateFd;
use crate::sys::unix_socket;
use crate::time::{Duration, Instant};
use std::io;

/// The epoll token of the listening socket.
pub const LISTEN_TOKEN: u64 = 2;
/// Client tokens start here (each client gets the next one).
pub const FIRST_CLIENT_TOKEN: u64 = 16;
/// Clients served at once, at most.
pub const MAX_CLIENTS: usize = 8;
/// How long a client has to send its request and read its answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest request line.
const MAX_REQUEST: usize = 64;

/// The control socket's abstract name (without the leading NUL that
/// `/proc/net/unix` shows as `@`).
pub fn socket_name(netns: u64, ifname: &str, pid: u32) -> String {
    format!("tapstack/{netns}/{ifname}/{pid}")
}

/// A request, parsed from its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Sockets (`ss`).
    Sockets,
    /// The neighbour cache (`neigh`).
    Neigh,
    /// The counters (`stats`).
    Stats,
}

impl Request {
    /// Parses one request line (surrounding whitespace ignored).
    pub fn parse(line: &[u8]) -> Option<Request> {
        match line.trim_ascii() {
            b"ss" => Some(Request::Sockets),
            b"neigh" => Some(Request::Neigh),
            b"stats" => Some(Request::Stats),
            _ => None,
        }
    }
}

struct Client {
    fd: PrivateFd,
    token: u64,
    deadline: Instant,
    request: Vec<u8>,
    /// The answer, once made, and how much of it is written.
    answer: Option<(Vec<u8>, usize)>,
}

/// The listening socket and its clients.
pub struct Control {
    listener: PrivateFd,
    name: String,
    clients: Vec<Client>,
    next_token: u64,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("name", &self.name)
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}

enum Step {
    Keep,
    Drop,
}

impl Control {
    /// Listens on `name` and watches it in `poll`.
    pub fn new(poll: &Epoll, name: String) -> io::Result<Control> {
        let listener = unix_socket::listen_abstract(name.as_bytes(), MAX_CLIENTS as i32)?;
        poll.add(listener.raw(), libc::EPOLLIN as u32, LISTEN_TOKEN)?;
        Ok(Control {
            listener,
            name,
            clients: Vec::new(),
            next_token: FIRST_CLIENT_TOKEN,
        })
    }

    /// The listening socket's fd.
    pub fn listener_fd(&self) -> i32 {
        self.listener.raw()
    }

    /// The abstract name it listens on.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `token` is one of ours.
    pub fn owns(token: u64) -> bool {
        token == LISTEN_TOKEN || token >= FIRST_CLIENT_TOKEN
    }

    /// When the oldest client's time runs out.
    pub fn poll_at(&self) -> Option<Instant> {
        self.clients.iter().map(|c| c.deadline).min()
    }

    /// Handles an event for `token`: accepts new clients, reads requests,
    /// answers them with `answer` (called without any lock held by us; it
    /// takes the stack lock itself, briefly), writes what the client takes.
    pub fn handle(
        &mut self,
        poll: &Epoll,
        token: u64,
        now: Instant,
        answer: &mut dyn FnMut(Option<Request>) -> String,
    ) {
        if token == LISTEN_TOKEN {
            self.accept_all(poll, now);
            return;
        }
        let Some(i) = self.clients.iter().position(|c| c.token == token) else {
            return;
        };
        if let Step::Drop = Self::serve(poll, &mut self.clients[i], answer) {
            let c = self.clients.swap_remove(i);
            Self::close(poll, c);
        }
    }

    /// Drops the clients whose time ran out.
    pub fn handle_timeout(&mut self, poll: &Epoll, now: Instant) {
        let mut i = 0;
        while i < self.clients.len() {
            if self.clients[i].deadline <= now {
                let c = self.clients.swap_remove(i);
                Self::close(poll, c);
            } else {
                i += 1;
            }
        }
    }

    fn accept_all(&mut self, poll: &Epoll, now: Instant) {
        loop {
            let fd = match unix_socket::accept(&self.listener) {
                Ok(Some(fd)) => fd,
                Ok(None) => return,
                Err(e) => {
                    // EMFILE and the like: the connection stays queued;
                    // drop the oldest client to make room next time.
                    crate::log_debug!("control socket: accept: {e}");
                    if !self.clients.is_empty() {
                        let c = self.clients.remove(0);
                        Self::close(poll, c);
                        continue;
                    }
                    return;
                }
            };
            if self.clients.len() >= MAX_CLIENTS {
                let c = self.clients.remove(0);
                Self::close(poll, c);
            }
            let token = self.next_token;
            self.next_token += 1;
            if poll.add(fd.raw(), libc::EPOLLIN as u32, token).is_err() {
                continue;
            }
            self.clients.push(Client {
                fd,
                token,
                deadline: now + CLIENT_TIMEOUT,
                request: Vec::new(),
                answer: None,
            });
        }
    }

    fn serve(
        poll: &Epoll,
        c: &mut Client,
        answer: &mut dyn FnMut(Option<Request>) -> String,
    ) -> Step {
        if c.answer.is_none() {
            let mut buf = [0u8; MAX_REQUEST];
            loop {
                match unix_socket::read(&c.fd, &mut buf) {
                    Ok(0) if c.request.is_empty() => return Step::Drop,
                    Ok(0) => break,
                    Ok(n) => {
                        c.request.extend_from_slice(&buf[..n]);
                        if c.request.contains(&b'\n') || c.request.len() >= MAX_REQUEST {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Keep,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Step::Drop,
                }
            }
            let line = c.request.split(|&b| b == b'\n').next().unwrap_or(&[]);
            c.answer = Some((answer(Request::parse(line)).into_bytes(), 0));
        }
        let Some((out, sent)) = c.answer.as_mut() else {
            return Step::Drop;
        };
        while *sent < out.len() {
            match unix_socket::send(&c.fd, &out[*sent..]) {
                Ok(n) => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Wait until the client reads (or its time runs out).
                    if poll
                        .modify(c.fd.raw(), libc::EPOLLOUT as u32, c.token)
                        .is_err()
                    {
                        return Step::Drop;
                    }
                    return Step::Keep;
                }
                Err(_) => return Step::Drop,
            }
        }
        Step::Drop
    }

    fn close(poll: &Epoll, c: Client) {
        let _ = poll.delete(c.fd.raw());
        drop(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_word_lines() {
        assert_eq!(Request::parse(b"ss\n"), Some(Request::Sockets));
        assert_eq!(Request::parse(b" neigh \r"), Some(Request::Neigh));
        assert_eq!(Request::parse(b"stats"), Some(Request::Stats));
        assert_eq!(Request::parse(b"ss -i"), None);
        assert_eq!(Request::parse(b""), None);
    }

    #[test]
    fn the_name_says_namespace_interface_and_pid() {
        assert_eq!(
            socket_name(4026531840, "tap0", 42),
            "tapstack/4026531840/tap0/42"
        );
    }

    /// A client that never reads its answer is dropped at its deadline,
    /// and one that reads gets the whole answer, however long.
    #[test]
    fn serves_clients_without_blocking() {
        use std::io::{Read, Write};
        use std::os::linux::net::SocketAddrExt;
        let poll = Epoll::new().unwrap();
        let name = format!("tapstack-test/{}/control", std::process::id());
        let mut ctl = Control::new(&poll, name.clone()).unwrap();
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let big = "x".repeat(4 << 20);
        let mut answer = |r: Option<Request>| match r {
            Some(Request::Stats) => "{\"counters\":{}}\n".to_string(),
            Some(_) => big.clone(),
            None => "{\"error\":\"unknown\"}\n".to_string(),
        };
        let now = Instant::ZERO;
        let mut run = |ctl: &mut Control, now: Instant| {
            let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 16];
            let n = poll.wait(&mut evs, Some(Duration::ZERO)).unwrap();
            for ev in &evs[..n] {
                ctl.handle(&poll, ev.u64, now, &mut answer);
            }
        };
        // A stuck client: asks for a 4 MiB answer and never reads it.
        let mut stuck = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
        stuck.write_all(b"ss\n").unwrap();
        run(&mut ctl, now);
        run(&mut ctl, now);
        assert_eq!(ctl.clients.len(), 1);
        // Another is served meanwhile.
        let mut ok = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
        ok.write_all(b"stats\n").unwrap();
        run(&mut ctl, now);
        run(&mut ctl, now);
        let mut got = String::new();
        ok.read_to_string(&mut got).unwrap();
        assert_eq!(got, "{\"counters\":{}}\n");
        assert_eq!(ctl.poll_at(), Some(now + CLIENT_TIMEOUT));
        ctl.handle_timeout(&poll, now + CLIENT_TIMEOUT);
        assert!(ctl.clients.is_empty());
        let mut rest = Vec::new();
        let _ = stuck.read_to_end(&mut rest);
        assert!(rest.len() < big.len());
    }
}
