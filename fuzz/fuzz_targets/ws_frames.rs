//! The WebSocket frame decoder, server side, as the ingest endpoint configures it
//! (1 MiB messages): arbitrary bytes after the handshake.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::{Cursor, Read, Write};
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};

/// The fuzz input as the socket's incoming bytes; writes go nowhere.
struct Input(Cursor<Vec<u8>>);

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Input {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let config = WebSocketConfig::default().max_message_size(Some(1 << 20)).max_frame_size(Some(1 << 20));
    let mut ws = WebSocket::from_raw_socket(Input(Cursor::new(data.to_vec())), Role::Server, Some(config));
    for _ in 0..1024 {
        if ws.read().is_err() {
            break;
        }
    }
});
