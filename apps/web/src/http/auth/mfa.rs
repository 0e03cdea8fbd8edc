//! TOTP (RFC 6238): 6 digits, 30-second steps, one step of clock skew either way.

use totp_rs::{Algorithm, Builder as TotpBuilder, Secret, Totp};

/// A new random secret, base32.
pub fn new_secret() -> String {
    Secret::from(rand::random::<[u8; 20]>().to_vec()).to_base32()
}

fn totp(secret_b32: &str, account: &str, issuer: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret_b32).ok()?;
    TotpBuilder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(account.replace(':', " "))
        .with_issuer(Some(issuer.replace(':', " ")))
        .build()
        .ok()
}

/// The `otpauth://` address an authenticator app reads.
pub fn otpauth_url(secret_b32: &str, account: &str, issuer: &str) -> Option<String> {
    totp(secret_b32, account, issuer)?.to_url().ok()
}

/// The time step `code` matches now, if any.
pub fn check(secret_b32: &str, code: &str) -> Option<i64> {
    let code: String = code.chars().filter(char::is_ascii_digit).collect();
    let now = u64::try_from(chrono::Utc::now().timestamp()).ok()?;
    totp(secret_b32, "x", "x")?.check(&code, now).and_then(|s| i64::try_from(s).ok())
}

/// Ten recovery codes, shown once, like `3f9a2-c41b7`.
pub fn recovery_codes() -> Vec<String> {
    (0..10)
        .map(|_| {
            let hex = hex::encode(rand::random::<[u8; 5]>());
            format!("{}-{}", &hex[..5], &hex[5..])
        })
        .collect()
}

/// Checks a second-step code for `person` whose TOTP secret is `secret`: a current TOTP code whose
/// time step has not been used before (each step works once), or else an unused recovery code
/// (spent by this check). Returns which it was, `totp` or `recovery_code`, or `None`.
pub async fn verify(
    itx: &trellis_db::identity::IdentityTx,
    person: trellis_domain::PersonId,
    secret: &str,
    code: &str,
) -> Result<Option<&'static str>, trellis_db::DbError> {
    use trellis_db::identity as id;
    Ok(match check(secret, code) {
        Some(step) if id::accept_mfa_step(itx, person, step).await? => Some("totp"),
        Some(_) => None, // a code already used
        None if id::use_recovery_code(itx, person, code).await? => Some("recovery_code"),
        None => None,
    })
}

/// The `otpauth://` address as a QR code, an SVG drawn here (no script, no outside service), for
/// an authenticator app's camera. `None` if the address is too long for a QR code.
pub fn qr_svg(otpauth: &str) -> Option<String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::with_error_correction_level(otpauth.as_bytes(), qrcode::EcLevel::M).ok()?;
    let drawn = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Inline in the page: without the XML declaration, and named for assistive technology.
    let start = drawn.find("<svg")?;
    Some(drawn[start..].replacen(
        "<svg",
        "<svg role=\"img\" aria-label=\"QR code of the key, for your authenticator app's camera\" class=\"trellis-qr\"",
        1,
    ))
}
