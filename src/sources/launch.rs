//! Starting a source's command: the program found as execvp does, no shell, stdin from
//! /dev/null, stdout/stderr piped (to the log), in a process group of its own (a stop
//! signals what it started too; a Ctrl-C meant for the server does not reach it), and, where
//! util-linux `setpriv` supports it, through `setpriv --pdeathsig KILL --` so the kernel
//! kills the child when the thread that spawned it ends: a server killed with SIGKILL (or
//! crashing) leaves no source behind to run twice after a restart. Linux sends that signal
//! when the spawning *thread* exits, so each child is spawned by its runner's thread, which
//! lives until the child is reaped.

use crate::record::hook_program::resolve;
use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How children are started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    /// `setpriv`, when found and `--pdeathsig` works.
    setpriv: Option<PathBuf>,
}

impl Launcher {
    /// Looks for a `setpriv` that honours `--pdeathsig` (runs it once); warns when there is none.
    pub fn probe() -> Launcher {
        let setpriv = resolve(Path::new("setpriv"), std::env::var_os("PATH").as_deref())
            .ok()
            .filter(|setpriv| {
                Command::new(setpriv)
                    .args(["--pdeathsig", "KILL", "--", "true"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
        if setpriv.is_none() {
            log::warn!(
                "setpriv --pdeathsig not available (util-linux): sources are stopped on shutdown, \
                 but a server killed with SIGKILL leaves them running"
            );
        }
        Launcher { setpriv }
    }

    /// Starts children directly (no parent-death signal).
    pub fn direct() -> Launcher {
        Launcher { setpriv: None }
    }

    /// True when children die with the thread that spawned them.
    pub fn kills_on_parent_death(&self) -> bool {
        self.setpriv.is_some()
    }

    /// The command line that starts `argv` (its program resolved in PATH), or why not.
    pub fn command(&self, argv: &[String], path_var: Option<&OsStr>) -> Result<Command, String> {
        let Some((program, args)) = argv.split_first() else {
            return Err("empty command".to_owned());
        };
        let program = resolve(Path::new(program), path_var).map_err(|e| e.to_string())?;
        let mut command = match &self.setpriv {
            Some(setpriv) => {
                let mut command = Command::new(setpriv);
                command.args(["--pdeathsig", "KILL", "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        Ok(command)
    }

    /// Starts `argv`; the error says why it could not be.
    pub fn spawn(&self, argv: &[String]) -> Result<Child, String> {
        self.command(argv, std::env::var_os("PATH").as_deref())?
            .spawn()
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn commands_run_through_setpriv_when_it_is_there() {
        let launcher = Launcher {
            setpriv: Some(PathBuf::from("/usr/bin/setpriv")),
        };
        let command = launcher.command(&argv(&["sh", "-c", "x"]), None).unwrap();
        let args: Vec<&OsStr> = command.get_args().collect();
        assert_eq!(command.get_program(), "/usr/bin/setpriv");
        assert_eq!(args[..3], ["--pdeathsig", "KILL", "--"]);
        assert!(Path::new(args[3]).ends_with("sh"), "resolved in PATH: {args:?}");
        assert_eq!(args[4..], ["-c", "x"]);
        let direct = Launcher::direct().command(&argv(&["sh", "-c", "x"]), None).unwrap();
        assert!(Path::new(direct.get_program()).ends_with("sh"));
    }

    #[test]
    fn a_missing_program_is_an_error_not_a_child() {
        let error = Launcher::direct().spawn(&argv(&["/no/such/program"])).unwrap_err();
        assert!(error.contains("/no/such/program"), "{error}");
        assert!(Launcher::direct().spawn(&[]).is_err());
    }

    #[test]
    fn this_box_has_a_setpriv_with_pdeathsig() {
        // Debian's util-linux ships it; the kill -9 test relies on it too.
        assert!(Launcher::probe().kills_on_parent_death());
    }
}
