//! Helpers the framing tests share.

use rewire_transport::framing::{Event, Framer, Framing, Message, Skipped};

/// Feeds `stream` cut at `cuts` (sorted, deduplicated, in range), finishes,
/// and returns every event in order. Checks the buffer never exceeds the limit.
pub fn run<F: Framing>(framer: &mut Framer<F>, stream: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
        let _ = framer.push(&stream[from..cut]);
        assert!(framer.buffered() <= framer.limit());
        from = cut;
        while let Some(e) = framer.next() {
            events.push(e);
        }
    }
    framer.finish();
    while let Some(e) = framer.next() {
        events.push(e);
    }
    events
}

/// Returns the messages among `events`.
pub fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            Event::Skipped(_) => None,
        })
        .collect()
}

/// Returns the skipped runs among `events`.
pub fn skipped(events: &[Event]) -> Vec<Skipped> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Skipped(s) => Some(s.clone()),
            Event::Message(_) => None,
        })
        .collect()
}
