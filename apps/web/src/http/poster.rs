//! A4 posters in a trust's branding (the marketing pack, issue 22): a band in the trust's primary
//! colour with its name and logo, a headline, a few lines of text, and a QR code to its portal
//! with the address written under it. Tagged PDF (PDF/UA-1 where it validates), DejaVu Sans, built with
//! krilla like the other PDFs.

use krilla::color::rgb;
use krilla::configure::{Accessibility, ConfigurationBuilder, Validator};
use krilla::destination::XyzDestination;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::outline::{Outline, OutlineNode};
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::tagging::{Artifact, ArtifactType, ContentTag, SpanTag, Tag, TagGroup, TagTree};
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};
use std::num::NonZeroU16;
use trellis_domain::colour::Rgb;

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;

/// What a poster says.
#[derive(Debug, Clone)]
pub struct Poster<'a> {
    pub trust: &'a str,
    pub headline: &'a str,
    pub lines: &'a [String],
    /// The address the QR code opens (written under it too).
    pub url: &'a str,
    pub primary: Rgb,
    pub on_primary: Rgb,
    /// The trust's logo, drawn in the band beside its name.
    pub logo: Option<Logo<'a>>,
}

/// A trust's logo as stored: a sanitised SVG or a PNG.
#[derive(Debug, Clone, Copy)]
pub struct Logo<'a> {
    pub bytes: &'a [u8],
    pub svg: bool,
}

/// The largest box the logo is fitted into, in points.
const LOGO_BOX: (f32, f32) = (120.0, 90.0);

/// Fits `(w, h)` into [`LOGO_BOX`], keeping its shape.
fn fitted(w: f32, h: f32) -> Option<(f32, f32)> {
    if !(w > 0.0 && h > 0.0) {
        return None;
    }
    let k = (LOGO_BOX.0 / w).min(LOGO_BOX.1 / h);
    Some((w * k, h * k))
}

/// Draws the logo with its top right corner at `(right, top)`; its width, or `None` if it could
/// not be read (the poster is then made without it).
fn draw_logo(s: &mut Surface, logo: Logo<'_>, right: f32, top: f32) -> Option<f32> {
    use krilla::geom::{Size, Transform};
    if logo.svg {
        let tree = usvg::Tree::from_data(logo.bytes, &usvg::Options::default()).ok()?;
        let (w, h) = fitted(tree.size().width(), tree.size().height())?;
        s.push_transform(&Transform::from_translate(right - w, top));
        let drawn =
            krilla_svg::SurfaceExt::draw_svg(s, &tree, Size::from_wh(w, h)?, krilla_svg::SvgSettings::default());
        s.pop();
        drawn.map(|_| w)
    } else {
        let image = krilla::image::Image::from_png(logo.bytes.to_vec().into(), true).ok()?;
        let (iw, ih) = image.size();
        let (w, h) = fitted(iw as f32, ih as f32)?;
        s.push_transform(&Transform::from_translate(right - w, top));
        s.draw_image(image, Size::from_wh(w, h)?);
        s.pop();
        Some(w)
    }
}

/// The poster as a PDF (empty only if no PDF at all could be made).
pub fn poster(p: &Poster<'_>) -> Vec<u8> {
    draw(p, true).or_else(|_| draw(p, false)).unwrap_or_default()
}

fn colour(c: Rgb) -> Fill {
    Fill { paint: rgb::Color::new(c.r, c.g, c.b).into(), ..Default::default() }
}

fn rect(s: &mut Surface, x: f32, y: f32, w: f32, h: f32, fill: Fill) {
    let mut pb = PathBuilder::new();
    if let Some(r) = Rect::from_xywh(x, y, w, h) {
        pb.push_rect(r);
    }
    if let Some(path) = pb.finish() {
        s.set_fill(Some(fill));
        s.draw_path(&path);
    }
}

/// Words wrapped to lines no wider than `max` points at `size`.
fn wrap(text: &str, size: f32, max: f32) -> Vec<String> {
    let width = |t: &str| t.chars().count() as f32 * size * 0.55;
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let next = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if width(&next) > max && !line.is_empty() {
            out.push(std::mem::replace(&mut line, word.to_owned()));
        } else {
            line = next;
        }
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

fn draw(p: &Poster<'_>, pdf_ua: bool) -> Result<Vec<u8>, String> {
    let font = Font::new(dejavu::sans::regular().into(), 0).ok_or("cannot parse font")?;
    let bold = Font::new(dejavu::sans::bold().into(), 0).unwrap_or_else(|| font.clone());
    let mut settings = SerializeSettings::default();
    if pdf_ua {
        settings.configuration = ConfigurationBuilder::new()
            .set_validator(Validator::Ua(Accessibility::UA1))
            .finish()
            .map_err(|e| format!("{e:?}"))?;
    }
    let mut doc = Document::new_with(settings);
    let title = format!("{}: {}", p.trust, p.headline);
    doc.set_metadata(Metadata::new().title(title.clone()).language("en-GB".into()).creator("Trellis".into()));
    let mut tree = TagTree::new().with_lang(Some("en-GB".to_string()));
    let mut page = doc.start_page();
    let mut s = page.surface();
    let text_fill = Fill { paint: rgb::Color::black().into(), ..Default::default() };

    // The band: the trust's colour, its logo (an artifact: its name is written beside it) and its
    // name in the colour meant for text on it.
    s.start_tagged(ContentTag::Artifact(Artifact::with_kind(ArtifactType::Layout)));
    rect(&mut s, 0.0, 0.0, PAGE_W, 150.0, colour(p.primary));
    let logo_w = p.logo.and_then(|l| draw_logo(&mut s, l, PAGE_W - MARGIN, 30.0)).map_or(0.0, |w| w + 20.0);
    s.end_tagged();
    let mut y = 70.0;
    for line in wrap(p.trust, 22.0, PAGE_W - 2.0 * MARGIN - logo_w) {
        let id = s.start_tagged(ContentTag::Span(SpanTag::empty()));
        s.set_fill(Some(colour(p.on_primary)));
        s.draw_text(Point::from_xy(MARGIN, y), bold.clone(), 22.0, &line, false, TextDirection::Auto);
        s.end_tagged();
        let mut para = TagGroup::new(Tag::P);
        para.push(id);
        tree.push(para);
        y += 28.0;
    }

    // The headline and the lines.
    y = 220.0;
    let mut h1 = TagGroup::new(Tag::Hn(NonZeroU16::MIN, Some(p.headline.to_string())));
    for line in wrap(p.headline, 34.0, PAGE_W - 2.0 * MARGIN) {
        let id = s.start_tagged(ContentTag::Span(SpanTag::empty()));
        s.set_fill(Some(text_fill.clone()));
        s.draw_text(Point::from_xy(MARGIN, y), bold.clone(), 34.0, &line, false, TextDirection::Auto);
        s.end_tagged();
        h1.push(id);
        y += 42.0;
    }
    tree.push(h1);
    y += 10.0;
    for text in p.lines {
        let mut para = TagGroup::new(Tag::P);
        for line in wrap(text, 16.0, PAGE_W - 2.0 * MARGIN) {
            let id = s.start_tagged(ContentTag::Span(SpanTag::empty()));
            s.set_fill(Some(text_fill.clone()));
            s.draw_text(Point::from_xy(MARGIN, y), font.clone(), 16.0, &line, false, TextDirection::Auto);
            s.end_tagged();
            para.push(id);
            y += 22.0;
        }
        tree.push(para);
        y += 8.0;
    }

    // The QR code (drawn as squares, an artifact: the address is written under it as text).
    if let Ok(code) = qrcode::QrCode::with_error_correction_level(p.url.as_bytes(), qrcode::EcLevel::M) {
        let n = code.width();
        let module = 180.0 / (n as f32 + 8.0);
        let (left, top) = (MARGIN, PAGE_H - MARGIN - 260.0);
        s.start_tagged(ContentTag::Artifact(Artifact::with_kind(ArtifactType::Layout)));
        rect(
            &mut s,
            left,
            top,
            module * (n as f32 + 8.0),
            module * (n as f32 + 8.0),
            colour(Rgb { r: 255, g: 255, b: 255 }),
        );
        let colours = code.to_colors();
        for (i, c) in colours.iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (x, yy) = ((i % n) as f32, (i / n) as f32);
                rect(
                    &mut s,
                    left + (x + 4.0) * module,
                    top + (yy + 4.0) * module,
                    module,
                    module,
                    colour(Rgb { r: 0, g: 0, b: 0 }),
                );
            }
        }
        s.end_tagged();
        let mut para = TagGroup::new(Tag::P);
        for (k, line) in ["Scan the code or go to".to_owned(), p.url.to_owned()].iter().enumerate() {
            let id = s.start_tagged(ContentTag::Span(SpanTag::empty()));
            s.set_fill(Some(text_fill.clone()));
            let face = if k == 1 { bold.clone() } else { font.clone() };
            s.draw_text(
                Point::from_xy(left + 200.0, top + 80.0 + 24.0 * k as f32),
                face,
                14.0,
                line,
                false,
                TextDirection::Auto,
            );
            s.end_tagged();
            para.push(id);
        }
        tree.push(para);
    }
    s.finish();
    page.finish();
    doc.set_tag_tree(tree);
    let mut outline = Outline::new();
    outline.push_child(OutlineNode::new(title, XyzDestination::new(0, Point::from_xy(0.0, 0.0))));
    doc.set_outline(outline);
    doc.finish().map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn with_logo(logo: Option<Logo<'_>>) -> Vec<u8> {
        poster(&Poster {
            trust: "Northmoor Teaching Hospitals NHS Foundation Trust",
            headline: "Make time to learn",
            lines: &["Agree protected learning time.".to_owned()],
            url: "https://northmoor.example/",
            primary: Rgb { r: 0, g: 48, b: 135 },
            on_primary: Rgb { r: 255, g: 255, b: 255 },
            logo,
        })
    }

    /// The images in a PDF, as poppler's pdfimages lists them (one line each).
    fn images(pdf: &[u8]) -> usize {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.pdf"), pdf).unwrap();
        let out = std::process::Command::new("pdfimages")
            .arg("-list")
            .arg(dir.path().join("p.pdf"))
            .output()
            .expect("pdfimages (poppler-utils)");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).lines().skip(2).count()
    }

    #[test]
    fn a_png_logo_is_drawn_and_an_unreadable_one_is_left_out() {
        let png = base64::engine::general_purpose::STANDARD
            .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
            .unwrap();
        let pdf = with_logo(Some(Logo { bytes: &png, svg: false }));
        assert!(pdf.starts_with(b"%PDF"));
        assert!(images(&pdf) >= 1, "the PNG is in the poster (with its soft mask)");
        assert_eq!(images(&with_logo(None)), 0);
        // Not a PNG, or an SVG that is not one: the poster is made without a logo.
        for broken in [Logo { bytes: b"not a png", svg: false }, Logo { bytes: b"<svg", svg: true }] {
            let pdf = with_logo(Some(broken));
            assert!(pdf.starts_with(b"%PDF") && images(&pdf) == 0);
        }
    }
}
