"""Intake's Kafka entry point: the districts' inbound command topics."""
