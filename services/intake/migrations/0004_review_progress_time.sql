-- The latest business time of review's decisions about an application, so that a submission
-- read after them (the two topics interleave differently on each restart and replay) starts its
-- row's updated_at from the same latest time as when it is read first.
ALTER TABLE review_progress ADD COLUMN updated_at timestamptz;
