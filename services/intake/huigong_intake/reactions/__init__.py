"""Intake decides on no other service's events: it has no reactions (review progress reaches it as a
read model, `projections/`)."""
