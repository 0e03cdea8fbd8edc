//! Statements and receipts as PDF: A4, DejaVu Sans embedded, tagged (PDF/UA-1 where the text
//! allows, else a plain tagged PDF), en-GB, a title, lines of text and a table whose header row
//! repeats on each page. Built with krilla (pure Rust).
use std::num::NonZeroU16;

use krilla::color::rgb;
use krilla::configure::{Accessibility, ConfigurationBuilder, Validator};
use krilla::destination::XyzDestination;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::outline::{Outline, OutlineNode};
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::tagging::{
    Artifact, ArtifactType, ContentTag, Identifier, SpanTag, TableHeaderScope, Tag, TagGroup, TagTree,
};
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};

// A4 in PDF points; krilla's origin is top-left, y grows downwards, and the
// y of draw_text is the text *baseline*.
const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;
const TITLE_SIZE: f32 = 18.0;
const TEXT_SIZE: f32 = 11.0;
const TABLE_SIZE: f32 = 9.5;
const LINE_GAP: f32 = 15.0;
const ROW_GAP: f32 = 14.0;
/// Left edges of the table columns ("date | course | learner | amount").
/// Other column counts are spread evenly over the text width instead.
const COL_X: [f32; 4] = [MARGIN, 125.0, 330.0, 470.0];

/// A PDF of `title`, `lines` and the table `rows` (`rows[0]` the header). Never fails: tries a
/// PDF/UA-1-validated document first, falls back to a plain tagged one (e.g. if
/// some character is missing from the font), and finally to an empty Vec.
pub fn pdf(title: &str, lines: &[String], rows: &[Vec<String>]) -> Vec<u8> {
    try_pdf(title, lines, rows, true).or_else(|_| try_pdf(title, lines, rows, false)).unwrap_or_default()
}

/// Like [`pdf`], with the table starting on page 2: page 1 is the title and lines alone (a
/// certificate, then its course summary).
pub fn pdf_table_overleaf(title: &str, lines: &[String], rows: &[Vec<String>]) -> Vec<u8> {
    layout(title, lines, rows, true, true).or_else(|_| layout(title, lines, rows, false, true)).unwrap_or_default()
}

/// A PDF download, made off the async threads (laying out a long document takes a while).
pub async fn response(
    title: String,
    lines: Vec<String>,
    rows: Vec<Vec<String>>,
    file: &str,
) -> Result<poem::Response, crate::error::AppError> {
    respond(title, lines, rows, file, false).await
}

/// [`response`] with the table overleaf (see [`pdf_table_overleaf`]).
pub async fn response_overleaf(
    title: String,
    lines: Vec<String>,
    rows: Vec<Vec<String>>,
    file: &str,
) -> Result<poem::Response, crate::error::AppError> {
    respond(title, lines, rows, file, true).await
}

async fn respond(
    title: String,
    lines: Vec<String>,
    rows: Vec<Vec<String>>,
    file: &str,
    overleaf: bool,
) -> Result<poem::Response, crate::error::AppError> {
    use crate::error::AppError;
    let bytes = tokio::task::spawn_blocking(move || {
        if overleaf { pdf_table_overleaf(&title, &lines, &rows) } else { pdf(&title, &lines, &rows) }
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("pdf: {e}")))?;
    if bytes.is_empty() {
        return Err(AppError::Internal(anyhow::anyhow!("pdf: the document could not be made")));
    }
    Ok(poem::Response::builder()
        .content_type("application/pdf")
        .header("content-disposition", format!("attachment; filename=\"{file}\""))
        .header("cache-control", "no-store")
        .body(poem::Body::from(bytes)))
}

/// `rows[0]` is the table header (repeated on every page); the rest are data.
pub fn try_pdf(title: &str, lines: &[String], rows: &[Vec<String>], pdf_ua: bool) -> Result<Vec<u8>, String> {
    layout(title, lines, rows, pdf_ua, false)
}

fn layout(
    title: &str,
    lines: &[String],
    rows: &[Vec<String>],
    pdf_ua: bool,
    table_overleaf: bool,
) -> Result<Vec<u8>, String> {
    let font = Font::new(dejavu::sans::regular().into(), 0).ok_or("cannot parse font")?;

    let mut settings = SerializeSettings::default(); // enable_tagging is already true
    if pdf_ua {
        settings.configuration = ConfigurationBuilder::new()
            .set_validator(Validator::Ua(Accessibility::UA1))
            .finish()
            .map_err(|e| format!("{e:?}"))?;
    }
    let mut doc = Document::new_with(settings);
    doc.set_metadata(
        Metadata::new().title(title.to_string()).language("en-GB".to_string()).creator("Trellis".to_string()),
    );

    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let lefts = column_lefts(rows, ncols);
    let col_x = |i: usize| -> f32 {
        match COL_X.get(i) {
            Some(x) if ncols == COL_X.len() => *x,
            _ => lefts.get(i).copied().unwrap_or(PAGE_W - MARGIN),
        }
    };
    let col_right = |i: usize| if i + 1 < ncols { col_x(i + 1) - 6.0 } else { PAGE_W - MARGIN };

    let mut tree = TagTree::new().with_lang(Some("en-GB".to_string()));
    let mut thead = TagGroup::new(Tag::THead);
    let mut tbody = TagGroup::new(Tag::TBody);
    let bottom = PAGE_H - MARGIN - 20.0; // leave room for the page number
    let (header, body) = match rows.split_first() {
        Some((h, b)) => (Some(h), b),
        None => (None, rows),
    };

    let mut page_no = 0usize;
    let mut next_line = 0usize;
    let mut next_row = 0usize;
    let mut title_done = false;
    // Always emit at least one page, then keep going while content remains.
    while page_no == 0
        || next_line < lines.len()
        || next_row < body.len()
        || (header.is_some() && thead.children.is_empty())
    {
        page_no += 1;
        let mut page = doc.start_page(); // PageSettings::default() is A4 (595x842)
        let mut s = page.surface();
        let mut y = MARGIN + TITLE_SIZE;

        if !title_done {
            let id = text(&mut s, &font, MARGIN, y, TITLE_SIZE, title);
            let mut h1 = TagGroup::new(Tag::Hn(NonZeroU16::MIN, Some(title.to_string())));
            h1.push(id);
            tree.push(h1);
            title_done = true;
            y += TITLE_SIZE + 8.0;
        }
        while let Some(line) = lines.get(next_line).filter(|_| y <= bottom) {
            let id = text(&mut s, &font, MARGIN, y, TEXT_SIZE, line);
            let mut p = TagGroup::new(Tag::P);
            p.push(id);
            tree.push(p);
            next_line += 1;
            y += LINE_GAP;
        }
        let header_pending = header.is_some() && thead.children.is_empty();
        let table_pending = header_pending || next_row < body.len();
        // Start the table only if the header plus one row fit; else next page.
        if next_line == lines.len()
            && table_pending
            && !(table_overleaf && page_no == 1)
            && y + 8.0 + 2.0 * ROW_GAP <= bottom
        {
            y += 8.0;
            if let Some(h) = header {
                // Real header once (tagged TH); later pages repeat it as an artifact.
                let first = thead.children.is_empty();
                let mut tr = TagGroup::new(Tag::TR);
                for (i, cell) in h.iter().enumerate() {
                    if first {
                        let id = cell_text(&mut s, &font, col_x(i), col_right(i), y, cell);
                        let mut th = TagGroup::new(Tag::TH(TableHeaderScope::Column));
                        th.push(id);
                        tr.push(th);
                    } else {
                        let header_artifact = Artifact::with_kind(ArtifactType::Header);
                        s.start_tagged(ContentTag::Artifact(header_artifact));
                        draw_cell(&mut s, &font, col_x(i), col_right(i), y, cell);
                        s.end_tagged();
                    }
                }
                if first {
                    thead.push(tr);
                }
                rule(&mut s, y + 4.0);
                y += ROW_GAP + 2.0;
            }
            while let Some(row) = body.get(next_row).filter(|_| y <= bottom) {
                let mut tr = TagGroup::new(Tag::TR);
                for (i, cell) in row.iter().enumerate() {
                    let id = cell_text(&mut s, &font, col_x(i), col_right(i), y, cell);
                    let mut td = TagGroup::new(Tag::TD);
                    td.push(id);
                    tr.push(td);
                }
                tbody.push(tr);
                next_row += 1;
                y += ROW_GAP;
            }
        }

        s.start_tagged(ContentTag::Artifact(Artifact::with_kind(ArtifactType::PageNumber)));
        s.draw_text(
            Point::from_xy(PAGE_W - MARGIN - 40.0, PAGE_H - MARGIN),
            font.clone(),
            8.0,
            &format!("Page {page_no}"),
            false,
            TextDirection::Auto,
        );
        s.end_tagged();
        s.finish();
        page.finish();
        if page_no > 10_000 {
            return Err("too many pages".into()); // guards against a layout bug looping
        }
    }

    if !thead.children.is_empty() || !tbody.children.is_empty() {
        let mut table = TagGroup::new(Tag::Table);
        if !thead.children.is_empty() {
            table.push(thead);
        }
        if !tbody.children.is_empty() {
            table.push(tbody);
        }
        tree.push(table);
    }
    doc.set_tag_tree(tree);
    // A bookmark outline is required by PDF/UA-1 (MissingDocumentOutline otherwise).
    let mut outline = Outline::new();
    outline.push_child(OutlineNode::new(title.to_string(), XyzDestination::new(0, Point::from_xy(0.0, 0.0))));
    doc.set_outline(outline);
    doc.finish().map_err(|e| format!("{e:?}"))
}

/// One tagged line of text (a Span marked-content sequence).
fn text(s: &mut Surface, font: &Font, x: f32, y: f32, size: f32, t: &str) -> Identifier {
    let id = s.start_tagged(ContentTag::Span(SpanTag::empty()));
    s.set_fill(Some(Fill { paint: rgb::Color::black().into(), ..Default::default() }));
    s.draw_text(Point::from_xy(x, y), font.clone(), size, t, false, TextDirection::Auto);
    s.end_tagged();
    id
}

fn cell_text(s: &mut Surface, font: &Font, x: f32, right: f32, y: f32, t: &str) -> Identifier {
    let id = s.start_tagged(ContentTag::Span(SpanTag::empty()));
    draw_cell(s, font, x, right, y, t);
    s.end_tagged();
    id
}

/// Draw a cell, truncated with "…" so it fits its column (clipping would hide
/// the overflow visually but keep it in the text layer, which garbles text
/// extraction and screen readers).
fn draw_cell(s: &mut Surface, font: &Font, x: f32, right: f32, y: f32, t: &str) {
    let fitted = fit(t, TABLE_SIZE, right - x);
    s.draw_text(Point::from_xy(x, y), font.clone(), TABLE_SIZE, &fitted, false, TextDirection::Auto);
}

/// The left edges of the table's columns, each as wide as its widest cell (the header and the
/// first rows) needs where the page allows; where it doesn't, narrow columns keep their width and
/// the wide ones share what is left in proportion, so a long title isn't cut to the width of a
/// date.
fn column_lefts(rows: &[Vec<String>], ncols: usize) -> Vec<f32> {
    const GAP: f32 = 6.0;
    if ncols == 0 {
        return Vec::new();
    }
    let avail = PAGE_W - 2.0 * MARGIN - GAP * (ncols - 1) as f32;
    let measure = text_width(TABLE_SIZE);
    let mut natural = vec![0.0f32; ncols];
    for row in rows.iter().take(500) {
        for (i, cell) in row.iter().enumerate() {
            natural[i] = natural[i].max(measure(cell));
        }
    }
    let total: f32 = natural.iter().sum();
    let widths: Vec<f32> = if total <= avail {
        let slack = (avail - total) / ncols as f32;
        natural.iter().map(|w| w + slack).collect()
    } else {
        // Max-min fair: columns narrower than an even share of what is left keep their width;
        // the rest share the remainder evenly, until no column is narrower than its share.
        let mut widths = vec![None::<f32>; ncols];
        loop {
            let open: Vec<usize> = (0..ncols).filter(|i| widths[*i].is_none()).collect();
            let taken: f32 = widths.iter().flatten().sum();
            let share = (avail - taken) / open.len().max(1) as f32;
            let fits: Vec<usize> = open.iter().copied().filter(|i| natural[*i] <= share).collect();
            if fits.is_empty() {
                for i in open {
                    widths[i] = Some(share);
                }
                break;
            }
            for i in fits {
                widths[i] = Some(natural[i]);
            }
        }
        widths.into_iter().map(|w| w.unwrap_or(0.0)).collect()
    };
    let mut x = MARGIN;
    widths
        .iter()
        .map(|w| {
            let at = x;
            x += w + GAP;
            at
        })
        .collect()
}

/// A measure of text at `size` points (advance widths, no kerning).
fn text_width(size: f32) -> impl Fn(&str) -> f32 {
    use skrifa::instance::{LocationRef, Size};
    use skrifa::{FontRef, MetadataProvider};
    let font = FontRef::new(dejavu::sans::regular()).ok();
    move |t: &str| {
        let Some(f) = &font else { return t.chars().count() as f32 * size * 0.6 };
        let (cmap, metrics) = (f.charmap(), f.glyph_metrics(Size::new(size), LocationRef::default()));
        t.chars().map(|c| cmap.map(c).and_then(|g| metrics.advance_width(g)).unwrap_or(size * 0.6)).sum()
    }
}

/// Truncate `t` to at most `max_w` points at `size` (advance widths, no kerning).
fn fit(t: &str, size: f32, max_w: f32) -> String {
    use skrifa::instance::{LocationRef, Size};
    use skrifa::{FontRef, MetadataProvider};
    let Ok(f) = FontRef::new(dejavu::sans::regular()) else {
        return t.to_string();
    };
    let (cmap, metrics) = (f.charmap(), f.glyph_metrics(Size::new(size), LocationRef::default()));
    let w = |c: char| cmap.map(c).and_then(|g| metrics.advance_width(g)).unwrap_or(size * 0.6);
    if t.chars().map(w).sum::<f32>() <= max_w {
        return t.to_string();
    }
    let mut out = String::new();
    let mut used = w('…');
    for c in t.chars() {
        used += w(c);
        if used > max_w {
            break;
        }
        out.push(c);
    }
    out.trim_end().to_string() + "…"
}

fn rule(s: &mut Surface, y: f32) {
    let mut pb = PathBuilder::new();
    pb.move_to(MARGIN, y);
    pb.line_to(PAGE_W - MARGIN, y);
    if let Some(path) = pb.finish() {
        s.start_tagged(ContentTag::Artifact(Artifact::with_kind(ArtifactType::Layout)));
        s.set_stroke(Some(Stroke { width: 0.5, ..Default::default() }));
        s.draw_path(&path);
        s.set_stroke(None);
        s.end_tagged();
    }
}
