//! Sending statements to someone else's learning record store (an ePortfolio's): a `PUT` of one
//! statement by its id (so a retry cannot duplicate it), with Basic credentials, through the
//! guarded client (`outbound`).

use std::time::Duration;

/// Where statements go: the LRS's xAPI endpoint (ending before `statements`) and credentials.
#[derive(Debug, Clone)]
pub struct Endpoint<'a> {
    pub url: &'a str,
    pub key: &'a str,
    pub secret: &'a str,
}

/// Puts one statement. `Ok` once the LRS has it (2xx, or 409: a statement with that id is already
/// there); an error says why, for the retry's record.
pub async fn put_statement(
    client: &reqwest::Client,
    to: &Endpoint<'_>,
    id: uuid::Uuid,
    statement: &serde_json::Value,
) -> anyhow::Result<()> {
    let base = to.url.trim_end_matches('/');
    let url = format!("{base}/statements?statementId={id}");
    let resp = client
        .put(&url)
        .basic_auth(to.key, Some(to.secret))
        .header("X-Experience-API-Version", "1.0.3")
        .header("Content-Type", "application/json")
        .body(statement.to_string())
        .timeout(Duration::from_secs(20))
        .send()
        .await?;
    let status = resp.status();
    if status.is_success() || status.as_u16() == 409 {
        return Ok(());
    }
    anyhow::bail!("the learning record store answered {status}")
}
