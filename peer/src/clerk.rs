//! The clerk: one client of a replicated service, one operation at a time, retried
//! until it takes effect. It finds the leader, remembers it, and retries an operation
//! (same sequence number) on a wrong leader, a failed call or a timeout: it never
//! gives up. It speaks only the protocol, so it works with any
//! [`crate::StateMachine`] of that protocol (the KV service's unless said otherwise).
//!
//! ```text
//! let call = clerk.begin(op);      send call.args to call.server (after call.delay_ms)
//! on reply/fail: clerk.on_reply(call_no, outcome) -> Progress::{Done, Retry, Refused, Stale}
//! ```

use crate::Kv;
use crate::service::{ClientId, Protocol, Reply, Request, Seq};

/// How a clerk behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClerkConfig {
    /// Servers of the service, numbered `0..servers`.
    pub servers: usize,
    /// The driver gives up waiting for one call's answer after this long and
    /// reports it with [`Clerk::on_reply`]`(call_no, None)`.
    pub call_timeout_ms: u64,
    /// After a full round of servers without success, wait this long before the
    /// next attempt (so a leaderless cluster is not hammered).
    pub retry_backoff_ms: u64,
}

impl ClerkConfig {
    /// Defaults for a service of `servers` servers.
    pub fn new(servers: usize) -> ClerkConfig {
        ClerkConfig {
            servers,
            call_timeout_ms: 2000,
            retry_backoff_ms: 50,
        }
    }
}

/// One attempt at the current operation: send `args` to `server`, after
/// `delay_ms`, and report its outcome under `call_no`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call<P: Protocol = Kv> {
    /// Names this attempt; outcomes of older attempts are ignored.
    pub call_no: u64,
    /// The server to call.
    pub server: usize,
    /// The request.
    pub args: Request<P::Op>,
    /// Wait this long before sending.
    pub delay_ms: u64,
}

/// What the clerk does after an outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress<P: Protocol = Kv> {
    /// The operation took effect; this is what it returned (the value for a Get,
    /// `""` otherwise). The clerk is free for the next operation.
    Done(P::Value),
    /// Try again with this call.
    Retry(Call<P>),
    /// A server refused the operation for good (it took no effect): the
    /// caller gets this error. The clerk is free for the next operation.
    Refused(String),
    /// The outcome was for an attempt that no longer matters: nothing to do.
    Stale,
}

#[derive(Clone, Debug)]
struct Current<P: Protocol> {
    args: Request<P::Op>,
    call_no: u64,
    server: usize,
    failures: u64,
}

/// A client of a replicated service, the KV service's unless said otherwise
/// (6.824's `Clerk`). It remembers the last leader,
/// follows leader hints, and retries an operation with the same sequence number
/// until it succeeds, so the servers apply it exactly once. It never gives up.
#[derive(Clone, Debug)]
pub struct Clerk<P: Protocol = Kv> {
    client_id: ClientId,
    config: ClerkConfig,
    seq: Seq,
    leader: usize,
    next_call_no: u64,
    current: Option<Current<P>>,
}

impl<P: Protocol> Clerk<P> {
    /// A clerk with a service-wide unique `client_id`.
    pub fn new(client_id: ClientId, config: ClerkConfig) -> Clerk<P> {
        assert!(config.servers > 0, "a clerk needs at least one server");
        Clerk {
            client_id,
            config,
            seq: 0,
            leader: 0,
            next_call_no: 0,
            current: None,
        }
    }

    /// This clerk's id.
    pub fn client_id(&self) -> ClientId {
        self.client_id
    }

    /// The configuration.
    pub fn config(&self) -> &ClerkConfig {
        &self.config
    }

    /// True while an operation is in progress.
    pub fn busy(&self) -> bool {
        self.current.is_some()
    }

    /// Starts `op` (the previous one must be done); returns the first call.
    pub fn begin(&mut self, op: P::Op) -> Call<P> {
        assert!(
            self.current.is_none(),
            "a clerk runs one operation at a time"
        );
        self.seq += 1;
        let args = Request {
            client_id: self.client_id,
            seq: self.seq,
            op,
        };
        let call_no = self.new_call_no();
        self.current = Some(Current {
            args: args.clone(),
            call_no,
            server: self.leader,
            failures: 0,
        });
        Call {
            call_no,
            server: self.leader,
            args,
            delay_ms: 0,
        }
    }

    fn new_call_no(&mut self) -> u64 {
        self.next_call_no += 1;
        self.next_call_no
    }

    /// An attempt ended: with the server's reply, or `None` if the call failed or
    /// timed out (the request may or may not have been executed).
    pub fn on_reply(&mut self, call_no: u64, reply: Option<Reply<P::Value>>) -> Progress<P> {
        let Some(cur) = self.current.as_mut() else {
            return Progress::Stale;
        };
        if cur.call_no != call_no {
            return Progress::Stale;
        }
        let n = self.config.servers;
        // Hints are followed in every other round of n attempts only: a
        // server removed from the configuration still names the leader it
        // last heard, and two such servers can send a clerk back and forth
        // between them for ever; a round without hints reaches every server.
        let follow_hints = (cur.failures / n as u64).is_multiple_of(2);
        let next = match reply {
            Some(Reply::Ok { value }) => {
                self.leader = cur.server;
                self.current = None;
                return Progress::Done(value);
            }
            Some(Reply::Refused { why }) => {
                self.current = None;
                return Progress::Refused(why);
            }
            Some(Reply::WrongLeader {
                leader_hint: Some(h),
            }) if h < n && h != cur.server && follow_hints => h,
            _ => (cur.server + 1) % n,
        };
        cur.failures += 1;
        let delay_ms = if cur.failures % n as u64 == 0 {
            self.config.retry_backoff_ms
        } else {
            0
        };
        self.next_call_no += 1;
        let call_no = self.next_call_no;
        let cur = self.current.as_mut().expect("checked above");
        cur.call_no = call_no;
        cur.server = next;
        self.leader = next;
        Progress::Retry(Call {
            call_no,
            server: next,
            args: cur.args.clone(),
            delay_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KvReply, Op};

    #[test]
    fn retries_with_the_same_seq_until_done_and_remembers_the_leader() {
        let mut ck: Clerk = Clerk::new(7, ClerkConfig::new(3));
        let c1 = ck.begin(Op::Get { key: "k".into() });
        assert_eq!((c1.server, c1.args.seq), (0, 1));
        let Progress::Retry(c2) = ck.on_reply(
            c1.call_no,
            Some(KvReply::WrongLeader {
                leader_hint: Some(2),
            }),
        ) else {
            panic!("must retry")
        };
        assert_eq!((c2.server, c2.args.seq), (2, 1));
        assert_eq!(ck.on_reply(c1.call_no, None), Progress::Stale);
        let Progress::Retry(c3) = ck.on_reply(c2.call_no, None) else {
            panic!("must retry")
        };
        assert_eq!(c3.server, 0);
        assert_eq!(
            ck.on_reply(c3.call_no, Some(KvReply::Ok { value: "v".into() })),
            Progress::Done("v".into())
        );
        let c4 = ck.begin(Op::Delete { key: "k".into() });
        assert_eq!((c4.server, c4.args.seq), (0, 2));
    }

    #[test]
    fn stale_hints_that_point_at_each_other_do_not_trap_the_clerk() {
        // Servers 0 and 1 were removed; each names the other as leader.
        let mut ck: Clerk = Clerk::new(3, ClerkConfig::new(5));
        let mut call = ck.begin(Op::Get { key: "k".into() });
        let mut visited = Vec::new();
        while call.server < 2 {
            visited.push(call.server);
            let hint = Some(1 - call.server);
            let reply = Some(KvReply::WrongLeader { leader_hint: hint });
            let Progress::Retry(next) = ck.on_reply(call.call_no, reply) else {
                panic!("must retry")
            };
            call = next;
            assert!(visited.len() <= 10, "trapped: {visited:?}");
        }
        assert_eq!(call.server, 2, "after {visited:?}");
    }

    #[test]
    fn a_refusal_ends_the_operation_with_its_reason() {
        let mut ck: Clerk = Clerk::new(3, ClerkConfig::new(3));
        let c = ck.begin(Op::Get { key: "k".into() });
        let why = "no ReadIndex".to_string();
        let reply = Some(KvReply::Refused { why: why.clone() });
        assert_eq!(ck.on_reply(c.call_no, reply), Progress::Refused(why));
        assert_eq!(
            ck.on_reply(c.call_no, None),
            Progress::Stale,
            "nothing in flight"
        );
    }

    #[test]
    fn backs_off_after_a_full_round() {
        let mut ck: Clerk = Clerk::new(1, ClerkConfig::new(2));
        let c = ck.begin(Op::Get { key: "k".into() });
        let Progress::Retry(c) = ck.on_reply(c.call_no, Some(KvReply::Timeout)) else {
            panic!()
        };
        assert_eq!(c.delay_ms, 0);
        let Progress::Retry(c) = ck.on_reply(c.call_no, None) else {
            panic!()
        };
        assert_eq!(c.delay_ms, ck.config().retry_backoff_ms);
    }
}
