//! Real database servers started by a test: a PostgreSQL primary with a streaming replica of
//! it, from the server binaries Debian installs, and PgBouncer in transaction mode in front of
//! the test PostgreSQL. Each lives in a temporary directory, on a free port, for one test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// PostgreSQL's server binaries: `CRM_TEST_PG_BINDIR`, else the newest under
/// `/usr/lib/postgresql`.
fn postgres_bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("CRM_TEST_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("/usr/lib/postgresql")
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("PostgreSQL server binaries")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// PostgreSQL and PgBouncer refuse to run as root: as root, run them as `postgres`.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// A directory the server user owns.
fn server_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crm-{label}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    if is_root() {
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "chown {}", dir.display());
    }
    dir
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One PostgreSQL server of the test's own, stopped and removed when dropped.
pub struct PgServer {
    dir: PathBuf,
    pub port: u16,
}

impl PgServer {
    /// A new primary, with replication connections allowed from loopback.
    pub fn primary() -> PgServer {
        let dir = server_dir("pg-primary");
        let data = dir.join("data");
        run(as_server_user(&postgres_bindir().join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]));
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 trust\n\
             host replication all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        let server = PgServer {
            dir,
            port: free_port(),
        };
        server.configure(
            "wal_level = replica\nmax_wal_senders = 4\nfsync = off\n\
             synchronous_commit = on\nfull_page_writes = off\n",
        );
        server.start();
        server
    }

    /// A streaming replica of this primary (`pg_basebackup -R`), started.
    pub fn replica(&self) -> PgServer {
        let dir = server_dir("pg-replica");
        run(as_server_user(&postgres_bindir().join("pg_basebackup"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-D"])
            .arg(dir.join("data"))
            .args(["-R", "-X", "stream", "--no-sync"]));
        let replica = PgServer {
            dir,
            port: free_port(),
        };
        replica.configure("hot_standby = on\n");
        replica.start();
        replica
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Appends settings, and this server's port and socket directory.
    fn configure(&self, settings: &str) {
        use std::io::Write;
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data().join("postgresql.conf"))
            .unwrap();
        write!(
            conf,
            "\n{settings}port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n",
            self.port,
            self.dir.display()
        )
        .unwrap();
    }

    fn pg_ctl(&self) -> Command {
        let mut command = as_server_user(&postgres_bindir().join("pg_ctl"));
        command.arg("-D").arg(self.data());
        command
    }

    fn start(&self) {
        run(self
            .pg_ctl()
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "start"]));
        wait_for_port(self.port, "PostgreSQL");
    }

    /// Stops the server at once, as a crash would.
    pub fn stop(&self) {
        let _ = self
            .pg_ctl()
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The PgBouncer binary, where Debian's package puts it.
pub const PGBOUNCER: &str = "/usr/sbin/pgbouncer";

/// PgBouncer in transaction mode in front of the PostgreSQL at `CRM_TEST_POSTGRES_URL`,
/// stopped when dropped.
pub struct PgBouncer {
    dir: PathBuf,
    child: Child,
    pub port: u16,
}

impl PgBouncer {
    /// Starts one in front of `host:port`, with few server connections per database, so that
    /// clients share them as they would in production.
    pub fn start(host: &str, upstream_port: u16) -> PgBouncer {
        let dir = server_dir("pgbouncer");
        let port = free_port();
        std::fs::write(dir.join("users.txt"), "\"postgres\" \"\"\n").unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host={host} port={upstream_port}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {dir}/users.txt\npool_mode = transaction\n\
                 default_pool_size = 3\nmax_client_conn = 500\n\
                 ignore_startup_parameters = extra_float_digits\n\
                 logfile = {dir}/pgbouncer.log\n",
                dir = dir.display()
            ),
        )
        .unwrap();
        let mut command = Command::new(PGBOUNCER);
        if is_root() {
            command.args(["-u", "postgres"]);
        }
        let child = command
            .arg(dir.join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, "PgBouncer");
        PgBouncer { dir, child, port }
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
