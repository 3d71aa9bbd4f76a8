//! The workloads of the suite, described once: tests/workloads.rs runs them hardened,
//! tests/learn_docker.rs learns their profiles. Name, image tag, stop signal, data directory,
//! hardening flags, users, how to tell it serves and what it keeps across a restart.
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Workload {
    Nginx,
    Redis,
    Postgres,
    Python,
}

pub const WORKLOADS: [Workload; 4] = [
    Workload::Nginx,
    Workload::Redis,
    Workload::Postgres,
    Workload::Python,
];

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Nginx => "nginx",
            Workload::Redis => "redis",
            Workload::Postgres => "postgres",
            Workload::Python => "python",
        }
    }

    /// Its image's stop signal (the official images' STOPSIGNAL; `docker import` cannot set
    /// one, so `docker run --stop-signal` does).
    pub fn stop_signal(self) -> &'static str {
        match self {
            Workload::Nginx => "SIGQUIT",
            Workload::Postgres => "SIGINT",
            _ => "SIGTERM",
        }
    }

    pub fn image(self) -> String {
        format!("rampart-workload-{}:test", self.name())
    }

    /// Where its named volume goes (its image's VOLUME).
    pub fn data_dir(self) -> Option<&'static str> {
        match self {
            Workload::Redis => Some("/data"),
            Workload::Postgres => Some("/var/lib/postgresql/data"),
            _ => None,
        }
    }

    /// The flags an operator adds to run it hardened (Docker's documented idiom): drop every
    /// capability, add back those its entrypoint uses (chown of the data directory, gosu's
    /// setuid/setgid; postgres also chmods and walks its 0700 PGDATA; nginx's master chowns
    /// its temp directories to www-data), and tmpfs where nginx writes under a read-only
    /// rootfs. Docker 20.10 appends each `--cap-add` after its 14 defaults (even a default
    /// one), so Rampart sees them either way; `--cap-drop=ALL` is the documented idiom, and the
    /// only shape some engines (podman, CRI without `drop: [ALL]`) keep distinct.
    pub fn hardening_flags(self) -> &'static [&'static str] {
        match self {
            Workload::Nginx => &[
                "--cap-drop=ALL",
                "--cap-add=CHOWN",
                "--cap-add=SETUID",
                "--cap-add=SETGID",
                "--tmpfs=/var/lib/nginx",
                "--tmpfs=/var/cache/nginx",
                "--tmpfs=/run",
            ],
            Workload::Redis => &[
                "--cap-drop=ALL",
                "--cap-add=CHOWN",
                "--cap-add=SETUID",
                "--cap-add=SETGID",
            ],
            Workload::Postgres => &[
                "--cap-drop=ALL",
                "--cap-add=CHOWN",
                "--cap-add=SETUID",
                "--cap-add=SETGID",
                "--cap-add=DAC_OVERRIDE",
                "--cap-add=FOWNER",
            ],
            Workload::Python => &["--cap-drop=ALL"],
        }
    }

    /// `docker exec` argv that succeeds, printing `want`, once it serves.
    pub fn probe(self) -> (&'static [&'static str], &'static str) {
        match self {
            Workload::Nginx => (
                &["curl", "-fsS", "--max-time", "5", "http://127.0.0.1/"],
                "Welcome to nginx",
            ),
            Workload::Python => (
                &["curl", "-fsS", "--max-time", "5", "http://127.0.0.1:8000/"],
                "rampart workload: python http.server",
            ),
            Workload::Redis => (&["redis-cli", "-h", "127.0.0.1", "ping"], "PONG"),
            Workload::Postgres => (
                &[
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-tAc",
                    "select 1",
                ],
                "1",
            ),
        }
    }

    /// (user, command) pairs `ps` must show once it serves: the entrypoint dropped to the
    /// service user (nginx: a root master and www-data workers).
    pub fn runs_as(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Workload::Nginx => &[("root", "nginx"), ("www-data", "nginx")],
            Workload::Redis => &[("redis", "redis-server")],
            Workload::Postgres => &[("postgres", "postgres")],
            Workload::Python => &[("root", "python3")],
        }
    }

    /// (write, read, what read prints) for the volume check, if it keeps state.
    pub fn persistence(
        self,
    ) -> Option<(
        &'static [&'static str],
        &'static [&'static str],
        &'static str,
    )> {
        match self {
            Workload::Redis => Some((
                &["sh", "-c", "redis-cli set rampart kept && redis-cli save"],
                &["redis-cli", "get", "rampart"],
                "kept",
            )),
            Workload::Postgres => Some((
                &[
                    "psql",
                    "-U",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    "create table rampart(x int); insert into rampart values (42)",
                ],
                &["psql", "-U", "postgres", "-tAc", "select x from rampart"],
                "42",
            )),
            _ => None,
        }
    }

    /// How long it may take to serve (postgres runs initdb first).
    pub fn start_timeout(self) -> Duration {
        match self {
            Workload::Postgres => Duration::from_secs(90),
            _ => Duration::from_secs(45),
        }
    }
}
