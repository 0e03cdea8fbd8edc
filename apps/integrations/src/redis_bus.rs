//! Change notices between running instances over Redis pub/sub.
//!
//! A notice only says "something changed, reload"; it carries no data, so a lost or duplicated
//! notice is harmless (every instance also reloads on a timer).

use futures_util::StreamExt;
use redis::AsyncCommands;
use std::time::Duration;
use tokio::sync::watch;

/// A connection to Redis for notices and health checks.
#[derive(Clone)]
pub struct RedisBus {
    client: redis::Client,
    manager: redis::aio::ConnectionManager,
    prefix: String,
}

impl RedisBus {
    /// Connects (and checks the connection with a PING).
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let manager = tokio::time::timeout(Duration::from_secs(5), client.get_connection_manager())
            .await
            .map_err(|_| anyhow::anyhow!("timed out connecting to Redis"))??;
        let bus = Self { client, manager, prefix: prefix.to_owned() };
        bus.ping().await?;
        Ok(bus)
    }

    /// A connection for other uses (sessions, rate limits), multiplexed and reconnecting.
    pub fn manager(&self) -> redis::aio::ConnectionManager {
        self.manager.clone()
    }

    /// The full channel name for a topic, under this deployment's prefix.
    pub fn channel(&self, topic: &str) -> String {
        format!("{}:{topic}", self.prefix)
    }

    /// `PING`.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.manager.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    /// Publishes a notice on a topic.
    pub async fn publish(&self, topic: &str, payload: &str) -> anyhow::Result<()> {
        let mut conn = self.manager.clone();
        let _: i64 = conn.publish(self.channel(topic), payload).await?;
        Ok(())
    }

    /// Calls `on_notice` for every notice on `topic` until `stop` turns true. Reconnects after a
    /// failure (after a pause); notices sent while disconnected are lost, which the caller's
    /// periodic reload covers.
    pub async fn subscribe<F>(&self, topic: &str, mut stop: watch::Receiver<bool>, mut on_notice: F)
    where
        F: FnMut(String) + Send,
    {
        let channel = self.channel(topic);
        loop {
            if *stop.borrow() {
                return;
            }
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if let Err(e) = pubsub.subscribe(&channel).await {
                        tracing::warn!(error = %e, "cannot subscribe to Redis channel");
                    } else {
                        // A fresh subscription may have missed notices: treat it as one.
                        on_notice(String::from("(re)subscribed"));
                        let mut messages = pubsub.on_message();
                        loop {
                            tokio::select! {
                                msg = messages.next() => match msg {
                                    Some(m) => on_notice(m.get_payload::<String>().unwrap_or_default()),
                                    None => break,
                                },
                                _ = stop.changed() => return,
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot connect to Redis for notices"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
