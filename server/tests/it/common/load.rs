//! Submitting complete questionnaires to a running `sipas serve` over real HTTP connections:
//! shared by the crash test (`tests/crash.rs`) and the load benchmark (`examples/load.rs`).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use sipas_app::survey::questionnaire::{Answers, Questionnaire};

/// A complete, valid set of answers: every item that is shown gets its first choice (so
/// "used a service" and "gave feedback" are yes, and every follow-up is shown and answered).
pub fn complete_answers(questionnaire: &Questionnaire) -> Answers {
    let mut answers = Answers::new();
    for section in &questionnaire.sections {
        for item in &section.items {
            if item.is_relevant(&answers)
                && let Some(first) = questionnaire.choices(item).next()
            {
                answers.insert(item.code.clone(), first.value);
            }
        }
    }
    answers
}

/// The JSON body of `POST /api/survey/submit`.
pub fn submit_body(code: &str, submission_id: &str, answers: &Answers) -> String {
    serde_json::json!({
        "request": {
            "code": code,
            "submission_id": submission_id,
            "answers": answers,
            "language": "vi",
            "started_at": null,
        }
    })
    .to_string()
}

/// What the server said to one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Stored (or stored before, for a retry): the receipt number.
    Accepted(String),
    /// Any other answer: status and body.
    Other(u16, String),
}

/// The codes printed by `sipas codes --out FILE` (column `code`).
pub fn read_codes(path: &Path) -> Vec<String> {
    let mut reader = csv::Reader::from_path(path).expect("codes file");
    reader
        .records()
        .map(|r| r.expect("codes row")[0].to_owned())
        .collect()
}

/// One keep-alive HTTP/1.1 connection, reopened after an error.
pub struct Client {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// The `sipas_device` cookie this client sends, as a browser would after its first page
    /// (so draft saves and submissions count a device, as in the field).
    pub device: Option<String>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            sender: None,
            device: None,
        }
    }

    async fn connect(&mut self) -> std::io::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no connection"))
    }

    /// POSTs JSON; `Err` when the connection failed (the server is down or was killed).
    pub async fn post_json(&mut self, path: &str, body: String) -> std::io::Result<(u16, String)> {
        let cookie = self
            .device
            .as_ref()
            .map(|id| format!("sipas_device={id}"))
            .unwrap_or_default();
        let mut headers = vec![
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ];
        if !cookie.is_empty() {
            headers.push(("cookie", cookie.as_str()));
        }
        let (status, _, body) = self.send("POST", path, &headers, body).await?;
        Ok((status, body))
    }

    /// Any request: status, headers and body; `Err` when the connection failed.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> std::io::Result<(u16, hyper::HeaderMap, String)> {
        let addr = self.addr;
        let result = async {
            let sender = self.connect().await?;
            sender.ready().await.map_err(std::io::Error::other)?;
            let mut request = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", addr.to_string());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let request = request
                .body(Full::new(Bytes::from(body)))
                .map_err(std::io::Error::other)?;
            let response = sender
                .send_request(request)
                .await
                .map_err(std::io::Error::other)?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(std::io::Error::other)?
                .to_bytes();
            Ok((
                status,
                headers,
                String::from_utf8_lossy(&bytes).into_owned(),
            ))
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    /// Saves a draft as the hydrated page does when the respondent moves to another screen;
    /// `Ok(true)` when the server kept it.
    pub async fn save_draft(
        &mut self,
        code: &str,
        answers: &Answers,
        step: u32,
        revision: u64,
    ) -> std::io::Result<bool> {
        let body = serde_json::json!({
            "code": code,
            "answers": answers,
            "step": step,
            "started_at": null,
            "revision": revision,
        })
        .to_string();
        let (status, reply) = self.post_json("/api/survey/draft", body).await?;
        Ok(status == 200 && reply.contains("Saved"))
    }

    /// Submits one questionnaire.
    pub async fn submit(
        &mut self,
        code: &str,
        submission_id: &str,
        answers: &Answers,
    ) -> std::io::Result<Reply> {
        let (status, body) = self
            .post_json(
                "/api/survey/submit",
                submit_body(code, submission_id, answers),
            )
            .await?;
        Ok(parse_reply(status, body))
    }
}

fn parse_reply(status: u16, body: String) -> Reply {
    if status == 200
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(&body)
        && let Some(number) = value["Accepted"]["number"].as_str()
    {
        return Reply::Accepted(number.to_owned());
    }
    Reply::Other(status, body)
}

/// Waits until `GET /healthz` answers 200 (the server is up and its database answers).
pub async fn wait_until_ready(addr: SocketAddr, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let request =
                format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            if stream.write_all(request.as_bytes()).await.is_ok() {
                let mut reply = Vec::new();
                let _ = stream.read_to_end(&mut reply).await;
                if reply.starts_with(b"HTTP/1.1 200") {
                    return true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
