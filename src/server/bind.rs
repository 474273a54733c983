//! Binding the RTMP listener with a deeper accept queue than std's 128, so a burst of
//! connections (hundreds of players arriving at once) is taken without SYN retries that
//! would cost each late client a second or more. Safe code only: rustix creates, binds and
//! listens; the descriptor becomes a std `TcpListener`.

use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::io;
use std::net::{SocketAddr, TcpListener};

/// Connections the kernel may hold waiting for accept (capped by net.core.somaxconn).
pub const LISTEN_BACKLOG: i32 = 1024;

/// Like `TcpListener::bind` (SO_REUSEADDR, close-on-exec), with [`LISTEN_BACKLOG`].
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let domain = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let socket = rustix::net::socket_with(domain, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    rustix::net::sockopt::set_socket_reuseaddr(&socket, true)?;
    rustix::net::bind(&socket, &addr)?;
    rustix::net::listen(&socket, LISTEN_BACKLOG)?;
    Ok(TcpListener::from(socket))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;
    use std::time::Duration;

    #[test]
    fn hundreds_of_connects_queue_without_being_accepted() {
        // std's backlog (128) would leave connects beyond it retrying SYNs for seconds.
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let mut clients = Vec::new();
        for i in 0..300 {
            let client = TcpStream::connect_timeout(&addr, Duration::from_secs(5));
            clients.push(client.unwrap_or_else(|e| panic!("connect {i}: {e}")));
        }
        let (accepted, _) = listener.accept().unwrap();
        assert_eq!(accepted.local_addr().unwrap(), addr);
    }

    #[test]
    fn a_taken_port_is_an_error() {
        let first = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(listen(first.local_addr().unwrap()).is_err());
    }
}
