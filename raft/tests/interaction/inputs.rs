//! Commands that feed a service's inputs to one peer: a command, a read, a leadership
//! transfer, a membership change, a snapshot.

use super::{Args, Env};
use raft::{Membership, PeerId, PeerSet};

impl Env {
    pub(super) fn propose(&mut self, args: &Args) -> Result<(), String> {
        args.allow(2, &[])?;
        let [id, data] = args.pos.as_slice() else {
            return Err("propose ID DATA".into());
        };
        let id = Args::parse(&format!("_ {id}")).id(self.peers())?;
        let command = data.clone().into_bytes();
        let (index, term, is_leader) = self.input(id, |r, now| r.start(now, command));
        self.say(format!("index={index} term={term} isLeader={is_leader}"));
        Ok(())
    }

    pub(super) fn read_index(&mut self, args: &Args) -> Result<(), String> {
        args.allow(1, &["ctx"])?;
        let id = args.id(self.peers())?;
        let ctx: u64 = args.need("ctx")?;
        let r = self.input(id, |r, now| r.read_index(now, ctx));
        self.say_result(r);
        Ok(())
    }

    pub(super) fn transfer_leader(&mut self, args: &Args) -> Result<(), String> {
        args.allow(0, &["from", "to"])?;
        let from = args.peer("from", self.peers(), false)?;
        let to = args.peer("to", self.peers(), true)?;
        let r = self.input(from, |r, now| r.transfer_leadership(now, to));
        self.say_result(r);
        Ok(())
    }

    /// `add-learner leader=ID id=ID`: the leader's current voters, its learners and `id`.
    pub(super) fn add_learner(&mut self, args: &Args) -> Result<(), String> {
        args.allow(0, &["leader", "id"])?;
        let leader = args.peer("leader", self.peers(), false)?;
        let id = args.peer("id", self.peers(), true)?;
        if id >= 64 {
            return Err(format!("id={id}: a peer set holds ids below 64"));
        }
        let current = self.nodes[leader].raft.membership();
        let target = Membership {
            voters: current.voters,
            outgoing: PeerSet::EMPTY,
            learners: current.learners.with(id),
        };
        self.change_to(leader, target);
        Ok(())
    }

    /// `change-membership leader=ID voters=... [learners=...]`.
    pub(super) fn change_membership(&mut self, args: &Args) -> Result<(), String> {
        args.allow(0, &["leader", "voters", "learners"])?;
        let leader = args.peer("leader", self.peers(), false)?;
        let target = Membership {
            voters: args.set("voters")?.ok_or("voters= is required")?,
            outgoing: PeerSet::EMPTY,
            learners: args.set("learners")?.unwrap_or_default(),
        };
        self.change_to(leader, target);
        Ok(())
    }

    /// Asks `leader` to move to `target`; says the entry's index or the refusal.
    fn change_to(&mut self, leader: PeerId, target: Membership) {
        let r = self.input(leader, |r, now| r.change_membership(now, target));
        match r {
            Ok(index) => self.say(format!("index={index}")),
            Err(e) => self.say(format!("error: {e}")),
        }
    }

    pub(super) fn snapshot(&mut self, args: &Args) -> Result<(), String> {
        args.allow(1, &["index"])?;
        let id = args.id(self.peers())?;
        let node = &self.nodes[id];
        let index = args.get("index")?.unwrap_or(node.raft.last_applied());
        let data = node.service.state_at(index).into_bytes();
        let r = self.input(id, |r, _| r.snapshot(index, data));
        self.say_result(r);
        Ok(())
    }
}
