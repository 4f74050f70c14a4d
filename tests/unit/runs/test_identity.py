"""Names compared as one person's: case, whitespace, Unicode compatibility forms and
the host part do not make a second person."""

from __future__ import annotations

from pathlib import Path

import pytest

from butler_maint.errors import ButlerError
from butler_maint.evidence.sshsig import SigningKey
from butler_maint.runs.identity import normalise, resolve, same_person

FULLWIDTH_ROOT = "\uff52\uff4f\uff4f\uff54"
SPELLINGS = ["root", "Root", " root ", "root@vm", "ROOT@other", FULLWIDTH_ROOT, "r o o t"]


@pytest.mark.parametrize("other", SPELLINGS)
def test_spellings_of_one_person(other: str) -> None:
    assert same_person("root", other)


@pytest.mark.parametrize("other", ["rooter", "bob@root", "r00t"])
def test_other_people(other: str) -> None:
    assert not same_person("root", other)


def test_normalised_form() -> None:
    assert normalise(" \uff21lice@Ops ") == "alice"


def test_without_a_key_the_declared_name_stands() -> None:
    assert resolve("carol@ops", None, "--operator") == "carol@ops"


def test_with_a_key_its_principal_acts() -> None:
    key = SigningKey(Path("id"), b"\0\0\0\x0bssh-ed25519", "alice@ops")
    assert resolve(None, key, "--operator") == "alice@ops"
    assert resolve(" ALICE@laptop", key, "--operator") == "alice@ops"
    with pytest.raises(ButlerError, match="--operator bob@ops: signing is on") as caught:
        resolve("bob@ops", key, "--operator")
    assert caught.value.exit_code == 2
