//! The graded KV suites (6.824 4A/4B) and their harness (placeholder).
