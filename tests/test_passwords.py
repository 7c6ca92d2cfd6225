"""Tests for password rules and argon2id hashing."""

from __future__ import annotations

import subprocess
import sys

import pytest
from argon2 import extract_parameters
from argon2.low_level import Type

from gallery_store import StudioConfig, open_studio
from gallery_store.errors import ValidationError
from gallery_store.passwords import (
    BREACHED,
    MIN_LENGTH,
    PasswordPolicy,
    common_passwords,
)

from .conftest import FAST_CONFIG, PASSWORD, Clock

KIB_PER_MIB = 1024


def meets_owasp(memory_kib: int, time_cost: int) -> bool:
    """OWASP's argon2id minimums: 19 MiB with t=2, or 46 MiB with t=1 (and the steps between)."""
    return (memory_kib >= 19 * KIB_PER_MIB and time_cost >= 2) or (
        memory_kib >= 46 * KIB_PER_MIB and time_cost >= 1
    )


@pytest.fixture(scope="module")
def fast_policy() -> PasswordPolicy:
    return PasswordPolicy(
        FAST_CONFIG.argon2_time_cost, FAST_CONFIG.argon2_memory_kib, FAST_CONFIG.argon2_parallelism
    )


def test_default_parameters_meet_owasp_for_argon2id():
    policy = PasswordPolicy()
    hasher = policy.hasher
    assert hasher.type is Type.ID
    assert meets_owasp(hasher.memory_cost, hasher.time_cost)
    params = extract_parameters(policy.hash(PASSWORD))
    assert params.type is Type.ID
    assert meets_owasp(params.memory_cost, params.time_cost)


def test_studio_config_defaults_meet_owasp_too():
    config = StudioConfig()
    assert meets_owasp(config.argon2_memory_kib, config.argon2_time_cost)
    policy = PasswordPolicy(
        config.argon2_time_cost, config.argon2_memory_kib, config.argon2_parallelism
    )
    assert (policy.hasher.memory_cost, policy.hasher.time_cost) == (
        config.argon2_memory_kib,
        config.argon2_time_cost,
    )


def test_stored_hash_is_argon2id(studio, therapist, data_dir):
    [record] = studio.store.collection("users").by("username", "tess")
    assert record["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in record["password_hash"]
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_hash_verifies_only_the_same_password(fast_policy):
    stored = fast_policy.hash(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert fast_policy.verify(stored, PASSWORD)
    assert not fast_policy.verify(stored, PASSWORD + "!")
    assert fast_policy.hash(PASSWORD) != stored  # salted


@pytest.mark.parametrize("password", ["", "short", "nine char"])
def test_passwords_under_ten_characters_are_refused(fast_policy, password):
    assert len(password) < MIN_LENGTH == 10
    with pytest.raises(ValidationError, match="at least 10 characters"):
        fast_policy.check(password)


def test_ten_characters_are_enough(fast_policy):
    fast_policy.check("tidal moss")


def test_a_200_character_passphrase_works_with_no_72_byte_cap(fast_policy):
    shared = ("quiet lanterns drift over the harbour at dusk " * 3)[:100]
    first = shared + "a" * 50 + " and then the gulls settle on the pier for the night ..."[:50]
    second = shared + "b" * 50 + " while the ferries hum home across the grey water ...."[:50]
    assert len(first) == len(second) == 200
    fast_policy.check(first)
    stored = fast_policy.hash(first)
    assert fast_policy.verify(stored, first)
    assert not fast_policy.verify(stored, second)
    assert not fast_policy.verify(stored, shared)


def test_a_long_passphrase_signs_in_through_the_studio(studio, therapist, circle):
    passphrase = "the kettle sings while the rain taps the window " * 5  # 245 characters
    code = studio.circles.invite(therapist, circle.id)
    user = studio.accounts.join(code, "robin", passphrase, "Robin")
    assert studio.accounts.authenticate("robin", passphrase).id == user.id


@pytest.mark.parametrize("password", ["password123", "Password123", "QWERTYUIOP", "PassW0rd123"])
def test_common_passwords_are_refused_whatever_their_case(fast_policy, password):
    assert password.lower() in common_passwords()
    with pytest.raises(ValidationError, match="most common"):
        fast_policy.check(password)


def test_every_listed_common_password_of_allowed_length_is_refused(fast_policy):
    for password in common_passwords():
        if len(password) >= MIN_LENGTH:
            with pytest.raises(ValidationError):
                fast_policy.check(password.upper())


# Among the most common breached passwords of ten characters or more, and not in the short
# list the studio kept before.
BREACHED_TOP = ["basketball", "MANCHESTER", "q1w2e3r4t5", "4815162342", "QazWsxEdcRfv"]


def test_the_breached_list_holds_the_top_hundred_thousand():
    passwords = common_passwords()
    assert len(passwords) > 95_000  # 100,000 lines; a few differ only by case
    assert {"123456", "password", "qwerty", "dragon", "iloveyou"} <= passwords
    assert BREACHED.name.endswith(".gz") and BREACHED.stat().st_size < 1_000_000
    notes = BREACHED.with_name("README.md").read_text(encoding="utf-8")
    assert "SecLists" in notes and "Licence" in notes


@pytest.mark.parametrize("password", BREACHED_TOP)
def test_top_breached_passwords_are_refused(fast_policy, password):
    with pytest.raises(ValidationError, match="most common"):
        fast_policy.check(password)


def test_importing_the_studio_does_not_read_the_list():
    probe = (
        "import gallery_store, gallery_store.passwords as p; "
        "print(p.common_passwords.cache_info().currsize)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "0"


def test_the_list_is_read_once(fast_policy):
    common_passwords.cache_clear()
    fast_policy.check("a calm river of stones")
    fast_policy.check("quiet lanterns drift over the harbour")
    assert common_passwords.cache_info().misses == 1


@pytest.mark.parametrize(
    "passphrase",
    ["a calm river of stones", "Quiet lanterns drift over the harbour", "canvas painting at dawn"],
)
def test_a_good_passphrase_is_accepted(fast_policy, passphrase):
    fast_policy.check(passphrase, username="robin", display_name="Robin Bird")


@pytest.mark.parametrize(
    "password", ["robin12345", "Robin2026!!", "ROBINBIRD99", "Robin Bird 2026", "bird-bird-bird"]
)
def test_passwords_built_on_the_persons_names_are_refused(fast_policy, password):
    with pytest.raises(ValidationError, match="isn't your username or display name"):
        fast_policy.check(password, username="robin.b", display_name="Robin Bird")


def test_a_passphrase_that_only_mentions_a_name_is_fine(fast_policy):
    fast_policy.check("robin walks by the quiet harbour", username="robin")
    fast_policy.check("the same old river at dusk", username="sam", display_name="Sam")


@pytest.mark.parametrize(
    "password", ["KindredCanvas1", "canvas12345!", "kindred-kindred", "Kindred password123"]
)
def test_passwords_built_on_the_studios_name_are_refused(fast_policy, password):
    with pytest.raises(ValidationError, match="studio's name"):
        fast_policy.check(password)


def test_joining_with_a_password_built_on_the_display_name_is_refused(studio, therapist, circle):
    code = studio.circles.invite(therapist, circle.id)
    with pytest.raises(ValidationError, match="display name"):
        studio.accounts.join(code, "harbour", "MarisolMarisol1", "Marisol")


def test_password_equal_to_the_username_is_refused(fast_policy):
    with pytest.raises(ValidationError, match="isn't your username"):
        fast_policy.check("RiverStones", username="riverstones")
    fast_policy.check("riverstones and moss", username="riverstones")


def test_joining_with_the_username_as_password_is_refused(studio, therapist, circle):
    code = studio.circles.invite(therapist, circle.id)
    with pytest.raises(ValidationError, match="isn't your username"):
        studio.accounts.join(code, "harbourlight", "HarbourLight", "Robin")


def test_verify_of_an_unknown_user_is_false(fast_policy):
    assert fast_policy.verify(None, PASSWORD) is False
    assert fast_policy.verify("", PASSWORD) is False
    assert fast_policy.verify("not a hash", PASSWORD) is False


def test_hash_is_upgraded_on_sign_in_when_the_cost_rises(data_dir):
    with open_studio(data_dir, FAST_CONFIG, Clock()) as studio:
        studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        [before] = studio.store.collection("users").by("username", "tess")
    stronger = FAST_CONFIG.with_overrides(argon2_time_cost=2, argon2_memory_kib=2048)
    with open_studio(data_dir, stronger, Clock()) as studio:
        studio.accounts.authenticate("tess", PASSWORD)
        [after] = studio.store.collection("users").by("username", "tess")
        assert after["password_hash"] != before["password_hash"]
        params = extract_parameters(after["password_hash"])
        assert (params.time_cost, params.memory_cost) == (2, 2048)
        assert studio.accounts.authenticate("tess", PASSWORD).username == "tess"
