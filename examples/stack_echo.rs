//! An echo server (and client) on the stack's Rust API, no shim involved:
//! a way to try the TCP engine against the kernel across the TAP.
//!
//! ```text
//! stack_echo server PORT           # echo every connection until EOF
//! stack_echo client IP:PORT BYTES  # send BYTES, read them back, compare
//! ```
//! Configuration comes from the `TAPSTACK_*` variables.

use std::net::SocketAddrV4;
use std::sync::atomic::Ordering;
use tapstack::runtime::{self, Runtime};
use tapstack::stack::{SocketError, SocketHandle};
use tapstack::sys::event::futex_wait;
use tapstack::time::Duration;

/// Runs `f` under the stack lock until it stops returning WouldBlock,
/// sleeping on the socket's wait word in between.
fn block<T>(
    rt: &Runtime,
    h: SocketHandle,
    mut f: impl FnMut(&mut tapstack::stack::Stack) -> Result<T, SocketError>,
) -> Result<T, SocketError> {
    loop {
        let mut stack = rt.lock();
        let word = stack.wait_word(h).ok_or(SocketError::BadHandle)?;
        let seen = word.word.load(Ordering::Acquire);
        let r = f(&mut stack);
        rt.finish(stack);
        match r {
            Err(SocketError::WouldBlock) | Err(SocketError::InProgress) => {
                let _ = futex_wait(&word.word, seen, Some(Duration::from_secs(1)));
            }
            other => return other,
        }
    }
}

fn serve(rt: &'static Runtime, port: u16) {
    let l = {
        let mut s = rt.lock();
        let l = s.socket();
        s.set_options(l, |o| o.reuse_addr = true).unwrap();
        s.bind(l, SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, port))
            .unwrap();
        s.listen(l, 128).unwrap();
        l
    };
    println!("listening on {port}");
    loop {
        let (c, peer) = block(rt, l, |s| s.accept(l)).unwrap();
        println!("accepted {peer}");
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut total = 0usize;
            loop {
                let n = match block(rt, c, |s| s.recv(c, &mut buf, false)) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        println!("recv: {e:?}");
                        break;
                    }
                };
                total += n;
                let mut off = 0;
                while off < n {
                    match block(rt, c, |s| s.send(c, &buf[off..n])) {
                        Ok(k) => off += k,
                        Err(e) => {
                            println!("send: {e:?}");
                            return;
                        }
                    }
                }
            }
            println!("echoed {total} bytes to {peer}");
            let mut s = rt.lock();
            s.close(c);
            rt.finish(s);
        });
    }
}

fn client(rt: &'static Runtime, addr: SocketAddrV4, bytes: usize) {
    let c = {
        let mut s = rt.lock();
        let c = s.socket();
        let now = tapstack::sys::clock::monotonic_now();
        let _ = s.connect(now, c, addr);
        rt.finish(s);
        c
    };
    block(rt, c, |s| {
        let r = s.readiness(c)?;
        if r.error {
            return Err(s.take_error(c)?.unwrap_or(SocketError::ConnectionReset));
        }
        if r.writable {
            Ok(())
        } else {
            Err(SocketError::WouldBlock)
        }
    })
    .expect("connect");
    let data: Vec<u8> = (0..bytes).map(|i| (i * 7 + i / 1000) as u8).collect();
    let mut back = Vec::with_capacity(bytes);
    let mut sent = 0;
    let mut buf = vec![0u8; 65536];
    while back.len() < bytes {
        let r = block(rt, c, |s| {
            let mut progress = false;
            if sent < data.len() {
                match s.send(c, &data[sent..]) {
                    Ok(n) => {
                        sent += n;
                        progress = true;
                    }
                    Err(SocketError::WouldBlock) => {}
                    Err(e) => return Err(e),
                }
            }
            match s.recv(c, &mut buf, false) {
                Ok(0) => return Err(SocketError::ConnectionReset),
                Ok(n) => {
                    back.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(SocketError::WouldBlock) => {}
                Err(e) => return Err(e),
            }
            if progress {
                Ok(())
            } else {
                Err(SocketError::WouldBlock)
            }
        });
        r.expect("transfer");
    }
    assert!(back == data, "echoed bytes differ");
    println!("client: {bytes} bytes echoed intact");
    let mut s = rt.lock();
    s.close(c);
    rt.finish(s);
    std::thread::sleep(std::time::Duration::from_millis(300));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = runtime::ensure_started().unwrap_or_else(|e| panic!("stack: errno {e}"));
    match args.get(1).map(String::as_str) {
        Some("server") => serve(rt, args[2].parse().unwrap()),
        Some("client") => client(rt, args[2].parse().unwrap(), args[3].parse().unwrap()),
        _ => eprintln!("usage: stack_echo server PORT | client IP:PORT BYTES"),
    }
    rt.shutdown();
}
