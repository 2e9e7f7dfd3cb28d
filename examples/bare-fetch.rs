//! The floor for `secretfd run`: the least a Rust program does to read one
//! secret with the AWS SDK.
//!
//! It loads the SDK configuration from the environment (region, credentials,
//! endpoint), makes one GetSecretValue call on a single-threaded tokio
//! runtime, and prints the size of the value in bytes, never the value. It
//! uses the system allocator and no logging, and sets no timeouts beyond the
//! SDK's defaults. `scripts/bench` times it next to `secretfd run`.
//!
//! Usage: `cargo run --release --example bare-fetch -- SECRET_ID`. Run it
//! only against an endpoint you control, with `AWS_ENDPOINT_URL` set, as the
//! benchmark does.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager as sm;

fn main() -> ExitCode {
    let Some(secret_id) = std::env::args().nth(1) else {
        eprintln!("usage: bare-fetch SECRET_ID");
        return ExitCode::from(2);
    };

    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bare-fetch: starting the tokio runtime failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let client = sm::Client::new(&config);
        client.get_secret_value().secret_id(&secret_id).send().await
    });

    match result {
        Ok(output) => {
            let size = output.secret_string().map(str::len).or(output.secret_binary().map(|blob| blob.as_ref().len()));
            println!("{} bytes", size.unwrap_or(0));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bare-fetch: GetSecretValue for {secret_id} failed: {}", sm::error::DisplayErrorContext(&error));
            ExitCode::FAILURE
        }
    }
}
