//! Host → site, then the site's routes. Health checks answer on any host; an unknown host gets
//! the platform's 404 page, never some trust's site.

use crate::auth;
use crate::directory::Resolved;
use crate::error::AppError;
use crate::middleware::observe::TenantLabel;
use crate::middleware::{forwarded, input};
use crate::routes::page::RequestInfo;
use crate::routes::{
    account, admin, api, assets, authoring, elearning, health, learner, market, page, platform, platform_admin,
    site_admin, sso, sso_admin, tenant, training, xapi,
};
use crate::state::AppState;
use poem::PathPattern;
use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt, Request, Response, Result, Route, get, post};
use trellis_core::host::HostName;

/// The endpoint behind every middleware.
pub struct Dispatch {
    state: AppState,
    platform: BoxEndpoint<'static>,
    tenant: BoxEndpoint<'static>,
    /// The content origin's routes (e-learning content and its runtime; no sessions, no trust).
    content: BoxEndpoint<'static>,
    /// The content origin's host name.
    content_host: String,
}

impl Dispatch {
    pub fn new(state: AppState) -> Self {
        let sec = state.security.clone();
        let platform = Route::new()
            .at("/sign-in", auth::guard(get(platform_admin::sign_in_form).post(platform_admin::sign_in), &sec))
            .at("/sign-in/code", auth::guard(get(platform_admin::code_form).post(platform_admin::code), &sec))
            .at("/sign-in/mfa-setup", auth::guard(get(platform_admin::setup_form).post(platform_admin::setup), &sec))
            .at("/sign-out", auth::guard(post(platform_admin::sign_out), &sec))
            .at("/admin", auth::guard(get(platform_admin::home), &sec))
            .at("/admin/trusts", auth::guard(post(platform_admin::create_trust), &sec))
            .at("/admin/audit", auth::guard(get(platform_admin::audit), &sec))
            .at("/admin/marketplace", auth::guard(get(market::review_queue), &sec))
            .at("/admin/marketplace/listings/:id", auth::guard(post(market::review), &sec))
            .at("/admin/marketplace/events/:id/retry", auth::guard(post(market::retry_event), &sec))
            .at("/marketplace", get(market::public_browse))
            // Stripe's webhooks: authenticated by their signature, so outside the CSRF guard.
            .at("/stripe/webhook", post(market::webhook))
            .at(
                "/payments/test/checkout/:id",
                auth::guard(get(market::test_checkout).post(market::test_checkout_post), &sec),
            )
            .at(
                "/payments/test/invoice/:id",
                auth::guard(get(market::test_invoice).post(market::test_invoice_post), &sec),
            )
            .at(
                "/payments/test/onboard/:id",
                auth::guard(get(market::test_onboard).post(market::test_onboard_post), &sec),
            )
            .at("/", get(platform::landing))
            .at("/accessibility", get(platform::accessibility))
            .at("/terms", get(platform::terms))
            .at("/privacy", get(platform::privacy))
            .at("/assets/*path", get(assets::asset))
            .data(state.clone())
            .map_to_response()
            .boxed();
        let tenant = Route::new()
            .at("/register", auth::guard(get(account::register_form).post(account::register), &sec))
            .at("/verify-email", auth::guard(get(account::verify_form).post(account::verify), &sec))
            .at("/verify-email/resend", auth::guard(get(account::resend_form).post(account::resend), &sec))
            .at("/sign-in", auth::guard(get(account::sign_in_form).post(account::sign_in), &sec))
            .at("/join", auth::guard(get(account::join_form).post(account::join), &sec))
            .at("/invitation", auth::guard(get(account::invitation_page).post(account::accept_invitation), &sec))
            .at("/sign-in/code", auth::guard(get(account::code_form).post(account::code), &sec))
            .at("/account/mfa", auth::guard(get(account::mfa_page), &sec))
            .at("/account/email", auth::guard(get(account::email_form).post(account::email_request), &sec))
            .at("/account/details", auth::guard(get(account::details_form).post(account::details_save), &sec))
            .at(
                "/account/email/confirm",
                auth::guard(get(account::email_confirm_form).post(account::email_confirm), &sec),
            )
            .at("/account/sessions/:id/end", auth::guard(post(account::end_session), &sec))
            .at("/account/deactivate", auth::guard(post(account::deactivate), &sec))
            .at("/account/mfa/enable", auth::guard(post(account::mfa_enable), &sec))
            .at("/account/mfa/disable", auth::guard(post(account::mfa_disable), &sec))
            .at("/sign-out", auth::guard(post(account::sign_out), &sec))
            .at("/sign-out-everywhere", auth::guard(post(account::sign_out_everywhere), &sec))
            .at("/profile", auth::guard(get(account::profile), &sec))
            .at("/sso/start", auth::guard(get(sso::start), &sec))
            .at("/sso/callback", auth::guard(get(sso::callback), &sec))
            .at("/sso/link", auth::guard(get(sso::link_form).post(sso::link), &sec))
            .at("/terms", auth::guard(get(account::terms_page).post(account::accept_terms), &sec))
            .at("/password-reset", auth::guard(get(account::reset_form).post(account::reset_request), &sec))
            .at("/password-reset/new", auth::guard(get(account::reset_new_form).post(account::reset_new), &sec))
            .at("/admin/approvals", auth::guard(get(admin::approvals), &sec))
            .at("/admin/approvals/:person", auth::guard(post(admin::decide), &sec))
            .at("/admin/audit", auth::guard(get(admin::audit_trail), &sec))
            .at("/admin/site", auth::guard(get(site_admin::edit), &sec))
            .at("/admin/site/logo", auth::guard(post(site_admin::logo), &sec))
            .at("/admin/site/domains", auth::guard(post(site_admin::add_domain), &sec))
            .at("/admin/site/domains/action", auth::guard(post(site_admin::domain_action), &sec))
            .at("/admin/sso", auth::guard(get(sso_admin::edit).post(sso_admin::save), &sec))
            .at("/admin/site/colours", auth::guard(post(site_admin::colours), &sec))
            .at("/admin/site/messages", auth::guard(post(site_admin::add_message), &sec))
            .at("/admin/site/messages/:id", auth::guard(post(site_admin::edit_message), &sec))
            .at("/admin/staff", auth::guard(get(admin::staff), &sec))
            .at("/admin/staff/:person/status", auth::guard(post(admin::staff_status), &sec))
            .at("/admin/staff/:person/roles", auth::guard(post(admin::staff_roles), &sec))
            .at("/courses", auth::guard(get(learner::catalogue), &sec))
            .at("/courses/:id", auth::guard(get(learner::course_page), &sec))
            .at("/courses/:id/enrol", auth::guard(post(learner::enrol), &sec))
            .at("/courses/:id/leave", auth::guard(post(learner::leave), &sec))
            .at("/courses/:id/pay", auth::guard(post(market::pay), &sec))
            .at("/payments/done", auth::guard(get(market::done), &sec))
            .at("/marketplace", auth::guard(get(market::browse), &sec))
            .at("/marketplace/budget", auth::guard(post(market::set_budget), &sec))
            .at("/marketplace/spending", auth::guard(get(market::spending), &sec))
            .at("/marketplace/spending.pdf", auth::guard(get(market::spending_pdf), &sec))
            .at("/marketplace/charges/:id/receipt.pdf", auth::guard(get(market::receipt_pdf), &sec))
            .at("/marketplace/charges/:id/refund", auth::guard(post(market::refund), &sec))
            .at("/marketplace/:id", auth::guard(get(market::listing_page), &sec))
            .at("/marketplace/:id/add", auth::guard(post(market::add), &sec))
            .at("/marketplace/:id/remove", auth::guard(post(market::remove), &sec))
            .at("/marketplace/:id/seats", auth::guard(post(market::buy_seats), &sec))
            .at("/selling", auth::guard(get(market::selling), &sec))
            .at("/selling/register", auth::guard(post(market::register), &sec))
            .at("/selling/onboard", auth::guard(post(market::onboard), &sec))
            .at("/selling/listings", auth::guard(post(market::submit), &sec))
            .at("/selling/listings/:id/withdraw", auth::guard(post(market::withdraw), &sec))
            .at("/selling/earnings.csv", auth::guard(get(market::earnings_csv), &sec))
            .at("/selling/earnings.pdf", auth::guard(get(market::earnings_pdf), &sec))
            .at("/learning", auth::guard(get(learner::my_learning), &sec))
            .at("/learn/:course", auth::guard(get(learner::resume), &sec))
            .at("/learn/:course/:object", auth::guard(get(learner::session_page), &sec))
            .at("/learn/:course/:object/beat", auth::guard(post(learner::beat), &sec))
            .at("/learn/:course/:object/done", auth::guard(post(learner::confirm), &sec))
            .at("/learn/:course/:object/file", auth::guard(get(learner::file), &sec))
            .at("/learn/:course/:object/launch", auth::guard(post(elearning::play::start_launch), &sec))
            .at("/learn/:course/:object/play/:attempt/:launch", auth::guard(get(elearning::play::play_page), &sec))
            .at(
                "/admin/courses/:id/package",
                auth::guard(get(elearning::upload::form).post(elearning::upload::upload), &sec),
            )
            .at("/admin/courses/:id/attempts", auth::guard(get(elearning::trace::attempts_page), &sec))
            .at("/admin/attempts/:id", auth::guard(get(elearning::trace::attempt_page), &sec))
            .at("/admin/attempts/:id/waive", auth::guard(post(elearning::trace::waive), &sec))
            .at("/admin/lrs", auth::guard(get(xapi::admin::lrs_page).post(xapi::admin::issue), &sec))
            .at("/admin/lrs/:id/revoke", auth::guard(post(xapi::admin::revoke), &sec))
            .at("/admin/api-tokens", auth::guard(get(api::tokens::tokens_page).post(api::tokens::issue_form), &sec))
            .at("/admin/api-tokens/:id/revoke", auth::guard(post(api::tokens::revoke), &sec))
            .at("/api/v1/openapi.json", get(api_spec))
            .nest("/api/v1", api::problems(poem::IntoEndpoint::into_endpoint(api::service())))
            .at("/xapi", xapi::entry)
            .at("/xapi/*path", xapi::entry)
            .at("/admin/courses", auth::guard(get(authoring::courses_page), &sec))
            .at("/admin/courses/new", auth::guard(get(authoring::new_form).post(authoring::create), &sec))
            .at("/admin/courses/:id", auth::guard(get(authoring::edit).post(authoring::save), &sec))
            .at("/admin/courses/:id/publish", auth::guard(post(authoring::publish), &sec))
            .at("/admin/courses/:id/unpublish", auth::guard(post(authoring::unpublish), &sec))
            .at("/admin/courses/:id/offer", auth::guard(post(authoring::offer), &sec))
            .at("/admin/courses/:id/path", auth::guard(post(authoring::set_path), &sec))
            .at(
                "/admin/courses/:id/sessions",
                auth::guard(get(authoring::new_session_form).post(authoring::add_session), &sec),
            )
            .at(
                "/admin/courses/:id/sessions/:object",
                auth::guard(get(authoring::edit_session_form).post(authoring::save_session), &sec),
            )
            .at("/admin/courses/:id/sessions/:object/action", auth::guard(post(authoring::session_action), &sec))
            .at("/admin/training", auth::guard(get(training::rules_form).post(training::add_rule), &sec))
            .at("/admin/training/:rule/remove", auth::guard(post(training::remove_rule), &sec))
            .at("/admin/enrolments", auth::guard(get(training::requests_page), &sec))
            .at("/admin/enrolments/:id", auth::guard(post(training::decide), &sec))
            .at("/admin/compliance", auth::guard(get(training::matrix), &sec))
            .at("/admin/compliance/remind", auth::guard(post(training::remind), &sec))
            .at("/admin/compliance/export.csv", auth::guard(get(training::export), &sec))
            .at("/admin/staff/import", auth::guard(get(training::import_form).post(training::import_check), &sec))
            .at("/admin/staff/import/apply", auth::guard(post(training::import_apply), &sec))
            .at("/", get(tenant::home))
            .at("/accessibility", get(tenant::accessibility))
            .at("/privacy", get(account::privacy))
            .at("/trust-style/:file", get(tenant::stylesheet))
            .at("/logo/:sha", get(tenant::logo))
            .at("/assets/*path", get(assets::asset))
            .data(state.clone())
            .map_to_response()
            .boxed();
        let content = Route::new()
            .at("/run/:token", get(elearning::content::runtime))
            .at("/run/:token/commit", post(elearning::content::scorm_commit))
            .at("/content/:token/*path", get(elearning::content::file))
            .at("/cmi5/fetch/:tenant/:session/:key", elearning::content::fetch)
            .at("/returned/:tenant", get(elearning::content::returned))
            .at("/assets/*path", get(assets::asset))
            .data(state.clone())
            .map_to_response()
            .boxed();
        let content_host = state.config.content_host();
        Self { state, platform, tenant, content, content_host }
    }
}

/// The trust API's OpenAPI description (generated from the code).
#[poem::handler]
fn api_spec() -> Response {
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .header("access-control-allow-origin", "*")
        .body(api::service().spec())
}

fn labelled(mut resp: Response, route: &str, tenant: &str) -> Response {
    if resp.data::<PathPattern>().is_none() {
        resp.set_data(PathPattern(route.into()));
    }
    resp.set_data(TenantLabel(tenant.to_owned()));
    resp
}

impl Endpoint for Dispatch {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let state = &self.state;
        match req.uri().path() {
            "/healthz" => return Ok(labelled(health::healthz(), "/healthz", "none")),
            "/readyz" => return Ok(labelled(health::readyz(state).await, "/readyz", "none")),
            _ => {}
        }
        let info = RequestInfo::of(&req);
        let bad_host = |message: String| {
            let err = poem::Error::from(AppError::BadRequest(message));
            Ok(labelled(page::error_page(state, None, &info, StatusCode::BAD_REQUEST, Some(&err)), "bad-host", "none"))
        };
        if let Some(message) = input::ambiguous_host(&req) {
            return bad_host(message);
        }
        let host = match forwarded::client_host(&req, &state.proxies) {
            None => return bad_host("The request has no Host header.".into()),
            Some(raw) => match HostName::parse(&raw) {
                Ok(h) => h,
                Err(e) => {
                    return bad_host(format!("The Host header is not a valid host name: {e}."));
                }
            },
        };
        if host.as_str() == self.content_host {
            let resp = match self.content.call(req).await {
                Ok(r) => r,
                Err(err) => {
                    let status = err.status();
                    if status.is_server_error() {
                        tracing::error!(error = ?err, "content request failed");
                    }
                    Response::builder()
                        .status(status)
                        .content_type("text/plain; charset=utf-8")
                        .body(status.canonical_reason().unwrap_or("Error"))
                }
            };
            return Ok(labelled(resp, "content", "content"));
        }
        let site = match state.directory.resolve(&host) {
            Resolved::Platform => None,
            Resolved::Tenant(site) => Some(site),
            Resolved::Unknown => {
                return Ok(labelled(
                    page::error_page(state, None, &info, StatusCode::NOT_FOUND, None),
                    "unknown-host",
                    "unknown",
                ));
            }
        };
        let label = site.as_ref().map_or_else(|| "platform".to_owned(), |s| s.entry.slug.clone());
        tracing::Span::current().record("tenant", label.as_str());
        let mut req = match input::check_fields(req).await {
            Ok(req) => req,
            Err((req, message)) => {
                let info = RequestInfo::of(&req);
                let err = poem::Error::from(AppError::BadRequest(message));
                let page = page::error_page(state, site.as_deref(), &info, StatusCode::BAD_REQUEST, Some(&err));
                return Ok(labelled(page, "bad-input", &label));
            }
        };
        let result = match &site {
            Some(site) => {
                req.set_data(site.clone());
                self.tenant.call(req).await
            }
            None => self.platform.call(req).await,
        };
        let resp = match result {
            Ok(resp) => resp,
            Err(err) => {
                let status = err.status();
                if status.is_server_error() {
                    tracing::error!(error = ?err, "request failed");
                }
                page::error_page(state, site.as_deref(), &info, status, Some(&err))
            }
        };
        Ok(labelled(resp, "unmatched", &label))
    }
}
