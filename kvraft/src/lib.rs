//! kvraft
