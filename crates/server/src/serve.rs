//! Serving the router on a listener: one HTTP/1 connection task per socket, guarded by the
//! [`ConnectionLimits`] (header and body read timeouts, connections per client address), with
//! graceful shutdown and the hourly photo sweep.

use crate::photos;
use crate::router;
use crate::state::AppState;

/// How [`serve`] guards its connections against slow and greedy clients (`docs/sync.md`,
/// "Limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest wait for a request's head (request line and headers), counted from the moment
    /// the server starts reading it: on a kept-alive connection that is the end of the previous
    /// answer, so this is also how long an idle connection stays open. On expiry the connection
    /// is closed.
    pub header_timeout: std::time::Duration,
    /// Longest wait for the next bytes of a request body; the clock restarts with every piece
    /// that arrives, so a slow but steady upload goes on. On expiry the request is answered
    /// with an error and the connection is closed.
    pub body_timeout: std::time::Duration,
    /// Most connections open at once from one client address; more are answered 429 and
    /// closed at once.
    pub per_address: usize,
}

impl Default for ConnectionLimits {
    /// 10 s for a head or the next piece of a body: a phone on a weak signal sends a few KB a
    /// second, and a head is under 1 KB. 256 connections per address: a school's phones and
    /// console browsers may reach the server from one address (the school's NAT), each with a
    /// connection or two.
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(10),
            per_address: 256,
        }
    }
}

/// How long a shutdown waits for the requests in flight.
pub const DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves [`router`] on `listener` with the default [`ConnectionLimits`] until `shutdown`
/// resolves; requests in flight finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, ConnectionLimits::default(), shutdown).await
}

/// Serves [`router`] on `listener` with `limits` until `shutdown` resolves: it then stops
/// accepting at once, and requests in flight finish first (for at most [`DRAIN`]).
///
/// This is axum's `serve` loop (one HTTP/1 connection task per accepted socket) with what it
/// does not offer: hyper's header read timeout (it needs a timer, which axum does not give
/// it), tower-http's body timeout on every request, and a count of open connections per
/// client address.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt as _;

    let sweeper = tokio::spawn(sweep_photos_hourly(state.clone()));
    let compactor = state
        .compaction()
        .map(|c| tokio::spawn(compact_settled(state.clone(), c)));
    let app = router(state).layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_timeout,
    ));
    let open = connections::PerAddress::new(limits.per_address);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = open.take(peer.ip()) else {
            tracing::info!(%peer, limit = limits.per_address, "connection refused: too many from this address");
            tokio::spawn(connections::refuse(stream, limits.per_address));
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Connection info gives handlers the client's address (the sign-in throttle's
        // network), as axum's `into_make_service_with_connect_info` would.
        let svc = app.clone().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        );
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    sweeper.abort();
    if let Some(c) = compactor {
        // A pass stopped mid-way leaves each document compacted or not, never half.
        c.abort();
    }
    // Requests in flight finish; a client that holds its connection open longer than this
    // (the timeouts above bound each piece, not the whole) does not hold up the exit.
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = DRAIN.as_secs(),
            "connections still open after the drain time; stopping anyway"
        );
    }
    Ok(())
}

/// Runs [`photos::sweep`] at start-up and then every hour, in the blocking pool; a failure is
/// logged and retried at the next hour.
async fn sweep_photos_hourly(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let (storage, now, policy) = (state.storage.clone(), state.now(), state.photo_policy());
        match tokio::task::spawn_blocking(move || photos::sweep(storage.as_ref(), now, policy))
            .await
        {
            Ok(Ok(swept)) if swept != photos::Swept::default() => {
                tracing::info!(?swept, "photo sweep");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "photo sweep failed"),
            Err(e) => tracing::warn!(error = %e, "photo sweep stopped"),
        }
    }
}

/// Compacts settled documents every `schedule.every`, in the blocking pool, a batch at a
/// time (see [`crate::compaction::run_pass`]): a few documents per short transaction, and a
/// pause after each batch as long as the batch took ([`crate::compaction::paced`]), so pushes
/// keep the database's attention and the CPU. A failure is logged and retried at the next pass.
async fn compact_settled(state: AppState, schedule: crate::Compaction) {
    let mut every = tokio::time::interval(schedule.every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let (storage, rule) = (state.storage.clone(), schedule.policy.at(state.now()));
        let pass = tokio::task::spawn_blocking(move || {
            crate::compaction::run_pass(
                storage.as_ref(),
                Some(&rule),
                usize::MAX,
                crate::compaction::paced(),
            )
        })
        .await;
        match pass {
            Ok(Ok(p)) if p != crate::compaction::Pass::default() => {
                tracing::info!(
                    documents = p.documents,
                    folded = p.folded,
                    damaged = p.damaged,
                    "compaction pass"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "compaction pass failed"),
            Err(e) => tracing::warn!(error = %e, "compaction pass stopped"),
        }
    }
}

mod connections {
    //! Open connections counted per client address.

    use std::collections::HashMap;
    use std::net::IpAddr;
    use std::sync::{Arc, Mutex, PoisonError};

    use tokio::io::AsyncWriteExt;

    /// The open connections of every address, and the cap.
    #[derive(Clone)]
    pub struct PerAddress {
        open: Arc<Mutex<HashMap<IpAddr, usize>>>,
        max: usize,
    }

    /// One open connection; dropping it frees its place.
    pub struct Slot {
        open: Arc<Mutex<HashMap<IpAddr, usize>>>,
        ip: IpAddr,
    }

    impl PerAddress {
        pub fn new(max: usize) -> Self {
            PerAddress {
                open: Arc::default(),
                max,
            }
        }

        /// A place for one more connection from `ip`, unless it has `max` open already.
        pub fn take(&self, ip: IpAddr) -> Option<Slot> {
            // The map holds plain counts: a panic elsewhere cannot leave it half-updated.
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            let n = open.entry(ip).or_insert(0);
            if *n >= self.max {
                return None;
            }
            *n += 1;
            Some(Slot {
                open: self.open.clone(),
                ip,
            })
        }
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = open.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&self.ip);
                }
            }
        }
    }

    /// Answers a connection over the cap with 429 and closes it, giving it one second.
    pub async fn refuse(mut stream: tokio::net::TcpStream, max: usize) {
        let body = serde_json::json!({
            "kind": "too_many_connections",
            "message": format!("at most {max} connections at once from one address; try again shortly"),
        })
        .to_string();
        let answer = format!(
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            stream.write_all(answer.as_bytes()).await?;
            stream.shutdown().await
        })
        .await;
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn places_are_counted_per_address_and_freed_on_drop() {
            let open = PerAddress::new(2);
            let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
            let first = open.take(a).expect("first");
            let _second = open.take(a).expect("second");
            assert!(
                open.take(a).is_none(),
                "a third from the same address is refused"
            );
            assert!(open.take(b).is_some(), "another address has its own count");
            drop(first);
            assert!(
                open.take(a).is_some(),
                "a closed connection frees its place"
            );
        }
    }
}
