//! The OS processes a test started: started with [`Command`], killed with SIGKILL when the
//! test says so, and killed, whatever is left of them, when the test ends or panics, so that
//! none outlives it.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// The running processes, by name.
#[derive(Debug, Default)]
pub struct Processes {
    running: Vec<(String, Child)>,
}

/// A process that ended (or was killed at the deadline: `status` is `None`).
#[derive(Debug)]
pub struct Finished {
    pub name: String,
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// One line for a failure message.
    pub fn describe(&self) -> String {
        let status = self
            .status
            .map_or_else(|| "killed at the deadline".to_owned(), |s| s.to_string());
        format!(
            "{} ({status}): stderr: {} | stdout: {}",
            self.name,
            self.stderr.trim(),
            self.stdout.trim().replace('\n', "; ")
        )
    }
}

impl Processes {
    /// Starts `command` as the process `name`.
    pub fn spawn(&mut self, name: &str, mut command: Command) {
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        self.running.push((name.to_owned(), child));
    }

    /// Starts a process and waits for it to succeed.
    pub fn run_to_end(&mut self, name: &str, command: Command, timeout: Duration) {
        self.spawn(name, command);
        self.wait_success(name, Instant::now() + timeout);
    }

    /// The OS process id of the running process `name`.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.running
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, child)| child.id())
    }

    /// The name of the running process whose id is `pid`.
    pub fn name_of(&self, pid: u32) -> Option<String> {
        self.running
            .iter()
            .find(|(_, child)| child.id() == pid)
            .map(|(name, _)| name.clone())
    }

    /// Kills the process `name` with SIGKILL (`Child::kill` on Unix) and reaps it.
    pub fn kill(&mut self, name: &str) {
        let at = self.position(name);
        let (_, mut child) = self.running.swap_remove(at);
        let _ = child.kill();
        let _ = child.wait();
    }

    fn position(&self, name: &str) -> usize {
        self.running
            .iter()
            .position(|(known, _)| known == name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    /// Waits until the process `name` exits, at most until `deadline`; panics (which kills
    /// every process) unless it exits successfully. Returns its standard output, if piped.
    pub fn wait_success(&mut self, name: &str, deadline: Instant) -> String {
        let at = self.position(name);
        let (_, mut child) = self.running.swap_remove(at);
        let status = wait_until(&mut child, deadline);
        let stdout = read_all(child.stdout.take());
        match status {
            Some(status) if status.success() => stdout,
            Some(status) => panic!("{name} failed ({status}); its output: {stdout}"),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} did not finish in time; killed")
            }
        }
    }

    /// Waits for every process until `deadline`, then kills those still running. The ones
    /// not yet collected stay in `running`, so a panic here still kills them.
    pub fn wait_all(&mut self, deadline: Instant) -> Vec<Finished> {
        let mut finished = Vec::new();
        while !self.running.is_empty() {
            let past_deadline = Instant::now() >= deadline;
            let mut index = 0;
            while index < self.running.len() {
                let (name, child) = &mut self.running[index];
                let status = match child.try_wait() {
                    Ok(Some(status)) => Some(status),
                    Ok(None) if !past_deadline => {
                        index += 1;
                        continue;
                    }
                    Ok(None) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        None
                    }
                    Err(error) => panic!("cannot wait for {name}: {error}"),
                };
                let (name, mut child) = self.running.swap_remove(index);
                finished.push(Finished {
                    name,
                    status,
                    stdout: read_all(child.stdout.take()),
                    stderr: read_all(child.stderr.take()),
                });
            }
            if !self.running.is_empty() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        finished.sort_by(|a, b| a.name.cmp(&b.name));
        finished
    }
}

/// Waits for a child to exit until `deadline`; `None` if it is still running then.
pub fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => return None,
            Err(error) => panic!("cannot wait for a process: {error}"),
        }
    }
}

/// What is left in a child's pipe, once it has exited.
fn read_all(pipe: Option<impl std::io::Read>) -> String {
    let mut text = String::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_string(&mut text);
    }
    text
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
