//! Live links: TCP client with reconnect, TCP listener, UDP receiver, serial ports (issue #6).
