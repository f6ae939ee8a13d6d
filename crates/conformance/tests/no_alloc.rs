//! Proves that parsing and iterating one message of each protocol allocates
//! nothing: a counting global allocator wraps the system one, and each check
//! runs inside a region that must see zero allocations and reallocations.
//!
//! Its own test binary with `harness = false`: the allocator is global to
//! the process, and libtest's threads (output capture, the runner) would
//! otherwise allocate while a region is open. Here one thread does all.

use std::fmt::{self, Write as _};
use std::hint::black_box;
use std::process::ExitCode;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// A `fmt::Write` into a fixed array, so formatting needs no heap.
struct Sink {
    buf: [u8; 4096],
    len: usize,
}

impl fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Sink {
    fn new() -> Self {
        Self {
            buf: [0; 4096],
            len: 0,
        }
    }
}

/// Runs `f` inside a counting region and returns the allocations,
/// reallocations and bytes it asked for.
fn count(f: impl FnOnce()) -> (usize, usize, usize) {
    let region = Region::new(GLOBAL);
    f();
    let stats = region.change();
    (
        stats.allocations,
        stats.reallocations,
        stats.bytes_allocated,
    )
}

/// A Q1 status line from the TCP 2570 stream: scan, parse, format, emit;
/// an `F` and an `I` reply; a heartbeat; an SMS request and its headers.
fn upsilon(stream: &[u8], sms: &[u8]) {
    use rewire_upsilon::sms::{Parsed, parse_sms_alert};
    use rewire_upsilon::{
        DEFAULT_MAX_RECORD_LEN, MAX_LINE_LEN, Scan, Status, parse_heartbeat, parse_info,
        parse_ratings, scan,
    };

    let Scan::Found { message, .. } = scan(stream, DEFAULT_MAX_RECORD_LEN) else {
        panic!("no record");
    };
    let status = Status::parse(message).expect("status");
    let mut sink = Sink::new();
    write!(sink, "{status}").expect("format");
    let mut line = [0u8; MAX_LINE_LEN];
    let n = status.emit(&mut line).expect("emit");
    assert_eq!(Status::parse(&line[..n]), Ok(status));
    black_box(parse_ratings(b"#220.0 000 024.0 50.0\r").expect("F"));
    black_box(parse_info(b"#NOT_A_LIVE_UPS  TESTING    TESTING   \r").expect("I"));
    black_box(parse_heartbeat(b"ups000cnt001").expect("heartbeat"));
    let Ok(Parsed::Complete(_, alert)) = parse_sms_alert(sms) else {
        panic!("sms");
    };
    for header in alert.headers() {
        black_box(header);
    }
    let mut decoded = [0u8; 256];
    black_box(alert.decoded_content(&mut decoded).expect("content"));
}

/// A WebSentry stream: scan, check the CRC, walk every value of the init
/// frame and format it; pair a query with its answer.
fn websentry(stream: &[u8], query: &[u8], answer: &[u8]) {
    use rewire_websentry::{Pairs, Scan, parse, scan};

    let Scan::Found { message, .. } = scan(stream) else {
        panic!("no frame");
    };
    message.check_checksum().expect("crc");
    let mut sink = Sink::new();
    for item in message.values() {
        let (id, value) = item.expect("value");
        write!(sink, "{} ", value.labeled(id)).expect("format");
        black_box(value.as_f64());
    }
    write!(sink, "{message}").expect("format");
    let (query, _) = parse(query).expect("query");
    let (answer, _) = parse(answer).expect("answer");
    for id in query.query_ids() {
        black_box(id.expect("id"));
    }
    for pair in Pairs::new(query.body(), answer.body()) {
        black_box(pair.expect("pair"));
    }
}

/// A Power-One stream with noise: scan, parse the `Repr`, decode the
/// payload, format, emit.
fn powerone(stream: &[u8]) {
    use rewire_powerone::{DateTime, Repr, Scan, scan};

    let Scan::Found { message, .. } = scan(stream) else {
        panic!("no frame");
    };
    let repr = Repr::parse(&message).expect("repr");
    black_box(DateTime::parse(message.data()).expect("date/time"));
    let mut sink = Sink::new();
    write!(sink, "{message}").expect("format");
    let mut out = [0u8; 255];
    let n = repr.emit(&mut out).expect("emit");
    assert_eq!(&out[..n], message.as_bytes());
}

fn main() -> ExitCode {
    // Inputs are built before any region opens.
    let q1 = b"\0\0(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000\r\n".to_vec();
    let sms = b"GET /smssend_hide.cgi?$sms_recptmobile=0123456789&$sms_content=PC: On%20battery&$sms_code=1 HTTP/1.1\r\nUser-Agent: RUPS2K SMS\r\nHost: 127.0.0.1\r\n\r\n".to_vec();
    let ws_init =
        hex::decode("deadbeef70839ee8e6001200ff00020504010d0090c20c02b301200207").expect("hex");
    let ws_query = hex::decode("70839e8b2b000a0206000f06010f01010f").expect("hex");
    let ws_answer =
        hex::decode("70839e93800016020600060216060106027501010707352e31352e3132").expect("hex");
    let p1 = hex::decode("13ff02ff0d01000101070b030f0f0d4fff").expect("hex");

    let mut failed = false;
    let mut check = |name: &str, f: &dyn Fn()| {
        let (allocs, reallocs, bytes) = count(f);
        let ok = allocs == 0 && reallocs == 0;
        println!(
            "{name}: {allocs} allocations, {reallocs} reallocations, {bytes} bytes ... {}",
            if ok { "ok" } else { "FAILED" }
        );
        failed |= !ok;
    };

    // The instrument itself must see an allocation, or every check is void.
    let (seen, _, _) = count(|| {
        black_box(Box::new(black_box(7u64)));
    });
    assert_eq!(seen, 1, "the counting allocator does not count");

    check("upsilon", &|| upsilon(&q1, &sms));
    check("websentry", &|| websentry(&ws_init, &ws_query, &ws_answer));
    check("powerone", &|| powerone(&p1));

    if failed {
        ExitCode::FAILURE
    } else {
        println!("no allocation in any parse and walk");
        ExitCode::SUCCESS
    }
}
