//! The marketplace's rules: money in pence, per-enrolment prices with volume tiers, the
//! platform's commission, how a trust pays for a listing, the ledger's double-entry lines, and
//! the verification of Stripe's webhook signatures.
//!
//! Money is integer pence with its currency, never floating point.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;

use crate::TenantId;

/// The one currency the marketplace sells in for now.
pub const CURRENCY: &str = "gbp";

/// `£1,234.50` from pence (negative amounts as `-£1.00`).
pub fn format_pence(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let p = pence.unsigned_abs();
    let pounds = (p / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in pounds.chars().enumerate() {
        if i > 0 && (pounds.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{sign}£{grouped}.{:02}", p % 100)
}

/// Pounds as typed (`45`, `45.5`, `£1,045.50`) to pence. `None` for anything else, negatives and
/// more than two decimal places included.
pub fn parse_pounds(text: &str) -> Option<i64> {
    let t: String = text.trim().trim_start_matches('£').chars().filter(|c| *c != ',').collect();
    if t.is_empty() || t.len() > 12 {
        return None;
    }
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 2 {
        return None;
    }
    let pounds: i64 = whole.parse().ok()?;
    let pence: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().ok()? };
    pounds.checked_mul(100)?.checked_add(pence)
}

/// A volume price: from the `from`-th enrolment (or seat) on, each costs `pence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub from: u32,
    pub pence: i64,
}

/// A listing's price: a base price per enrolment and optional volume tiers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Price {
    pub pence: i64,
    pub tiers: Vec<Tier>,
}

impl Price {
    /// The price of the `n`-th enrolment (1-based) in a period: the tier with the highest `from`
    /// not above `n`, else the base price.
    pub fn unit_for(&self, n: u32) -> i64 {
        self.tiers.iter().filter(|t| t.from <= n).max_by_key(|t| t.from).map_or(self.pence, |t| t.pence)
    }

    /// The cost of `quantity` seats bought at once: every seat at the unit price of the quantity.
    pub fn seats(&self, quantity: u32) -> i64 {
        self.unit_for(quantity).saturating_mul(i64::from(quantity))
    }

    /// Tiers as JSON for storage.
    pub fn tiers_json(&self) -> String {
        serde_json::to_string(&self.tiers).unwrap_or_else(|_| "[]".into())
    }

    /// Tiers read from storage (nothing if unreadable).
    pub fn with_tiers_json(pence: i64, json: &str) -> Price {
        Price { pence, tiers: serde_json::from_str(json).unwrap_or_default() }
    }
}

/// Tiers as a seller types them: `10: 40.00, 50: 35.00` (from how many, then the price in
/// pounds). Each must start above 1, be cheaper than the one before, and appear once.
pub fn parse_tiers(text: &str, base: i64) -> Result<Vec<Tier>, String> {
    let mut tiers: Vec<Tier> = Vec::new();
    for part in text.split([',', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let Some((from, price)) = part.split_once(':') else {
            return Err(format!("“{part}”: write a tier as “from how many: price”, for example “10: 40.00”."));
        };
        let from: u32 =
            from.trim().parse().map_err(|_| format!("“{part}”: “{}” is not a whole number.", from.trim()))?;
        if from < 2 {
            return Err(format!("“{part}”: a tier starts at 2 or more (the first enrolment is the base price)."));
        }
        let pence = parse_pounds(price).ok_or_else(|| format!("“{part}”: “{}” is not a price.", price.trim()))?;
        if tiers.iter().any(|t| t.from == from) {
            return Err(format!("“{part}”: there is already a tier from {from}."));
        }
        tiers.push(Tier { from, pence });
    }
    tiers.sort_by_key(|t| t.from);
    let mut last = base;
    for t in &tiers {
        if t.pence >= last {
            return Err(format!("The tier from {} must cost less than the price before it.", t.from));
        }
        last = t.pence;
    }
    Ok(tiers)
}

/// Tiers back as text for the form.
pub fn tiers_text(tiers: &[Tier]) -> String {
    tiers
        .iter()
        .map(|t| format!("{}: {}", t.from, format_pence(t.pence).trim_start_matches('£')))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The platform's commission on `amount` at `bps` basis points (1% = 100), rounded half up.
pub fn commission(amount: i64, bps: u32) -> i64 {
    let v = i128::from(amount) * i128::from(bps);
    let fee = (v + 5_000).div_euclid(10_000);
    i64::try_from(fee).unwrap_or(i64::MAX)
}

/// How a trust pays for a listing it adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Funding {
    /// Each approved enrolment is one item on the trust's monthly bill.
    Billed,
    /// Seats bought ahead by card; each enrolment takes one.
    Prepaid,
    /// The learner pays by card when enrolling.
    Learner,
}

impl Funding {
    pub fn as_str(self) -> &'static str {
        match self {
            Funding::Billed => "billed",
            Funding::Prepaid => "prepaid",
            Funding::Learner => "learner",
        }
    }

    pub fn parse(s: &str) -> Option<Funding> {
        match s {
            "billed" => Some(Funding::Billed),
            "prepaid" => Some(Funding::Prepaid),
            "learner" => Some(Funding::Learner),
            _ => None,
        }
    }
}

/// A listing as a seller submits it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingInput {
    pub title: String,
    pub summary: String,
    pub price: Price,
    pub licence_days: i32,
    pub preview: String,
    pub preview_url: Option<String>,
}

/// What a seller typed into the listing form.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListingForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub tiers: String,
    #[serde(default)]
    pub licence_days: String,
    #[serde(default)]
    pub preview: String,
    #[serde(default)]
    pub preview_url: String,
}

/// Checks a listing form: the input, or an error per field (field name → message).
pub fn check_listing(f: &ListingForm) -> Result<ListingInput, BTreeMap<&'static str, String>> {
    let mut errors = BTreeMap::new();
    let title = f.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        errors.insert("title", "Enter a title of up to 200 characters.".into());
    }
    let summary = f.summary.trim().to_owned();
    if summary.chars().count() > 500 {
        errors.insert("summary", "Keep the summary to 500 characters.".into());
    }
    let pence = parse_pounds(&f.price);
    match pence {
        None => {
            errors.insert("price", "Enter the price per enrolment in pounds, for example 45.00.".into());
        }
        Some(p) if !(30..=10_000_000).contains(&p) => {
            errors.insert("price", "A price is between £0.30 (Stripe's smallest charge) and £100,000.".into());
        }
        Some(_) => {}
    }
    let tiers = match parse_tiers(&f.tiers, pence.unwrap_or(i64::MAX)) {
        Ok(t) if t.iter().all(|t| t.pence >= 30) => t,
        Ok(_) => {
            errors.insert("tiers", "A tier's price is at least £0.30.".into());
            Vec::new()
        }
        Err(e) => {
            errors.insert("tiers", e);
            Vec::new()
        }
    };
    let licence_days = match f.licence_days.trim().parse::<i32>() {
        Ok(d) if (1..=3650).contains(&d) => d,
        _ => {
            errors.insert("licence_days", "Enter how many days an enrolment lasts, from 1 to 3650.".into());
            0
        }
    };
    let preview = f.preview.trim().to_owned();
    if preview.chars().count() > 5000 {
        errors.insert("preview", "Keep the preview to 5,000 characters.".into());
    }
    let preview_url = Some(f.preview_url.trim().to_owned()).filter(|u| !u.is_empty());
    if let Some(u) = &preview_url
        && (url::Url::parse(u).map(|u| u.scheme() != "https").unwrap_or(true) || u.len() > 2000)
    {
        errors.insert("preview_url", "A preview link starts with https:// and is at most 2,000 characters.".into());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ListingInput {
        title,
        summary,
        price: Price { pence: pence.unwrap_or(0), tiers },
        licence_days,
        preview,
        preview_url,
    })
}

/// A ledger account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Account {
    /// What a trust spent on courses (debits).
    Spend,
    /// What a seller earned, net of commission (credits).
    Earnings,
    /// The platform's commission (credits).
    Commission,
    /// Money paid out to a seller (debits its earnings).
    PaidOut,
}

impl Account {
    pub fn as_str(self) -> &'static str {
        match self {
            Account::Spend => "spend",
            Account::Earnings => "earnings",
            Account::Commission => "commission",
            Account::PaidOut => "paid_out",
        }
    }
}

/// One line of a ledger transaction: a debit when positive, a credit when negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub owner: TenantId,
    pub account: Account,
    pub pence: i64,
}

/// The lines of a sale of `amount` with `fee` commission: the buyer's spend, the seller's
/// earnings, the platform's commission. They sum to zero.
pub fn sale_lines(buyer: TenantId, seller: TenantId, amount: i64, fee: i64) -> Vec<Line> {
    vec![
        Line { owner: buyer, account: Account::Spend, pence: amount },
        Line { owner: seller, account: Account::Earnings, pence: -(amount - fee) },
        Line { owner: TenantId::PLATFORM, account: Account::Commission, pence: -fee },
    ]
}

/// The lines that undo a sale (a refund): each of [`sale_lines`] negated.
pub fn refund_lines(buyer: TenantId, seller: TenantId, amount: i64, fee: i64) -> Vec<Line> {
    sale_lines(buyer, seller, amount, fee).into_iter().map(|l| Line { pence: -l.pence, ..l }).collect()
}

/// The lines of a payout of `net` to a seller: what it is owed becomes what it was paid.
pub fn payout_lines(seller: TenantId, net: i64) -> Vec<Line> {
    vec![
        Line { owner: seller, account: Account::Earnings, pence: net },
        Line { owner: seller, account: Account::PaidOut, pence: -net },
    ]
}

/// Whether the lines balance (sum to zero) and there is at least one.
pub fn balanced(lines: &[Line]) -> bool {
    !lines.is_empty() && lines.iter().map(|l| i128::from(l.pence)).sum::<i128>() == 0
}

/// Why a webhook signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header, or one without a timestamp")]
    Malformed,
    #[error("no v1 signature in the Stripe-Signature header")]
    NoSignature,
    #[error("no v1 signature matches the payload")]
    Mismatch,
    #[error("the signature's timestamp is outside the tolerance")]
    Expired,
    #[error("the signature's timestamp is more than the tolerance ahead of this server's clock")]
    FromTheFuture,
}

/// How old a signed event may be, as Stripe's libraries default to.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(payload);
    Some(m)
}

/// Verifies a `Stripe-Signature` header as Stripe specifies: the header's `t` and every `v1`
/// value (other schemes ignored); HMAC-SHA256 of `"{t}.{payload}"` keyed by the endpoint's
/// secret, compared in constant time with each `v1`; refused if `t` is more than `tolerance`
/// seconds before `now`.
pub fn verify_signature(
    payload: &[u8],
    header: &str,
    secret: &str,
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    let mut timestamp: Option<i64> = None;
    let mut v1: Vec<Vec<u8>> = Vec::new();
    for item in header.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else { continue };
        match k {
            "t" => timestamp = v.parse().ok(),
            "v1" => {
                if let Ok(bytes) = hex::decode(v) {
                    v1.push(bytes);
                }
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let m = mac(secret, t, payload).ok_or(SignatureError::Mismatch)?;
    if !v1.iter().any(|sig| m.clone().verify_slice(sig).is_ok()) {
        return Err(SignatureError::Mismatch);
    }
    if t < now - tolerance {
        return Err(SignatureError::Expired);
    }
    // Stripe checks only that a delivery is not too old; a timestamp from the future is refused
    // as well (our own rule: nothing legitimate is signed ahead of time, so a far-future stamp
    // could only be a replay kept for later).
    if t > now + tolerance {
        return Err(SignatureError::FromTheFuture);
    }
    Ok(())
}

/// A `Stripe-Signature` header for `payload` at `timestamp`, as Stripe sends it (for the local
/// test mode and tests).
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let sig = mac(secret, timestamp, payload).map(|m| hex::encode(m.finalize().into_bytes())).unwrap_or_default();
    format!("t={timestamp},v1={sig}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pounds_and_pence() {
        assert_eq!(parse_pounds("45"), Some(4500));
        assert_eq!(parse_pounds("£1,045.5"), Some(104_550));
        assert_eq!(parse_pounds("0.07"), Some(7));
        assert_eq!(parse_pounds("1.234"), None);
        assert_eq!(parse_pounds("-1"), None);
        assert_eq!(parse_pounds("ten"), None);
        assert_eq!(parse_pounds(""), None);
        assert_eq!(format_pence(123_456_789), "£1,234,567.89");
        assert_eq!(format_pence(-5), "-£0.05");
        assert_eq!(format_pence(4500), "£45.00");
    }

    #[test]
    fn tiers_choose_the_highest_reached() {
        let tiers = parse_tiers("50: 30, 10: 40.00", 4500).unwrap();
        assert_eq!(tiers, vec![Tier { from: 10, pence: 4000 }, Tier { from: 50, pence: 3000 }]);
        let p = Price { pence: 4500, tiers };
        assert_eq!(p.unit_for(1), 4500);
        assert_eq!(p.unit_for(9), 4500);
        assert_eq!(p.unit_for(10), 4000);
        assert_eq!(p.unit_for(500), 3000);
        assert_eq!(p.seats(10), 40_000);
        assert!(parse_tiers("10: 50", 4500).is_err(), "a tier dearer than the base");
        assert!(parse_tiers("1: 40", 4500).is_err());
        assert!(parse_tiers("10 40", 4500).is_err());
        assert!(parse_tiers("10: 40, 10: 30", 4500).is_err());
        assert_eq!(Price::with_tiers_json(4500, &p.tiers_json()), p);
        assert_eq!(tiers_text(&p.tiers), "10: 40.00, 50: 30.00");
    }

    #[test]
    fn commission_rounds_half_up_and_lines_balance() {
        assert_eq!(commission(4500, 1500), 675);
        assert_eq!(commission(333, 1500), 50); // 49.95
        assert_eq!(commission(1, 5000), 1); // 0.5
        assert_eq!(commission(0, 1500), 0);
        let buyer = TenantId::new();
        let seller = TenantId::new();
        let sale = sale_lines(buyer, seller, 4500, 675);
        assert!(balanced(&sale));
        assert!(balanced(&refund_lines(buyer, seller, 4500, 675)));
        assert!(balanced(&payout_lines(seller, 3825)));
        assert!(!balanced(&[]));
    }

    #[test]
    fn listing_form_errors_name_fields() {
        let f = ListingForm {
            title: "".into(),
            price: "0.10".into(),
            tiers: "3: x".into(),
            licence_days: "0".into(),
            preview_url: "http://x".into(),
            ..ListingForm::default()
        };
        let e = check_listing(&f).unwrap_err();
        for k in ["title", "price", "tiers", "licence_days", "preview_url"] {
            assert!(e.contains_key(k), "{k}: {e:?}");
        }
        let ok = check_listing(&ListingForm {
            title: "Sepsis".into(),
            price: "45".into(),
            tiers: "10: 40".into(),
            licence_days: "365".into(),
            ..ListingForm::default()
        })
        .unwrap();
        assert_eq!(ok.price.unit_for(10), 4000);
    }

    #[test]
    fn signatures_as_stripe_specifies() {
        let body = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
        let secret = "whsec_test";
        let t = 1_700_000_000;
        let header = sign(body, secret, t);
        assert_eq!(verify_signature(body, &header, secret, t + 10, 300), Ok(()));
        // Several v1 values (a secret being rolled): any one may match; other schemes ignored.
        let sig = header.split("v1=").nth(1).unwrap();
        let several = format!("t={t},v1={},v0=abc,v1={sig}", "00".repeat(32));
        assert_eq!(verify_signature(body, &several, secret, t, 300), Ok(()));
        assert_eq!(verify_signature(body, &header, "whsec_other", t, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature(b"{}", &header, secret, t, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature(body, &header, secret, t + 301, 300), Err(SignatureError::Expired));
        assert_eq!(verify_signature(body, &header, secret, t - 301, 300), Err(SignatureError::FromTheFuture));
        assert_eq!(verify_signature(body, &header, secret, t - 300, 300), Ok(()));
        assert_eq!(verify_signature(body, &format!("t={t}"), secret, t, 300), Err(SignatureError::NoSignature));
        assert_eq!(verify_signature(body, &format!("v1={sig}"), secret, t, 300), Err(SignatureError::Malformed));
        assert_eq!(verify_signature(body, "", secret, t, 300), Err(SignatureError::Malformed));
        // A changed timestamp breaks the signature.
        let moved = header.replace(&format!("t={t}"), &format!("t={}", t + 1));
        assert_eq!(verify_signature(body, &moved, secret, t, 300), Err(SignatureError::Mismatch));
    }
}
