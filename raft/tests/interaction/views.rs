//! Commands that show what a peer holds, changing nothing.

use super::{Args, Env, format};
use raft::{PeerId, Role};

impl Env {
    /// `ID: Role term= vote= leader= commit= applied= last=INDEX@tTERM deadline=
    /// voters= [learners=]`, the deadline being when the peer next needs a tick (a
    /// follower's election timeout, a leader's heartbeat) and the voters and learners
    /// the configuration it uses (the latest in its log); a leader adds the matchIndex
    /// and nextIndex of each other member of its configuration.
    pub(super) fn status(&mut self, args: &Args) -> Result<(), String> {
        args.allow(usize::MAX, &[])?;
        for id in self.ids_or_all(args)? {
            let line = self.status_line(id);
            self.say(line);
            let raft = &self.nodes[id].raft;
            let members = raft.membership().members();
            let progress: Vec<String> = (0..self.peers())
                .filter(|&p| p != id && members.contains(p) && raft.role() == Role::Leader)
                .filter_map(|p| raft.progress_of(p).map(|(next, m)| (p, next, m)))
                .map(|(p, next, m)| format!("  {p}: matchIndex={m} nextIndex={next}"))
                .collect();
            for line in progress {
                self.say(line);
            }
        }
        Ok(())
    }

    fn status_line(&self, id: PeerId) -> String {
        let r = &self.nodes[id].raft;
        let none = |v: Option<PeerId>| v.map_or("none".to_string(), |v| v.to_string());
        let mut line = format!(
            "{id}: {:?} term={} vote={} leader={} commit={} applied={} last={}@t{}",
            r.role(),
            r.current_term(),
            none(r.voted_for()),
            none(r.leader_id()),
            r.commit_index(),
            r.last_applied(),
            r.last_index(),
            r.last_term(),
        );
        if r.snapshot_index() > 0 {
            line += &format!(" snapshot={}@t{}", r.snapshot_index(), r.snapshot_term());
        }
        line + &format!(" deadline={}ms {}", r.next_deadline_ms(), r.membership())
    }

    /// The log of a peer, entry by entry, after its snapshot if it has one.
    pub(super) fn log(&mut self, args: &Args) -> Result<(), String> {
        args.allow(1, &[])?;
        let id = args.id(self.peers())?;
        let r = &self.nodes[id].raft;
        let mut lines = Vec::new();
        if r.snapshot_index() > 0 {
            let data = format::text(r.snapshot_data());
            let (i, t) = (r.snapshot_index(), r.snapshot_term());
            lines.push(format!("snapshot {i}@t{t} data={data}"));
        }
        for index in r.first_index()..=r.last_index() {
            lines.push(format::entry(r.entry(index).expect("held")));
        }
        if lines.is_empty() {
            lines.push("(empty)".into());
        }
        for line in lines {
            self.say(line);
        }
        Ok(())
    }
}
