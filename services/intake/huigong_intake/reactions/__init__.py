"""Intake's answers to other services' events: erasure of a member's data key on MemberErased."""
