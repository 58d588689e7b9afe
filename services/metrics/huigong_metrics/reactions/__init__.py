"""The metrics service decides on no other service's events: it has no reactions (it counts them in
its projections, `projections/`)."""
