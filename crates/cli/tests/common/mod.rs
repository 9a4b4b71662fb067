//! The real `silta` binary on a data directory, with or without a server running on it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub fn silta(data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_silta"));
    command
        .arg("--data")
        .arg(data)
        .env("SILTA_FLUSH_INTERVAL_MS", "300")
        .env("SILTA_QUERY_MAX_ROWS", "1000000");
    command
}

pub fn cli_output(data: &Path, args: &[&str]) -> String {
    let output = silta(data).args(args).output().expect("silta runs");
    assert!(
        output.status.success(),
        "silta {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

pub struct Server {
    pub child: Child,
    pub url: String,
}

pub fn start_server(data: &Path) -> Server {
    let mut child = silta(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut first_line = String::new();
    BufReader::new(stdout)
        .read_line(&mut first_line)
        .expect("reads");
    let url = first_line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first_line:?}"))
        .to_string();
    Server { child, url }
}
