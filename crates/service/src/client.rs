//! A small blocking HTTP/1.1 client for the service: the tests, the load generator
//! (`xinyong bench serve`) and scripts use it.
//!
//! Why not an HTTP client crate: the service speaks plain HTTP/1.1 with JSON on loopback;
//! a keep-alive connection, `Content-Length` and chunked bodies, and an SSE reader are a
//! few hundred lines, add nothing to the dependency tree, and let the load generator count
//! exactly what it sends. It is not a general client (no TLS, no redirects, no proxies).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

/// Largest response body the client accepts.
pub const RESPONSE_BYTES_MAX: usize = 256 << 20;

/// An answer.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The error code of a refusal body, if any.
    pub fn code(&self) -> Option<String> {
        self.json().get("code").and_then(|c| c.as_str()).map(str::to_string)
    }
}

struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    used: bool,
}

/// A client bound to one server, holding one keep-alive connection.
pub struct Client {
    addr: SocketAddr,
    host: String,
    token: Option<String>,
    connection: Option<Connection>,
    timeout: Duration,
}

/// Splits `http://host:port[/...]` into a socket address and the host header.
pub fn parse_base(url: &str) -> io::Result<(SocketAddr, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{url:?}: only http:// URLs")))?;
    let host = rest.split('/').next().unwrap_or(rest).to_string();
    let addr = host
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{url:?}: no address")))?;
    Ok((addr, host))
}

impl Client {
    /// A client of the server at `base` (`http://127.0.0.1:8080`).
    pub fn new(base: &str) -> io::Result<Client> {
        let (addr, host) = parse_base(base)?;
        Ok(Client { addr, host, token: None, connection: None, timeout: Duration::from_secs(60) })
    }

    /// The same server with a bearer token.
    pub fn with_token(mut self, token: &str) -> Client {
        self.token = Some(token.to_string());
        self
    }

    /// A fresh client (own connection) for the same server and token.
    pub fn fresh(&self) -> Client {
        Client {
            addr: self.addr,
            host: self.host.clone(),
            token: self.token.clone(),
            connection: None,
            timeout: self.timeout,
        }
    }

    pub fn set_token(&mut self, token: Option<&str>) {
        self.token = token.map(str::to_string);
    }

    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.connection = None;
    }

    pub fn get(&mut self, path: &str) -> io::Result<Response> {
        self.send("GET", path, &[], None)
    }

    pub fn delete(&mut self, path: &str) -> io::Result<Response> {
        self.send("DELETE", path, &[], None)
    }

    pub fn post(&mut self, path: &str, body: &serde_json::Value) -> io::Result<Response> {
        let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
        self.send("POST", path, &[("content-type", "application/json")], Some(&bytes))
    }

    /// POST without a body.
    pub fn post_empty(&mut self, path: &str) -> io::Result<Response> {
        self.send("POST", path, &[], None)
    }

    pub fn put(&mut self, path: &str, body: &serde_json::Value) -> io::Result<Response> {
        let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
        self.send("PUT", path, &[("content-type", "application/json")], Some(&bytes))
    }

    fn connect(&self) -> io::Result<Connection> {
        let stream = TcpStream::connect_timeout(&self.addr, self.timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        Ok(Connection { reader: BufReader::with_capacity(64 << 10, stream.try_clone()?), writer: stream, used: false })
    }

    /// Sends a request with the client's token (if any) and reads the answer. A kept-alive
    /// connection that the server closed while idle is reopened once — only when not one
    /// byte of the answer arrived, so a request is never sent twice to a server that read it.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.host);
        if let Some(token) = &self.token {
            request.push_str(&format!("authorization: Bearer {token}\r\n"));
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = body.unwrap_or(&[]);
        request.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.exchange(&bytes)
    }

    fn exchange(&mut self, bytes: &[u8]) -> io::Result<Response> {
        for attempt in 0..2 {
            let mut connection = match self.connection.take() {
                Some(c) => c,
                None => self.connect()?,
            };
            let reused = connection.used;
            if let Err(e) = connection.writer.write_all(bytes) {
                if reused && attempt == 0 {
                    continue;
                }
                return Err(e);
            }
            match read_response(&mut connection.reader) {
                Ok((response, keep)) => {
                    if keep {
                        connection.used = true;
                        self.connection = Some(connection);
                    }
                    return Ok(response);
                }
                Err(ReadError::Closed) if reused && attempt == 0 => continue,
                Err(ReadError::Closed) => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
                }
                Err(ReadError::Io(e)) => return Err(e),
            }
        }
        Err(io::Error::other("the server closed the connection twice"))
    }

    /// Sends `bytes` as they are on a new connection and reads one answer (for tests of
    /// malformed requests).
    pub fn raw(&self, bytes: &[u8]) -> io::Result<Response> {
        let mut connection = self.connect()?;
        connection.writer.write_all(bytes)?;
        match read_response(&mut connection.reader) {
            Ok((response, _)) => Ok(response),
            Err(ReadError::Closed) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed without an answer")),
            Err(ReadError::Io(e)) => Err(e),
        }
    }

    /// Opens an event stream (`GET path` with `Accept: text/event-stream`); the status and
    /// headers are read before this returns, so the subscription exists on the server.
    pub fn events(&self, path: &str) -> io::Result<EventStream> {
        let mut connection = self.connect()?;
        connection.writer.set_read_timeout(None)?;
        let mut request = format!("GET {path} HTTP/1.1\r\nhost: {}\r\naccept: text/event-stream\r\n", self.host);
        if let Some(token) = &self.token {
            request.push_str(&format!("authorization: Bearer {token}\r\n"));
        }
        request.push_str("\r\n");
        connection.writer.write_all(request.as_bytes())?;
        let mut reader = connection.reader;
        let (status, headers) = match read_head(&mut reader) {
            Ok(head) => head,
            Err(ReadError::Closed) => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed without an answer"));
            }
            Err(ReadError::Io(e)) => return Err(e),
        };
        if status != 200 {
            let body = read_body(&mut reader, &headers).unwrap_or_default();
            return Err(io::Error::other(format!("event stream refused: {status} {}", String::from_utf8_lossy(&body))));
        }
        reader.get_ref().set_read_timeout(None)?;
        let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
        let (sender, receiver) = mpsc::channel();
        let writer = connection.writer;
        std::thread::spawn(move || {
            let mut source: Box<dyn BufRead> = if chunked {
                Box::new(BufReader::new(Chunked { inner: reader, left: 0, done: false }))
            } else {
                Box::new(reader)
            };
            let mut event = SseEvent::default();
            let mut line = String::new();
            loop {
                line.clear();
                match source.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let text = line.trim_end_matches(['\r', '\n']);
                if text.is_empty() {
                    if (!event.event.is_empty() || !event.data.is_empty())
                        && sender.send(std::mem::take(&mut event)).is_err()
                    {
                        break;
                    }
                    continue;
                }
                if let Some(v) = text.strip_prefix("event:") {
                    event.event = v.trim_start().to_string();
                } else if let Some(v) = text.strip_prefix("data:") {
                    if !event.data.is_empty() {
                        event.data.push('\n');
                    }
                    event.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                } else if let Some(v) = text.strip_prefix("id:") {
                    event.id = v.trim_start().to_string();
                }
            }
            drop(writer);
        });
        Ok(EventStream { receiver })
    }
}

/// One Server-Sent Event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
    pub id: String,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or(serde_json::Value::Null)
    }
}

/// Events arriving on a stream (read by a background thread).
pub struct EventStream {
    receiver: mpsc::Receiver<SseEvent>,
}

impl EventStream {
    /// The next event, or None if none came within `timeout` or the stream ended.
    pub fn next(&self, timeout: Duration) -> Option<SseEvent> {
        self.receiver.recv_timeout(timeout).ok()
    }

    /// Waits for the next event named `name`, skipping others (keep-alive comments are not
    /// events).
    pub fn next_named(&self, name: &str, timeout: Duration) -> Option<SseEvent> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let event = self.next(left)?;
            if event.event == name {
                return Some(event);
            }
        }
    }
}

enum ReadError {
    /// Closed before the first byte of the answer.
    Closed,
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

type Head = (u16, Vec<(String, String)>);

fn read_head(reader: &mut impl BufRead) -> Result<Head, ReadError> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(ReadError::Closed);
    }
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| invalid(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(ReadError::Io(invalid("the connection closed inside the headers")));
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        if let Some((name, value)) = text.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    Ok((status, headers))
}

fn read_body(reader: &mut impl BufRead, headers: &[(String, String)]) -> io::Result<Vec<u8>> {
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut body = Vec::new();
        Chunked { inner: reader, left: 0, done: false }.take(RESPONSE_BYTES_MAX as u64 + 1).read_to_end(&mut body)?;
        if body.len() > RESPONSE_BYTES_MAX {
            return Err(invalid("response body too large"));
        }
        return Ok(body);
    }
    if let Some(length) = find("content-length") {
        let length: usize = length.parse().map_err(|_| invalid("bad content-length"))?;
        if length > RESPONSE_BYTES_MAX {
            return Err(invalid("response body too large"));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    reader.take(RESPONSE_BYTES_MAX as u64).read_to_end(&mut body)?;
    Ok(body)
}

/// Reads one answer; tells whether the connection may be used again.
fn read_response(reader: &mut impl BufRead) -> Result<(Response, bool), ReadError> {
    let (status, headers) = read_head(reader)?;
    let body = read_body(reader, &headers)?;
    let close = headers.iter().any(|(n, v)| n == "connection" && v.eq_ignore_ascii_case("close"));
    let framed = headers.iter().any(|(n, _)| n == "content-length" || n == "transfer-encoding");
    Ok((Response { status, headers, body }, framed && !close))
}

/// Decodes `Transfer-Encoding: chunked`.
struct Chunked<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            if self.inner.read_line(&mut line)? == 0 {
                return Err(invalid("the connection closed inside a chunked body"));
            }
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = usize::from_str_radix(size, 16).map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
            if self.left == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if self.inner.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.left);
        let read = self.inner.read(&mut buf[..n])?;
        if read == 0 {
            return Err(invalid("the connection closed inside a chunk"));
        }
        self.left -= read;
        if self.left == 0 {
            let mut crlf = [0u8; 2];
            self.inner.read_exact(&mut crlf)?;
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_with_length_and_chunks_are_read() {
        let raw = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: b\r\n\r\nokHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let mut reader = BufReader::new(&raw[..]);
        let Ok((first, keep)) = read_response(&mut reader) else { panic!("first response") };
        assert_eq!((first.status, first.body.as_slice(), keep), (201, &b"ok"[..], true));
        assert_eq!(first.header("x-a"), Some("b"));
        let Ok((second, _)) = read_response(&mut reader) else { panic!("second response") };
        assert_eq!(second.body, b"abcde");
        assert!(matches!(read_response(&mut reader), Err(ReadError::Closed)));
    }
}
