//! A real SFTP server for tests: Debian's OpenSSH server (`/usr/sbin/sshd`, installed by
//! `scripts/install-test-deps.sh`) on a loopback port, with a host key and an authorised-keys
//! file of the test's own in a temporary folder, serving SFTP only (`internal-sftp`).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A running SFTP server, stopped when dropped.
pub struct SftpPeer {
    pub port: u16,
    /// The user to sign in as (the user running the tests).
    pub user: String,
    /// The server's host key fingerprint, as `ssh-keygen -l` prints it (`SHA256:…`).
    pub host_key: String,
    dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

fn run(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} ({e}; scripts/install-test-deps.sh installs openssh-server)"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl SftpPeer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("a folder for sshd");
        let d = dir.path();
        std::fs::create_dir_all(d.join("upload")).expect("the upload folder");
        let host_key = d.join("host_ed25519");
        run(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-C", "trellis-test-sftp", "-f", &host_key.to_string_lossy()],
        );
        let listed = run("ssh-keygen", &["-l", "-E", "sha256", "-f", &format!("{}.pub", host_key.display())]);
        let fingerprint = listed.split_whitespace().nth(1).expect("a fingerprint").to_owned();
        std::fs::write(d.join("authorized_keys"), "").expect("authorized_keys");
        let user = run("id", &["-un"]).trim().to_owned();
        // sshd wants its privilege-separation folder.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("port").port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\nAuthorizedKeysFile {ak}\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             PermitRootLogin prohibit-password\nStrictModes no\nSubsystem sftp internal-sftp\nForceCommand internal-sftp\n\
             AllowTcpForwarding no\nX11Forwarding no\nLogLevel ERROR\n",
            hk = host_key.display(),
            pid = d.join("sshd.pid").display(),
            ak = d.join("authorized_keys").display(),
        );
        std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
        let child = tokio::process::Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start sshd ({e}; scripts/install-test-deps.sh installs openssh-server)"));
        let up = tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(up.is_ok(), "sshd did not start on port {port}");
        Self { port, user, host_key: fingerprint, dir, _child: child }
    }

    /// Lets this public key (an OpenSSH line) sign in.
    pub fn authorize(&self, public_key: &str) {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))
            .expect("authorized_keys");
        writeln!(f, "{}", public_key.trim()).expect("write authorized_keys");
    }

    /// The folder files are delivered to (absolute).
    pub fn upload_dir(&self) -> PathBuf {
        self.dir.path().join("upload")
    }

    /// The files delivered, by name, sorted.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(self.upload_dir())
            .map(|it| {
                it.filter_map(Result::ok)
                    .map(|e| {
                        (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// The server's folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
