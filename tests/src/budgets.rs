//! The budgets a user may raise through the environment. Each is an input of
//! the run, like its seed (ARCHITECTURE, rule 7): the verdict with it set is
//! the same on every machine, the failure that meets it names it, and a
//! replay command carries it. One definition of each name, default and unit.

/// A budget the environment may replace.
pub struct Budget {
    /// The environment variable.
    pub var: &'static str,
    /// Its value when the variable is not set.
    pub default: u64,
    /// What it counts, for error messages.
    pub unit: &'static str,
}

/// The linearizability check's search steps per key (partition): past it
/// the verdict is unknown, which fails the run. Counted in steps, not
/// seconds, so the verdict is the same on every machine at any load.
pub const CHECK_STEPS: Budget = Budget {
    var: "RAFTLAB_CHECK_STEPS",
    default: 1 << 30,
    unit: "search steps",
};

/// Most events one run may process per node within one virtual second: a
/// storm is cut off in the second it reaches this rate, not after the
/// millions of events of the whole-run budget (13 to 23 s of wall time a
/// seed). Healthy runs stay far below it: the busiest measured, raft-rs in
/// the KV test with 60 clients, peaks at about 4,200 per node; the
/// reference's busiest at about 700. The storms of two mutants (matchIndex
/// from the leader's log, truncating a matching suffix) run at 48,000 to
/// 82,000. A healthy peer chattier than any measured raises it.
pub const EVENT_RATE: Budget = Budget {
    var: "RAFTLAB_EVENT_RATE",
    default: 20_000,
    unit: "events per node per virtual second",
};

/// Every budget the environment may replace.
pub const ALL: [&Budget; 2] = [&CHECK_STEPS, &EVENT_RATE];

impl Budget {
    /// The budget: the variable's value if set, else the default.
    pub fn get(&self) -> Result<u64, String> {
        match std::env::var(self.var) {
            Err(std::env::VarError::NotPresent) => Ok(self.default),
            Ok(v) => match v.trim().parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!(
                    "{}={v:?} is not a number of {} (a whole number above 0)",
                    self.var, self.unit
                )),
            },
            Err(e) => Err(format!("{}: {e}", self.var)),
        }
    }
}

/// Refuses a budget variable set to something that is not a budget.
pub fn check_all() -> Result<(), String> {
    ALL.iter().try_for_each(|b| b.get().map(|_| ()))
}

/// The budgets set in the environment, as a command's prefix
/// (`RAFTLAB_EVENT_RATE=50000 `), so that a replay runs under them too.
pub fn raised() -> String {
    (ALL.iter())
        .filter(|b| std::env::var_os(b.var).is_some())
        .filter_map(|b| Some(format!("{}={} ", b.var, b.get().ok()?)))
        .collect()
}
