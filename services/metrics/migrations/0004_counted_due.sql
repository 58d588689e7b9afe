-- The day a counted service matter falls due (its deadline + 1), so that a MatterDeadlineRevised
-- can move its falling due from that day on. NULL for everything else, and for matters counted
-- before this column existed (a revision of one of those is dead-lettered until metrics.actuals
-- is replayed; see docs/services/metrics.md).
ALTER TABLE counted ADD COLUMN due date;
