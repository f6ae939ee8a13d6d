//! The offline plot of a bundled capture: as many points as the capture has
//! status records (counted from its checked-in expected decoder output),
//! with value and time axis labels.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use rewire_page::plot::{collect, svg};
use rewire_transport::capture::{CaptureError, CaptureOptions, PacketCaptureReader};
use rewire_upsilon_host::decode::{Ports, decode};

fn testdata(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(path)
}

#[test]
fn a_bundled_capture_plots_every_status_with_axes() {
    let expected: Vec<serde_json::Value> =
        std::fs::read_to_string(testdata("upsilon/expected/upsilon-lo.pcap.ndjson"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|r: &serde_json::Value| r["kind"] == "status")
            .collect();
    assert!(expected.len() >= 5, "{}", expected.len());
    let file = File::open(testdata("upsilon/upsilon-lo.pcap")).unwrap();
    let reader = PacketCaptureReader::new(BufReader::new(file), CaptureOptions::default()).unwrap();
    let mut messages = Vec::new();
    decode(reader, Ports::default(), |m| {
        messages.push(m);
        Ok::<(), CaptureError>(())
    })
    .unwrap();
    let series = collect(messages, &["input_voltage", "load", "nothing_here"]);
    assert_eq!(series[0].points.len(), expected.len());
    assert_eq!(series[0].unit, "V");
    let values: Vec<f64> = series[0].points.iter().map(|p| p.1).collect();
    let want: Vec<f64> = expected
        .iter()
        .map(|r| r["input_voltage"].as_f64().unwrap())
        .collect();
    assert_eq!(values, want);
    let first_ts = expected[0]["ts"].as_f64().unwrap();
    assert!((series[0].points[0].0 - first_ts).abs() < 1e-3);

    let out = svg("upsilon-lo.pcap", &series);
    if let Some(dir) = std::env::var_os("REWIRE_PAGE_KEEP_DIR") {
        std::fs::write(PathBuf::from(dir).join("plot.svg"), &out).unwrap();
    }
    let n = expected.len();
    assert!(out.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(
        out.contains(&format!(
            r#"data-reading="input_voltage" data-points="{n}""#
        )),
        "{out}"
    );
    let polyline = out.split("<polyline").nth(1).unwrap();
    let points = polyline
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(points.split(' ').count(), n, "one vertex per status");
    assert!(out.contains("input_voltage (V)") && out.contains("load (%)"));
    assert!(
        out.contains("238.7 V") || out.contains("0 V"),
        "value axis labels"
    );
    let (date, time) = rewire_page::plot::utc(first_ts);
    assert!(out.contains(&format!("time (UTC) from {date}")), "{out}");
    assert!(
        out.contains(&time),
        "the first tick is the first sample's time"
    );
    assert!(out.contains("no samples"), "an absent reading says so");
}
