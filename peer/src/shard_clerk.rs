//! The sharded KV clerk (6.824 lab 5B's `Clerk`): one operation at a time, sent
//! to the group that serves its key's shard in the configuration the clerk last
//! heard of; on `WrongGroup`, or after every server of that group failed, it
//! asks the controller for the latest configuration and tries again, with the
//! same sequence number, so the operation takes effect once wherever its shard
//! has moved.
//!
//! ```text
//! let step = clerk.begin(op);        make the call it names (after its delay)
//! on a group's reply:      clerk.on_group_reply(call_no, reply)  -> ShardProgress
//! on the controller's:     clerk.on_ctrl_reply(call_no, reply)   -> ShardProgress
//! ```

use crate::clerk::{Call, Clerk, ClerkConfig, Progress};
use crate::{ClientId, Ctrl, CtrlOp, CtrlOutcome, CtrlReply, Op, Seq, ShardConfig, ShardKvArgs};
use crate::{ShardKvReply, ShardKvValue, key2shard};

/// Wait this long before asking the controller again (6.824's 100 ms).
pub const REQUERY_DELAY_MS: u64 = 100;

/// A call to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardCall {
    /// To the controller: its clerk's call (server index, request, delay).
    Ctrl(Call<Ctrl>),
    /// To a server of a group, by its name in the configuration.
    Group {
        /// Names this attempt; replies to older attempts are ignored.
        call_no: u64,
        /// The server's name.
        server: String,
        /// The request.
        args: ShardKvArgs,
    },
}

/// What the clerk does after a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardProgress {
    /// The operation took effect; what a Get read (`""` otherwise).
    Done(String),
    /// Make this call.
    Retry(ShardCall),
    /// The reply was for an attempt that no longer matters.
    Stale,
}

#[derive(Clone, Debug)]
struct Current {
    args: ShardKvArgs,
    /// The group tried, and the index of its server asked; None while the
    /// controller is asked.
    trying: Option<(u64, usize)>,
    call_no: u64,
}

/// A client of the sharded KV service.
#[derive(Clone, Debug)]
pub struct ShardClerk {
    client_id: ClientId,
    seq: Seq,
    config: ShardConfig,
    ctrl: Clerk<Ctrl>,
    next_call_no: u64,
    current: Option<Current>,
}

impl ShardClerk {
    /// A clerk with a service-wide unique `client_id`, of a controller of
    /// `ctrlers` servers.
    pub fn new(client_id: ClientId, ctrlers: usize) -> ShardClerk {
        ShardClerk {
            client_id,
            seq: 0,
            config: ShardConfig::initial(),
            ctrl: Clerk::new(client_id, ClerkConfig::new(ctrlers)),
            next_call_no: 0,
            current: None,
        }
    }

    /// True while an operation is in progress.
    pub fn busy(&self) -> bool {
        self.current.is_some()
    }

    /// Starts `op` (the clerk must be free): the first call to make.
    pub fn begin(&mut self, op: Op) -> ShardCall {
        assert!(
            self.current.is_none(),
            "a clerk runs one operation at a time"
        );
        self.seq += 1;
        let args = ShardKvArgs {
            client_id: self.client_id,
            seq: self.seq,
            op,
        };
        self.current = Some(Current {
            args,
            trying: None,
            call_no: 0,
        });
        self.try_server(0)
    }

    /// The call to server `index` of the key's group, or to the controller if
    /// the configuration names no group for the key (or `index` is past them).
    fn try_server(&mut self, index: usize) -> ShardCall {
        let cur = self.current.as_mut().expect("an operation is running");
        let gid = self.config.shards[key2shard(cur.args.op.key())];
        match self.config.groups.get(&gid).and_then(|s| s.get(index)) {
            Some(server) => {
                self.next_call_no += 1;
                cur.call_no = self.next_call_no;
                cur.trying = Some((gid, index));
                ShardCall::Group {
                    call_no: cur.call_no,
                    server: server.clone(),
                    args: cur.args.clone(),
                }
            }
            None => self.query(),
        }
    }

    /// Asks the controller for the latest configuration, after a pause.
    fn query(&mut self) -> ShardCall {
        let cur = self.current.as_mut().expect("an operation is running");
        cur.trying = None;
        let mut call = self.ctrl.begin(CtrlOp::Query { num: None });
        call.delay_ms = call.delay_ms.max(REQUERY_DELAY_MS);
        cur.call_no = call.call_no;
        ShardCall::Ctrl(call)
    }

    /// A group server's reply to `call_no` (None: the call failed).
    pub fn on_group_reply(&mut self, call_no: u64, reply: Option<ShardKvReply>) -> ShardProgress {
        let Some(cur) = self.current.as_ref() else {
            return ShardProgress::Stale;
        };
        let Some((_, index)) = cur.trying.filter(|_| cur.call_no == call_no) else {
            return ShardProgress::Stale;
        };
        match reply {
            Some(ShardKvReply::Ok {
                value: ShardKvValue::Value(v),
            }) => {
                self.current = None;
                ShardProgress::Done(v)
            }
            Some(ShardKvReply::Ok {
                value: ShardKvValue::WrongGroup,
            }) => ShardProgress::Retry(self.query()),
            _ => ShardProgress::Retry(self.try_server(index + 1)),
        }
    }

    /// The controller's reply to `call_no` (None: the call failed).
    pub fn on_ctrl_reply(&mut self, call_no: u64, reply: Option<CtrlReply>) -> ShardProgress {
        let asking = self
            .current
            .as_ref()
            .is_some_and(|c| c.trying.is_none() && c.call_no == call_no);
        if !asking {
            return ShardProgress::Stale;
        }
        match self.ctrl.on_reply(call_no, reply) {
            Progress::Stale => ShardProgress::Stale,
            Progress::Retry(call) => {
                let cur = self.current.as_mut().expect("checked above");
                cur.call_no = call.call_no;
                ShardProgress::Retry(ShardCall::Ctrl(call))
            }
            Progress::Done(CtrlOutcome::Config(config)) => {
                if config.num >= self.config.num {
                    self.config = config;
                }
                ShardProgress::Retry(self.try_server(0))
            }
            // The latest configuration cannot be refused; ask again.
            Progress::Done(_) | Progress::Refused(_) => ShardProgress::Retry(self.query()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CtrlReply, Reply, ShardConfig};

    fn config(gid: u64) -> ShardConfig {
        ShardConfig {
            num: 1,
            shards: [gid; crate::NSHARDS],
            groups: [(gid, vec![format!("{gid}a"), format!("{gid}b")])].into(),
        }
    }

    #[test]
    fn asks_the_controller_then_the_group_and_again_on_wrong_group() {
        let mut ck = ShardClerk::new(5, 3);
        let ShardCall::Ctrl(q) = ck.begin(Op::Get { key: "k".into() }) else {
            panic!("no configuration yet: ask the controller")
        };
        assert!(q.delay_ms >= REQUERY_DELAY_MS);
        let reply = CtrlReply::Ok {
            value: CtrlOutcome::Config(config(7)),
        };
        let ShardProgress::Retry(ShardCall::Group {
            call_no,
            server,
            args,
        }) = ck.on_ctrl_reply(q.call_no, Some(reply))
        else {
            panic!("then the group")
        };
        assert_eq!((server.as_str(), args.seq), ("7a", 1));
        // The first server fails: the second; it says wrong group: the controller.
        let ShardProgress::Retry(ShardCall::Group {
            call_no, server, ..
        }) = ck.on_group_reply(call_no, None)
        else {
            panic!("next server")
        };
        assert_eq!(server, "7b");
        let wrong = Reply::Ok {
            value: ShardKvValue::WrongGroup,
        };
        let ShardProgress::Retry(ShardCall::Ctrl(q)) = ck.on_group_reply(call_no, Some(wrong))
        else {
            panic!("ask the controller again")
        };
        let mut moved = config(8);
        moved.num = 2;
        let reply = CtrlReply::Ok {
            value: CtrlOutcome::Config(moved),
        };
        let ShardProgress::Retry(ShardCall::Group {
            call_no,
            server,
            args,
        }) = ck.on_ctrl_reply(q.call_no, Some(reply))
        else {
            panic!("the new group")
        };
        assert_eq!(
            (server.as_str(), args.seq),
            ("8a", 1),
            "same operation, same seq"
        );
        assert_eq!(ck.on_group_reply(call_no + 1, None), ShardProgress::Stale);
        let got = Reply::Ok {
            value: ShardKvValue::Value("v".into()),
        };
        assert_eq!(
            ck.on_group_reply(call_no, Some(got)),
            ShardProgress::Done("v".into())
        );
        assert!(!ck.busy());
    }
}
