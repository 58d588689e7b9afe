"""The EnrolmentRequested that intake records for an accepted row is the event class's own
payload: built without a model per row for speed, it must still be exactly what the contract
says, or every consumer would read something else than intake meant."""

from __future__ import annotations

import base64
import os
import random
import uuid

from huigong_events.intake import EnrolmentRequested
from huigong_events.reference import DISTRICTS
from huigong_intake.domain.enrolments import judge_batch
from huigong_intake.handlers import enrolment_requested
from huigong_simulator.data import enrolment_rows

SECRET = b"test-enrolment-secret"


def sheet() -> list[tuple[str, dict[str, object]]]:
    """Rows as staff write them, from districts and a group union, with the cells the edge
    normalises: numbers for text, full-width characters, dates written several ways, 黄岛区."""
    rng = random.Random(4)
    rows = [(d, r) for d in (*list(DISTRICTS)[:3], "G-HAIER") for r in enrolment_rows(40, d, rng)]
    odd = {
        "平台企业": "ＡＢＣ出行（青岛）",
        "入会日期": "2023年5月1日",
        "手机号": 13800000001,
        "是否参加互助保障": "N",
    }
    rows.append(("370211", {**enrolment_rows(1, "370211", rng)[0], **odd, "所属区市": "黄岛区"}))
    rows.append(("370202", {**enrolment_rows(1, "370202", rng)[0], "平台企业": "平" * 100}))
    return rows


def test_the_recorded_data_is_the_event_classes_own_payload() -> None:
    checked = 0
    for submitter, raw in sheet():
        [row] = judge_batch([raw], submitter=submitter, secret=SECRET, already_enrolled=set()).accepted
        enrolment_id, batch_id = uuid.uuid4(), uuid.uuid4()
        sealed = base64.b64encode(os.urandom(60)).decode()
        key_id = f"dk-{os.urandom(16).hex()}"
        data = enrolment_requested(row, str(enrolment_id), str(batch_id), sealed, key_id)
        event = EnrolmentRequested(
            enrolment_id=enrolment_id,
            batch_id=batch_id,
            row_number=row.row_number,
            member_key=row.member_key,
            personal_sealed=sealed,
            key_id=key_id,
            occupation=row.occupation,
            platform=row.platform,
            district=row.district,
            joined_on=row.joined_on,
            mutual_aid=row.mutual_aid,
        )
        assert data == event.to_data()
        assert list(data) == list(event.to_data())  # same keys in the same order
        assert EnrolmentRequested.model_validate({**data, "type": "EnrolmentRequested"}) == event
        checked += 1
    assert checked == 4 * 40 + 2
