"""Who may run which registry command and read which record. The HTTP guard enforces the route's
rule before the body is read, the command path the command's rule; the own-record rules are the
handlers' (a district acts for its district's centre and service bases, the city federation for
the city centre: `domain/matters.py`).

- registrars register, assess, certify, revoke and exit units and partners, close facilities,
  keep the 服务事项目录 and erase members on a worker's request;
- the service centres (districts, the city federation) run 联动服务 matters;
- published figures, certificate verification and the 服务事项目录 are public.
"""

from __future__ import annotations

from typing import Final

from huigong_platform.policy import PUBLIC, READ, Policy, Rule, roles
from huigong_platform.principals import Role

REGISTRAR: Final = Rule(roles(Role.REGISTRAR))
# 联动服务: the service centres act (districts for theirs and their bases, the city for its own).
CENTRES: Final = Rule(roles(Role.DISTRICT, Role.CITY), own=True)
MATTER_READERS: Final = Rule(roles(Role.DISTRICT, Role.CITY, Role.REGISTRAR, Role.OPS, Role.VIEWER), own=True)

POLICY: Final = Policy(
    "registry",
    commands={},
    routes={
        ("POST", "/units"): REGISTRAR,
        ("POST", "/partners"): REGISTRAR,
        ("POST", "/units/{unit_id}/assessment"): REGISTRAR,
        ("POST", "/units/{unit_id}/certification"): REGISTRAR,
        ("POST", "/units/{unit_id}/revocation"): REGISTRAR,
        ("POST", "/units/{unit_id}/exit"): REGISTRAR,
        ("POST", "/partners/{partner_id}/exit"): REGISTRAR,
        ("POST", "/facilities/{facility_id}/closure"): REGISTRAR,
        ("GET", "/units"): READ,
        ("GET", "/partners"): READ,
        ("GET", "/facilities"): READ,
        ("GET", "/facilities/{facility_id}"): READ,
        ("GET", "/service-projects"): READ,
        # Published figures: counts only, no names, no personal data.
        ("GET", "/facilities/counts"): PUBLIC,
        ("GET", "/service-projects/counts"): PUBLIC,
        ("GET", "/members/counts"): PUBLIC,
        # One member: no personal data (the registry holds none), but who was enrolled where and
        # whether they asked to be erased is for the roster's keepers and auditors.
        ("GET", "/members/{member_key}"): Rule(roles(Role.REGISTRAR, Role.CITY, Role.OPS)),
        # 个人信息删除: a registrar acts on the worker's request (MemberErased; intake shreds the key).
        ("POST", "/members/{member_key}/erasure"): REGISTRAR,
        # Anyone holding a certificate may have it verified.
        ("GET", "/certificates/{certificate_no}"): PUBLIC,
        # 联动服务: registrars keep the 服务事项目录, which is public (服务承诺制); a district acts for
        # its district's centre and service bases, the city federation for the city centre (the
        # handler narrows to the units the caller acts for: huigong_registry/domain/matters.py).
        ("POST", "/service-items"): REGISTRAR,
        ("PUT", "/service-items/{item_id}"): REGISTRAR,
        ("POST", "/service-items/{item_id}/withdrawal"): REGISTRAR,
        ("GET", "/service-items"): PUBLIC,
        ("GET", "/service-items/{item_id}"): PUBLIC,
        ("POST", "/matters"): CENTRES,
        ("POST", "/matters/{matter_id}/transfers"): CENTRES,
        ("POST", "/matters/{matter_id}/acceptance"): CENTRES,
        ("POST", "/matters/{matter_id}/steps"): CENTRES,
        ("POST", "/matters/{matter_id}/closure"): CENTRES,
        ("POST", "/matters/{matter_id}/rating"): CENTRES,
        ("POST", "/matters/{matter_id}/erasure"): CENTRES,
        # Districts read the matters that passed through them; the city federation (联动运营部),
        # registrars, ops and viewers all of them (personal data only to the units involved).
        ("GET", "/matters"): MATTER_READERS,
        ("GET", "/matters/{matter_id}"): MATTER_READERS,
    },
)
