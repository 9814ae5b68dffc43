//! The OpenStack test cloud as a child process of an xtask (demo, bench).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::Result;

/// A running test cloud; stopped on drop.
pub(crate) struct Cloud {
    child: Child,
    listen: String,
    /// The admin password it printed.
    pub(crate) password: String,
}

impl Cloud {
    /// Starts `bin/syncer-testcloud ARGS --listen LISTEN` and reads its credentials.
    pub(crate) fn start(bin: &Path, args: &[&str], listen: &str) -> Result<Cloud> {
        let mut child = Command::new(bin.join("syncer-testcloud"))
            .args(args)
            .args(["--listen", listen])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the test cloud: {e}"))?;
        // It prints its address, then its (fake) credentials.
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut password = None;
        for line in lines.by_ref().take(4) {
            let line = line.map_err(|e| e.to_string())?;
            if let Some(rest) = line.strip_prefix("username:") {
                password = rest
                    .split_whitespace()
                    .skip_while(|w| *w != "password:")
                    .nth(1)
                    .map(str::to_owned);
            }
        }
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let password =
            password.ok_or(format!("the test cloud did not start (is {listen} taken?)"))?;
        Ok(Cloud {
            child,
            listen: listen.to_owned(),
            password,
        })
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its Keystone URL.
    pub(crate) fn auth_url(&self) -> String {
        format!("http://{}/identity/v3", self.listen)
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
