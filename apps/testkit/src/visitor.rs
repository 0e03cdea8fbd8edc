//! A browser-like visitor of one host: keeps that host's cookies, follows no redirects, and
//! submits forms with the CSRF token the form page carries.

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// A response, read.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the form's hidden `csrf_token`.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
        self.body[at..]
            .split('"')
            .next()
            .map(|t| t.replace("&#x2F;", "/").replace("&#x3D;", "=").replace("&#x2B;", "+"))
    }
}

/// One visitor of one host.
pub struct Visitor {
    addr: SocketAddr,
    pub host: String,
    pub cookies: BTreeMap<String, String>,
    client: reqwest::Client,
}

impl Visitor {
    pub fn new(addr: SocketAddr, host: &str) -> Self {
        Self {
            addr,
            host: host.to_owned(),
            cookies: BTreeMap::new(),
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        }
    }

    /// The same cookies, presented on another host (as an attacker replaying them would).
    pub fn with_cookies_on(&self, host: &str) -> Visitor {
        let mut v = Visitor::new(self.addr, host);
        v.cookies = self.cookies.clone();
        v
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn finish(&mut self, resp: reqwest::Response) -> Page {
        for sc in resp.headers().get_all("set-cookie") {
            let Ok(sc) = sc.to_str() else { continue };
            let pair = sc.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                let removed = sc.to_ascii_lowercase().contains("max-age=0") || v.is_empty();
                if removed {
                    self.cookies.remove(k.trim());
                } else {
                    self.cookies.insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
        }
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap_or_default();
        Page { status, location, headers, body }
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .client
            .get(format!("http://{}{path}", self.addr))
            .header("host", &self.host)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.finish(resp).await
    }

    /// `GET path`: the status, the content type and the raw bytes (a PDF, say).
    pub async fn get_bytes(&mut self, path: &str) -> (u16, String, Vec<u8>) {
        let resp = self
            .client
            .get(format!("http://{}{path}", self.addr))
            .header("host", &self.host)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        let status = resp.status().as_u16();
        let kind = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        (status, kind, resp.bytes().await.expect("body").to_vec())
    }

    /// `GET path` asking for `range` (like `bytes=0-3`): the status and the raw bytes.
    pub async fn get_range(&mut self, path: &str, range: &str) -> (u16, Vec<u8>) {
        let resp = self
            .client
            .get(format!("http://{}{path}", self.addr))
            .header("host", &self.host)
            .header("cookie", self.cookie_header())
            .header("range", range)
            .send()
            .await
            .expect("GET with a range");
        let status = resp.status().as_u16();
        (status, resp.bytes().await.expect("body").to_vec())
    }

    /// `POST path` with a form body, exactly as given (no token added).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let resp = self
            .client
            .post(format!("http://{}{path}", self.addr))
            .header("host", &self.host)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        self.finish(resp).await
    }

    /// `POST path` with a form body (no token added): the status, content type and raw bytes (a
    /// download a form asks for).
    pub async fn post_bytes(&mut self, path: &str, fields: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let resp = self
            .client
            .post(format!("http://{}{path}", self.addr))
            .header("host", &self.host)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        let status = resp.status().as_u16();
        let kind = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        (status, kind, resp.bytes().await.expect("body").to_vec())
    }

    /// `POST path` as `multipart/form-data` (an upload form): text `fields`, then one file field
    /// `(name, file name, content type, bytes)`, exactly as given (no token added).
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &str, &[u8]),
    ) -> Page {
        self.post_files(path, fields, &[file]).await
    }

    /// [`Visitor::post_multipart`] with any number of file fields (none, or a file and its captions).
    pub async fn post_files(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
    ) -> Page {
        let boundary = "trellis-test-boundary-7d3f";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
            );
        }
        for (name, file_name, content_type, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let resp = self
            .client
            .post(format!("http://{}{path}", self.addr))
            .header("host", &self.host)
            .header("cookie", self.cookie_header())
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .expect("POST");
        self.finish(resp).await
    }

    /// A request with a raw body and extra headers, exactly as given (an API client's).
    pub async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Page {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method, format!("http://{}{path}", self.addr))
            .header("host", &self.host)
            .header("cookie", self.cookie_header());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.body(body).send().await.expect("request");
        self.finish(resp).await
    }

    /// Opens `form_path`, then posts `fields` to `action` with the form's CSRF token.
    pub async fn submit(&mut self, form_path: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let form = self.get(form_path).await;
        let token =
            form.csrf().unwrap_or_else(|| panic!("no CSRF token on {form_path} ({}): {}", form.status, form.body));
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    /// Accepts whatever terms the site asks for; returns the response.
    pub async fn accept_terms(&mut self) -> Page {
        let page = self.get("/terms").await;
        // Nothing to accept: the page only shows the documents (anyone may read them).
        if page.status != 200 || !page.body.contains("name=\"accepting\"") {
            return page;
        }
        let token = page.csrf().expect("a CSRF token on the terms page");
        let at = page.body.find("name=\"accepting\" value=\"").expect("the accepting field")
            + "name=\"accepting\" value=\"".len();
        let accepting =
            page.body[at..].split('"').next().unwrap_or_default().replace("&#x3A;", ":").replace("&#x2C;", ",");
        self.post("/terms", &[("csrf_token", &token), ("accepting", &accepting)]).await
    }

    /// Signs in and accepts the terms; panics if either fails.
    pub async fn sign_in_and_agree(&mut self, email: &str, password: &str) {
        let page = self.sign_in(email, password).await;
        assert_eq!(page.status, 303, "sign-in failed: {}", page.body);
        let agreed = self.accept_terms().await;
        assert!(agreed.status == 303 || agreed.status == 200, "terms: {} {}", agreed.status, agreed.body);
    }

    /// Signs in; returns the response.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        self.submit("/sign-in", "/sign-in", &[("email", email), ("password", password)]).await
    }
}
