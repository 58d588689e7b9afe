"""How commands reach the registry: HTTP (`http/`). What it hears from other services arrives
through its reactions and projections."""
