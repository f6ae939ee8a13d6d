//! The page in a real browser: headless Chromium loads it from the bounded
//! HTTP server, fed by `rewire-upsilon-host`'s hub, finds the values the
//! UPS sent, sees an outage without a reload within 3 s of page time, and
//! leaves screenshots at 375 and 1280 px.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rewire_host::http::{HttpConfig, HttpServer, Request, Response};
use rewire_page::{Headline, Page, PageConfig};
use rewire_upsilon_host::hub::Hub;
use rewire_upsilon_host::message::Message;

const CHROMIUM: &str = "/usr/bin/chromium";
const ON_LINE: &[u8] = b"(231.5 230.0 229.8 017 50.1 27.3 --.- 00001000";
const OUTAGE: &[u8] = b"(000.0 231.5 228.9 021 00.0 26.1 --.- 10001000";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rewire-page-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on `url` with `extra` flags; returns stdout.
fn chromium(url: &str, profile: &Path, extra: &[String]) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium package"
    );
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 40 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Returns the value of `data-NAME` on `<body …>` in a dumped DOM.
fn body_attr<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let body = &dom[dom.find("<body")?..];
    let body = &body[..body.find('>')?];
    let at = body.find(&format!("data-{name}=\""))? + name.len() + 7;
    let rest = &body[at..];
    Some(&rest[..rest.find('"')?])
}

struct Served {
    server: HttpServer,
    pages: Arc<AtomicU64>,
    hub: Hub,
}

/// Serves a page fed by a hub that has seen the UPS on line; when
/// `outage_after_first_poll`, the first `/api/state` answer is followed by
/// an outage the page must pick up on its own.
fn serve(outage_after_first_poll: bool) -> Served {
    let hub = Hub::new("ups");
    let page = Page::new(PageConfig::new(Headline::upsilon()));
    hub.add_sink(page.sink(), 1024);
    let stats_hub = hub.clone();
    page.set_outputs(move || stats_hub.stats());
    let on_line = rewire_upsilon::Status::parse(ON_LINE).unwrap();
    hub.publish(Message::status(hub.device(), on_line));
    let deadline = Instant::now() + Duration::from_secs(2);
    while page.lock().status().0 != "ON LINE" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let pages = Arc::new(AtomicU64::new(0));
    let polls = Arc::new(AtomicU64::new(0));
    let (h, p, pg, counter) = (
        hub.clone(),
        Arc::clone(&pages),
        page.clone(),
        Arc::clone(&polls),
    );
    let handler = page.handler(|_: &Request| Response::text(404, "not the page\n"));
    let server = HttpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        HttpConfig::default(),
        move |r: &Request| {
            use rewire_host::http::Handler;
            if r.path() == "/" {
                p.fetch_add(1, Ordering::Relaxed);
            }
            let response = handler.handle(r);
            if r.path() == "/api/state"
                && counter.fetch_add(1, Ordering::Relaxed) == 0
                && outage_after_first_poll
            {
                let outage = rewire_upsilon::Status::parse(OUTAGE).unwrap();
                h.publish(Message::status(h.device(), outage));
                // The page's next poll must find it: wait for the sink.
                let deadline = Instant::now() + Duration::from_secs(2);
                while pg.lock().status().0 != "ON BATTERY" && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            response
        },
    )
    .unwrap();
    Served { server, pages, hub }
}

#[test]
fn the_page_shows_the_values_then_an_outage_without_reloading() {
    let served = serve(true);
    let url = format!("http://{}/", served.server.local_addr());
    let dir = temp_dir("dom");
    let dom = chromium(
        &url,
        &dir.join("profile"),
        &[
            "--window-size=375,800".into(),
            "--virtual-time-budget=7000".into(),
            "--dump-dom".into(),
        ],
    );
    assert!(
        dom.contains("231.5 V"),
        "input voltage before the outage:\n{dom}"
    );
    assert_eq!(body_attr(&dom, "first-status"), Some("ON LINE"), "{dom}");
    assert!(dom.contains("data-status=\"ON BATTERY\""), "{dom}");
    assert!(
        dom.contains("[ALARM] ON BATTERY"),
        "the state in words:\n{dom}"
    );
    assert!(
        dom.contains("228.9 V"),
        "output voltage during the outage:\n{dom}"
    );
    assert!(
        dom.contains("data-name=\"on_battery\""),
        "the event listed:\n{dom}"
    );
    let changed: u64 = body_attr(&dom, "status-changed-ms")
        .expect("the status changed on the page")
        .parse()
        .unwrap();
    assert!(
        changed <= 3000,
        "outage seen {changed} ms after the first state"
    );
    assert_eq!(served.pages.load(Ordering::Relaxed), 1, "never reloaded");
    assert!(body_attr(&dom, "polls").unwrap().parse::<u64>().unwrap() >= 2);
    assert_eq!(
        body_attr(&dom, "fits"),
        Some("true"),
        "no sideways scrolling at 375 px"
    );
    assert!(
        dom.contains("data-key=\"input_voltage\" data-points=\""),
        "a chart:\n{dom}"
    );
    assert!(
        dom.contains("Output page"),
        "link health lists the page output:\n{dom}"
    );
    served.server.shutdown();
    served.hub.close();
    // REWIRE_PAGE_KEEP=1 keeps the screenshots to look at.
    if std::env::var_os("REWIRE_PAGE_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn screenshots_at_phone_and_desktop_widths_are_not_blank() {
    let served = serve(false);
    let url = format!("http://{}/", served.server.local_addr());
    let dir = temp_dir("shots");
    for (w, h) in [(375, 800), (1280, 800)] {
        let png = dir.join(format!("page-{w}.png"));
        chromium(
            &url,
            &dir.join(format!("profile-{w}")),
            &[
                format!("--window-size={w},{h}"),
                "--virtual-time-budget=3000".into(),
                format!("--screenshot={}", png.display()),
            ],
        );
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(bytes.starts_with(b"\x89PNG"), "{}", png.display());
        assert!(
            bytes.len() > 15_000,
            "{} is {} bytes",
            png.display(),
            bytes.len()
        );
        eprintln!("{}: {} bytes", png.display(), bytes.len());
    }
    served.server.shutdown();
    served.hub.close();
    // REWIRE_PAGE_KEEP=1 keeps the screenshots to look at.
    if std::env::var_os("REWIRE_PAGE_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
