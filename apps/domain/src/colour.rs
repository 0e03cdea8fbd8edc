//! Colours and the WCAG 2.2 contrast rule a trust's colour scheme must meet.

use std::fmt;

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

/// The page background of the default theme, against which links and accents are checked.
pub const PAGE_BACKGROUND: Rgb = Rgb { r: 0xf0, g: 0xf4, b: 0xf5 };
/// White, the background of cards and panels.
pub const WHITE: Rgb = Rgb { r: 0xff, g: 0xff, b: 0xff };

/// WCAG 2.2 AA minimum contrast for text (1.4.3).
pub const TEXT_CONTRAST: f64 = 4.5;
/// WCAG 2.2 AA minimum contrast for user-interface parts and graphics (1.4.11).
pub const NON_TEXT_CONTRAST: f64 = 3.0;

impl Rgb {
    /// Parses `#rrggbb` or `#rgb` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        let hex = s.strip_prefix('#')?;
        let digit = |i: usize, len: usize| u8::from_str_radix(hex.get(i..i + len)?, 16).ok();
        match hex.len() {
            6 => Some(Self { r: digit(0, 2)?, g: digit(2, 2)?, b: digit(4, 2)? }),
            3 => Some(Self { r: digit(0, 1)? * 17, g: digit(1, 1)? * 17, b: digit(2, 1)? * 17 }),
            _ => None,
        }
    }

    /// Relative luminance as WCAG defines it.
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * channel(self.r) + 0.7152 * channel(self.g) + 0.0722 * channel(self.b)
    }

    /// The contrast ratio between two colours, from 1 to 21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// The colour mixed with black by `amount` (0–1): a darker shade for borders and shadows.
    pub fn darken(self, amount: f64) -> Rgb {
        let keep = (1.0 - amount).clamp(0.0, 1.0);
        let f = |c: u8| (f64::from(c) * keep).round().clamp(0.0, 255.0) as u8;
        Rgb { r: f(self.r), g: f(self.g), b: f(self.b) }
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// A trust's colour scheme, as the per-trust stylesheet uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColourScheme {
    /// Header and primary button background.
    pub primary: Rgb,
    /// Text and icons on `primary`.
    pub on_primary: Rgb,
    /// Link text, on white and on the page background.
    pub link: Rgb,
    /// Decorative borders and stripes (non-text).
    pub accent: Rgb,
}

/// A pair of colours that fails its contrast minimum.
#[derive(Debug, Clone, PartialEq)]
pub struct ContrastFailure {
    /// The foreground field of the pair (e.g. `on_primary`).
    pub field: &'static str,
    /// The background field, when the background is a trust colour too (e.g. `primary`).
    pub against: Option<&'static str>,
    /// The pair's contrast ratio, to two decimals (as the message says it).
    pub ratio: f64,
    /// The minimum it needed.
    pub min: f64,
    /// A sentence naming the pair, its ratio and the minimum.
    pub message: String,
}

impl ColourScheme {
    /// NHS blue on white: what a trust gets if it declares nothing.
    pub const DEFAULT: ColourScheme = ColourScheme {
        primary: Rgb { r: 0x00, g: 0x5e, b: 0xb8 },
        on_primary: WHITE,
        link: Rgb { r: 0x00, g: 0x5e, b: 0xb8 },
        accent: Rgb { r: 0x00, g: 0x7f, b: 0x3b },
    };

    /// Checks every pair the theme draws against WCAG 2.2 AA; returns each failure.
    pub fn check(&self) -> Vec<ContrastFailure> {
        type Pair = (&'static str, Rgb, Option<&'static str>, &'static str, Rgb, f64, &'static str);
        let pairs: [Pair; 4] = [
            ("on_primary", self.on_primary, Some("primary"), "primary", self.primary, TEXT_CONTRAST, "text"),
            ("link", self.link, None, "the white background", WHITE, TEXT_CONTRAST, "text"),
            ("link", self.link, None, "the page background", PAGE_BACKGROUND, TEXT_CONTRAST, "text"),
            ("accent", self.accent, None, "the page background", PAGE_BACKGROUND, NON_TEXT_CONTRAST, "non-text parts"),
        ];
        pairs
            .into_iter()
            .filter_map(|(field, fg, against, bg_name, bg, min, kind)| {
                // Compare at the two decimals we report, so the message never says 4.50:1 < 4.5:1.
                let ratio = (fg.contrast(bg) * 100.0).floor() / 100.0;
                (ratio < min).then(|| ContrastFailure {
                    field,
                    against,
                    ratio,
                    min,
                    message: format!(
                        "{field} {fg} on {bg_name} {bg} has a contrast ratio of {ratio:.2}:1; WCAG 2.2 AA needs at least {min}:1 for {kind}"
                    ),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex() {
        assert_eq!(Rgb::parse("#005EB8"), Some(Rgb { r: 0, g: 0x5e, b: 0xb8 }));
        assert_eq!(Rgb::parse("#fff"), Some(WHITE));
        assert_eq!(Rgb::parse("005eb8"), None);
        assert_eq!(Rgb::parse("#12345"), None);
        assert_eq!(Rgb::parse("#gggggg"), None);
    }

    #[test]
    fn contrast_matches_known_values() {
        let black = Rgb { r: 0, g: 0, b: 0 };
        assert!((black.contrast(WHITE) - 21.0).abs() < 1e-9);
        // NHS blue on white is 6.38:1 by the WCAG formula.
        let nhs_blue = ColourScheme::DEFAULT.primary;
        assert!((nhs_blue.contrast(WHITE) - 6.38).abs() < 0.01);
        assert!(ColourScheme::DEFAULT.check().is_empty());
    }

    #[test]
    fn names_the_failing_pair_and_its_ratio() {
        let scheme = ColourScheme { primary: Rgb::parse("#7fb2e5").unwrap_or(WHITE), ..ColourScheme::DEFAULT };
        let failures = scheme.check();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].field, "on_primary");
        assert!(
            failures[0].message.starts_with("on_primary #ffffff on primary #7fb2e5 has a contrast ratio of 2."),
            "{}",
            failures[0].message
        );
        assert!(failures[0].message.ends_with("needs at least 4.5:1 for text"));
    }
}
