-- A reaction's decisions found by the trigger that caused them, for the outcome check (every
-- trigger a reaction passed has its outcome: huigong_platform/outcomes.py).
CREATE INDEX events_by_cause ON events (causation_id) WHERE causation_id IS NOT NULL;
