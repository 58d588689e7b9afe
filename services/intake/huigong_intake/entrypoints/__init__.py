"""How commands reach intake: HTTP (`http/`) and the districts' Kafka inbound topics (`kafka/`)."""
