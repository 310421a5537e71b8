//! The KV service's machine (6.824 lab 4): string keys and values.

use std::collections::BTreeMap;

use peer::{Kv, Op};
use serde::{Deserialize, Serialize};

use crate::server::{Machine, Server};

/// The KV server: the generic server with the KV machine.
pub type KvServer = Server<KvMachine>;

/// The data of the KV service. A missing key reads as `""`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct KvMachine {
    data: BTreeMap<String, String>,
}

impl Machine for KvMachine {
    type P = Kv;

    fn execute(&mut self, op: &Op) -> String {
        match op {
            Op::Get { key } => return self.data.get(key).cloned().unwrap_or_default(),
            Op::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
            }
            Op::Append { key, value } => self.data.entry(key.clone()).or_default().push_str(value),
            Op::Delete { key } => {
                self.data.remove(key);
            }
        }
        String::new()
    }
}

impl KvMachine {
    /// The value of `key` (`None` if missing).
    pub fn value(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }
}

impl Server<KvMachine> {
    /// The value of `key` in this replica (`None` if missing), for tests.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.machine().value(key)
    }
}
