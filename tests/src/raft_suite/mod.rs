//! The graded Raft suites (6.824 parts A to D, and E: Raft's other half)
//! and their harness.

pub mod clients;
pub mod cluster;
pub mod node;
pub mod oracle;
mod reconfiguring;
pub mod tests_a;
pub mod tests_b;
pub mod tests_c;
pub mod tests_d;
pub mod tests_e;

pub use cluster::{Cluster, ClusterOptions, RunReport, cmd, decode_cmd};

use crate::Test;
use crate::failure::Failure;

/// A graded test: a pure function of its seed (and of the peer under test).
pub struct GradedTest {
    /// Its name, e.g. `raft::figure8`.
    pub name: &'static str,
    /// Its part, as 6.824 numbers them: `3A` to `3D` (Raft), `4A`, `4B` (KV);
    /// and `3E` (Raft's other half, past 6.824).
    pub part: &'static str,
    /// The test itself (its name and seed come in the [`Test`]).
    pub body: fn(&Test) -> Result<RunReport, Failure>,
}

impl GradedTest {
    /// Runs it on `seed`.
    pub fn run(&self, seed: u64) -> Result<RunReport, Failure> {
        (self.body)(&Test {
            name: self.name,
            seed,
        })
    }
}

/// A suite's registry: `TESTS`, every graded test named `PREFIX::function`, in
/// 6.824's order.
macro_rules! graded_registry {
    ($prefix:literal; $($part:literal $module:ident :: $name:ident),* $(,)?) => {
        /// Every graded test of this suite, in 6.824's order.
        pub const TESTS: &[$crate::raft_suite::GradedTest] = &[
            $($crate::raft_suite::GradedTest {
                name: concat!($prefix, "::", stringify!($name)),
                part: $part,
                body: $module::$name,
            }),*
        ];
    };
}
pub(crate) use graded_registry;

graded_registry!(
    "raft";
    "3A" tests_a::initial_election,
    "3A" tests_a::re_election,
    "3A" tests_a::many_elections,
    "3B" tests_b::basic_agree,
    "3B" tests_b::rpc_bytes,
    "3B" tests_b::follower_failure,
    "3B" tests_b::leader_failure,
    "3B" tests_b::fail_agree,
    "3B" tests_b::fail_no_agree,
    "3B" tests_b::concurrent_starts,
    "3B" tests_b::rejoin,
    "3B" tests_b::backup,
    "3B" tests_b::count,
    "3C" tests_c::persist1,
    "3C" tests_c::persist2,
    "3C" tests_c::persist3,
    "3C" tests_c::figure8,
    "3C" tests_c::unreliable_agree,
    "3C" tests_c::figure8_unreliable,
    "3C" tests_c::reliable_churn,
    "3C" tests_c::unreliable_churn,
    "3D" tests_d::snapshot_basic,
    "3D" tests_d::snapshot_install,
    "3D" tests_d::snapshot_install_unreliable,
    "3D" tests_d::snapshot_install_crash,
    "3D" tests_d::snapshot_install_unreliable_crash,
    "3D" tests_d::snapshot_all_crash,
    "3D" tests_d::snapshot_init,
    "3E" tests_e::check_quorum_leader_steps_down,
    "3E" tests_e::prevote_check_quorum_partial_partition,
    "3E" tests_e::leadership_transfer,
    "3E" tests_e::leadership_transfer_unreliable,
    "3E" tests_e::read_index,
    "3E" tests_e::learner_catches_up,
    "3E" tests_e::membership_add_remove,
    "3E" tests_e::membership_joint_replace,
    "3E" tests_e::membership_remove_leader,
    "3E" tests_e::membership_unreliable,
);
