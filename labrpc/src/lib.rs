//! labrpc
