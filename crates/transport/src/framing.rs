//! One framing abstraction and a framer per protocol over the parsers' scanners (issue #6).
