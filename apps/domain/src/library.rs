//! The resource library's rules: the kinds of resource, the licences a contributor may choose
//! (Creative Commons 4.0, CC0, or the platform's standard grant), what each kind of file may be
//! (by its content), who may contribute, and the content policy's version.

use serde::Serialize;

/// The content policy every contributor accepts before their first upload (and confirms with
/// each). A new version asks everyone again.
pub const CONTENT_POLICY_VERSION: &str = "2026-12";

/// What a resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Video,
    Audio,
    Document,
    Image,
    /// Text written on the form.
    Article,
    /// A web page elsewhere.
    Link,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 6] = [
        ResourceKind::Document,
        ResourceKind::Video,
        ResourceKind::Audio,
        ResourceKind::Image,
        ResourceKind::Article,
        ResourceKind::Link,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Video => "video",
            ResourceKind::Audio => "audio",
            ResourceKind::Document => "document",
            ResourceKind::Image => "image",
            ResourceKind::Article => "article",
            ResourceKind::Link => "link",
        }
    }

    /// What people call it.
    pub fn label(self) -> &'static str {
        match self {
            ResourceKind::Video => "Video",
            ResourceKind::Audio => "Audio",
            ResourceKind::Document => "Document",
            ResourceKind::Image => "Image",
            ResourceKind::Article => "Article",
            ResourceKind::Link => "Link to a web page",
        }
    }

    pub fn parse(s: &str) -> Option<ResourceKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether it is an uploaded file.
    pub fn has_file(self) -> bool {
        matches!(self, ResourceKind::Video | ResourceKind::Audio | ResourceKind::Document | ResourceKind::Image)
    }

    /// Whether a file whose content is `sniffed` (a MIME type read from its first bytes) may be
    /// this kind of resource. A file's name and the browser's word for it count for nothing.
    pub fn accepts(self, sniffed: &str) -> bool {
        match self {
            ResourceKind::Video => matches!(sniffed, "video/mp4" | "video/webm" | "video/quicktime"),
            ResourceKind::Audio => {
                matches!(sniffed, "audio/mpeg" | "audio/m4a" | "audio/mp4" | "audio/ogg" | "audio/x-wav" | "audio/wav")
            }
            ResourceKind::Document => matches!(
                sniffed,
                "application/pdf"
                    | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                    | "application/vnd.openxmlformats-officedocument.presentationml.presentation"
                    | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    | "application/vnd.oasis.opendocument.text"
            ),
            ResourceKind::Image => matches!(sniffed, "image/png" | "image/jpeg" | "image/gif" | "image/webp"),
            ResourceKind::Article | ResourceKind::Link => false,
        }
    }

    /// What the form says a file of this kind must be.
    pub fn file_rule(self) -> &'static str {
        match self {
            ResourceKind::Video => "The file must be a video in MP4 or WebM format",
            ResourceKind::Audio => "The file must be audio in MP3, M4A, Ogg or WAV format",
            ResourceKind::Document => "The file must be a PDF, Word, PowerPoint, Excel or OpenDocument file",
            ResourceKind::Image => "The file must be an image in PNG, JPEG, GIF or WebP format",
            ResourceKind::Article | ResourceKind::Link => "This kind of resource has no file",
        }
    }
}

/// The licence a resource is shared under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Licence {
    CcBy,
    CcBySa,
    CcByNc,
    CcByNcSa,
    CcByNd,
    CcByNcNd,
    Cc0,
    /// The platform's standard licence, set out in the content policy (`/library/policy`): use
    /// by staff of health and care organisations on the service, unchanged, for learning and
    /// teaching, with attribution.
    Platform,
}

impl Licence {
    pub const ALL: [Licence; 8] = [
        Licence::CcBy,
        Licence::CcBySa,
        Licence::CcByNc,
        Licence::CcByNcSa,
        Licence::CcByNd,
        Licence::CcByNcNd,
        Licence::Cc0,
        Licence::Platform,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Licence::CcBy => "cc-by",
            Licence::CcBySa => "cc-by-sa",
            Licence::CcByNc => "cc-by-nc",
            Licence::CcByNcSa => "cc-by-nc-sa",
            Licence::CcByNd => "cc-by-nd",
            Licence::CcByNcNd => "cc-by-nc-nd",
            Licence::Cc0 => "cc0",
            Licence::Platform => "platform",
        }
    }

    pub fn parse(s: &str) -> Option<Licence> {
        Self::ALL.into_iter().find(|l| l.code() == s)
    }

    /// Its short name, as Creative Commons writes it.
    pub fn short_name(self) -> &'static str {
        match self {
            Licence::CcBy => "CC BY 4.0",
            Licence::CcBySa => "CC BY-SA 4.0",
            Licence::CcByNc => "CC BY-NC 4.0",
            Licence::CcByNcSa => "CC BY-NC-SA 4.0",
            Licence::CcByNd => "CC BY-ND 4.0",
            Licence::CcByNcNd => "CC BY-NC-ND 4.0",
            Licence::Cc0 => "CC0 1.0",
            Licence::Platform => "Standard licence",
        }
    }

    /// Its full name.
    pub fn name(self) -> &'static str {
        match self {
            Licence::CcBy => "Creative Commons Attribution 4.0 International",
            Licence::CcBySa => "Creative Commons Attribution-ShareAlike 4.0 International",
            Licence::CcByNc => "Creative Commons Attribution-NonCommercial 4.0 International",
            Licence::CcByNcSa => "Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International",
            Licence::CcByNd => "Creative Commons Attribution-NoDerivatives 4.0 International",
            Licence::CcByNcNd => "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0 International",
            Licence::Cc0 => "Creative Commons CC0 1.0 Universal (public domain dedication)",
            Licence::Platform => "The platform's standard licence for shared content (see the content policy)",
        }
    }

    /// What it lets others do, in plain English.
    pub fn summary(self) -> &'static str {
        match self {
            Licence::CcBy => "Anyone may share and adapt it, for any purpose, if they credit the author.",
            Licence::CcBySa => {
                "Anyone may share and adapt it, for any purpose, if they credit the author and share adaptations under the same licence."
            }
            Licence::CcByNc => "Anyone may share and adapt it, not for commercial purposes, if they credit the author.",
            Licence::CcByNcSa => {
                "Anyone may share and adapt it, not for commercial purposes, if they credit the author and share adaptations under the same licence."
            }
            Licence::CcByNd => "Anyone may share it unchanged, for any purpose, if they credit the author.",
            Licence::CcByNcNd => {
                "Anyone may share it unchanged, not for commercial purposes, if they credit the author."
            }
            Licence::Cc0 => "The author has given up their rights: anyone may use it for any purpose.",
            Licence::Platform => {
                "Staff of health and care organisations using this service may use it for learning, crediting the author."
            }
        }
    }

    /// Where its deed (the human-readable summary) is: Creative Commons' site, or the platform's
    /// own terms.
    pub fn deed(self) -> &'static str {
        match self {
            Licence::CcBy => "https://creativecommons.org/licenses/by/4.0/",
            Licence::CcBySa => "https://creativecommons.org/licenses/by-sa/4.0/",
            Licence::CcByNc => "https://creativecommons.org/licenses/by-nc/4.0/",
            Licence::CcByNcSa => "https://creativecommons.org/licenses/by-nc-sa/4.0/",
            Licence::CcByNd => "https://creativecommons.org/licenses/by-nd/4.0/",
            Licence::CcByNcNd => "https://creativecommons.org/licenses/by-nc-nd/4.0/",
            Licence::Cc0 => "https://creativecommons.org/publicdomain/zero/1.0/",
            Licence::Platform => "/library/policy#standard-licence",
        }
    }

    /// Whether the author must be credited (every licence but CC0).
    pub fn needs_attribution(self) -> bool {
        self != Licence::Cc0
    }
}

/// Who may add resources to a trust's library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Contributors {
    /// Any approved member of the trust.
    Everyone,
    /// Content editors and training managers only (the default).
    Editors,
}

impl Contributors {
    pub fn as_str(self) -> &'static str {
        match self {
            Contributors::Everyone => "everyone",
            Contributors::Editors => "editors",
        }
    }

    pub fn parse(s: &str) -> Option<Contributors> {
        match s {
            "everyone" => Some(Contributors::Everyone),
            "editors" => Some(Contributors::Editors),
            _ => None,
        }
    }
}

/// Why someone reports a resource: (stored key, what the form says).
pub const REPORT_REASONS: &[(&str, &str)] = &[
    ("patient_data", "It contains patient-identifiable information"),
    ("copyright", "It breaks copyright or its licence is wrong"),
    ("wrong", "It is clinically wrong or out of date"),
    ("offensive", "It is offensive or inappropriate"),
    ("other", "Something else"),
];

/// Whether a file is a WebVTT captions file: it must begin `WEBVTT` (after an optional byte order
/// mark), followed by a space, a tab or a line end, and be UTF-8 text.
pub fn is_webvtt(bytes: &[u8]) -> bool {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Some(rest) = b.strip_prefix(b"WEBVTT") else { return false };
    matches!(rest.first(), None | Some(b' ' | b'\t' | b'\n' | b'\r')) && std::str::from_utf8(b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licences_round_trip_and_link_their_deeds() {
        for l in Licence::ALL {
            assert_eq!(Licence::parse(l.code()), Some(l));
            assert!(l.deed().starts_with("https://creativecommons.org/") || l == Licence::Platform);
        }
        assert_eq!(Licence::parse("cc-by-4.0"), None);
        assert_eq!(Licence::parse("gpl"), None);
        assert!(!Licence::Cc0.needs_attribution());
        assert_eq!(Licence::ALL.len(), 8);
    }

    #[test]
    fn kinds_accept_files_by_content() {
        assert!(ResourceKind::Document.accepts("application/pdf"));
        assert!(!ResourceKind::Document.accepts("image/png"));
        assert!(ResourceKind::Image.accepts("image/png"));
        assert!(!ResourceKind::Video.accepts(""));
        assert!(!ResourceKind::Link.accepts("application/pdf"));
        assert_eq!(ResourceKind::parse("image"), Some(ResourceKind::Image));
        assert_eq!(ResourceKind::parse("package"), None);
    }

    #[test]
    fn captions_must_be_webvtt() {
        assert!(is_webvtt(b"WEBVTT\n\n00:00.000 --> 00:01.000\nHello"));
        assert!(is_webvtt(b"\xEF\xBB\xBFWEBVTT - a title\n"));
        assert!(!is_webvtt(b"1\n00:00:00,000 --> 00:00:01,000\nSRT"));
        assert!(!is_webvtt(b"WEBVTTX"));
        assert!(!is_webvtt(b"WEBVTT\n\xff\xfe"));
    }
}
