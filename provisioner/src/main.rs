use provisioner::config::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse_checked();
    provisioner::telemetry::init();
    match provisioner::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error.cause_chain = ?error, "provisioner stopped: {error:#}");
            eprintln!("provisioner: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
