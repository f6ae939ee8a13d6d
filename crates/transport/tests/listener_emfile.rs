//! A listener outlives descriptor exhaustion: with the process at its file
//! limit, `accept` fails with EMFILE; the listener waits, counts, and serves
//! the waiting client once descriptors free up. Its own test binary, since
//! it lowers the whole process's descriptor limit (with util-linux
//! `prlimit`, from the same machine's base system).
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::{Duration, Instant};

use rewire_transport::link::Listener;

#[test]
fn a_listener_out_of_descriptors_waits_and_serves_again() {
    let pid = std::process::id().to_string();
    let status = Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=256:256"])
        .status()
        .expect("prlimit (util-linux) must be installed");
    assert!(status.success());
    let listener = Listener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr();
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        let server = scope.spawn(|| {
            listener.serve(&stop, &|mut stream, _| {
                let _ = stream.write_all(b"served\n");
            })
        });
        // Use up every descriptor left.
        let mut hog = Vec::new();
        while let Ok(f) = File::open("/dev/null") {
            hog.push(f);
            assert!(hog.len() < 1000, "the limit did not apply");
        }
        // A client in another process connects while we are out.
        let mut client = Command::new("python3")
            .args([
                "-c",
                &format!(
                    "import socket,sys; s=socket.create_connection(('127.0.0.1',{}),timeout=10); \
                     sys.stdout.write(s.recv(64).decode())",
                    addr.port()
                ),
            ])
            .stdout(Stdio::piped())
            .spawn();
        // Spawning needs descriptors too: free a few for it if it failed.
        if client.is_err() {
            hog.truncate(hog.len().saturating_sub(8));
            client = Command::new("python3")
                .args([
                    "-c",
                    &format!(
                        "import socket,sys; s=socket.create_connection(('127.0.0.1',{}),timeout=10); \
                         sys.stdout.write(s.recv(64).decode())",
                        addr.port()
                    ),
                ])
                .stdout(Stdio::piped())
                .spawn();
            // Take the freed ones back, so accept still fails.
            while let Ok(f) = File::open("/dev/null") {
                hog.push(f);
            }
        }
        let mut client = client.expect("python3 must be installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while listener.stats().accept_errors == 0 {
            assert!(Instant::now() < deadline, "accept never failed");
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(listener.stats().accepted, 0);
        drop(hog);
        let mut out = String::new();
        client
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(client.wait().unwrap().success());
        assert_eq!(out, "served\n");
        assert_eq!(listener.stats().accepted, 1);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        server.join().unwrap().unwrap();
    });
}
