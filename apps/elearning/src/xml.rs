//! A small element tree over quick-xml: manifests are small, and a tree is easier to read right
//! than a stream. Names are local (prefixes dropped): the manifests in the wild disagree about
//! prefixes, not about local names.

use quick_xml::XmlVersion;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

#[derive(Debug, Default)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    /// The trimmed text of the first child so named (any depth not searched).
    pub fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(|c| c.text.trim().to_owned()).filter(|t| !t.is_empty())
    }
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    s.rsplit(':').next().unwrap_or(&s).to_owned()
}

/// Parses a document into its root element. Errors give the line of the fault. Document type
/// declarations are refused (no entity expansion, so no "billion laughs").
pub(crate) fn parse(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    let line_of = |pos: u64| {
        let end = usize::try_from(pos).unwrap_or(0).min(text.len());
        text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
    };
    // XML allows no control characters but tab, line feed and carriage return (a NUL could not be
    // stored either); say where the first one is.
    if let Some((at, _)) = text.char_indices().find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(format!(
            "line {}: the document contains a control character, which XML does not allow",
            line_of(at as u64)
        ));
    }
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let pos = reader.buffer_position();
        let at = |e: &dyn std::fmt::Display| format!("line {}: {e}", line_of(pos));
        let ev = reader.read_event().map_err(|e| at(&e))?;
        let start = |s: &quick_xml::events::BytesStart| -> Result<Element, String> {
            let mut el = Element { name: local(s.name().as_ref()), ..Element::default() };
            for a in s.attributes() {
                let a = a.map_err(|e| at(&e))?;
                let v = a
                    .decoded_and_normalized_value(XmlVersion::Implicit1_0, reader.decoder())
                    .map_err(|e| at(&e))?
                    .into_owned();
                el.attrs.push((local(a.key.as_ref()), v));
            }
            Ok(el)
        };
        match &ev {
            Event::Start(s) => {
                if stack.len() > 64 {
                    return Err(at(&"elements are nested more than 64 deep"));
                }
                let el = start(s)?;
                stack.push(el);
            }
            Event::Empty(s) => {
                let el = start(s)?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| at(&"an end tag with no start"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Err(at(&"an end tag with no start")),
                }
            }
            Event::Text(t) => {
                let t = t.decode().map_err(|e| at(&e))?;
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().map_err(|e| at(&e))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| at(&e))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| at(&format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&ch);
                }
            }
            Event::CData(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&String::from_utf8_lossy(t));
                }
            }
            Event::DocType(_) => return Err(at(&"document type declarations are not accepted")),
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err("the document ends before its elements are closed".into());
    }
    let mut top = stack.pop().unwrap_or_default();
    match top.children.len() {
        1 => Ok(top.children.remove(0)),
        0 => Err("the document has no root element".into()),
        _ => Err("the document has more than one root element".into()),
    }
}
