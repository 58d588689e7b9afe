-- What operators did about the inbound dead letters (`huigong dead-letters retry|skip --inbound`).
-- The letters themselves stay on `huigong.intake.inbound.dead-letters`, which is never rewritten:
-- a letter is open until an action on it succeeded, and every attempt is kept for auditors.
CREATE TABLE inbound_dead_letter_actions (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    letter_id     text        NOT NULL,  -- the letter's own `id`
    letter_offset bigint      NOT NULL,  -- its place on the dead-letter topic
    action        text        NOT NULL CHECK (action IN ('retry', 'skip')),
    actor         text        NOT NULL,
    reason        text        NOT NULL,
    ok            boolean     NOT NULL,
    outcome       text        NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
-- A letter is resolved at most once, however many operators try at the same time.
CREATE UNIQUE INDEX inbound_dead_letter_resolved ON inbound_dead_letter_actions (letter_id) WHERE ok;
CREATE INDEX inbound_dead_letter_actions_letter ON inbound_dead_letter_actions (letter_id, id);
