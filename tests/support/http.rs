//! A minimal HTTP/1.1 client and message reader on std's `TcpStream`.
//!
//! It is enough to call moto's JSON API and to serve stub replies on
//! loopback: plain HTTP only, bodies framed by `Content-Length`, chunked
//! encoding or (for responses) the end of the connection. It is not a
//! general HTTP implementation.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Connect, read and write timeout of [`send`], so that a stuck server fails
/// a test instead of hanging it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Upper bounds on a message's head, so that a broken peer cannot make the
/// reader allocate without limit.
const MAX_HEADER_COUNT: usize = 200;
const MAX_LINE_BYTES: usize = 64 * 1024;

/// One HTTP request or response as read from the wire.
#[derive(Debug, Clone)]
pub struct Message {
    /// The request line (`POST / HTTP/1.1`) or status line (`HTTP/1.1 200 OK`).
    pub start_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    /// Returns the first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A response received by [`send`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Returns the first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Returns the body as text, with invalid UTF-8 replaced.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a new connection and reads the whole response.
///
/// `Host`, `Content-Length` and `Connection: close` are added here.
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<HttpResponse> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;

    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    let mut writer = &stream;
    writer.write_all(request.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()?;

    let mut reader = BufReader::new(&stream);
    let message = read_message(&mut reader, true)?.ok_or_else(|| {
        io::Error::new(io::ErrorKind::UnexpectedEof, format!("{addr} closed the connection without a response"))
    })?;
    let status = parse_status(&message.start_line)?;
    Ok(HttpResponse { status, headers: message.headers, body: message.body })
}

/// Reads one HTTP/1.1 message: start line, headers and body.
///
/// Returns `Ok(None)` when the peer closed the connection before sending a
/// start line, which ends a keep-alive connection normally. A body without
/// `Content-Length` or chunked encoding is empty, unless `body_ends_at_eof`
/// is set: a response may then run to the end of the connection.
pub fn read_message(reader: &mut impl BufRead, body_ends_at_eof: bool) -> io::Result<Option<Message>> {
    let Some(start_line) = read_line(reader)? else {
        return Ok(None);
    };

    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| invalid("connection closed inside headers"))?;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADER_COUNT {
            return Err(invalid("more than 200 header lines"));
        }
        let (name, value) =
            line.split_once(':').ok_or_else(|| invalid(&format!("header line without a colon: {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }

    let chunked =
        find_header(&headers, "Transfer-Encoding").is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked_body(reader)?
    } else if let Some(length) = find_header(&headers, "Content-Length") {
        let length: usize = length.parse().map_err(|_| invalid(&format!("invalid Content-Length: {length:?}")))?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    } else if body_ends_at_eof {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        body
    } else {
        Vec::new()
    };

    Ok(Some(Message { start_line, headers, body }))
}

/// Reads a chunked body (RFC 9112, section 7.1) and skips its trailer.
fn read_chunked_body(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| invalid("connection closed inside a chunk"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| invalid(&format!("invalid chunk size: {line:?}")))?;
        if size == 0 {
            break;
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut line_end = [0; 2];
        reader.read_exact(&mut line_end)?;
    }

    // Trailer fields, then the empty line that ends the message.
    while let Some(line) = read_line(reader)? {
        if line.is_empty() {
            break;
        }
    }
    Ok(body)
}

/// Reads one line without its CRLF or LF ending. Returns `None` at the end of
/// the stream.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let read = reader.take(MAX_LINE_BYTES as u64).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(invalid("line longer than 64 KiB or cut off by the end of the stream"));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map(Some).map_err(|_| invalid("line is not UTF-8"))
}

/// Parses the code from a status line such as `HTTP/1.1 200 OK`.
fn parse_status(status_line: &str) -> io::Result<u16> {
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(&format!("invalid status line: {status_line:?}")))
}

pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(header, _)| header.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}
