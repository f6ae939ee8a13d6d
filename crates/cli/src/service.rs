//! The `service` subcommand: a long-running mode as a Windows service, on
//! the `windows-service` crate.
//!
//! `TOOL service install [--name NAME] [--log-file FILE] -- MODE FLAGS…`
//! checks `MODE FLAGS…` as the tool would, then registers the service
//! with the service control manager (automatic start, LocalSystem) to run
//! `TOOL service run --name NAME --log-file FILE -- MODE FLAGS…`. That
//! hidden `run` hands the process to the service control manager, which
//! calls back on a thread of its own: the tool's mode runs there until
//! the manager says stop (or shutdown), then reports `SERVICE_STOPPED`.
//! The mode's diagnostics go to the log file (appended, one timestamped
//! line each), since a service has no console. `service uninstall` stops
//! the service when it runs and deletes it.
//!
//! On other systems the subcommand exits 2 saying it is Windows only.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The flag the service control manager's stop request sets; the mode
/// polls it and returns.
pub type Stop = Arc<AtomicBool>;

/// Runs a mode (`MODE FLAGS…`, the tool's name first) until `Stop` is
/// set; checks the arguments without running when the flag is `None`.
pub type Serve = fn(Vec<OsString>, Option<Stop>) -> anyhow::Result<()>;

/// The `service` subcommand.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ServiceCmd {
    /// Register a Windows service that runs `MODE FLAGS…` (give them after
    /// `--`); run from an elevated prompt.
    Install(InstallArgs),
    /// Stop the Windows service if it runs, and delete it; run from an
    /// elevated prompt.
    Uninstall {
        /// The service's name.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// The service's entry, started by the service control manager.
    #[command(hide = true)]
    Run {
        /// The service's name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Where diagnostics go.
        #[arg(long, value_name = "FILE")]
        log_file: PathBuf,
        /// The mode and its flags.
        #[arg(last = true, required = true, value_name = "MODE FLAGS")]
        args: Vec<OsString>,
    },
}

/// `service install`.
#[derive(Debug, Clone, clap::Args)]
pub struct InstallArgs {
    /// The service's name (`sc query NAME`) [default: rewire-TOOL].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Where the service's diagnostics go (appended) [default: NAME.log
    /// beside the executable].
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// The mode and its flags, after `--` (`-- monitor --rupsmon 127.0.0.1:2570 --nut 3493`).
    #[arg(last = true, required = true, value_name = "MODE FLAGS")]
    pub args: Vec<OsString>,
}

/// Returns the default service name of `tool`: `rewire-TOOL`.
#[must_use]
pub fn default_name(tool: &str) -> String {
    format!("rewire-{tool}")
}

/// Runs the `service` subcommand of `tool`, whose service modes are
/// `modes` (`["monitor"]`), with `serve` running one.
///
/// # Errors
/// On systems other than Windows, always (exit 2). On Windows: a mode
/// other than `modes`, bad flags for it, or what the service control
/// manager refuses (not elevated, a name already taken, no such service).
pub fn run(tool: &str, modes: &[&str], cmd: ServiceCmd, serve: Serve) -> anyhow::Result<ExitCode> {
    if let ServiceCmd::Install(a) = &cmd {
        check_mode(tool, modes, &a.args)?;
    }
    imp::run(tool, modes, cmd, serve)
}

/// Refuses a mode the service does not run.
fn check_mode(tool: &str, modes: &[&str], args: &[OsString]) -> anyhow::Result<()> {
    let mode = args.first().and_then(|m| m.to_str()).unwrap_or_default();
    if !modes.contains(&mode) {
        anyhow::bail!(
            "a {tool} service runs {}; give it after `--`: {tool} service install -- {} FLAGS",
            modes.join(" or "),
            modes.first().copied().unwrap_or_default()
        );
    }
    Ok(())
}

#[cfg(not(windows))]
mod imp {
    use super::{ExitCode, Serve, ServiceCmd};

    pub(super) fn run(
        tool: &str,
        _modes: &[&str],
        _cmd: ServiceCmd,
        _serve: Serve,
    ) -> anyhow::Result<ExitCode> {
        anyhow::bail!(
            "`{tool} service` is Windows only; on Linux run it under systemd (contrib/systemd/)"
        )
    }
}

#[cfg(windows)]
mod imp {
    use std::ffi::OsString;
    use std::path::Path;
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::{Duration, Instant};

    use anyhow::Context as _;
    use windows_service::service::{
        ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
        ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
    };
    use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
    use windows_service::service_dispatcher;
    use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

    use super::{Serve, ServiceCmd};

    /// What the service's main needs, set before the dispatcher starts.
    struct Job {
        name: String,
        args: Vec<OsString>,
        serve: Serve,
        outcome: Mutex<Option<anyhow::Result<()>>>,
    }

    static JOB: OnceLock<Job> = OnceLock::new();

    windows_service::define_windows_service!(ffi_service_main, service_main);

    pub(super) fn run(
        tool: &str,
        _modes: &[&str],
        cmd: ServiceCmd,
        serve: Serve,
    ) -> anyhow::Result<ExitCode> {
        match cmd {
            ServiceCmd::Install(a) => {
                let name = a.name.unwrap_or_else(|| super::default_name(tool));
                let mut argv = vec![OsString::from(tool)];
                argv.extend(a.args.iter().cloned());
                serve(argv, None)?;
                let exe = std::env::current_exe().context("cannot find this executable")?;
                let log_file = match a.log_file {
                    Some(f) => std::path::absolute(&f).unwrap_or(f),
                    None => exe.with_file_name(format!("{name}.log")),
                };
                install(tool, &name, &exe, &log_file, &a.args)?;
                eprintln!(
                    "{tool}: installed the service {name} (automatic start); start it with: sc start {name}; log: {}",
                    log_file.display()
                );
            }
            ServiceCmd::Uninstall { name } => {
                let name = name.unwrap_or_else(|| super::default_name(tool));
                uninstall(&name)?;
                eprintln!("{tool}: the service {name} is stopped and deleted");
            }
            ServiceCmd::Run {
                name,
                log_file,
                args,
            } => {
                crate::logging::to_file(&log_file)
                    .with_context(|| format!("cannot open the log file {}", log_file.display()))?;
                let mut argv = vec![OsString::from(tool)];
                argv.extend(args);
                let _ = JOB.set(Job {
                    name: name.clone(),
                    args: argv,
                    serve,
                    outcome: Mutex::new(None),
                });
                service_dispatcher::start(&name, ffi_service_main).with_context(|| {
                    format!(
                        "`{tool} service run` is started by the service control manager \
                         (sc start {name}); in a console, run the mode itself"
                    )
                })?;
                if let Some(Err(e)) = JOB
                    .get()
                    .and_then(|j| j.outcome.lock().ok().and_then(|mut o| o.take()))
                {
                    return Err(e);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    fn install(
        tool: &str,
        name: &str,
        exe: &Path,
        log_file: &Path,
        args: &[OsString],
    ) -> anyhow::Result<()> {
        let manager = ServiceManager::local_computer(
            None::<&str>,
            ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
        )
        .context("cannot open the service control manager (run from an elevated prompt)")?;
        let mut launch = vec![
            OsString::from("service"),
            "run".into(),
            "--name".into(),
            name.into(),
            "--log-file".into(),
            log_file.into(),
            "--".into(),
        ];
        launch.extend(args.iter().cloned());
        let info = ServiceInfo {
            name: name.into(),
            display_name: format!("rewire {tool} ({name})").into(),
            service_type: ServiceType::OWN_PROCESS,
            start_type: ServiceStartType::AutoStart,
            error_control: ServiceErrorControl::Normal,
            executable_path: exe.to_path_buf(),
            launch_arguments: launch,
            dependencies: vec![],
            account_name: None,
            account_password: None,
        };
        let service = manager
            .create_service(&info, ServiceAccess::CHANGE_CONFIG)
            .with_context(|| format!("cannot create the service {name}"))?;
        // Older service managers (and wine's) may not keep a description.
        let _ = service.set_description(format!("rewire {tool}: {}", args_text(args)));
        Ok(())
    }

    fn args_text(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn uninstall(name: &str) -> anyhow::Result<()> {
        let manager =
            ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
                .context("cannot open the service control manager (run from an elevated prompt)")?;
        let service = manager
            .open_service(
                name,
                ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
            )
            .with_context(|| format!("cannot open the service {name}"))?;
        let status = service.query_status()?;
        if status.current_state != ServiceState::Stopped {
            let _ = service.stop();
            let until = Instant::now() + Duration::from_secs(10);
            while service.query_status()?.current_state != ServiceState::Stopped {
                if Instant::now() > until {
                    anyhow::bail!("the service {name} did not stop within 10 s");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        service
            .delete()
            .with_context(|| format!("cannot delete the service {name}"))?;
        Ok(())
    }

    fn status(state: ServiceState, exit: u32, wait_hint: Duration) -> ServiceStatus {
        ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code: ServiceExitCode::Win32(exit),
            checkpoint: 0,
            wait_hint,
            process_id: None,
        }
    }

    /// Called by the dispatcher on its own thread; returns when the mode ends.
    fn service_main(_arguments: Vec<OsString>) {
        let Some(job) = JOB.get() else { return };
        let stop = Arc::new(AtomicBool::new(false));
        let on_stop = Arc::clone(&stop);
        let handler = move |control| match control {
            ServiceControl::Stop | ServiceControl::Shutdown => {
                on_stop.store(true, Ordering::SeqCst);
                ServiceControlHandlerResult::NoError
            }
            ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
            _ => ServiceControlHandlerResult::NotImplemented,
        };
        let handle = match service_control_handler::register(&job.name, handler) {
            Ok(h) => h,
            Err(e) => {
                log::error!("cannot register with the service control manager: {e}");
                return;
            }
        };
        let _ = handle.set_service_status(status(ServiceState::Running, 0, Duration::ZERO));
        log::info!("service {} running: {}", job.name, args_text(&job.args));
        // A panic must not cross the service manager's callback (that
        // aborts the process without a word): it becomes an error.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (job.serve)(job.args.clone(), Some(Arc::clone(&stop)))
        }))
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the service panicked")));
        let _ =
            handle.set_service_status(status(ServiceState::StopPending, 0, Duration::from_secs(3)));
        let exit = match &outcome {
            Ok(()) => {
                log::info!("service {} stopped", job.name);
                0
            }
            Err(e) => {
                log::error!("service {} failed: {e:#}", job.name);
                // ERROR_SERVICE_SPECIFIC_ERROR would need a second code; a
                // generic failure is what `sc query` shows.
                1
            }
        };
        crate::logging::flush(Duration::from_millis(500));
        if let Ok(mut slot) = job.outcome.lock() {
            *slot = Some(outcome);
        }
        let _ = handle.set_service_status(status(ServiceState::Stopped, exit, Duration::ZERO));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_service_modes_install() {
        assert!(check_mode("upsilon", &["monitor"], &["monitor".into()]).is_ok());
        let err = check_mode("upsilon", &["monitor"], &["decode".into()]).unwrap_err();
        assert!(
            format!("{err}").contains("upsilon service install -- monitor"),
            "{err}"
        );
        assert!(check_mode("upsilon", &["monitor"], &[]).is_err());
    }

    #[cfg(not(windows))]
    #[test]
    fn elsewhere_it_says_windows_only() {
        fn serve(_: Vec<OsString>, _: Option<Stop>) -> anyhow::Result<()> {
            Ok(())
        }
        let cmd = ServiceCmd::Uninstall { name: None };
        let err = run("upsilon", &["monitor"], cmd, serve).unwrap_err();
        assert!(format!("{err}").contains("Windows only"), "{err}");
    }
}
