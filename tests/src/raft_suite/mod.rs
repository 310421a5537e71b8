//! The graded Raft suites (6.824 parts A to D) and their harness.

pub mod clients;
pub mod cluster;
pub mod node;
pub mod oracle;
pub mod tests_a;
pub mod tests_b;
pub mod tests_c;
pub mod tests_d;

pub use cluster::{Cluster, ClusterOptions, RunReport, cmd, decode_cmd};

use crate::failure::Failure;

/// A graded test: a pure function of its seed.
pub struct GradedTest {
    /// Its name, e.g. `raft::figure8`.
    pub name: &'static str,
    /// Its part: `A`, `B`, `C` or `D`.
    pub part: &'static str,
    /// Runs it on a seed.
    pub run: fn(u64) -> Result<RunReport, Failure>,
}

macro_rules! graded {
    ($($part:literal $module:ident :: $name:ident),* $(,)?) => {
        /// Every graded Raft test, in 6.824's order.
        pub const TESTS: &[GradedTest] = &[
            $(GradedTest { name: concat!("raft::", stringify!($name)), part: $part, run: $module::$name }),*
        ];
    };
}

graded!(
    "A" tests_a::initial_election,
    "A" tests_a::re_election,
    "A" tests_a::many_elections,
    "B" tests_b::basic_agree,
    "B" tests_b::rpc_bytes,
    "B" tests_b::follower_failure,
    "B" tests_b::leader_failure,
    "B" tests_b::fail_agree,
    "B" tests_b::fail_no_agree,
    "B" tests_b::concurrent_starts,
    "B" tests_b::rejoin,
    "B" tests_b::backup,
    "B" tests_b::count,
    "C" tests_c::persist1,
    "C" tests_c::persist2,
    "C" tests_c::persist3,
    "C" tests_c::figure8,
    "C" tests_c::unreliable_agree,
    "C" tests_c::figure8_unreliable,
    "C" tests_c::reliable_churn,
    "C" tests_c::unreliable_churn,
    "D" tests_d::snapshot_basic,
    "D" tests_d::snapshot_install,
    "D" tests_d::snapshot_install_unreliable,
    "D" tests_d::snapshot_install_crash,
    "D" tests_d::snapshot_install_unreliable_crash,
    "D" tests_d::snapshot_all_crash,
    "D" tests_d::snapshot_init,
);

/// Finds a graded test by name (`raft::x` or just `x`).
pub fn find(name: &str) -> Option<&'static GradedTest> {
    TESTS
        .iter()
        .find(|t| t.name == name || t.name.strip_prefix("raft::") == Some(name))
}
