//! The per-trust stylesheet: a trust's colours as CSS custom properties, so one set of templates
//! and one main stylesheet serve every trust, with no inline styles.

use sha2::{Digest, Sha256};
use trellis_domain::colour::ColourScheme;

/// The stylesheet and its content hash (for a cache-busting URL).
pub fn stylesheet(c: &ColourScheme) -> (String, String) {
    let css = format!(
        ":root {{\n  --trellis-primary: {};\n  --trellis-on-primary: {};\n  --trellis-primary-dark: {};\n  --trellis-link: {};\n  --trellis-accent: {};\n}}\n",
        c.primary,
        c.on_primary,
        c.primary.darken(0.3),
        c.link,
        c.accent
    );
    let hash = hex::encode(Sha256::digest(css.as_bytes()))[..12].to_owned();
    (css, hash)
}
