-- 确定建设单位: the queue knows whether the city selected an accepted application ('selected')
-- or passed it over ('not_selected'); NULL while it awaits the selection.
ALTER TABLE review_queue ADD COLUMN selection text CHECK (selection IN ('selected', 'not_selected'));

-- Every path naming an application takes its 受理编号 too: found in review's own copy of the
-- submission.
CREATE INDEX application_inputs_receipt ON application_inputs ((record->'data'->>'receipt_no'))
    WHERE type = 'ApplicationSubmitted';
