"""The review domain: pure rules for screening applications against the 不予受理 rules,
reviewers' findings, panel scoring and the chair's decision to build. No I/O: the reaction
agents, the API and the projections supply states and append the events returned."""
