//! `-v` logging to stderr through `tracing`.
//!
//! Quiet by default (warnings only). Each `-v` widens what is shown:
//! `-v` secretfd's own debug messages, `-vv` adds the AWS SDK's, `-vvv`
//! trace level for both. The HTTP and TLS crates are capped at debug even
//! then; secretfd never logs values, and the SDK redacts bodies because
//! `LOG_SENSITIVE_BODIES` is removed at start-up.

#![forbid(unsafe_code)]

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the stderr logger for the given number of `-v` flags.
pub fn init(verbosity: u8) {
    let (own, sdk, transport) = match verbosity {
        0 => (LevelFilter::WARN, LevelFilter::WARN, LevelFilter::OFF),
        1 => (LevelFilter::DEBUG, LevelFilter::WARN, LevelFilter::OFF),
        2 => (LevelFilter::DEBUG, LevelFilter::DEBUG, LevelFilter::INFO),
        _ => (LevelFilter::TRACE, LevelFilter::TRACE, LevelFilter::DEBUG),
    };
    let filter = Targets::new()
        .with_target("secretfd", own)
        .with_target("aws_config", sdk)
        .with_target("aws_sdk_secretsmanager", sdk)
        .with_target("aws_smithy_runtime", sdk)
        .with_target("aws_smithy_runtime_api", sdk)
        .with_target("aws_runtime", sdk)
        .with_target("aws_sigv4", sdk.min(LevelFilter::DEBUG))
        .with_target("hyper", transport)
        .with_target("hyper_util", transport)
        .with_target("h2", transport)
        .with_target("rustls", transport);
    let layer =
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false).with_target(verbosity >= 2);
    let _ = tracing_subscriber::registry().with(layer).with(filter).try_init();
}
