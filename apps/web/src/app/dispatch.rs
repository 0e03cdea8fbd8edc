//! Host → site, then the site's routes. Health checks answer on any host; an unknown host gets
//! the platform's 404 page, never some trust's site.

use crate::context::AppState;
use crate::context::directory::Resolved;
use crate::error::AppError;
use crate::features::{
    account, admin, api, assets, authoring, badges, campaigns, certificates, coaching, elearning, embeds, enquiries,
    erasure, events, file_activity, health, home, hr_export, labs, learner, learning_time, library, market, marketing,
    my_data, platform, platform_admin, portfolio, records, reporting, scim, site_admin, sso, sso_admin, statistics,
    team, tenant, training, tutors, xapi,
};
use crate::http::auth;
use crate::http::middleware::observe::TenantLabel;
use crate::http::middleware::{forwarded, input};
use crate::http::page::{self, RequestInfo};
use poem::PathPattern;
use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Result, Route, get, post};
use std::sync::Arc;
use trellis_domain::host::HostName;

/// The endpoint behind every middleware.
pub struct Dispatch {
    state: AppState,
    /// The platform's routes behind the session and CSRF middleware, and the same routes without
    /// it (for the paths in [`SESSIONLESS_PLATFORM`]).
    platform: BoxEndpoint<'static>,
    platform_open: BoxEndpoint<'static>,
    /// A trust's routes, likewise (see [`SESSIONLESS_TENANT`]).
    tenant: BoxEndpoint<'static>,
    tenant_open: BoxEndpoint<'static>,
    /// The content origin's routes (e-learning content and its runtime; no sessions, no trust).
    content: BoxEndpoint<'static>,
    /// The content origin's host name.
    content_host: String,
}

impl Dispatch {
    pub fn new(state: AppState) -> Self {
        let sec = state.security.clone();
        let platform = Arc::new(
            Route::new()
                .at("/sign-in", get(platform_admin::sign_in_form).post(platform_admin::sign_in))
                .at("/sign-in/code", get(platform_admin::code_form).post(platform_admin::code))
                .at("/sign-in/mfa-setup", get(platform_admin::setup_form).post(platform_admin::setup))
                .at("/sign-out", post(platform_admin::sign_out))
                .at("/admin", get(platform_admin::home))
                .at("/admin/trusts", post(platform_admin::create_trust))
                .at("/admin/audit", get(platform_admin::audit))
                .at("/admin/file-activity", get(file_activity::platform))
                .at(
                    "/admin/trusts/:slug/authoriser",
                    get(platform_admin::authoriser).post(platform_admin::record_authoriser),
                )
                .at("/contact", get(enquiries::platform_contact_form).post(enquiries::platform_contact))
                .at("/contact/:id", get(enquiries::platform_thread_page).post(enquiries::platform_enquirer_reply))
                .at("/admin/enquiries", get(enquiries::platform_desk_list))
                .at("/admin/enquiries/:id", get(enquiries::platform_desk_enquiry))
                .at("/admin/enquiries/:id/reply", post(enquiries::platform_desk_reply))
                .at("/admin/enquiries/:id/status", post(enquiries::platform_desk_status))
                .at("/admin/library", get(library::platform_queue))
                .at("/admin/library/proposals/:slug/:id", get(library::proposal_page).post(library::decide_proposal))
                .at("/admin/library/proposals/:slug/:id/:which", get(library::proposal_file))
                .at("/admin/library/national/:id", post(library::moderate_national))
                .at("/admin/marketplace", get(market::review_queue))
                .at("/admin/marketplace/listings/:id", post(market::review))
                .at("/admin/marketplace/events/:id/retry", post(market::retry_event))
                .at("/marketplace", get(market::public_browse))
                .at("/statistics/open-data.csv", get(statistics::open_data))
                .at("/admin/statistics", get(statistics::national))
                // Stripe's webhooks: authenticated by their signature, so outside the CSRF guard.
                .at("/stripe/webhook", post(market::webhook))
                .at("/payments/test/checkout/:id", get(market::test_checkout).post(market::test_checkout_post))
                .at("/payments/test/invoice/:id", get(market::test_invoice).post(market::test_invoice_post))
                .at("/payments/test/onboard/:id", get(market::test_onboard).post(market::test_onboard_post))
                .at("/", get(platform::landing))
                .at("/accessibility", get(platform::accessibility))
                .at("/cookies", get(platform::cookies))
                .at("/terms", get(platform::terms))
                .at("/privacy", get(platform::privacy))
                .at("/assets/*path", get(assets::asset))
                .data(state.clone())
                .map_to_response(),
        );
        let tenant = Arc::new(
            Route::new()
                .at("/register", get(account::register_form).post(account::register))
                .at("/verify-email", get(account::verify_form).post(account::verify))
                .at("/verify-email/resend", get(account::resend_form).post(account::resend))
                .at("/sign-in", get(account::sign_in_form).post(account::sign_in))
                .at("/join", get(account::join_form).post(account::join))
                .at("/invitation", get(account::invitation_page).post(account::accept_invitation))
                .at("/sign-in/code", get(account::code_form).post(account::code))
                .at("/account/mfa", get(account::mfa_page))
                .at("/account/email", get(account::email_form).post(account::email_request))
                .at("/account/details", get(account::details_form).post(account::details_save))
                .at("/account/details/confirm", post(account::details_confirm))
                .at("/certificate-check/:token", get(certificates::verify))
                .at("/tutor/:token", get(tutors::view))
                .at("/tutor/:token/courses/:course", get(tutors::course_pdf))
                .at("/account/tutors", get(tutors::shared).post(tutors::give))
                .at("/account/tutors/:grant/revoke", post(tutors::revoke))
                .at("/account/activity", get(records::activity))
                .at("/account/export", get(portfolio::export_form).post(portfolio::export))
                .at("/account/export/links", post(portfolio::link))
                .at("/account/export/links/:id/unlink", post(portfolio::unlink))
                .at("/.well-known/jwks.json", get(portfolio::jwks))
                .at("/badges/issuer", get(portfolio::issuer))
                .at("/badges/awards/:file", get(badges::download))
                .at("/admin/badges", get(badges::admin_page).post(badges::add))
                .at("/admin/badges/:id/active", post(badges::set_active))
                .at("/admin/campaigns", get(campaigns::admin_list))
                .at("/admin/campaigns/new", get(campaigns::new_form).post(campaigns::create))
                .at("/admin/campaigns/:id", get(campaigns::admin_page))
                .at("/admin/campaigns/:id/edit", get(campaigns::edit_form).post(campaigns::save))
                .at("/admin/campaigns/:id/launch", post(campaigns::launch))
                .at("/admin/campaigns/:id/send", post(campaigns::send))
                .at("/admin/campaigns/:id/test", post(campaigns::test))
                .at("/admin/campaigns/:id/end", post(campaigns::end))
                .at("/campaigns/:slug", get(campaigns::landing))
                .at("/campaigns/:slug/enrol", post(campaigns::enrol))
                // Sessionless (SESSIONLESS_TENANT_PREFIXES): a campaign's counted links and its
                // banner's image, and bulk mail's one-click unsubscribe (its token is the key).
                .at("/promo/:slug/:what", get(campaigns::promo))
                .at("/unsubscribe/:token", get(campaigns::unsubscribe_page).post(campaigns::unsubscribe))
                .at("/admin/marketing", get(marketing::page_get))
                .at("/admin/marketing/pack.zip", get(marketing::pack))
                .at("/admin/marketing/posters/:file", get(marketing::poster_get))
                .at("/reporting", get(reporting::overview))
                .at("/reporting/authoriser/:token", get(reporting::authoriser_form).post(reporting::authoriser_confirm))
                .at("/reporting/leads", get(reporting::leads).post(reporting::authorise_lead))
                .at("/reporting/leads/:grant/revoke", post(reporting::revoke_lead))
                .at("/reporting/users", get(reporting::users).post(reporting::nominate_user))
                .at("/reporting/users/:grant/revoke", post(reporting::revoke_user))
                .at("/reporting/audit", get(reporting::audit_page))
                .at("/reporting/reports/:name", get(reporting::report))
                .at("/reporting/schedules", post(reporting::schedule))
                .at("/reporting/schedules/:id/cancel", post(reporting::unschedule))
                .at("/account/activity.csv", get(records::activity_csv))
                .at("/account/activity.pdf", get(records::activity_pdf))
                .at("/account/activity/programmes/:id/certificate.pdf", get(certificates::programme_pdf))
                .at("/account/activity/programmes/:id/certificate/links", post(certificates::programme_create_link))
                .at(
                    "/account/activity/programmes/:id/certificate/links/:link/revoke",
                    post(certificates::programme_revoke_link),
                )
                .at("/account/email/confirm", get(account::email_confirm_form).post(account::email_confirm))
                .at("/account/sessions/:id/end", post(account::end_session))
                .at("/account/close", get(erasure::close_form).post(erasure::close))
                .at("/library", get(library::browse).post(library::create))
                .at("/library/new", get(library::new_form))
                .at("/library/policy", get(library::policy))
                .at("/library/:id", get(library::resource_page))
                .at("/library/:id/file", get(library::download))
                .at("/library/:id/captions", get(library::captions_file))
                .at("/library/:id/versions", post(library::add_version))
                .at("/library/:id/rating", post(library::rate))
                .at("/library/:id/feedback", post(library::give_feedback))
                .at("/library/:id/feedback/:feedback/delete", post(library::delete_feedback))
                .at("/library/:id/report", get(library::report_form).post(library::report))
                .at("/library/:id/propose", post(library::propose))
                .at("/library/:id/add-to-course", post(library::add_to_course))
                .at("/admin/library", get(library::moderation))
                .at("/admin/library/settings", post(library::settings))
                .at("/admin/library/:id", post(library::moderate))
                .at("/contact", get(enquiries::contact_form).post(enquiries::contact))
                .at("/contact/:id", get(enquiries::thread_page).post(enquiries::enquirer_reply))
                .at("/admin/enquiries", get(enquiries::desk_list))
                .at("/admin/enquiries/:id", get(enquiries::desk_enquiry))
                .at("/admin/enquiries/:id/reply", post(enquiries::desk_reply))
                .at("/admin/enquiries/:id/status", post(enquiries::desk_status))
                .at("/account/objections", post(account::objections))
                .at("/account/my-data", get(my_data::form).post(my_data::request))
                .at("/account/my-data/:id", get(my_data::download))
                .at("/account/mfa/enable", post(account::mfa_enable))
                .at("/account/mfa/disable", post(account::mfa_disable))
                .at("/sign-out", post(account::sign_out))
                .at("/sign-out-everywhere", post(account::sign_out_everywhere))
                .at("/profile", get(account::profile))
                .at("/sso/start", get(sso::start))
                .at("/sso/callback", get(sso::callback))
                .at("/sso/link", get(sso::link_form).post(sso::link))
                .at("/terms", get(account::terms_page).post(account::accept_terms))
                .at("/password-reset", get(account::reset_form).post(account::reset_request))
                .at("/password-reset/new", get(account::reset_new_form).post(account::reset_new))
                .at("/admin", get(home::admin_index))
                .at("/admin/approvals", get(admin::approvals))
                .at("/admin/approvals/:person", post(admin::decide))
                .at("/admin/audit", get(admin::audit_trail))
                .at("/admin/file-activity", get(file_activity::trust))
                .at("/admin/site", get(site_admin::edit))
                .at("/admin/site/logo", post(site_admin::logo))
                .at("/admin/site/domains", post(site_admin::add_domain))
                .at("/admin/site/domains/action", post(site_admin::domain_action))
                .at("/admin/sso", get(sso_admin::edit).post(sso_admin::save))
                .at("/admin/site/colours", post(site_admin::colours))
                .at("/admin/site/messages", post(site_admin::add_message))
                .at("/admin/site/messages/:id", post(site_admin::edit_message))
                .at("/admin/staff", get(admin::staff))
                .at("/admin/staff/:person/status", post(admin::staff_status))
                .at("/admin/staff/:person/roles", post(admin::staff_roles))
                .at("/admin/staff/:person/erase", get(erasure::erase_form).post(erasure::erase_member))
                .at("/courses", get(learner::catalogue))
                .at("/courses/:id", get(learner::course_page))
                .at("/courses/:id/enrol", post(learner::enrol))
                .at("/courses/:id/leave", post(learner::leave))
                .at("/courses/:id/certificate.pdf", get(certificates::pdf))
                .at("/courses/:id/certificate/links", post(certificates::create_link))
                .at("/courses/:id/certificate/links/:link/revoke", post(certificates::revoke_link))
                .at("/courses/:id/pay", post(market::pay))
                .at("/payments/done", get(market::done))
                .at("/marketplace", get(market::browse))
                .at("/marketplace/budget", post(market::set_budget))
                .at("/marketplace/spending", get(market::spending))
                .at("/marketplace/spending.pdf", get(market::spending_pdf))
                .at("/marketplace/charges/:id/receipt.pdf", get(market::receipt_pdf))
                .at("/marketplace/charges/:id/refund", post(market::refund))
                .at("/marketplace/:id", get(market::listing_page))
                .at("/marketplace/:id/add", post(market::add))
                .at("/marketplace/:id/remove", post(market::remove))
                .at("/marketplace/:id/seats", post(market::buy_seats))
                .at("/selling", get(market::selling))
                .at("/selling/statistics", get(statistics::seller))
                .at("/selling/register", post(market::register))
                .at("/selling/onboard", post(market::onboard))
                .at("/selling/listings", post(market::submit))
                .at("/selling/listings/:id/withdraw", post(market::withdraw))
                .at("/selling/earnings.csv", get(market::earnings_csv))
                .at("/selling/earnings.pdf", get(market::earnings_pdf))
                .at("/learning", get(learner::my_learning))
                .at("/learn/:course", get(learner::resume))
                .at("/learn/:course/:object", get(learner::session_page))
                .at("/learn/:course/:object/beat", post(learner::beat))
                .at("/learn/:course/:object/done", post(learner::confirm))
                .at("/learn/:course/:object/file", get(learner::file))
                .at("/learn/:course/:object/launch", post(elearning::play::start_launch))
                .at("/learn/:course/:object/play/:attempt/:launch", get(elearning::play::play_page))
                .at("/admin/courses/:id/package", get(elearning::upload::form).post(elearning::upload::upload))
                .at("/admin/courses/:id/attempts", get(elearning::trace::attempts_page))
                .at("/admin/attempts/:id", get(elearning::trace::attempt_page))
                .at("/admin/attempts/:id/waive", post(elearning::trace::waive))
                .at("/admin/lrs", get(xapi::admin::lrs_page).post(xapi::admin::issue))
                .at("/admin/lrs/:id/revoke", post(xapi::admin::revoke))
                .at("/admin/api-tokens", get(api::tokens::tokens_page).post(api::tokens::issue_form))
                .at("/admin/api-tokens/:id/revoke", post(api::tokens::revoke))
                .at("/admin/hr-export", get(hr_export::settings_page).post(hr_export::save_settings))
                .at("/admin/hr-export/send", post(hr_export::send_now))
                .at("/admin/hr-export/competences", get(hr_export::competences_page).post(hr_export::save_competence))
                .at("/api/v1/openapi.json", get(api_spec))
                .nest("/api/v1", api::problems(poem::IntoEndpoint::into_endpoint(api::service())))
                .at("/xapi", xapi::entry)
                .at("/scim/v2", scim::entry)
                .at("/scim/v2/*path", scim::entry)
                .at("/xapi/*path", xapi::entry)
                .at("/admin/courses", get(authoring::courses_page))
                .at("/admin/courses/new", get(authoring::new_form).post(authoring::create))
                .at("/admin/courses/:id", get(authoring::edit).post(authoring::save))
                .at("/admin/courses/:id/publish", post(authoring::publish))
                .at("/admin/courses/:id/unpublish", post(authoring::unpublish))
                .at("/admin/courses/:id/offer", post(authoring::offer))
                .at("/admin/courses/:id/path", post(authoring::set_path))
                .at("/admin/courses/:id/sessions", get(authoring::new_session_form).post(authoring::add_session))
                .at(
                    "/admin/courses/:id/sessions/:object",
                    get(authoring::edit_session_form).post(authoring::save_session),
                )
                .at("/admin/courses/:id/sessions/:object/action", post(authoring::session_action))
                .at("/admin/courses/:id/events", get(events::course_events).post(events::add_event))
                .at("/admin/events", get(events::trust_events))
                .at("/admin/events/settings", post(events::save_settings))
                .at("/admin/events/:id", get(events::event_page).post(events::save_event))
                .at("/admin/events/:id/cancel", post(events::cancel_event))
                .at("/admin/events/:id/message", post(events::message_booked))
                .at("/events/teaching", get(events::teaching))
                .at("/events/:id/register", get(events::register_page).post(events::save_register))
                .at("/events/:id/register/add", post(events::add_walk_in))
                .at("/events/:id/book", post(events::book))
                .at("/events/:id/cancel", post(events::cancel_booking))
                .at("/events/:id/calendar.ics", get(events::calendar_file))
                .at("/admin/training", get(training::rules_form).post(training::add_rule))
                .at("/admin/training/:rule/remove", post(training::remove_rule))
                .at("/admin/enrolments", get(training::requests_page))
                .at("/admin/enrolments/:id", post(training::decide))
                .at("/team", get(team::team_page))
                .at("/team/:person/remind", post(team::remind))
                .at("/team/requests/:id", post(team::decide))
                .at("/team/:person/learning-time", post(learning_time::decide))
                .at("/learning/time", get(learning_time::page_get).post(learning_time::ask))
                .at("/learning/time/stop", post(learning_time::stop))
                .at("/learning/calendar", post(learning_time::make_feed))
                .at("/learning/calendar/off", post(learning_time::feed_off))
                .at("/calendar/:file", get(learning_time::calendar_feed))
                .at("/labs", get(labs::labs_page))
                .at("/labs/:id/book", post(labs::book))
                .at("/labs/bookings/:id/cancel", post(labs::cancel))
                .at("/admin/labs", get(labs::admin_page).post(labs::add_room))
                .at("/admin/labs/:id", get(labs::room_page).post(labs::save_room))
                .at("/admin/labs/bookings/:id/mark", post(labs::mark))
                .at("/admin/line-managers", get(team::admin_page).post(team::admin_set))
                .at("/admin/line-managers/:person/remove", post(team::admin_remove))
                .at("/coaching", get(coaching::caseload_page))
                .at("/coaching/:person", get(coaching::learner_page))
                .at("/coaching/:person/contacts", post(coaching::log_contact))
                .at("/coaching/:person/message", post(coaching::send_message))
                .at("/admin/coaches", get(coaching::admin_page).post(coaching::appoint))
                .at("/admin/coaches/:person", get(coaching::coach_page))
                .at("/admin/coaches/:person/learners", post(coaching::add_learner))
                .at("/admin/coaches/:person/learners/:learner/remove", post(coaching::remove_learner))
                .at("/admin/coaches/:person/rules", post(coaching::add_rule))
                .at("/admin/coaches/:person/rules/:rule/remove", post(coaching::remove_rule))
                .at("/admin/coaches/:person/stand-down", post(coaching::stand_down))
                .at("/admin/compliance", get(training::matrix))
                .at("/admin/statistics", get(statistics::course_statistics))
                .at("/admin/compliance/remind", post(training::remind))
                .at("/admin/compliance/export.csv", get(training::export))
                .at("/admin/staff/import", get(training::import_form).post(training::import_check))
                .at("/admin/staff/import/apply", post(training::import_apply))
                .at("/admin/staff/import/leavers", post(training::leaver_settings))
                .at("/", get(tenant::home))
                .at("/accessibility", get(tenant::accessibility))
                .at("/cookies", get(tenant::cookies))
                .at("/cookies/consent", post(embeds::choose))
                .at("/privacy", get(account::privacy))
                .at("/trust-style/:file", get(tenant::stylesheet))
                .at("/logo/:sha", get(tenant::logo))
                .at("/assets/*path", get(assets::asset))
                .around(crate::http::transfer::record)
                .around(crate::http::middleware::usage::count)
                .data(state.clone())
                .map_to_response(),
        );
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
        Self {
            state,
            platform: auth::guard(platform.clone().around(errors_as_pages), &sec).map_to_response().boxed(),
            platform_open: platform.boxed(),
            tenant: auth::guard(tenant.clone().around(errors_as_pages), &sec).map_to_response().boxed(),
            tenant_open: tenant.boxed(),
            content,
            content_host,
        }
    }
}

/// A trust's paths served without a session or CSRF check: the public pages that are the same for
/// everyone, static files, the machine interfaces (which authenticate each call themselves), and
/// calendar feeds (their secret link is the key), a campaign's counted links and banner images
/// (so a banner on an intranet sets no cookie), and bulk mail's one-click unsubscribe (RFC 8058:
/// the mail client's POST carries no cookies; its signed token is the key).
const SESSIONLESS_TENANT: &[&str] =
    &["/", "/accessibility", "/cookies", "/cookies/consent", "/privacy", "/api/v1", "/xapi", "/scim/v2"];
const SESSIONLESS_TENANT_PREFIXES: &[&str] = &[
    "/api/v1/",
    "/xapi/",
    "/scim/v2/",
    "/trust-style/",
    "/logo/",
    "/assets/",
    "/calendar/",
    "/promo/",
    "/unsubscribe/",
];
/// The platform's, likewise (Stripe's webhooks are authenticated by their signature).
const SESSIONLESS_PLATFORM: &[&str] = &[
    "/",
    "/accessibility",
    "/cookies",
    "/terms",
    "/privacy",
    "/marketplace",
    "/stripe/webhook",
    "/statistics/open-data.csv",
];
const SESSIONLESS_PLATFORM_PREFIXES: &[&str] = &["/assets/"];

/// Whether the request carries a session cookie (the home page then reads the session).
fn has_session_cookie(req: &Request) -> bool {
    req.headers().get_all(poem::http::header::COOKIE).iter().any(|v| {
        v.to_str().is_ok_and(|c| {
            c.split(';').any(|kv| {
                kv.trim_start().strip_prefix(crate::http::cookies::SESSION).is_some_and(|r| r.starts_with('='))
            })
        })
    })
}

/// Whether `path` is served without the session middleware.
fn sessionless(path: &str, exact: &[&str], prefixes: &[&str]) -> bool {
    exact.contains(&path) || prefixes.iter().any(|p| path.starts_with(p))
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
        // The state is on the request before the session middleware, which records refusals.
        req.set_data(state.clone());
        let path = req.uri().path();
        let result = match &site {
            Some(site) => {
                // The home page is the same for everyone signed out (no session is made for a
                // visitor), and the person's own home when they come with a session.
                let open = sessionless(path, SESSIONLESS_TENANT, SESSIONLESS_TENANT_PREFIXES)
                    && !(path == "/" && has_session_cookie(&req));
                req.set_data(site.clone());
                if open { self.tenant_open.call(req).await } else { self.tenant.call(req).await }
            }
            None if sessionless(path, SESSIONLESS_PLATFORM, SESSIONLESS_PLATFORM_PREFIXES) => {
                self.platform_open.call(req).await
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

/// Inside the session middleware: an error becomes its page here, where the session is loaded,
/// so a refusal or a missing page still shows who is signed in (with *Sign out*) in the header.
async fn errors_as_pages<E: Endpoint>(ep: Arc<E>, req: Request) -> Result<Response> {
    let mut info = RequestInfo::of(&req);
    // Reading the request's details takes the waiting success message: leave it for the page.
    if let (Some(message), Some(session)) = (info.flash.take(), req.extensions().get::<poem::session::Session>()) {
        session.set(page::K_FLASH, message);
    }
    let state = req.data::<AppState>().cloned();
    let site = req.data::<Arc<crate::context::directory::Site>>().cloned();
    match ep.call(req).await {
        Ok(resp) => Ok(resp.into_response()),
        Err(err) => {
            let Some(state) = state else { return Err(err) };
            let status = err.status();
            if status.is_server_error() {
                tracing::error!(error = ?err, "request failed");
            }
            Ok(page::error_page(&state, site.as_deref(), &info, status, Some(&err)))
        }
    }
}
