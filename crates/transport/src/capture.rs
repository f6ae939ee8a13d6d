//! Streaming capture readers: pcap/pcapng with TCP reassembly, hex dumps, raw files, raw logs (issue #6).
