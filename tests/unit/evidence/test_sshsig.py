"""SSH signatures checked in-process: every key type ssh-keygen signs with, roles from
``namespaces=``, and ``allowed_signers`` lines that cannot be read named by file:line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from butler_maint.evidence.sshsig import (
    APPROVAL_NAMESPACE,
    REPORT_NAMESPACE,
    AllowedSigners,
    SignatureError,
    SignersFileError,
    choose_key,
)

MESSAGE = b"sha256:" + b"ab" * 32


def keygen(tmp_path: Path, kind: str, bits: str | None = None) -> Path:
    key = tmp_path / f"id_{kind}{bits or ''}"
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(key)]
    subprocess.run([*args, *(["-b", bits] if bits else [])], check=True)
    return key


def signers_for(key: Path, principal: str, option: str = "") -> AllowedSigners:
    kind, blob = key.with_name(key.name + ".pub").read_text().split()[:2]
    return AllowedSigners.parse(f"{principal} {option} {kind} {blob}\n", Path("allowed_signers"))


@pytest.mark.parametrize(
    ("kind", "bits"),
    [("ed25519", None), ("ecdsa", "256"), ("ecdsa", "384"), ("ecdsa", "521"), ("rsa", "2048")],
)
def test_every_key_type_verifies(tmp_path: Path, kind: str, bits: str | None) -> None:
    key = keygen(tmp_path, kind, bits)
    signers = signers_for(key, "alice@ops")
    signer = choose_key(signers, REPORT_NAMESPACE, key, [])
    signature = signer.sign(MESSAGE, REPORT_NAMESPACE)
    assert signers.verify(signature, MESSAGE, REPORT_NAMESPACE, "alice@ops") == signer.fingerprint
    with pytest.raises(SignatureError, match="does not match"):
        signers.verify(signature, MESSAGE + b"0", REPORT_NAMESPACE, "alice@ops")


def test_roles_come_from_namespaces(tmp_path: Path) -> None:
    key = keygen(tmp_path, "ed25519")
    signers = signers_for(key, "bob@ops", f'namespaces="{APPROVAL_NAMESPACE}"')
    assert signers.entries[0].roles() == ["approver"]
    with pytest.raises(
        SignatureError, match="is not listed in allowed_signers for butler-maint-report"
    ):
        choose_key(signers, REPORT_NAMESPACE, key, [])
    approver = choose_key(signers, APPROVAL_NAMESPACE, key, [])
    signature = approver.sign(MESSAGE, APPROVAL_NAMESPACE)
    signers.verify(signature, MESSAGE, APPROVAL_NAMESPACE, "bob@ops")
    with pytest.raises(SignatureError, match="signed for 'butler-maint-approval'"):
        signers.verify(signature, MESSAGE, REPORT_NAMESPACE, "bob@ops")
    with pytest.raises(SignatureError, match="does not allow for 'carol@ops'"):
        signers.verify(signature, MESSAGE, APPROVAL_NAMESPACE, "carol@ops")


def test_an_unlisted_key_is_named(tmp_path: Path) -> None:
    listed, other = keygen(tmp_path, "ed25519"), keygen(tmp_path, "ecdsa")
    signers = signers_for(listed, "alice@ops")
    forged = choose_key(signers_for(other, "alice@ops"), REPORT_NAMESPACE, other, [])
    with pytest.raises(SignatureError, match=re.escape(f"key {forged.fingerprint}, which allo")):
        signers.verify(forged.sign(MESSAGE, REPORT_NAMESPACE), MESSAGE, REPORT_NAMESPACE,
                       "alice@ops")  # fmt: skip


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("alice@ops", "expected `PRINCIPALS [OPTIONS] KEYTYPE BASE64"),
        ("alice@ops ssh-ed25519 !!!", "is not valid base64"),
        ("alice@ops cert-authority ssh-ed25519 AAAA", "'cert-authority' is not supported"),
        ('alice@ops namespaces="x ssh-ed25519 AAAA', "No closing quotation"),
    ],
)
def test_bad_lines_name_file_and_line(line: str, why: str) -> None:
    with pytest.raises(SignersFileError, match=re.escape(why)) as caught:
        AllowedSigners.parse(f"# people\n\n{line}\n", Path("allowed_signers"))
    assert str(caught.value).startswith("allowed_signers:3: ")
    assert caught.value.exit_code == 2


def test_a_missing_file_says_what_to_write(tmp_path: Path) -> None:
    with pytest.raises(SignersFileError, match="no allowed_signers file"):
        AllowedSigners.load(tmp_path / "allowed_signers")


def test_garbage_signature_is_refused_not_crashed() -> None:
    signers = AllowedSigners.parse("", Path("allowed_signers"))
    for text in ("not base64!", "U1NIU0lH", "AAAA"):
        with pytest.raises(SignatureError):
            signers.verify(text, MESSAGE, REPORT_NAMESPACE, "alice@ops")


def test_validate_names_a_bad_allowed_signers_line(tmp_path: Path) -> None:
    from butler_maint.validate import validate_repo

    (tmp_path / "butler.yaml").write_text("signing: {mode: optional}\n")
    (tmp_path / "allowed_signers").write_text("# ops\nalice@ops ssh-ed25519\n")
    report = validate_repo(tmp_path, syntax_check=False)
    found = [str(p) for p in report.problems if "allowed_signers" in str(p.where.path)]
    assert found == [
        f"{tmp_path / 'allowed_signers'}:2:1: expected `PRINCIPALS [OPTIONS] KEYTYPE BASE64 "
        "[COMMENT]` with a key type of ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, "
        "ecdsa-sha2-nistp521, ssh-ed25519, ssh-rsa"
    ]
    (tmp_path / "allowed_signers").unlink()
    report = validate_repo(tmp_path, syntax_check=False)
    assert any("no allowed_signers file" in str(p) for p in report.problems)
