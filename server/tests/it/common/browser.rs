//! A test browser over the in-process application: keeps the session cookie, sends our own
//! Origin on posts and a client address as a proxy would.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

/// One browser: keeps the session cookie and sends our own Origin on posts.
#[derive(Clone)]
pub struct Browser {
    pub app: axum::Router,
    pub cookie: Option<String>,
    pub origin: String,
    /// The client address, as a proxy would pass it (the test server reads `x-real-ip`).
    pub address: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: axum::http::HeaderMap,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Browser {
    pub fn new(app: &axum::Router) -> Self {
        Self {
            app: app.clone(),
            cookie: None,
            origin: "http://sipas.test".into(),
            address: "10.0.0.1".into(),
        }
    }

    pub async fn send(&mut self, request: axum::http::request::Builder, body: Body) -> Reply {
        use tower::ServiceExt;
        let mut request = request
            .header(header::HOST, "sipas.test")
            .header("x-real-ip", self.address.as_str());
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie.as_str());
        }
        let response = tokio::time::timeout(
            Duration::from_secs(20),
            self.app
                .clone()
                .oneshot(request.body(body).expect("request")),
        )
        .await
        .expect("answered in time")
        .expect("response");
        if let Some(set) = response.headers().get(header::SET_COOKIE) {
            let pair = set
                .to_str()
                .expect("ascii")
                .split(';')
                .next()
                .unwrap_or_default();
            if pair.ends_with('=') {
                self.cookie = None;
            } else {
                self.cookie = Some(pair.to_owned());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let location = headers
            .get(header::LOCATION)
            .map(|v| v.to_str().expect("ascii").to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .expect("body")
            .to_vec();
        Reply {
            status,
            location,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Request::get(path), Body::empty()).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Reply {
        let body = serde_urlencoded(form);
        let origin = self.origin.clone();
        self.send(
            Request::post(path)
                .header(header::ORIGIN, origin)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            Body::from(body),
        )
        .await
    }

    /// [`Browser::post`] with owned fields (a form built in a loop).
    pub async fn post_fields(&mut self, path: &str, fields: &[(String, String)]) -> Reply {
        let form: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.post(path, &form).await
    }

    /// A browser signed in as `username`, checked to have got in.
    pub async fn signed_in(app: &axum::Router, username: &str, password: &str) -> Self {
        let mut browser = Self::new(app);
        let reply = browser.sign_in(username, password).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{username} signs in");
        browser
    }

    pub async fn upload(&mut self, path: &str, file: &[u8], fields: &[(&str, &str)]) -> Reply {
        let boundary = "sipasBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .into_bytes(),
            );
        }
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.csv\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .into_bytes(),
        );
        body.extend_from_slice(file);
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        let origin = self.origin.clone();
        self.send(
            Request::post(path).header(header::ORIGIN, origin).header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            ),
            Body::from(body),
        )
        .await
    }

    pub async fn sign_in(&mut self, username: &str, password: &str) -> Reply {
        self.post(
            "/staff/login",
            &[
                ("username", username),
                ("password", password),
                ("next", "/staff"),
            ],
        )
        .await
    }
}

pub fn serde_urlencoded(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
