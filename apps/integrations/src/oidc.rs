//! OpenID Connect sign-in (authorization code + PKCE, state and nonce), e.g. OpenAthens.
//!
//! openidconnect does the protocol and the ID token's checks (signature against the provider's
//! keys, issuer, audience, expiry, nonce); its HTTP goes through reqwest 0.13 here, with redirects
//! off (following them from a provider invites SSRF).

use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A trust's single sign-on settings.
#[derive(Clone)]
pub struct SsoSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// This trust's callback, e.g. `https://north.example/sso/callback`.
    pub redirect_url: String,
    /// Claim names (defaults: email, email_verified, given_name, family_name).
    pub claims: ClaimNames,
}

impl std::fmt::Debug for SsoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Which claims carry what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    pub email: String,
    pub email_verified: String,
    pub given_name: String,
    pub family_name: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            email: "email".into(),
            email_verified: "email_verified".into(),
            given_name: "given_name".into(),
            family_name: "family_name".into(),
        }
    }
}

/// A sign-in begun: where to send the browser, and what to keep in the session until it returns.
#[derive(Debug, Clone)]
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// Who the provider says signed in (after every check passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

/// Why single sign-on failed.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("cannot read the provider's configuration: {0}")]
    Discovery(String),
    #[error("the code could not be exchanged: {0}")]
    Exchange(String),
    #[error("the provider returned no ID token")]
    NoIdToken,
    #[error("the ID token was refused: {0}")]
    IdToken(String),
    #[error("{0}")]
    Config(String),
}

type HttpFuture = Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send>>;

/// An HTTP failure talking to the provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// Talks to providers; caches their metadata for an hour.
pub struct OidcClient {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (CoreProviderMetadata, Instant)>>,
}

impl OidcClient {
    /// A client with redirects off and a 10-second time-out.
    pub fn new() -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { http, cache: Mutex::new(HashMap::new()) })
    }

    fn transport(&self) -> impl Fn(openidconnect::HttpRequest) -> HttpFuture + '_ {
        move |req: openidconnect::HttpRequest| {
            let http = self.http.clone();
            Box::pin(async move {
                let (parts, body) = req.into_parts();
                let resp = http
                    .request(parts.method, parts.uri.to_string())
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| HttpError(e.to_string()))?;
                let mut out = http::Response::builder().status(resp.status());
                for (k, v) in resp.headers() {
                    out = out.header(k, v);
                }
                let bytes = resp.bytes().await.map_err(|e| HttpError(e.to_string()))?;
                out.body(bytes.to_vec()).map_err(|e| HttpError(e.to_string()))
            }) as HttpFuture
        }
    }

    async fn metadata(&self, issuer: &str) -> Result<CoreProviderMetadata, SsoError> {
        let cached = self.cache.lock().ok().and_then(|c| {
            c.get(issuer).filter(|(_, at)| at.elapsed() < Duration::from_secs(3600)).map(|(m, _)| m.clone())
        });
        if let Some(m) = cached {
            return Ok(m);
        }
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| SsoError::Config(format!("issuer: {e}")))?;
        // Discovery also checks that the metadata's issuer is exactly the one configured.
        let m = CoreProviderMetadata::discover_async(url, &self.transport())
            .await
            .map_err(|e| SsoError::Discovery(error_chain(&e)))?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(issuer.to_owned(), (m.clone(), Instant::now()));
        }
        Ok(m)
    }

    /// Reads the provider's discovery document afresh (as a trust admin saves the settings), so a
    /// wrong issuer is caught then rather than at a learner's sign-in.
    pub async fn check_issuer(&self, issuer: &str) -> Result<(), SsoError> {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(issuer);
        }
        self.metadata(issuer).await.map(|_| ())
    }

    /// Begins a sign-in: the provider's authorization URL with PKCE (S256), a fresh state and nonce.
    pub async fn start(&self, s: &SsoSettings, login_hint: Option<&str>) -> Result<Started, SsoError> {
        let metadata = self.metadata(&s.issuer).await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(s.client_id.clone()),
            Some(ClientSecret::new(s.client_secret.clone())),
        )
        .set_redirect_uri(
            RedirectUrl::new(s.redirect_url.clone()).map_err(|e| SsoError::Config(format!("redirect: {e}")))?,
        );
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a sign-in: exchanges the code (with the PKCE verifier) and checks the ID token.
    pub async fn finish(&self, s: &SsoSettings, code: &str, verifier: &str, nonce: &str) -> Result<Identity, SsoError> {
        let metadata = self.metadata(&s.issuer).await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(s.client_id.clone()),
            Some(ClientSecret::new(s.client_secret.clone())),
        )
        .set_redirect_uri(
            RedirectUrl::new(s.redirect_url.clone()).map_err(|e| SsoError::Config(format!("redirect: {e}")))?,
        );
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SsoError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&self.transport())
            .await
            .map_err(|e| SsoError::Exchange(error_chain(&e)))?;
        let id_token = token.id_token().ok_or(SsoError::NoIdToken)?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
            .map_err(|e| SsoError::IdToken(error_chain(&e)))?;
        // Verified: now read the claims by the trust's names from the token's payload.
        let payload = id_token
            .to_string()
            .split('.')
            .nth(1)
            .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok());
        let raw: serde_json::Value = payload.and_then(|p| serde_json::from_slice(&p).ok()).unwrap_or_default();
        let text = |name: &str| raw.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let verified = match raw.get(&s.claims.email_verified) {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(v)) => v == "true",
            _ => false,
        };
        Ok(Identity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: text(&s.claims.email).map(|e| e.to_lowercase()),
            email_verified: verified,
            given_name: text(&s.claims.given_name),
            family_name: text(&s.claims.family_name),
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Chooses the process's TLS crypto provider once (two are compiled in through dependencies).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
