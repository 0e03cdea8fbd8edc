//! Learners paying by card for their own enrolment, where the trust chose that.

use super::*;
use crate::usecases::market::checkout;
use trellis_db::states::ChargeStatus;
use trellis_db::states::EnrolmentStatus;

/// Opens the checkout for the learner's own enrolment that waits for payment.
#[handler]
pub async fn pay(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(cid): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    payments_available(state)?;
    let cid: CourseId = page::path_id(&cid)?;
    let e = trellis_db::learning::enrolment(&tx, me.person, cid)
        .await?
        .filter(|e| e.status == EnrolmentStatus::Payment)
        .ok_or(AppError::NotFound)?;
    let charge = mk::pending_for_enrolment(&tx, e.id).await?.ok_or(AppError::NotFound)?;
    let a = mk::adoption_for_course(&tx, cid).await?.ok_or(AppError::NotFound)?;
    let course = cat::course(&tx, cid).await?.ok_or(AppError::NotFound)?;
    let email = id::member_person(&tx, me.person).await?.map(|p| p.email);
    tx.commit().await?;
    let _ = req;
    let url = checkout::open(state, site, &charge, &a, &course.title, email, &format!("/courses/{cid}")).await?;
    Ok(see_other(&url))
}

#[derive(Debug, Deserialize, Default)]
pub struct DoneParams {
    #[serde(default)]
    charge: String,
}

/// Where a checkout returns: the payment is confirmed by Stripe's webhook, not by this visit.
#[handler]
pub async fn done(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Query(p): Query<DoneParams>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let charge: Option<ChargeId> = p.charge.parse().ok();
    let c = match charge {
        Some(c) => mk::charge(&tx, c).await?,
        None => None,
    };
    tx.commit().await?;
    let c = c.filter(|c| c.person == Some(me.person)).ok_or(AppError::NotFound)?;
    let (heading, body, link) = match (c.status, c.kind.as_str()) {
        (ChargeStatus::Paid, "seats") => ("Seats bought", format!("{} seats were added.", c.quantity), ("Back to the marketplace", "/marketplace".to_owned())),
        (ChargeStatus::Paid, _) => (
            "Payment received",
            "You are enrolled: the course is on My learning.".to_owned(),
            ("Download your receipt (PDF)", format!("/marketplace/charges/{}/receipt.pdf", c.id)),
        ),
        _ => (
            "Payment being confirmed",
            "Your payment is being confirmed. This page will show the result when you refresh it; you will not be charged twice.".to_owned(),
            ("Refresh", format!("/payments/done?charge={}", c.id)),
        ),
    };
    render(
        state,
        site,
        req,
        "pages/message.html",
        heading,
        &[("Home", "/")],
        json!({ "heading": heading, "body": body, "link": { "label": link.0, "href": link.1 } }),
        StatusCode::OK,
    )
}
