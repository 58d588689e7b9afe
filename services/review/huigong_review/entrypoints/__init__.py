"""How commands reach review: HTTP (`http/`). Review has no Kafka inbound consumer; what it hears
from other services arrives through its reactions and projections."""
