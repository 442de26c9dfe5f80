"""Services least-privileged (issue 13, part 4), tried from outside: PostgreSQL asks every
connection for a password, Wardline's role reads and writes Wardline's tables and nothing more,
RabbitMQ's user is no administrator and reaches only wardline.*, and the passwords deploy/services.sh
made stay in their files."""
import os
import stat
import subprocess
import urllib.parse
import uuid

import amqp
import psycopg
import pytest

from conftest import (ADMIN_URL, BIN, PG_PORT, RABBITMQ_URL, VAR, now_ms, unique_prefix,
                      with_password)

PSQL = "/usr/lib/postgresql/15/bin/psql"
SECRETS = VAR / "secrets"


def psql(*args, **env):
    """psql with no password from anywhere: no passfile, no ~/.pgpass, no PGPASSWORD."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    clean.update(HOME="/nonexistent", PGPASSFILE="/nonexistent", **env)
    return subprocess.run([PSQL, "-X", "-w", "-tA", *args], env=clean, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("role", ["wardline", "wardline_owner", "postgres"])
@pytest.mark.parametrize("host", ["127.0.0.1", "socket"])
def test_psql_without_the_password_is_refused(role, host):
    where = str(VAR / "run") if host == "socket" else host
    out = psql("-h", where, "-p", str(PG_PORT), "-U", role, "-d", "postgres", "-c", "SELECT 1")
    assert out.returncode != 0 and "no password supplied" in out.stderr, out
    out = psql("-h", where, "-p", str(PG_PORT), "-U", role, "-d", "postgres", "-c", "SELECT 1", PGPASSWORD="wardline")
    assert out.returncode != 0 and "password authentication failed" in out.stderr, out


def test_every_pg_hba_rule_is_scram():
    with psycopg.connect(ADMIN_URL) as c:
        rules = c.execute("SELECT type, database, user_name, auth_method, error FROM pg_hba_file_rules").fetchall()
        encryption = c.execute("SHOW password_encryption").fetchone()[0]
    # `reject` only keeps the replication role (once start-standby made one) out of every database.
    assert rules and all(method == "scram-sha-256" or (method == "reject" and user == ["wardline_replication"])
                         for _, _, user, method, _ in rules), rules
    assert all(error is None for *_, error in rules), rules
    assert all(user == ["wardline_replication"] for _, database, user, _, _ in rules if database == ["replication"]), rules
    assert encryption == "scram-sha-256"


def test_wardlines_role_is_no_superuser_and_owns_nothing(database_url):
    with psycopg.connect(database_url) as c:
        flags = c.execute("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
                          "FROM pg_roles WHERE rolname = current_user").fetchone()
        assert flags == (False, False, False, False, False)
        memberships = c.execute("SELECT count(*) FROM pg_auth_members WHERE member = current_user::regrole").fetchone()[0]
        assert memberships == 0, "no predefined role (pg_execute_server_program, pg_read_server_files, …)"
        owned = c.execute("SELECT count(*) FROM pg_class WHERE relowner = current_user::regrole").fetchone()[0]
        assert owned == 0
        assert c.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()").fetchone()[0] \
            == "wardline_owner"


@pytest.mark.parametrize("sql", [
    "COPY (SELECT 1) TO PROGRAM 'true'",
    "COPY vitals FROM PROGRAM 'true'",
    "COPY (SELECT 1) TO '/tmp/wardline-privilege-probe'",
    "SELECT pg_read_file('/etc/passwd')",
    "CREATE TABLE probe (x int)",
    "CREATE SCHEMA probe",
    "CREATE EXTENSION IF NOT EXISTS pgcrypto",
    "ALTER TABLE vitals ADD COLUMN probe int",
    "DROP TABLE alerts",
    "TRUNCATE alerts",
    "ALTER TABLE alerts OWNER TO current_user",
    "CREATE ROLE probe",
    "CREATE DATABASE probe",
    "ALTER ROLE current_user SUPERUSER",
])
def test_wardlines_role_cannot(database_url, sql):
    with psycopg.connect(database_url, autocommit=True) as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(sql)


def test_wardlines_role_does_what_wardline_does(database_url, owner_database_url):
    """Reads and writes, sequences, TEMP staging with COPY FROM STDIN, a new hypertable chunk,
    and a table a later migration adds (default privileges), all without a GRANT of its own."""
    prefix = unique_prefix()
    with psycopg.connect(owner_database_url, autocommit=True) as c:
        c.execute(f"CREATE TABLE later_{prefix} (id bigserial PRIMARY KEY, note text)")
    try:
        with psycopg.connect(database_url) as c:
            c.execute("CREATE TEMP TABLE staging (device_id text, seq bigint) ON COMMIT DELETE ROWS")
            with c.cursor().copy("COPY staging FROM STDIN") as copy:
                copy.write_row((prefix + "-dev", 1))
            long_ago = now_ms() - 400 * 86_400_000  # far from any chunk the other tests made
            c.execute("INSERT INTO vitals (time, device_id, patient_id, seq, received_at) "
                      "SELECT timestamptz 'epoch' + %s * interval '1 millisecond', device_id, 'PAT-' || device_id, seq, now() "
                      "FROM staging", (long_ago,))
            assert c.execute("SELECT count(*) FROM vitals WHERE device_id = %s", (prefix + "-dev",)).fetchone()[0] == 1
            c.execute("DELETE FROM vitals WHERE device_id = %s", (prefix + "-dev",))
            assert c.execute("INSERT INTO device_assignments (device_id, patient_id) VALUES (%s, 'PAT-x') RETURNING id",
                             (prefix,)).fetchone()[0] > 0
            c.execute(f"INSERT INTO later_{prefix} (note) VALUES ('a later migration')")
            assert c.execute(f"SELECT count(*) FROM later_{prefix}").fetchone()[0] == 1
            c.rollback()
    finally:
        with psycopg.connect(owner_database_url, autocommit=True) as c:
            c.execute(f"DROP TABLE later_{prefix}")


def rabbitmqctl(*args):
    """rabbitmqctl against deploy/services.sh's node (its cookie under HOME, its epmd port)."""
    env = dict(os.environ, HOME=str(VAR / "rabbitmq" / "home"),
               ERL_EPMD_PORT=os.environ.get("WARDLINE_RABBITMQ_EPMD_PORT", "14369"))
    out = subprocess.run(["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", "wardline@localhost", "-q", *args,
                          "--no-table-headers"], env=env, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t") for line in out.stdout.splitlines() if line.strip()]


def test_rabbitmq_user_is_no_administrator_and_has_wardline_resources_only():
    users = dict(rabbitmqctl("list_users"))
    assert users.get("wardline") == "[]", users
    assert "guest" not in users
    assert rabbitmqctl("list_user_permissions", "wardline") == [["wardline", r"^wardline\.", r"^wardline\.", r"^wardline\."]]
    assert rabbitmqctl("list_user_topic_permissions", "wardline") == []


def amqp_connect(url=RABBITMQ_URL):
    u = urllib.parse.urlsplit(url)
    conn = amqp.Connection(host=f"{u.hostname}:{u.port}", userid=u.username, password=u.password,
                           virtual_host=urllib.parse.unquote(u.path[1:]) or "/", connect_timeout=10)
    conn.connect()
    return conn


def test_rabbitmq_user_reaches_wardline_resources_only():
    probe = "probe-" + uuid.uuid4().hex[:8]
    conn = amqp_connect()
    try:
        ch = conn.channel()
        ch.queue_declare("wardline." + probe, exclusive=True, auto_delete=True)
        ch.exchange_declare("wardline." + probe, "fanout", auto_delete=True)
        ch.exchange_delete("wardline." + probe)
        refused = {
            "declare a queue outside wardline.*": lambda ch: ch.queue_declare(probe, exclusive=True, auto_delete=True),
            "declare an exchange outside wardline.*": lambda ch: ch.exchange_declare(probe, "fanout", auto_delete=True),
            "delete a queue outside wardline.*": lambda ch: ch.queue_delete(probe),
            "bind to amq.topic": lambda ch: ch.queue_bind("wardline." + probe, "amq.topic", "#"),
            "publish to the default exchange": lambda ch: ch.basic_publish(amqp.Message("x"), "", "wardline.page"),
        }
        for what, attempt in refused.items():
            ch = conn.channel()
            try:
                attempt(ch)
                ch.basic_qos(0, 1, False)  # a round trip, so an asynchronous refusal arrives here
            except amqp.exceptions.AccessRefused:
                continue
            pytest.fail(f"the wardline user could {what}")
    finally:
        conn.close()


@pytest.mark.parametrize("who", ["guest", "wrong password", "other vhost"])
def test_rabbitmq_refuses_other_logins(who):
    u = urllib.parse.urlsplit(RABBITMQ_URL)
    url = {"guest": f"amqp://guest:guest@{u.hostname}:{u.port}/",
           "wrong password": with_password(RABBITMQ_URL, "wardline"),
           "other vhost": RABBITMQ_URL.rsplit("/", 1)[0] + "/"}[who]
    with pytest.raises((amqp.exceptions.AccessRefused, amqp.exceptions.NotAllowed, ConnectionError)):
        amqp_connect(url).close()


def secrets():
    files = sorted(SECRETS.glob("*.password"))
    return {f.name: f.read_text().strip() for f in files}


def test_secrets_are_private_files():
    assert stat.S_IMODE(SECRETS.stat().st_mode) == 0o700
    names = set(secrets())
    assert {"postgres-postgres.password", "postgres-wardline_owner.password", "postgres-wardline.password",
            "rabbitmq-wardline.password"} <= names
    for f in SECRETS.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert all(len(pw) >= 32 for pw in secrets().values())
    assert len(set(secrets().values())) == len(secrets()), "one password per role"
    conf = VAR / "rabbitmq" / "rabbitmq.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600, "rabbitmq.conf holds the first boot's password"


def test_no_password_in_config_logs_or_ready(wardline_factory, worker_factory):
    passwords = secrets().values()
    config = subprocess.run([str(BIN), "config"], capture_output=True, text=True, check=True,
                            env=dict(os.environ, WARDLINE_RABBITMQ_URL=RABBITMQ_URL))
    assert "WARDLINE_RABBITMQ_URL=amqp://wardline:***@" in config.stdout
    w = wardline_factory(WARDLINE_RABBITMQ_URL=RABBITMQ_URL).start()
    worker = worker_factory().start()
    _, ready, _ = w.api("GET", "/ready")
    w.wait_for_log("task queue connected")
    seen = config.stdout + config.stderr + str(ready) + w.log() + worker.log()
    for pw in passwords:
        assert pw not in seen
    # The database URL names a passfile, never the password.
    assert "passfile=" in w.env["WARDLINE_DATABASE_URL"] and "password=" not in w.env["WARDLINE_DATABASE_URL"]
