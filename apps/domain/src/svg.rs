//! SVG logos made safe by rebuilding them: the file is parsed with a real XML parser (no document
//! type declarations, so no entities beyond XML's own) and written out again with only a list of
//! drawing elements and presentation attributes. Everything else (scripts, event handlers, styles,
//! links, images, foreign content, comments, processing instructions) is left out, so no spelling
//! trick (whitespace or `/` before `onload`, quotes of either kind, entity-encoded `javascript:`)
//! survives: the parser has already undone them before the allow-list is consulted.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::reader::Reader;
use quick_xml::writer::Writer;

/// Elements kept (by local name). Not `a`, `image`, `foreignObject`, `script`, `style`, filters,
/// animation or fonts: each can run code, fetch something or restyle the page.
const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "defs",
    "symbol",
    "use",
    "title",
    "desc",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "linearGradient",
    "radialGradient",
    "stop",
    "clipPath",
    "mask",
    "pattern",
];

/// Attributes kept (by name as written; `xlink:href` and `href` only as local references).
const ATTRIBUTES: &[&str] = &[
    "id",
    "class",
    "width",
    "height",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "fr",
    "d",
    "points",
    "viewBox",
    "preserveAspectRatio",
    "transform",
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-dashoffset",
    "stroke-opacity",
    "opacity",
    "clip-path",
    "clip-rule",
    "mask",
    "offset",
    "stop-color",
    "stop-opacity",
    "gradientUnits",
    "gradientTransform",
    "spreadMethod",
    "patternUnits",
    "patternContentUnits",
    "patternTransform",
    "clipPathUnits",
    "maskUnits",
    "maskContentUnits",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "text-anchor",
    "dominant-baseline",
    "letter-spacing",
    "dx",
    "dy",
    "rotate",
    "textLength",
    "lengthAdjust",
    "visibility",
    "display",
    "color",
    "version",
    "role",
    "aria-label",
    "aria-hidden",
    "focusable",
    "href",
    "xlink:href",
    "xml:space",
];

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";

/// Whether an attribute value is safe to keep: references only to something in the same file.
fn value_allowed(name: &str, value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if name == "href" || name == "xlink:href" {
        return value.starts_with('#') && !value.contains(['(', ':', '/']);
    }
    // `fill="url(#g)"` is a local paint server; any other `url(` could fetch.
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("url(") {
        let after = &rest[i + 4..];
        let inner = after.split(')').next().unwrap_or_default().trim().trim_matches(|c| c == '"' || c == '\'');
        if !inner.starts_with('#') || inner.contains(':') {
            return false;
        }
        rest = after;
    }
    !lower.contains("javascript:") && !lower.contains("data:") && !lower.contains("expression(")
}

/// The element's local name, if it is one we keep.
fn kept_element(qname: &[u8]) -> Option<&'static str> {
    let name = std::str::from_utf8(qname).ok()?;
    let local = name.rsplit(':').next().unwrap_or(name);
    // A prefixed element is from another namespace (`svg:` prefixes are rare; refuse them too).
    if name.contains(':') {
        return None;
    }
    ELEMENTS.iter().find(|e| **e == local).copied()
}

/// Rebuilds an SVG image from only the elements and attributes above. Errors say why the file is
/// not a usable SVG (not XML, a document type declaration, no `<svg>` root, nothing drawn).
pub fn sanitise(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the SVG is not UTF-8 text".to_owned())?;
    let mut reader = Reader::from_str(text);
    let mut out = Writer::new(Vec::with_capacity(bytes.len()));
    let w = |r: std::io::Result<()>| r.map_err(|e| e.to_string());
    // How deep we are inside an element being left out (0: not inside one).
    let mut skipping = 0usize;
    let mut depth = 0usize;
    let mut seen_root = false;
    // What the file tried that a logo must not: refused, with a name for each.
    let mut dangers: Vec<String> = Vec::new();
    loop {
        let ev = reader.read_event().map_err(|e| format!("the SVG is not well-formed XML: {e}"))?;
        match ev {
            Event::DocType(_) => return Err("SVG files with a document type declaration are not accepted".into()),
            Event::Start(s) if skipping > 0 => {
                note_dangers(&s, &reader, &mut dangers);
                skipping += 1;
            }
            Event::Empty(s) if skipping > 0 => note_dangers(&s, &reader, &mut dangers),
            ev @ (Event::Start(_) | Event::Empty(_)) => {
                let (s, empty) = match &ev {
                    Event::Start(s) => (s, false),
                    Event::Empty(s) => (s, true),
                    _ => continue,
                };
                if depth == 0 {
                    if seen_root {
                        return Err("the SVG has more than one root element".into());
                    }
                    if kept_element(s.name().as_ref()) != Some("svg") {
                        return Err("the file's root element is not <svg>".into());
                    }
                    seen_root = true;
                }
                note_dangers(s, &reader, &mut dangers);
                let Some(name) = kept_element(s.name().as_ref()) else {
                    if !empty {
                        skipping = 1;
                    }
                    continue;
                };
                if depth > 64 {
                    return Err("the SVG's elements are nested more than 64 deep".into());
                }
                let mut el = BytesStart::new(name);
                if depth == 0 {
                    el.push_attribute(("xmlns", SVG_NS));
                    el.push_attribute(("xmlns:xlink", XLINK_NS));
                }
                for a in s.attributes() {
                    let a = a.map_err(|e| format!("the SVG is not well-formed XML: {e}"))?;
                    let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                    let Some(allowed) = ATTRIBUTES.iter().find(|k| **k == key) else { continue };
                    let value = a
                        .decoded_and_normalized_value(XmlVersion::Implicit1_0, reader.decoder())
                        .map_err(|e| format!("the SVG is not well-formed XML: {e}"))?;
                    if value_allowed(allowed, &value) {
                        el.push_attribute((*allowed, value.as_ref()));
                    }
                }
                if empty {
                    w(out.write_event(Event::Empty(el)))?;
                } else {
                    w(out.write_event(Event::Start(el)))?;
                    depth += 1;
                }
            }
            Event::End(_) if skipping > 0 => skipping -= 1,
            Event::End(e) => {
                let name = kept_element(e.name().as_ref()).unwrap_or("g");
                w(out.write_event(Event::End(BytesEnd::new(name))))?;
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) if skipping == 0 && depth > 0 => {
                let t = t.decode().map_err(|e| format!("the SVG's text cannot be read: {e}"))?;
                w(out.write_event(Event::Text(BytesText::new(&t))))?;
            }
            Event::GeneralRef(r) if skipping == 0 && depth > 0 => {
                let ch =
                    match r.resolve_char_ref().map_err(|e| format!("the SVG has a bad character reference: {e}"))? {
                        Some(c) => c.to_string(),
                        None => {
                            let name = r.decode().map_err(|e| e.to_string())?;
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| format!("the SVG uses an unknown entity &{name};"))?
                                .to_owned()
                        }
                    };
                w(out.write_event(Event::Text(BytesText::new(&ch))))?;
            }
            Event::Eof => break,
            // Comments, CDATA, processing instructions, the XML declaration: left out.
            _ => {}
        }
    }
    if !seen_root || depth != 0 {
        return Err("the SVG ends before its elements are closed".into());
    }
    if !dangers.is_empty() {
        dangers.dedup();
        return Err(format!(
            "SVG logos may not contain scripts, event handlers, entities or external references (found {})",
            dangers.join(", ")
        ));
    }
    Ok(out.into_inner())
}

/// Records what in this element could run a script or fetch something, so the file is refused
/// with a reason rather than quietly changed (other unknown markup is simply left out).
fn note_dangers(s: &BytesStart<'_>, reader: &Reader<&[u8]>, dangers: &mut Vec<String>) {
    let qname = String::from_utf8_lossy(s.name().as_ref()).into_owned();
    // An XML name has no `/`, `=` or quotes; a browser's HTML parser would split `<path/onload=…>`
    // into an element and an event handler, so such a "name" is refused, not left out.
    if qname.contains(['/', '=', '"', '\'', '<']) {
        dangers.push("a malformed element name".into());
        return;
    }
    let local = qname.rsplit(':').next().unwrap_or(&qname).to_ascii_lowercase();
    if matches!(local.as_str(), "script" | "foreignobject" | "iframe" | "embed" | "object" | "handler" | "listener") {
        dangers.push(format!("<{qname}>"));
    }
    for a in s.attributes().flatten() {
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let local_key = key.rsplit(':').next().unwrap_or(&key).to_ascii_lowercase();
        if local_key.starts_with("on") {
            dangers.push(format!("the {key} attribute"));
            continue;
        }
        let Ok(value) = a.decoded_and_normalized_value(XmlVersion::Implicit1_0, reader.decoder()) else {
            dangers.push(format!("the {key} attribute"));
            continue;
        };
        let checked_as = if local_key == "href" { "href" } else { "other" };
        if key != "xmlns" && !key.starts_with("xmlns:") && !value_allowed(checked_as, &value) {
            dangers.push(format!("the {key} attribute's address"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::sanitise;

    fn clean(svg: &str) -> String {
        String::from_utf8(sanitise(svg.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn keeps_drawing_and_leaves_out_unknown_markup() {
        let out = clean(
            r##"<?xml version="1.0"?><!-- made by hand --><svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" viewBox="0 0 10 10" inkscape:version="1.0">
            <metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata><style>rect { fill: red }</style>
            <rect width="10" height="10" fill="url(#g)" style="fill:blue" class="a"/><a><circle r="1"/></a></svg>"##,
        );
        assert!(out.contains("<rect width=\"10\" height=\"10\" fill=\"url(#g)\" class=\"a\"/>"), "{out}");
        for gone in ["inkscape", "metadata", "rdf", "style", "<a", "circle", "made by hand"] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
    }

    #[test]
    fn scripts_handlers_and_outside_references_are_refused_however_spelt() {
        for svg in [
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"></svg>",
            // whitespace and `/` before an event handler
            "<svg xmlns=\"http://www.w3.org/2000/svg\"\n\tonload=\"alert(1)\"><path d=\"M0 0\"/></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><path/onload=\"alert(1)\" d=\"M0 0\"/></svg>",
            // a handler inside markup that would be left out anyway
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><a><g onclick=\"alert(1)\"/></a></svg>",
            // a single-quoted external link
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\"><use xlink:href='http://evil.example/x.svg#a'/></svg>",
            // entity-encoded javascript: URLs
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><a href=\"&#106;avascript:alert(1)\"><path d=\"M0 0\"/></a></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><path fill=\"url(&#x27;http://evil.example/&#x27;)\" d=\"M0 0\"/></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><foreignObject><p>hi</p></foreignObject></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><image href=\"data:image/svg+xml;base64,AAAA\"/></svg>",
        ] {
            let err = sanitise(svg.as_bytes()).expect_err(svg);
            assert!(err.contains("may not contain scripts"), "{svg}: {err}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_plain_svg() {
        assert!(sanitise(b"<!DOCTYPE svg [<!ENTITY x \"y\">]><svg><path d=\"M0 0\"/></svg>").is_err());
        assert!(sanitise(b"<html><svg/></html>").is_err());
        assert!(sanitise(b"<svg><path d=\"M0 0\"></svg>").is_err());
        assert!(sanitise(b"<svg><path d=\"&bogus;\"/></svg>").is_err());
        assert!(sanitise(b"<svg/><svg/>").is_err());
    }

    #[test]
    fn local_references_are_kept() {
        let out = clean(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\"><defs><linearGradient id=\"g\"><stop offset=\"0\" stop-color=\"#005eb8\"/></linearGradient><path id=\"p\" d=\"M0 0\"/></defs><use xlink:href=\"#p\" fill=\"url(#g)\"/><text x=\"1\">A &amp; B</text></svg>",
        );
        assert!(out.contains("xlink:href=\"#p\""), "{out}");
        assert!(out.contains("A &amp; B"), "{out}");
    }
}
