//! Membership changes as one verb of the Raft harness: ask whoever leads,
//! retry while a change is refused for a while, and wait until every member
//! follows the new configuration.

use super::Cluster;
use super::node::any_status;
use crate::failure::Failure;
use labsim::{MS, SEC};
use peer::{Index, Membership};

impl Cluster {
    /// The connected peer that leads in the highest term, now (no waiting).
    pub fn leader_now(&self) -> Option<usize> {
        (0..self.n())
            .filter(|&i| self.connected(i))
            .filter_map(|i| self.get_state(i).filter(|s| s.1).map(|s| (s.0, i)))
            .max()
            .map(|(_, i)| i)
    }

    /// Asks whoever leads to move the cluster to `target` until one accepts (a
    /// change still under way and a new leader's first entry are refused for a
    /// while), for 5 s at most: the leader that took it and the index of its
    /// entry, or the last refusal.
    pub fn ask_change(
        &mut self,
        target: Membership,
    ) -> Result<Result<(usize, Index), String>, Failure> {
        let mut refusal = String::from("no leader");
        for _ in 0..50 {
            if let Some(leader) = self.leader_now() {
                match self.change_membership(leader, target)? {
                    Ok(index) => return Ok(Ok((leader, index))),
                    Err(e) => refusal = e,
                }
            }
            self.sleep(100 * MS)?;
        }
        Ok(Err(refusal))
    }

    /// [`Cluster::ask_change`], failing the test on a refusal.
    pub fn change(&mut self, target: Membership) -> Result<(usize, Index), Failure> {
        match self.ask_change(target)? {
            Ok(taken) => Ok(taken),
            Err(refusal) => self.check(format!(
                "no leader took the change to {target} in 5 s; the last refusal: {refusal}"
            )),
        }
    }

    /// Waits up to `limit_ns` until every member of `target` follows it.
    pub fn settled_within(&mut self, target: Membership, limit_ns: u64) -> Result<bool, Failure> {
        let members = target.members();
        let follows = move |sim: &labrpc::Sim, p| {
            any_status(sim, p).is_some_and(|s| s.membership == Some(target))
        };
        self.run_until(|sim| members.iter().all(|p| follows(sim, p)), limit_ns)
    }

    /// Moves the cluster to `target`: asks whoever leads, then waits until every
    /// member follows it, three times at most (a leader may lose a change it
    /// took before it reaches anyone, as it may lose a command).
    pub fn reconfigure(&mut self, target: Membership) -> Result<(), Failure> {
        let mut why = String::new();
        for attempt in 0..3 {
            if let Err(refusal) = self.ask_change(target)? {
                let again = if attempt > 0 { "asked again, " } else { "" };
                why = format!("{again}refused for 5 s: {refusal}");
                break;
            }
            if self.settled_within(target, 3 * SEC)? {
                return Ok(());
            }
            why = "taken three times, never followed by all in 3 s".into();
        }
        let views: Vec<String> = target
            .members()
            .iter()
            .map(|p| match self.membership(p) {
                Some(m) => format!("{p} follows {m}"),
                None => format!("{p} reports none"),
            })
            .collect();
        self.check(format!(
            "the members did not all follow {target} ({why}): {}",
            views.join(", ")
        ))
    }
}
