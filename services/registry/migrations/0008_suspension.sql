-- 撤销审查: a certified title suspended while a revocation case is open (status 'suspended'),
-- from the day the case was opened; cleared when the title is restored.
ALTER TABLE units_view ADD COLUMN suspended_on date;
ALTER TABLE certificates_view ADD COLUMN suspended_on date;
