"""Sealing with per-member data keys, without a database: what intake seals opens with the key the
registry stores (wrapped), only for the member it was sealed for."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag

from huigong_intake.adapters.vault import Vault

MEMBER = "a" * 64
OTHER = "b" * 64


def test_a_wrapped_key_unwraps_to_the_key_it_wraps_and_opens_what_it_sealed() -> None:
    vault = Vault(os.urandom(32))
    fresh = vault._fresh([MEMBER, OTHER])
    assert fresh[MEMBER].key_id != fresh[OTHER].key_id and fresh[MEMBER].key != fresh[OTHER].key
    (wrapped,) = vault._wrap_many([(MEMBER, fresh[MEMBER].key)])
    stored = vault.data_key(MEMBER, fresh[MEMBER].key_id, wrapped)
    assert stored == fresh[MEMBER]
    sealed = Vault.seal(fresh[MEMBER], MEMBER, "王小明", "13800000000")
    assert Vault.unseal(stored, MEMBER, sealed) == {"姓名": "王小明", "手机号": "13800000000"}


def test_a_wrapped_key_is_bound_to_its_member_and_installation() -> None:
    vault = Vault(os.urandom(32))
    fresh = vault._fresh([MEMBER])[MEMBER]
    (wrapped,) = vault._wrap_many([(MEMBER, fresh.key)])
    with pytest.raises(InvalidTag):
        vault.data_key(OTHER, fresh.key_id, wrapped)  # moved to another member
    with pytest.raises(InvalidTag):
        Vault(os.urandom(32)).data_key(MEMBER, fresh.key_id, wrapped)  # another installation's KEK


def test_sealed_data_opens_only_for_its_member_and_key() -> None:
    vault = Vault(os.urandom(32))
    keys = vault._fresh([MEMBER, OTHER])
    sealed = Vault.seal(keys[MEMBER], MEMBER, "王小明", "13800000000")
    with pytest.raises(InvalidTag):
        Vault.unseal(keys[MEMBER], OTHER, sealed)
    with pytest.raises(InvalidTag):
        Vault.unseal(keys[OTHER], MEMBER, sealed)  # a new key after an erasure opens nothing older
