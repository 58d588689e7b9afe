-- Erasure of a member's personal data (MemberErased): the roster keeps the member, and every
-- count with it, marked 已删除 with the day and the reference of the request. Nothing personal.
ALTER TABLE members_view
    ADD COLUMN erased_on   date,
    ADD COLUMN erasure_ref text;
