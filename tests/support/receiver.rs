//! A real webhook receiver on loopback: it keeps every request it gets and answers with the
//! statuses it is told to, then `200`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inbox {
    received: Vec<Received>,
    answers: VecDeque<u16>,
}

pub struct Receiver {
    pub url: String,
    inbox: Arc<Mutex<Inbox>>,
}

impl Receiver {
    /// Starts a receiver whose first answers are `answers`, then `200`.
    pub fn start(answers: &[u16]) -> Receiver {
        Self::start_slow(answers, Duration::ZERO)
    }

    /// A receiver that takes `delay` to answer each request, keeping it as soon as it arrives.
    pub fn start_slow(answers: &[u16], delay: Duration) -> Receiver {
        let inbox = Arc::new(Mutex::new(Inbox {
            received: Vec::new(),
            answers: answers.iter().copied().collect(),
        }));
        let shared = inbox.clone();
        let server = HttpServer::new(move || {
            let inbox = shared.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let inbox = inbox.clone();
                async move {
                    let status = {
                        let mut inbox = inbox.lock().unwrap();
                        inbox.received.push(Received {
                            headers: req
                                .headers()
                                .iter()
                                .map(|(n, v)| {
                                    (n.to_string(), v.to_str().unwrap_or_default().to_owned())
                                })
                                .collect(),
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        inbox.answers.pop_front().unwrap_or(200)
                    };
                    actix_rt::time::sleep(delay).await;
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .body("ok")
                }
            }))
        })
        .workers(2)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        actix_rt::spawn(server.run());
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks"),
            inbox,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().received.clone()
    }

    /// Waits up to `seconds` until `count` requests have arrived; returns them.
    pub async fn wait_for(&self, count: usize, seconds: u64) -> Vec<Received> {
        for _ in 0..seconds * 10 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        self.received()
    }
}
