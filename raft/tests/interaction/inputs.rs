//! Commands that feed a service's inputs to one peer: a command, a read, a leadership
//! transfer, a snapshot.

use super::{Args, Env};

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
