from collections.abc import Sequence

class GmacKey:
    """Checks GMAC tags of records under one 32-byte AES-256 key (`_tagcheck.c`)."""

    def __init__(self, key: bytes, /) -> None: ...
    def verify(self, headers: Sequence[tuple[str, bytes]], value: bytes, sealed: bytes, /) -> bool | None: ...
