"""``verification users``, ``audit verify`` and ``keys`` as an operator runs them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from verification.protect.keys import MasterKey
from verification.protect.store import EncryptedStore, KeyRing

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VERIFICATION_")}
    return subprocess.run([sys.executable, "-m", "verification", *args], cwd=REPO, input=stdin,
                          capture_output=True, text=True, timeout=120,
                          env={**environment, **(env or {})})


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_users_add_list_and_audit_verify(tmp_path: Path):
    data = str(tmp_path)
    added = run_cli("users", "add", "alice", "--role", "supervisor", "--password-stdin",
                    "--data-dir", data, stdin="a long enough passphrase\n")
    assert added.returncode == 0, added.stderr
    assert run_cli("users", "add", "bob", "--role", "reviewer", "--password-stdin",
                   env={"VERIFICATION_DATA_DIR": data}, stdin="another passphrase!\n"
                   ).returncode == 0
    listing = run_cli("users", "list", "--data-dir", data)
    assert listing.stdout.splitlines() == ["alice\tsupervisor", "bob\treviewer"]
    assert "already exists" in one_error_line(run_cli(
        "users", "add", "alice", "--role", "admin", "--password-stdin", "--data-dir", data,
        stdin="a long enough passphrase\n"))
    assert "too short" in one_error_line(run_cli(
        "users", "add", "carol", "--role", "admin", "--password-stdin", "--data-dir", data,
        stdin="short\n"))
    assert "password-stdin" in one_error_line(run_cli(
        "users", "add", "carol", "--role", "admin", "--data-dir", data))  # no terminal

    ok = run_cli("audit", "verify", "--data-dir", data)
    assert ok.returncode == 0 and "2 entries" in ok.stdout, ok.stderr
    tail = [json.loads(line) for line in
            run_cli("audit", "tail", "-n", "1", "--data-dir", data).stdout.splitlines()]
    assert [(e["seq"], e["action"], e["target"]) for e in tail] == [(2, "user.create", "bob")]

    conn = sqlite3.connect(tmp_path / "audit.sqlite3")
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET details = '{\"role\":\"admin\"}' WHERE seq = 2")
    conn.commit()
    conn.close()
    broken = run_cli("audit", "verify", "--data-dir", data)
    assert broken.returncode == 2
    assert "entry 2" in one_error_line(broken) and "edited" in broken.stderr


def test_audit_verify_without_a_log_is_a_clear_error(tmp_path: Path):
    assert "no audit log" in one_error_line(run_cli("audit", "verify", "--data-dir",
                                                    str(tmp_path / "missing")))


def test_keys_generate_and_rewrap(tmp_path: Path):
    generated = run_cli("keys", "generate")
    assert generated.returncode == 0
    new = MasterKey.from_base64(generated.stdout.splitlines()[0])
    old = MasterKey.generate()
    store = EncryptedStore.for_data_dir(tmp_path, KeyRing.of(old))
    store.put("o", b"payload" * 1000, kind="recording", subject="s")
    env = {"VERIFICATION_MASTER_KEY": new.to_base64(),
           "VERIFICATION_PREVIOUS_MASTER_KEYS": old.to_base64()}
    done = run_cli("keys", "rewrap", "--data-dir", str(tmp_path), env=env)
    assert done.returncode == 0 and "re-wrapped 1 objects" in done.stdout, done.stderr
    assert EncryptedStore.for_data_dir(tmp_path, KeyRing.of(new)).get("o") == b"payload" * 1000
    assert "no master key" in one_error_line(run_cli("keys", "rewrap", "--data-dir",
                                                     str(tmp_path)))


def test_retention_purge_and_subject_deletion_from_the_command_line(tmp_path: Path):
    key = MasterKey.generate()
    store = EncryptedStore.for_data_dir(tmp_path, KeyRing.of(key))
    store.put("a/recording", b"video" * 100, kind="recording", subject="a", product="quick")
    store.put("a/face_template", b"\x01" * 512, kind="face_template", subject="a",
              product="quick")
    store.put("b/recording", b"video" * 100, kind="recording", subject="b", product="large")
    policy = tmp_path / "retention.yaml"
    policy.write_text("default: {media_days: 30, template_days: null}\n"
                      "products:\n  quick: {media_days: 0, template_days: null}\n")
    env = {"VERIFICATION_MASTER_KEY": key.to_base64()}
    common = ("--data-dir", str(tmp_path), "--json")

    dry = run_cli("retention", "purge", "--policy", str(policy), "--dry-run", *common, env=env)
    assert json.loads(dry.stdout) == {"dry_run": True, "would_delete": ["a/recording"]}, dry.stderr
    done = run_cli("retention", "purge", "--policy", str(policy), *common, env=env)
    assert json.loads(done.stdout)["deleted"] == ["a/recording"]
    later = run_cli("retention", "purge", "--policy", str(policy), "--as-of", "2999-01-01",
                    *common, env=env)
    assert json.loads(later.stdout)["deleted"] == ["b/recording"]

    forget = run_cli("retention", "delete-subject", "a", "--reason", "ticket 7", *common, env=env)
    assert json.loads(forget.stdout)["deleted"] == ["a/face_template"], forget.stderr
    assert store.list_objects() == []
    actions = [json.loads(line)["action"] for line in run_cli(
        "audit", "tail", "--data-dir", str(tmp_path)).stdout.splitlines()]
    assert actions == ["retention.purge", "retention.purge", "subject.delete"]

    policy.write_text("default: {media_days: -3}\n")
    assert "media_days" in one_error_line(run_cli("retention", "purge", "--policy", str(policy),
                                                  *common, env=env))
