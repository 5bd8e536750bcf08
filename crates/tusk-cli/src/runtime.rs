//! Running a command's future and turning its outcome into the exit code;
//! shared by main.rs's dispatch and `store`.

use std::process::ExitCode;

/// Runs a client command on a small runtime and turns its outcome into
/// the exit code.
pub fn client_command(f: impl std::future::Future<Output = crate::error::Outcome>) -> ExitCode {
    match block_on(f) {
        Ok(outcome) => finish(outcome),
        Err(code) => code,
    }
}

/// Runs `f` on a small current-thread runtime; the failure exit code when
/// no runtime can be made.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, ExitCode> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Ok(rt.block_on(f)),
        Err(e) => {
            eprintln!("tusk: error: cannot start the async runtime: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

pub fn finish(outcome: crate::error::Outcome) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            f.print();
            ExitCode::from(f.code)
        }
    }
}
