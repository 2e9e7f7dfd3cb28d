//! Tests of the test support itself: moto starts and serves Secrets Manager,
//! the request log works, and the stub servers, process helpers and command
//! builder behave as the other test files rely on. None of them needs
//! secretfd's own features.

mod support;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{
    Moto, Response, SilentServer, StubServer, aws_error, base64_encode, harness_python, harness_script, http,
    is_loopback_endpoint, isolated_command, run_with_stdin, run_with_timeout, unique_name,
};

const AMZ_JSON: &str = "application/x-amz-json-1.1";

#[test]
fn moto_returns_created_string_secret() {
    let moto = Moto::shared();
    let name = unique_name("selftest/string");

    let arn = moto.create_secret_string(&name, "hunter2\n");
    let (status, reply) = moto.call("GetSecretValue", &json!({ "SecretId": name }));

    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["SecretString"], "hunter2\n");
    assert_eq!(reply["ARN"], arn.as_str());
    assert!(arn.starts_with("arn:aws:secretsmanager:us-east-1:"), "{arn}");
}

#[test]
fn moto_returns_created_binary_secret() {
    let moto = Moto::shared();
    let name = unique_name("selftest/binary");
    let value: Vec<u8> = (0..=255).collect();

    moto.create_secret_binary(&name, &value);
    let (status, reply) = moto.call("secretsmanager.GetSecretValue", &json!({ "SecretId": name }));

    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["SecretBinary"], base64_encode(&value).as_str());
}

#[test]
fn moto_put_secret_value_adds_version() {
    let moto = Moto::shared();
    let name = unique_name("selftest/versions");
    moto.create_secret_string(&name, "first");

    let version_id = moto.put_secret_value(&name, "second");
    let (_, current) = moto.call("GetSecretValue", &json!({ "SecretId": name }));
    let (_, previous) = moto.call("GetSecretValue", &json!({ "SecretId": name, "VersionStage": "AWSPREVIOUS" }));

    assert_eq!(current["SecretString"], "second");
    assert_eq!(current["VersionId"], version_id.as_str());
    assert_eq!(previous["SecretString"], "first");
}

#[test]
fn moto_forced_delete_removes_secret() {
    let moto = Moto::shared();
    let name = unique_name("selftest/deleted");
    moto.create_secret_string(&name, "gone soon");

    moto.delete_secret(&name, true);
    let (status, reply) = moto.call("GetSecretValue", &json!({ "SecretId": name }));

    // NOTE: moto 5.2.5 returns ResourceNotFoundException with HTTP 404, where
    // Secrets Manager returns 400. Only the error code is the same.
    assert_eq!(status, 404, "{reply}");
    assert_eq!(reply["__type"], "ResourceNotFoundException");
}

#[test]
fn moto_scheduled_delete_rejects_reads() {
    let moto = Moto::shared();
    let name = unique_name("selftest/scheduled");
    moto.create_secret_string(&name, "in recovery window");

    moto.delete_secret(&name, false);
    let (status, reply) = moto.call("GetSecretValue", &json!({ "SecretId": name }));

    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["__type"], "InvalidRequestException");
}

#[test]
fn moto_batch_get_reports_missing_secret() {
    let moto = Moto::shared();
    let name = unique_name("selftest/batch");
    let missing = unique_name("selftest/missing");
    moto.create_secret_string(&name, "value");

    let (status, reply) = moto.call("BatchGetSecretValue", &json!({ "SecretIdList": [name, missing] }));

    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["SecretValues"][0]["SecretString"], "value");
    assert_eq!(reply["Errors"][0]["SecretId"], missing.as_str());
    assert_eq!(reply["Errors"][0]["ErrorCode"], "ResourceNotFoundException");
}

#[test]
fn moto_request_log_records_targets() {
    let moto = Moto::start();
    let name = unique_name("selftest/log");

    moto.create_secret_string(&name, "value");
    moto.call("GetSecretValue", &json!({ "SecretId": name }));
    moto.call("BatchGetSecretValue", &json!({ "SecretIdList": [name] }));

    assert_eq!(
        moto.requests(),
        ["secretsmanager.CreateSecret", "secretsmanager.GetSecretValue", "secretsmanager.BatchGetSecretValue",]
    );
}

#[test]
fn moto_reset_clears_request_log() {
    let moto = Moto::start();
    moto.create_secret_string(&unique_name("selftest/reset"), "value");
    assert_eq!(moto.requests().len(), 1);

    moto.reset_requests();
    assert_eq!(moto.requests(), Vec::<String>::new());

    moto.call("ListSecrets", &json!({}));
    assert_eq!(moto.requests(), ["secretsmanager.ListSecrets"]);
}

#[test]
fn moto_drop_stops_process() {
    let moto = Moto::start();
    let addr = moto.addr();
    let pid = moto.pid();

    drop(moto);

    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "moto harness {pid} still exists after drop");
    let error = TcpStream::connect(addr).expect_err("moto still accepts connections after drop");
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn moto_harness_exits_on_stdin_eof() {
    // The shared instance relies on this: when the test process exits, the
    // kernel closes the harness's stdin and the harness shuts down by itself.
    let mut harness = Command::new(harness_python());
    harness.arg(harness_script());

    let finished = run_with_stdin(&mut harness, b"", Duration::from_secs(60));

    assert!(!finished.timed_out, "harness kept running after stdin closed");
    assert_eq!(finished.code(), Some(0), "stderr: {}", finished.stderr_text());
    let port: u16 = finished.stdout_text().trim().parse().expect("first line is the port");
    assert_ne!(port, 0);
}

#[test]
fn stub_server_returns_aws_error() {
    let stub = StubServer::new(|_| aws_error(400, "AccessDeniedException", "not for you"));

    let response = http::send(
        stub.addr(),
        "POST",
        "/",
        &[("Content-Type", AMZ_JSON), ("X-Amz-Target", "secretsmanager.GetSecretValue")],
        br#"{"SecretId":"app/db"}"#,
    )
    .expect("stub server replies");

    assert_eq!(response.status, 400);
    assert_eq!(response.header("Content-Type"), Some(AMZ_JSON));
    assert_eq!(response.header("x-amzn-ErrorType"), Some("AccessDeniedException"));
    let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON body");
    assert_eq!(body, json!({ "__type": "AccessDeniedException", "message": "not for you" }));
    assert_eq!(stub.requests(), ["secretsmanager.GetSecretValue"]);
}

#[test]
fn stub_server_passes_request_to_handler() {
    let stub = StubServer::new(|request| {
        let secret_id = request.body_json()["SecretId"].clone();
        Response::json(200, &json!({ "Name": secret_id, "Target": request.target }))
    });

    let response = http::send(
        stub.addr(),
        "POST",
        "/",
        &[("X-Amz-Target", "secretsmanager.DescribeSecret")],
        br#"{"SecretId":"app/db"}"#,
    )
    .expect("stub server replies");

    assert_eq!(response.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON body");
    assert_eq!(body["Name"], "app/db");
    assert_eq!(body["Target"], "secretsmanager.DescribeSecret");
}

#[test]
fn stub_server_keeps_connection_alive() {
    let stub = StubServer::new(|request| Response::json(200, &json!({ "target": request.target })));
    let stream = TcpStream::connect(stub.addr()).expect("connect to stub");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(&stream);

    for target in ["secretsmanager.First", "secretsmanager.Second"] {
        let request =
            format!("POST / HTTP/1.1\r\nHost: stub\r\nX-Amz-Target: {target}\r\nContent-Length: 2\r\n\r\n{{}}");
        (&stream).write_all(request.as_bytes()).unwrap();

        let response = http::read_message(&mut reader, false)
            .expect("response is valid HTTP")
            .expect("stub replied before closing");
        assert_eq!(response.start_line, "HTTP/1.1 200 OK");
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["target"], target);
    }

    assert_eq!(stub.connections(), 1);
    assert_eq!(stub.requests(), ["secretsmanager.First", "secretsmanager.Second"]);
}

#[test]
fn stub_server_closes_on_request() {
    let stub = StubServer::new(|_| {
        Response::new(200)
            .with_header("Content-Length", "100")
            .with_header("Connection", "close")
            .with_body(&b"{\"trunc"[..])
    });

    let error = http::send(stub.addr(), "POST", "/", &[], b"{}")
        .expect_err("a reply shorter than its Content-Length is an error");

    assert_eq!(error.kind(), ErrorKind::UnexpectedEof);
}

#[test]
fn silent_server_never_replies() {
    let silent = SilentServer::new();
    let mut stream = TcpStream::connect(silent.addr()).expect("silent server accepts");
    stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    stream.write_all(b"POST / HTTP/1.1\r\nHost: silent\r\nContent-Length: 2\r\n\r\n{}").unwrap();

    let start = Instant::now();
    let mut buffer = [0; 64];
    let error = stream.read(&mut buffer).expect_err("silent server sent a reply");

    assert!(matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "unexpected read error: {error}");
    assert!(start.elapsed() >= Duration::from_millis(450));
    assert_eq!(silent.connections(), 1);
}

#[test]
fn silent_server_drop_closes_connections() {
    let silent = SilentServer::new();
    let mut stream = TcpStream::connect(silent.addr()).expect("silent server accepts");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Make sure the server has accepted before it is dropped.
    while silent.connections() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }

    drop(silent);

    let mut buffer = [0; 64];
    let read = stream.read(&mut buffer);
    assert!(
        matches!(read, Ok(0)) || matches!(&read, Err(error) if error.kind() == ErrorKind::ConnectionReset),
        "expected end of stream after drop, got {read:?}"
    );
    let _ = stream.shutdown(Shutdown::Both);
}

#[test]
fn wait_with_timeout_collects_output() {
    let finished = run_with_timeout(
        Command::new("/bin/sh").args(["-c", "echo out; echo err >&2; exit 3"]),
        Duration::from_secs(10),
    );

    assert!(!finished.timed_out);
    assert_eq!(finished.code(), Some(3));
    assert_eq!(finished.stdout_text(), "out\n");
    assert_eq!(finished.stderr_text(), "err\n");
}

#[test]
fn wait_with_timeout_kills_slow_child() {
    let finished = run_with_timeout(
        Command::new("/bin/sh").args(["-c", "echo started; exec sleep 30"]),
        Duration::from_millis(300),
    );

    assert!(finished.timed_out);
    assert_eq!(finished.code(), None, "killed by a signal, so no exit code");
    assert_eq!(finished.stdout_text(), "started\n");
    assert!(finished.elapsed >= Duration::from_millis(300));
    assert!(finished.elapsed < Duration::from_secs(5), "{:?}", finished.elapsed);
}

#[test]
fn run_with_stdin_feeds_child() {
    let finished = run_with_stdin(&mut Command::new("/bin/cat"), b"line one\nno newline", Duration::from_secs(10));

    assert_eq!(finished.code(), Some(0));
    assert_eq!(finished.output.stdout, b"line one\nno newline");
}

#[test]
fn isolated_command_sets_only_test_environment() {
    let finished =
        run_with_timeout(&mut isolated_command("/usr/bin/env", "http://127.0.0.1:9"), Duration::from_secs(10));

    let mut lines: Vec<_> = finished.stdout_text().lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "AWS_ACCESS_KEY_ID=testing",
            "AWS_CONFIG_FILE=/dev/null",
            "AWS_EC2_METADATA_DISABLED=true",
            "AWS_ENDPOINT_URL=http://127.0.0.1:9",
            "AWS_REGION=us-east-1",
            "AWS_SECRET_ACCESS_KEY=testing",
            "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
            "PATH=/usr/bin:/bin",
        ]
    );
}

#[test]
#[should_panic(expected = "is not http://127.0.0.1:PORT")]
fn isolated_command_rejects_remote_endpoint() {
    isolated_command("/usr/bin/env", "https://secretsmanager.us-east-1.amazonaws.com");
}

#[test]
fn loopback_endpoint_check_cases() {
    assert!(is_loopback_endpoint("http://127.0.0.1:4566"));
    assert!(is_loopback_endpoint("http://127.0.0.2:80/"));
    assert!(is_loopback_endpoint("http://[::1]:4566"));
    assert!(!is_loopback_endpoint("http://localhost:4566"));
    assert!(!is_loopback_endpoint("https://127.0.0.1:4566"));
    assert!(!is_loopback_endpoint("http://169.254.169.254:80"));
    assert!(!is_loopback_endpoint("http://10.0.0.1:80"));
}

#[test]
fn unique_name_differs_per_call() {
    let first = unique_name("app/db");
    let second = unique_name("app/db");

    assert_ne!(first, second);
    assert!(first.starts_with(&format!("app/db-{}-", std::process::id())), "{first}");
}

#[test]
fn base64_encode_rfc4648_vectors() {
    // Test vectors from RFC 4648, section 10.
    let cases: [(&[u8], &str); 7] = [
        (b"", ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg=="),
        (b"fooba", "Zm9vYmE="),
        (b"foobar", "Zm9vYmFy"),
    ];
    for (input, expected) in cases {
        assert_eq!(base64_encode(input), expected, "input {input:?}");
    }
    assert_eq!(base64_encode(&[0xfb, 0xff, 0xfe]), "+//+");
}
