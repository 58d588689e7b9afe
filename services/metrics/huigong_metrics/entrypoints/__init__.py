"""How requests reach the metrics service: HTTP (`http/`): the published figures, the dashboard and
the one command, changing a target."""
