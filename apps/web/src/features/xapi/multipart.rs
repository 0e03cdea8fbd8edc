//! `multipart/mixed` bodies: statements with their attachments' bytes, read on the way in and
//! written on the way out (xAPI §1.5.2).

use bytes::Bytes;
use std::collections::HashMap;

/// A part after the first (statements) one.
#[derive(Debug, Clone)]
pub struct Part {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A multipart/mixed request: the statements' JSON and the attachment parts by hash.
#[derive(Debug)]
pub struct Mixed {
    pub json: Bytes,
    pub parts: HashMap<String, Part>,
}

/// The boundary parameter of a `multipart/mixed` Content-Type.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .skip(1)
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim().eq_ignore_ascii_case("boundary")).then(|| v.trim().trim_matches('"').to_owned())
        })
        .filter(|b| !b.is_empty())
}

/// Reads a multipart/mixed body. The first part must be `application/json`; each other part
/// needs an `X-Experience-API-Hash` and is binary (no other transfer encoding).
pub async fn read(body: Bytes, boundary: &str) -> Result<Mixed, String> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut m = multer::Multipart::new(stream, boundary);
    let mut json = None;
    let mut parts = HashMap::new();
    while let Some(field) = m.next_field().await.map_err(|e| format!("the multipart body cannot be read: {e}"))? {
        let headers = field.headers().clone();
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim).map(str::to_owned);
        let content_type = header("content-type").unwrap_or_default();
        if let Some(enc) = header("content-transfer-encoding")
            && !enc.eq_ignore_ascii_case("binary")
        {
            return Err(format!("parts are sent as binary, not {enc}"));
        }
        let hash = header("x-experience-api-hash");
        let bytes = field.bytes().await.map_err(|e| format!("a part cannot be read: {e}"))?;
        if json.is_none() {
            if !content_type.to_ascii_lowercase().starts_with("application/json") {
                return Err("the first part must be the statements, as application/json".into());
            }
            json = Some(bytes);
            continue;
        }
        let Some(hash) = hash else {
            return Err("each attachment part needs an X-Experience-API-Hash header".into());
        };
        parts.insert(hash.to_ascii_lowercase(), Part { content_type, bytes: bytes.to_vec() });
    }
    let json = json.ok_or("the multipart body has no parts")?;
    Ok(Mixed { json, parts })
}

/// A multipart/mixed response: the JSON first, then each attachment with its hash.
pub fn write(json: &str, attachments: &[(String, String, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = format!("xapi-{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::with_capacity(json.len() + attachments.iter().map(|a| a.2.len() + 200).sum::<usize>());
    out.extend_from_slice(format!("--{boundary}\r\nContent-Type: application/json\r\n\r\n").as_bytes());
    out.extend_from_slice(json.as_bytes());
    for (sha2, content_type, bytes) in attachments {
        out.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {sha2}\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/mixed; boundary={boundary}"), out)
}
