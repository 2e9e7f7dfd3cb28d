//! `run --config FILE` and `SECRETFD_CONFIG`: bindings and settings from a
//! TOML file, merged with flags, with errors that name the line; and the
//! example container's entrypoint, run as PID 1 without Docker.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::{
    Finished, Moto, SilentServer, create_json_secret, run_with_timeout, secretfd, secretfd_offline, unique_name,
};

const LIMIT: Duration = Duration::from_secs(60);

/// Writes `text` to a new config file and returns its path.
fn config_file(text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name("secretfd-config"));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("secretfd.toml");
    fs::write(&path, text).unwrap();
    path
}

fn run(command: &mut Command) -> Finished {
    run_with_timeout(command, LIMIT)
}

#[test]
fn config_bindings_are_delivered() {
    let db = create_json_secret("config-db", "db-pass");
    let key = create_json_secret("config-key", "key-value");
    let token = create_json_secret("config-token", "token-value");
    let path = config_file(&format!(
        "carrier = \"pipe\"\n[files]\nDB_FILE = \"{db}#password\"\n[fds]\n5 = \"{key}#password\"\nstdin = \"{token}#password\"\n"
    ));
    let finished = run(secretfd().args(["run", "--config"]).arg(&path).args([
        "--",
        "sh",
        "-c",
        "cat \"$DB_FILE\"; echo; cat <&5; echo; cat; echo; echo \"$SECRETFD_FDS\"; readlink /proc/self/fd/5",
    ]));
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    let stdout = finished.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..4], ["db-pass", "key-value", "token-value", "DB_FILE=3,fd5=5,stdin=0"]);
    assert!(lines[4].starts_with("pipe:["), "the config's carrier was not used: {stdout}");
}

#[test]
fn config_and_flag_bindings_merge() {
    let db = create_json_secret("config-merge-db", "from-file");
    let extra = create_json_secret("config-merge-extra", "from-flag");
    let path = config_file(&format!("[files]\nDB_FILE = \"{db}#password\"\n"));
    let finished = run(secretfd().args(["run", "--config"]).arg(&path).args([
        "--file",
        &format!("EXTRA={extra}#password"),
        "--",
        "sh",
        "-c",
        "cat \"$DB_FILE\" \"$EXTRA\"",
    ]));
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.stdout_text(), "from-filefrom-flag");
}

#[test]
fn secretfd_config_variable_names_file() {
    let db = create_json_secret("config-env", "via-env");
    let path = config_file(&format!("[files]\nDB_FILE = \"{db}#password\"\n"));
    let finished = run(secretfd().env("SECRETFD_CONFIG", &path).args(["run", "--", "sh", "-c", "cat \"$DB_FILE\""]));
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.stdout_text(), "via-env");

    // --config wins over the variable.
    let other = config_file("[files]\nOTHER = \"env:NOT_SET_ANYWHERE\"\n");
    let finished = run(secretfd().env("SECRETFD_CONFIG", &other).args(["run", "--config"]).arg(&path).args([
        "--",
        "sh",
        "-c",
        "cat \"$DB_FILE\"",
    ]));
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.stdout_text(), "via-env");
}

fn config_error(text: &str, extra_args: &[&str]) -> String {
    let path = config_file(text);
    let finished = run(secretfd_offline().args(["run", "--config"]).arg(&path).args(extra_args).args(["--", "true"]));
    assert_eq!(finished.code(), Some(125), "{}", finished.stderr_text());
    assert!(finished.stdout_text().is_empty());
    finished.stderr_text().replace(&path.display().to_string(), "FILE")
}

#[test]
fn unknown_key_names_line() {
    let stderr = config_error("carrier = \"memfd\"\n\n[files]\nA = \"x\"\n[fd]\n3 = \"y\"\n", &[]);
    assert!(stderr.starts_with("secretfd: FILE line 5: "), "{stderr}");
    assert!(stderr.contains("`fd`"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn bad_values_name_line() {
    let stderr = config_error("timeout = \"soon\"\n", &[]);
    assert!(stderr.starts_with("secretfd: FILE line 1: invalid duration 'soon'"), "{stderr}");

    let stderr = config_error("\n\ncarrier = \"tmpfs\"\n", &[]);
    assert!(stderr.starts_with("secretfd: FILE line 3: "), "{stderr}");

    let stderr = config_error("[fds]\n\n2 = \"x\"\n", &[]);
    assert!(stderr.starts_with("secretfd: FILE line 3 2=x: descriptor 2 is standard"), "{stderr}");

    let stderr = config_error("[files]\nA = \"aws-sm:\"\n", &[]);
    assert!(stderr.starts_with("secretfd: FILE line 2 A=aws-sm:: invalid reference"), "{stderr}");
}

#[test]
fn name_bound_twice_names_both_places() {
    let stderr = config_error("[files]\nA = \"x\"\n[fds]\n4 = \"y\"\n", &["--file", "A=z", "--fd", "4=w"]);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("secretfd: --file A=z: variable A is bound twice: also at FILE line 2"), "{stderr}");
    assert!(lines[1].starts_with("secretfd: --fd 4=w: descriptor 4 is bound twice: also at FILE line 4"), "{stderr}");

    let stderr = config_error("[files]\nA = \"x\"\nA = \"y\"\n", &[]);
    assert!(stderr.starts_with("secretfd: FILE line 3: "), "{stderr}");
}

#[test]
fn missing_config_file_fails_before_fetch() {
    let finished = run(secretfd_offline().args(["run", "--config", "/nonexistent/secretfd.toml", "--", "true"]));
    assert_eq!(finished.code(), Some(125));
    assert!(
        finished.stderr_text().starts_with("secretfd: /nonexistent/secretfd.toml: cannot read the config file"),
        "{}",
        finished.stderr_text()
    );
}

#[test]
fn config_timeout_applies_and_flag_wins() {
    let server = SilentServer::new();
    let path = config_file("timeout = \"1s\"\n[fds]\n3 = \"slow/secret\"\n");

    let finished = run(support::secretfd_with_endpoint(&server.endpoint())
        .args(["run", "--config"])
        .arg(&path)
        .args(["--", "true"]));
    assert_eq!(finished.code(), Some(125), "{}", finished.stderr_text());
    assert!(finished.elapsed < Duration::from_secs(5), "config timeout ignored: {:?}", finished.elapsed);

    let finished = run(support::secretfd_with_endpoint(&server.endpoint())
        .args(["run", "--timeout", "3s", "--config"])
        .arg(&path)
        .args(["--", "true"]));
    assert_eq!(finished.code(), Some(125), "{}", finished.stderr_text());
    assert!(finished.elapsed >= Duration::from_millis(2500), "--timeout did not win: {:?}", finished.elapsed);
}

#[test]
fn config_region_is_used() {
    // A secret in another region than the environment's AWS_REGION
    // (us-east-1) is found only when the config's region is used.
    let name = unique_name("config-region");
    create_in_region("eu-west-1", &name, "regional");
    let path = config_file(&format!("region = \"eu-west-1\"\n[fds]\n3 = \"{name}\"\n"));
    let finished = run(secretfd().args(["run", "--config"]).arg(&path).args(["--", "sh", "-c", "cat <&3"]));
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(finished.stdout_text(), "regional");
}

/// Creates a secret in `region` of the shared moto, which keeps regions
/// apart by the region in the request's credential scope.
fn create_in_region(region: &str, name: &str, value: &str) {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/secretsmanager/aws4_request, \
         SignedHeaders=host, Signature=0"
    );
    let headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "secretsmanager.CreateSecret"),
        ("Authorization", authorization.as_str()),
    ];
    let body = json!({ "Name": name, "SecretString": value }).to_string();
    let response = support::http::send(Moto::shared().addr(), "POST", "/", &headers, body.as_bytes()).unwrap();
    assert_eq!(response.status, 200, "{}", response.body_text());
}

/// The example directory, `examples/container`.
fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/container")
}

/// Reads a JSON-array instruction (`ENTRYPOINT [...]`) from the Dockerfile.
fn dockerfile_array(instruction: &str) -> Vec<String> {
    let dockerfile = fs::read_to_string(example_dir().join("Dockerfile")).unwrap();
    let line = dockerfile
        .lines()
        .find(|line| line.starts_with(&format!("{instruction} ")))
        .unwrap_or_else(|| panic!("no {instruction} in the Dockerfile"));
    serde_json::from_str(&line[instruction.len() + 1..]).unwrap()
}

#[test]
fn example_container_entrypoint_works() {
    // The image's paths, mapped to the files in the repository.
    let binary = env!("CARGO_BIN_EXE_secretfd").to_owned();
    let config = example_dir().join("secretfd.toml").display().to_string();
    let app = example_dir().join("app.sh").display().to_string();
    let map = |word: String| match word.as_str() {
        "/usr/local/bin/secretfd" => binary.clone(),
        "/etc/secretfd.toml" => config.clone(),
        "/usr/local/bin/app.sh" => app.clone(),
        _ => word,
    };
    let entrypoint: Vec<String> = dockerfile_array("ENTRYPOINT").into_iter().map(map).collect();
    let cmd: Vec<String> = dockerfile_array("CMD").into_iter().map(map).collect();
    assert_eq!(entrypoint[1..], ["run", "--config", config.as_str(), "--"]);

    // The secrets that the example config names. Other tests never use
    // these names, so creating them once per test binary is enough.
    let moto = Moto::shared();
    moto.create_secret_string("myapp/db", &json!({ "password": "correct horse" }).to_string());
    moto.create_secret_binary("myapp/backup-key", &[7u8; 32]);

    // As in the container: PID 1 of its own PID namespace, as an unprivileged user.
    let environment = secretfd();
    let mut command = Command::new("unshare");
    command
        .env_clear()
        .envs(environment.get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))))
        .args(["--pid", "--fork", "--mount-proc", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(&entrypoint)
        .args(&cmd)
        .stdin(Stdio::null());
    let finished = run(&mut command);
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr_text());
    assert_eq!(
        finished.stdout_text(),
        "DB_PASSWORD_FILE=/dev/fd/4 (13 bytes)\ndescriptor 3: backup key (32 bytes)\nSECRETFD_FDS=DB_PASSWORD_FILE=4,fd3=3\n"
    );
}
