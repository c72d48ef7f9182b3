//! One ingest WebSocket connection.
//!
//! A reader loop takes frames off the socket, validates them and submits their events to
//! the log *in frame order* (so per-agent order survives into the log); a writer loop
//! awaits each frame's durable append in the same order and sends its reply. Between
//! them, a per-connection budget of in-flight bytes: when a client sends faster than the
//! disk commits, or never reads its replies, the reader stops reading and TCP pushes
//! back — nothing is buffered without bound.
//!
//! Closing: once the server has sent its Close frame on a sound stream (shutdown, idle
//! timeout; after a protocol error the stream cannot be read on), it performs the
//! WebSocket closing handshake: it keeps reading, and discards unanswered, whatever the
//! client still sends until the client's Close frame arrives or
//! [`CLOSE_HANDSHAKE_TIMEOUT`] passes, and only then closes the TCP connection. Closing
//! a socket that still has unread data makes the kernel send a RST, and a RST can
//! destroy replies that the client has not read yet.

use crate::auth;
use crate::frame::{self, Reply};
use crate::server::AppState;
use crate::telemetry;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt, SinkExt, StreamExt};
use seatwatch_config::{Identity, Role};
use seatwatch_log::{AppendOutcome, LogError};
use seatwatch_model::Ts;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// `GET /v1/ingest`: authenticate (401/403 before the upgrade), take a connection
/// permit (503 when the cap is reached), upgrade.
pub async fn ingest(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let who = match auth::authorize(
        &state.tokens,
        state.no_auth,
        &headers,
        q.get("access_token").map(String::as_str),
        &[Role::Producer, Role::Admin],
    ) {
        Ok(who) => who,
        Err(d) => return d.into_response(),
    };
    // Events always go to the token's own tenant; a request naming another is refused
    // rather than silently written elsewhere than its sender meant.
    if let Some(t) = q.get("tenant")
        && *t != who.tenant
    {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({
                "error": "forbidden",
                "message": "events go to the token's own tenant; `?tenant=` on /v1/ingest may only name it"
            })),
        )
            .into_response();
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        tracing::warn!("connection cap reached; refusing an ingest connection");
        telemetry::connection_refused("ingest");
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections; retry later").into_response();
    };
    let max = state.config.server.max_frame_bytes;
    let tracker = state.tracker.clone();
    ws.max_message_size(max).max_frame_size(max).read_buffer_size(READ_BUFFER_BYTES).on_upgrade(move |socket| {
        tracker.track_future(async move {
            state.open_connections.fetch_add(1, Ordering::Relaxed);
            serve(socket, state.clone(), who).await;
            state.open_connections.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        })
    })
}

/// How long the server waits, after sending its Close frame, for the client's Close
/// frame before it closes the TCP connection anyway. Frames that arrive meanwhile are
/// read and discarded: not stored, not answered (the client sends them again).
pub const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// On shutdown, how long a connection may take, from the moment shutdown begins, to
/// answer the frames it already read (their appends, then the replies and the Close
/// frame). Only a client that stops reading its replies makes this run out; then the
/// connection is dropped unanswered (what was stored is counted as `duplicate` when the
/// client sends it again), so that shutdown does not wait for it forever.
pub const SHUTDOWN_REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How much one socket read may take. tungstenite zero-fills the free part of its read
/// buffer up to this size before every read (128 KiB by default): at 20,000 single-event
/// frames per second that `memset` was 2.3 % of the server's CPU. A frame larger than this
/// is read in several reads into a buffer that grows as needed (up to `max_frame_bytes`).
const READ_BUFFER_BYTES: usize = 16 * 1024;

type AppendFuture = Pin<Box<dyn Future<Output = Result<Vec<AppendOutcome>, LogError>> + Send>>;

/// The most frames one log request carries. Frames already waiting on the socket when
/// the reader takes one are decoded together and appended as one request (single-event
/// frames then share one trip through the group commit); each still gets its own reply.
const MAX_GROUP_FRAMES: usize = 64;

/// One frame of a group, in arrival order.
enum Part {
    /// A frame that needs no append: its reply is ready (sent after earlier frames').
    Now(Reply, Instant),
    /// A frame with `count` events in the group's append.
    Pending {
        positions: Vec<(usize, seatwatch_model::Text)>,
        rejected: Vec<seatwatch_model::Rejection>,
        count: usize,
        started: Instant,
    },
}

/// What the writer must answer, in order.
enum Outgoing {
    /// Frames read together: their replies, once their events (if any) are durable.
    Group {
        parts: Vec<Part>,
        /// One append for every `Pending` part's events, in part order.
        append: Option<AppendFuture>,
        _budget: Vec<OwnedSemaphorePermit>,
    },
    /// Close the connection with this code after everything before it is answered.
    Close(u16, &'static str),
}

fn now() -> Ts {
    Ts::from_datetime(&chrono::Utc::now()).unwrap_or_default()
}

/// What reading the socket gave.
enum Read {
    /// A text or binary frame, with its budget permit.
    Frame(Message, OwnedSemaphorePermit),
    /// Stop reading (closed, shut down, or an error already answered).
    Stop,
}

/// The reader's side of one connection.
struct Reader {
    stream: futures_util::stream::SplitStream<WebSocket>,
    state: Arc<AppState>,
    who: Identity,
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    idle: Duration,
    tx: mpsc::UnboundedSender<Outgoing>,
}

impl Reader {
    /// Wait for the next data frame (and its budget).
    async fn next(&mut self) -> Read {
        loop {
            let next = tokio::select! {
                biased;
                _ = self.state.shutdown.cancelled() => return Read::Stop,
                n = tokio::time::timeout(self.idle, self.stream.next()) => n,
            };
            let msg = match next {
                Err(_) => {
                    tracing::debug!(source = %self.who.name, "idle timeout");
                    let _ = self.tx.send(Outgoing::Close(close_code::POLICY, "idle timeout"));
                    return Read::Stop;
                }
                Ok(item) => match self.message(item) {
                    Sorted::Data(m) => m,
                    Sorted::Skip => continue,
                    Sorted::Stop(close) => {
                        if let Some((code, reason)) = close {
                            let _ = self.tx.send(Outgoing::Close(code, reason));
                        }
                        return Read::Stop;
                    }
                },
            };
            // Backpressure: wait for budget before doing any work on the frame.
            // Once shutdown has begun, a frame still waiting for budget is not stored
            // (nor answered): the client sends it again.
            let want = self.want(&msg);
            return tokio::select! {
                biased;
                _ = self.state.shutdown.cancelled() => Read::Stop,
                p = self.budget.clone().acquire_many_owned(want) => match p {
                    Ok(p) => Read::Frame(msg, p),
                    Err(_) => Read::Stop,
                },
            };
        }
    }

    /// A data frame that is already waiting on the socket and fits the budget now, if
    /// any. `Err` is what was read but cannot go into the current group.
    fn ready(&mut self) -> Result<Option<(Message, OwnedSemaphorePermit)>, Leftover> {
        loop {
            let Some(item) = self.stream.next().now_or_never() else { return Ok(None) };
            match self.message(item) {
                Sorted::Data(msg) => {
                    let want = self.want(&msg);
                    return match self.budget.clone().try_acquire_many_owned(want) {
                        Ok(p) => Ok(Some((msg, p))),
                        Err(_) => Err(Leftover::Frame(msg)),
                    };
                }
                Sorted::Skip => continue,
                Sorted::Stop(close) => return Err(Leftover::Stop(close)),
            }
        }
    }

    /// Sort out what the socket gave.
    fn message(&self, item: Option<Result<Message, axum::Error>>) -> Sorted {
        let who = &self.who.name;
        match item {
            None => Sorted::Stop(None),
            Some(Err(e)) => Sorted::Stop(Some(if is_too_big(&e) {
                tracing::warn!(source = %who, "frame over the size limit; closing with 1009");
                (close_code::SIZE, "frame too big")
            } else if e.to_string().to_ascii_lowercase().contains("utf") {
                tracing::debug!(source = %who, "invalid UTF-8 in a text frame; closing with 1007");
                (close_code::INVALID, "invalid UTF-8 in a text frame")
            } else {
                tracing::debug!(source = %who, error = %e, "ingest connection error");
                (close_code::PROTOCOL, "WebSocket protocol error")
            })),
            Some(Ok(Message::Close(_))) => Sorted::Stop(None),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Sorted::Skip,
            Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => Sorted::Data(m),
        }
    }

    fn want(&self, msg: &Message) -> u32 {
        let size = match msg {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            _ => 0,
        };
        u32::try_from(size.clamp(1, self.budget_bytes)).unwrap_or(u32::MAX)
    }

    /// Decode one frame into `group`.
    fn decode(&self, msg: &Message, group: &mut Group) {
        telemetry::frame();
        self.state.frames_read.fetch_add(1, Ordering::Relaxed);
        let Message::Text(text) = msg else {
            group.parts.push(Part::Now(frame::unsupported("binary", self.state.log.head().last_seq), Instant::now()));
            return;
        };
        let state = &self.state;
        let tenant_cfg = state.config.tenant(&self.who.tenant);
        let mut work = frame::decode(text.as_str(), &self.who, tenant_cfg, state.log.caller_key(), now());
        if let Some(rate) = state.config.rate_limit(&self.who.name) {
            rate_limit(state, &self.who.name, rate, &mut work);
        }
        if work.pending.is_empty() {
            let reply = frame::finish(work.positions, work.rejected, Ok(Vec::new()), state.log.head().last_seq);
            group.parts.push(Part::Now(reply, Instant::now()));
            return;
        }
        group.parts.push(Part::Pending {
            positions: work.positions,
            rejected: work.rejected,
            count: work.pending.len(),
            started: Instant::now(),
        });
        group.events.append(&mut work.pending);
    }
}

/// What one item off the socket means to the reader.
enum Sorted {
    /// A text or binary frame.
    Data(Message),
    /// A ping or pong (the WebSocket layer answers pings).
    Skip,
    /// Stop reading; close with this code and reason (after everything before is answered).
    Stop(Option<(u16, &'static str)>),
}

/// What gathering a group read but could not put into it.
enum Leftover {
    /// A frame that must wait for budget: it starts the next group.
    Frame(Message),
    /// The end of the connection, after the group.
    Stop(Option<(u16, &'static str)>),
}

/// Frames read together.
#[derive(Default)]
struct Group {
    parts: Vec<Part>,
    events: Vec<seatwatch_log::Pending>,
    permits: Vec<OwnedSemaphorePermit>,
}

async fn serve(socket: WebSocket, state: Arc<AppState>, who: Identity) {
    tracing::debug!(source = %who.name, tenant = %who.tenant, "ingest connection open");
    let (sink, stream) = socket.split();
    let budget_bytes = state.config.server.max_in_flight_bytes;
    let (tx, rx) = mpsc::unbounded_channel::<Outgoing>();
    let idle = Duration::from_millis(state.config.server.idle_timeout.0.max(1000));
    let mut writer = tokio::spawn(write_replies(sink, rx, state.clone()));

    let mut reader = Reader {
        stream,
        state: state.clone(),
        who,
        budget: Arc::new(Semaphore::new(budget_bytes)),
        budget_bytes,
        idle,
        tx,
    };
    let mut carry: Option<Message> = None;
    let mut stop = false;
    let mut closing = None;
    while !stop {
        let first = match carry.take() {
            // A frame read while gathering the last group, that had to wait for budget.
            Some(msg) => {
                let want = reader.want(&msg);
                let permit = tokio::select! {
                    biased;
                    _ = state.shutdown.cancelled() => break,
                    p = reader.budget.clone().acquire_many_owned(want) => match p { Ok(p) => p, Err(_) => break },
                };
                (msg, permit)
            }
            None => match reader.next().await {
                Read::Frame(msg, permit) => (msg, permit),
                Read::Stop => break,
            },
        };
        let mut group = Group::default();
        reader.decode(&first.0, &mut group);
        group.permits.push(first.1);
        // Take the frames that are already waiting, up to a bound, into the same append;
        // none once shutdown has begun (what was read is answered, nothing more is stored).
        while group.parts.len() < MAX_GROUP_FRAMES && !state.shutdown.is_cancelled() {
            match reader.ready() {
                Ok(Some((msg, permit))) => {
                    reader.decode(&msg, &mut group);
                    group.permits.push(permit);
                }
                Ok(None) => break,
                Err(Leftover::Frame(msg)) => {
                    carry = Some(msg);
                    break;
                }
                Err(Leftover::Stop(close)) => {
                    stop = true;
                    closing = close;
                    break;
                }
            }
        }
        let append: Option<AppendFuture> = (!group.events.is_empty()).then(|| {
            let started = Instant::now();
            let durable = state.log.append(group.events);
            Box::pin(async move {
                let outcome = durable.await;
                telemetry::flush_latency(started.elapsed());
                outcome
            }) as AppendFuture
        });
        let _ = reader.tx.send(Outgoing::Group { parts: group.parts, append, _budget: group.permits });
        if let Some((code, reason)) = closing.take() {
            let _ = reader.tx.send(Outgoing::Close(code, reason));
        }
    }
    let Reader { stream, who, tx, .. } = reader;
    drop(tx);
    // The writer answers everything sent to it, then sends the Close frame. On shutdown
    // it gets a bounded time to do so (a client that does not read would hold it forever).
    let answered = tokio::select! {
        biased;
        done = &mut writer => done.is_ok(),
        () = async {
            state.shutdown.cancelled().await;
            tokio::time::sleep(SHUTDOWN_REPLY_TIMEOUT).await;
        } => {
            writer.abort();
            tracing::warn!(
                source = %who.name,
                timeout_s = SHUTDOWN_REPLY_TIMEOUT.as_secs(),
                "shutdown: the client did not take its replies in time; dropping the connection"
            );
            false
        }
    };
    if answered {
        close_handshake(stream, &who.name).await;
    }
    tracing::debug!(source = %who.name, "ingest connection closed");
}

/// The rest of the closing handshake, after the writer sent (or tried to send) our Close
/// frame: read until the client's Close frame arrives or the stream ends, discarding data
/// frames (after our Close nothing more is stored or answered), for at most
/// [`CLOSE_HANDSHAKE_TIMEOUT`]. Then the caller drops the socket; with everything the
/// client sent read, that is an orderly FIN rather than a RST that could destroy replies
/// still in flight. Also flushes tungstenite's reply to a Close the client sent first.
async fn close_handshake(mut stream: futures_util::stream::SplitStream<WebSocket>, source: &str) {
    let mut discarded = 0u64;
    let drained = tokio::time::timeout(CLOSE_HANDSHAKE_TIMEOUT, async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(Message::Close(_)) | Err(_) => return,
                Ok(Message::Text(_) | Message::Binary(_)) => discarded += 1,
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::debug!(
            %source,
            discarded,
            timeout_s = CLOSE_HANDSHAKE_TIMEOUT.as_secs(),
            "no Close frame from the client in time; closing the connection"
        );
    } else if discarded > 0 {
        tracing::debug!(%source, discarded, "frames sent after our Close frame were discarded unanswered");
    }
}

/// Answer every frame in order. Replies that are ready together are written together
/// and flushed once; a reply is never held back waiting for a later frame's append.
async fn write_replies(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    state: Arc<AppState>,
) {
    let mut unflushed = false;
    loop {
        let out = match rx.try_recv() {
            Ok(out) => out,
            Err(mpsc::error::TryRecvError::Empty) => {
                if unflushed {
                    if sink.flush().await.is_err() {
                        return;
                    }
                    unflushed = false;
                }
                match rx.recv().await {
                    Some(out) => out,
                    None => break,
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
        };
        match out {
            Outgoing::Group { parts, append, _budget } => {
                let outcome = match append {
                    None => Ok(Vec::new()),
                    Some(mut append) => match (&mut append).now_or_never() {
                        Some(outcome) => outcome,
                        None => {
                            // Not durable yet: send what is ready before waiting.
                            if unflushed {
                                if sink.flush().await.is_err() {
                                    return;
                                }
                                unflushed = false;
                            }
                            append.await
                        }
                    },
                };
                if let Err(e) = &outcome {
                    tracing::error!(error = %e, "append failed; events rejected as internal");
                }
                for text in replies(parts, outcome, state.log.head().last_seq) {
                    if sink.feed(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                    unflushed = true;
                }
            }
            Outgoing::Close(code, reason) => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                return;
            }
        }
    }
    if state.shutdown.is_cancelled() {
        let _ = sink
            .send(Message::Close(Some(CloseFrame { code: close_code::AWAY, reason: "server shutting down".into() })))
            .await;
    } else {
        let _ = sink.send(Message::Close(None)).await;
    }
}

/// Each part's reply, in order: the group's outcomes are split by each part's count.
fn replies(parts: Vec<Part>, outcome: Result<Vec<AppendOutcome>, LogError>, head_seq: u64) -> Vec<String> {
    let mut outcomes = outcome.as_ref().map(|all| all.iter().copied());
    parts
        .into_iter()
        .map(|part| {
            let reply = match part {
                // Stored nothing: its `last_seq` is the log's at the time of the reply.
                Part::Now(mut reply, started) => {
                    reply.last_seq = reply.last_seq.max(head_seq);
                    telemetry::ack_latency(started.elapsed());
                    reply
                }
                Part::Pending { positions, rejected, count, started } => {
                    let mine = match &mut outcomes {
                        Ok(all) => Ok(all.by_ref().take(count).collect()),
                        Err(e) => Err(*e),
                    };
                    let reply = frame::finish(positions, rejected, mine, head_seq);
                    telemetry::events("accepted", reply.accepted);
                    telemetry::events("duplicate", reply.duplicate);
                    telemetry::ack_latency(started.elapsed());
                    reply
                }
            };
            count_rejected(&reply);
            reply.to_json()
        })
        .collect()
}

/// Keep the events of `work` that the token's rate allows now (in frame order); reject
/// the rest with `internal`, which tells the producer to send them again.
fn rate_limit(state: &AppState, name: &str, rate: f64, work: &mut frame::FrameWork) {
    let allowed = state.rates.take(name, rate, work.pending.len());
    if allowed == work.pending.len() {
        return;
    }
    work.pending.truncate(allowed);
    let message = format!(
        "rate limit: token `{name}` may send at most {rate} events per second; not stored, send it again later"
    );
    let over = work.positions.split_off(allowed);
    telemetry::rate_limited(name, over.len() as u64);
    tracing::debug!(source = %name, rejected = over.len(), "event rate limit reached");
    work.rejected.extend(over.into_iter().map(|(index, id)| seatwatch_model::Rejection {
        index: Some(index),
        id: Some(id.to_string()),
        code: seatwatch_model::RejectCode::Internal,
        message: message.clone(),
    }));
}

/// Count a reply's rejected events by code (including `internal` ones from a failed
/// append).
fn count_rejected(reply: &Reply) {
    for r in &reply.rejected {
        telemetry::rejected(r.code.as_str());
    }
}

pub(crate) fn is_too_big(e: &axum::Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("too long") || text.contains("too big") || text.contains("capacity") || text.contains("space limit")
}
