-- Public services, part 7: the sweep that closes expired windows (a clarification the
-- applicant did not answer in time) finds them by act_by; only a few rows have one.
CREATE INDEX applications_act_by ON applications (act_by) WHERE act_by IS NOT NULL;
