//! OpenID Connect sign-in (authorization code + PKCE, state and nonce), e.g. OpenAthens.
//!
//! openidconnect does the protocol and the ID token's checks (signature against the provider's
//! keys, issuer, audience, expiry, nonce); its HTTP goes through reqwest 0.13 here, guarded
//! against server-side request forgery: redirects off, `https://` to public addresses only (see
//! [`crate::outbound`]), and every URL the provider's metadata names on the issuer's own origin
//! unless the operator lists another for that issuer. Failures tell the trust admin only that
//! the provider could not be used; the reason goes to the log, so the form is not a port scanner.

use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use trellis_domain::outbound::{check_url, origin};

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

/// Why single sign-on failed. Network failures say no more than that (the detail is logged).
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("the provider's configuration could not be read")]
    Discovery,
    #[error("the sign-in could not be completed with the provider")]
    Exchange,
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
    /// The development setting: `http://` and local addresses allowed.
    allow_local: bool,
    /// Further origins each issuer's metadata may name, by the issuer's origin.
    metadata_origins: BTreeMap<String, Vec<String>>,
}

impl OidcClient {
    /// A client with redirects off, the guarded resolver and a 10-second time-out.
    pub fn new(allow_local: bool, metadata_origins: BTreeMap<String, Vec<String>>) -> anyhow::Result<Self> {
        let http = crate::outbound::client(allow_local, Duration::from_secs(10))?;
        Ok(Self { http, cache: Mutex::new(HashMap::new()), allow_local, metadata_origins })
    }

    /// Whether a URL may be fetched on behalf of `issuer`: allowed by the outbound rules, and on
    /// the issuer's origin or one the operator listed for it.
    fn permitted(&self, issuer: &str, raw: &str) -> Result<(), String> {
        let url = check_url(raw, self.allow_local).map_err(|e| e.to_string())?;
        let issuer_origin = check_url(issuer, self.allow_local).map(|u| origin(&u)).map_err(|e| e.to_string())?;
        let here = origin(&url);
        let listed = self
            .metadata_origins
            .get(&issuer_origin)
            .is_some_and(|o| o.iter().any(|o| o.trim_end_matches('/') == here));
        if here == issuer_origin || listed {
            Ok(())
        } else {
            Err(format!("{raw} is not on the issuer's origin {issuer_origin}"))
        }
    }

    fn transport<'a>(&'a self, issuer: &'a str) -> impl Fn(openidconnect::HttpRequest) -> HttpFuture + 'a {
        move |req: openidconnect::HttpRequest| {
            let http = self.http.clone();
            let allowed = self.permitted(issuer, &req.uri().to_string());
            Box::pin(async move {
                allowed.map_err(HttpError)?;
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
        if let Err(why) = self.permitted(issuer, issuer) {
            tracing::warn!(issuer, reason = %why, "single sign-on: issuer refused");
            return Err(SsoError::Discovery);
        }
        // Discovery also checks that the metadata's issuer is exactly the one configured.
        let m = CoreProviderMetadata::discover_async(url, &self.transport(issuer)).await.map_err(|e| {
            tracing::warn!(issuer, reason = %error_chain(&e), "single sign-on: discovery failed");
            SsoError::Discovery
        })?;
        // The endpoints the server itself will call must pass the same rules now, so a provider
        // naming an internal address is refused when it is set up, not at a learner's sign-in.
        for url in [m.token_endpoint().map(|u| u.url().to_string()), Some(m.jwks_uri().url().to_string())]
            .into_iter()
            .flatten()
        {
            if let Err(why) = self.permitted(issuer, &url) {
                tracing::warn!(issuer, reason = %why, "single sign-on: metadata refused");
                return Err(SsoError::Discovery);
            }
        }
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
            .request_async(&self.transport(&s.issuer))
            .await
            .map_err(|e| {
                tracing::warn!(issuer = %s.issuer, reason = %error_chain(&e), "single sign-on: code exchange failed");
                SsoError::Exchange
            })?;
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
