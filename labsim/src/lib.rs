//! labsim
