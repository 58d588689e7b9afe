"""The members' data keys (`member_data_keys`, migration 0007): the registry keeps them and is the
only one that can destroy one. Intake offers and receives keys through
`member_data_keys_issue` (huigong_intake/adapters/vault.py), never by touching this table.

The keys are not a projection: no event builds them and no replay reads or writes them. They are
state the erasure command owns, so `huigong replay -s registry` neither destroys nor recreates one.
"""

from __future__ import annotations

from huigong_platform.database import DbConnection


async def destroy(conn: DbConnection, member_key: str) -> bool:
    """Crypto-shredding: delete the member's data key (in the caller's transaction, the one that
    records MemberErased); every sealed copy of their name and phone is unreadable from then on.
    False when there was none (a member enrolled before the key was kept here, or none sealed)."""
    deleted = await conn.fetchval(
        "DELETE FROM member_data_keys WHERE member_key = $1 RETURNING true", member_key
    )
    return bool(deleted)
