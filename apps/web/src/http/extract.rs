//! The request context as extractors: a handler's signature says who may call it.
//!
//! - [`CurrentSite`]: the trust whose site this is (from the Host, never the body).
//! - [`Member<P>`]: someone signed in here, who has accepted the current terms and, unless `P` is
//!   [`may::Anyone`], holds permission `P` (and has two-step verification where the trust asks
//!   its administrators for it). It carries the request's one transaction: the sign-in check
//!   read in it, and the handler goes on in it (a write transaction for a form post).
//! - [`PlatformAdmin`]: a platform administrator on the platform's own site.
//!
//! Each denial is an [`AppError`]: [`AppError::SignInRequired`], [`AppError::TermsRequired`] or
//! [`AppError::Forbidden`], made into a redirect or a 403 page in one place.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::auth::{self, SignedIn};
use poem::session::Session;
use poem::{FromRequest, Request, RequestBody};
use serde_json::json;
use std::marker::PhantomData;
use std::sync::Arc;
use trellis_db::TenantTx;
use trellis_db::audit;
use trellis_db::identity as id;
use trellis_domain::PersonId;

fn state_of(req: &Request) -> Result<&AppState, AppError> {
    req.data::<AppState>().ok_or_else(|| AppError::Internal(anyhow::anyhow!("no application state on the request")))
}

fn session_of(req: &Request) -> Result<&Session, AppError> {
    req.extensions()
        .get::<Session>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no session: the route is outside the session middleware")))
}

/// The trust whose site was asked for.
pub struct CurrentSite<'a>(pub &'a Arc<Site>);

impl<'a> FromRequest<'a> for CurrentSite<'a> {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(req.data::<Arc<Site>>().ok_or(AppError::NotFound)?))
    }
}

/// The permissions a handler can ask for, as types (the matrix itself stays in
/// `trellis_domain::identity::allows`).
pub mod may {
    use trellis_domain::identity::Permission;

    /// What a [`super::Member`] must be allowed to do.
    pub trait Need: Send + Sync + 'static {
        const PERMISSION: Option<Permission>;
        /// Who the refused page says the page is for.
        const FOR_WHOM: &'static str = "the trust's training managers";
    }

    /// Any approved member who has accepted the terms.
    pub struct Anyone;
    impl Need for Anyone {
        const PERMISSION: Option<Permission> = None;
    }

    macro_rules! needs {
        ($($name:ident),* $(,)?) => {$(
            #[doc = concat!("Holds [`Permission::", stringify!($name), "`].")]
            pub struct $name;
            impl Need for $name {
                const PERMISSION: Option<Permission> = Some(Permission::$name);
            }
        )*};
    }
    needs!(
        ManageStaff,
        ReadAudit,
        EditSite,
        ManageSignOn,
        EditContent,
        ManageTraining,
        ManageRecords,
        Sell,
        BuyCourses,
        ManageIntegrations
    );
}

/// Which transaction a [`Member`] opens for the request.
pub mod tx {
    /// Whether the request's transaction will write (on SQLite a writing transaction takes the
    /// database's write lock at `BEGIN`, in turn).
    pub trait Kind: Send + Sync + 'static {
        fn writes(method: &poem::http::Method) -> bool;
    }

    /// Reads for a safe method (`GET`, `HEAD`), writes for a form post.
    pub struct ByMethod;
    impl Kind for ByMethod {
        fn writes(method: &poem::http::Method) -> bool {
            !method.is_safe()
        }
    }

    /// Writes whatever the method: a page that records something when it is shown (opening a
    /// session records the visit).
    pub struct Writes;
    impl Kind for Writes {
        fn writes(_: &poem::http::Method) -> bool {
            true
        }
    }
}

/// A signed-in member of this trust allowed `P`, with the request's transaction (of kind `K`).
pub struct Member<P: may::Need = may::Anyone, K: tx::Kind = tx::ByMethod> {
    pub me: SignedIn,
    /// The request's transaction: commit it when the work is done (dropped, it rolls back).
    pub tx: TenantTx,
    need: PhantomData<(P, K)>,
}

impl<P: may::Need, K: tx::Kind> Member<P, K> {
    /// Commits the request's transaction now, for a handler that does slow outside work (a
    /// network call, a large upload) before it writes, and opens its own transaction then.
    pub async fn release(self) -> Result<SignedIn, AppError> {
        self.tx.commit().await?;
        Ok(self.me)
    }
}

impl<'a, P: may::Need, K: tx::Kind> FromRequest<'a> for Member<P, K> {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(member::<P, K>(req).await?)
    }
}

async fn member<P: may::Need, K: tx::Kind>(req: &Request) -> Result<Member<P, K>, AppError> {
    let state = state_of(req)?;
    let site = req.data::<Arc<Site>>().cloned().ok_or(AppError::NotFound)?;
    let session = session_of(req)?;
    let writes = K::writes(req.method());
    let Some((me, trust_terms, tx)) = auth::check_open(state, &site, session, writes).await? else {
        return Err(AppError::SignInRequired);
    };
    if !auth::agreed(state, &tx, session, &me, trust_terms.as_deref()).await? {
        tx.commit().await?;
        return Err(AppError::TermsRequired);
    }
    let Some(permission) = P::PERMISSION else {
        return Ok(Member { me, tx, need: PhantomData });
    };
    if me.may(permission) {
        if site.entry.require_admin_mfa && !id::member_person(&tx, me.person).await?.is_some_and(|p| p.mfa_enabled) {
            tx.commit().await?;
            return Err(AppError::forbidden(
                "Set up two-step verification first",
                &format!("{} asks its administrators to use two-step verification.", site.entry.name),
                Some(("Set up two-step verification", "/account/mfa")),
            ));
        }
        return Ok(Member { me, tx, need: PhantomData });
    }
    // Refused: recorded in the trust's audit trail (a write, so in a write transaction).
    let tx = if writes {
        tx
    } else {
        tx.commit().await?;
        state.dbs.app.begin(site.entry.id).await?
    };
    audit::record(
        &tx,
        Some(me.person),
        "access.denied",
        req.uri().path(),
        None,
        json!({ "permission": format!("{permission:?}") }),
    )
    .await?;
    tx.commit().await?;
    Err(AppError::forbidden(
        "You do not have permission to see this page",
        &format!("This page is for {}. If you need access, ask one of them.", P::FOR_WHOM),
        Some(("Go to the home page", "/")),
    ))
}

/// A platform administrator signed in on the platform's site.
pub struct PlatformAdmin(pub PersonId);

impl<'a> FromRequest<'a> for PlatformAdmin {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = state_of(req)?;
        let session = session_of(req)?;
        match crate::http::auth::platform::current(state, session).await? {
            Some(p) => Ok(Self(p)),
            None => Err(AppError::SignInRequired.into()),
        }
    }
}

/// A learner's launch of content on the content origin, which never sees their session: the
/// launch token in the path (`/run/:token`, `/content/:token/…`) verified as a content launch
/// that has not expired, and the trust it names. Anything else is not found.
pub struct LearnerLaunch {
    pub claims: crate::context::launch_token::Claims,
    pub site: Arc<Site>,
    /// The token as it came (the runtime page builds its commit and file addresses from it).
    pub token: String,
}

impl<'a> FromRequest<'a> for LearnerLaunch {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        use crate::context::launch_token::Purpose;
        let state = state_of(req)?;
        let token = req.raw_path_param("token").ok_or(AppError::NotFound)?.to_owned();
        let claims =
            state.launch.verify(&token, Purpose::Content, chrono::Utc::now().timestamp()).ok_or(AppError::NotFound)?;
        let site = state.directory.site_by_id(claims.tenant).ok_or(AppError::NotFound)?;
        Ok(Self { claims, site, token })
    }
}

/// What nearly every handler starts from: the request, the application's state and, on a
/// trust's site, the trust. `Ctx { req, state, site }: Ctx<'_>` in a handler's arguments.
pub struct Ctx<'a> {
    pub req: &'a Request,
    pub state: &'a AppState,
    /// The trust whose site this is (the platform's own pages have none: they do not use it).
    pub site: &'a Arc<Site>,
}

impl<'a> FromRequest<'a> for Ctx<'a> {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self { req, state: state_of(req)?, site: req.data::<Arc<Site>>().ok_or(AppError::NotFound)? })
    }
}
