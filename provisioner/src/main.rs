use provisioner::config::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    provisioner::run(Cli::parse_checked()).await
}
